"""WebHook subscriptions against a real receiver on 127.0.0.1: the validation handshake,
deliveries, blacklisting, the per-extension limit, renewal and expiry on the manual clock,
durability."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulator_helpers import FAX_PATH, INBOUND_PATH, STORE_PATH, Raw, form_data
from push_helpers import (
    INBOUND_FILTER,
    STORE_FILTER,
    SUBSCRIPTION_PATH,
    Behaviour,
    Receiver,
    push_config,
    start_receiver,
    stop_receiver,
    subscription_body,
    wait_until,
)

from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

JSON = {"Content-Type": "application/json"}
PDF = ("scan.pdf", "application/pdf", b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n")


@pytest.fixture
def config() -> EmulatorConfig:
    return push_config()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    stop_receiver(r)


def subscribe(raw: Raw, receiver: Receiver, **extra: object) -> dict[str, object]:
    reply = raw.request("POST", SUBSCRIPTION_PATH, subscription_body(receiver.url, **extra), JSON)
    assert reply.status == 200, reply.body
    info: dict[str, object] = reply.json()
    return info


def inbound(emulator: Emulator) -> str:
    return str(emulator.inject_inbound_fax(from_number="+16505550150", documents=[PDF])["id"])


def test_handshake_then_subscription_info(raw: Raw, receiver: Receiver) -> None:
    info = subscribe(raw, receiver, verificationToken="s3cret")
    shake = receiver.handshakes.get(timeout=1)
    assert shake.headers["validation-token"]
    assert shake.headers["user-agent"] == "RingCentral-Webhook/8.3"
    assert info["status"] == "Active"
    assert info["eventFilters"] == [INBOUND_FILTER, STORE_FILTER]
    assert info["expiresIn"] == 604799
    assert info["deliveryMode"] == {
        "transportType": "WebHook",
        "encryption": False,
        "address": receiver.url,
    }
    assert str(info["uri"]).endswith(f"{SUBSCRIPTION_PATH}/{info['id']}")
    assert {"creationTime", "expirationTime", "id"} <= info.keys()
    assert "s3cret" not in json.dumps(info)


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour(delay=2.0),  # slower than webhook_handshake_timeout (1 s)
        Behaviour(echo=False),
        Behaviour(wrong_echo="not-the-token"),
        Behaviour(padding=1100),  # answer over 1,024 bytes
        Behaviour(handshake_status=204),
    ],
    ids=["slow", "no-echo", "wrong-echo", "too-big", "not-200"],
)
def test_invalid_handshake_is_sub_525(raw: Raw, receiver: Receiver, behaviour: Behaviour) -> None:
    receiver.behaviour = behaviour
    reply = raw.request("POST", SUBSCRIPTION_PATH, subscription_body(receiver.url), JSON)
    assert reply.status == 400
    assert reply.json()["errorCode"] == "SUB-525"
    assert reply.json()["message"] == "WebHook server response is invalid"
    assert raw.request("GET", SUBSCRIPTION_PATH).json()["records"] == []


@pytest.mark.parametrize(
    "address",
    [
        "http://10.1.2.3/hook",
        "http://example.com/hook",
        "https://127.0.0.1:9/hook",
        "http://[2001:db8::1]/hook",
        "ftp://127.0.0.1/hook",
    ],
)
def test_addresses_off_this_machine_are_refused(raw: Raw, address: str) -> None:
    reply = raw.request("POST", SUBSCRIPTION_PATH, subscription_body(address), JSON)
    assert reply.status == 400
    assert reply.json()["errorCode"] == "CMN-101"
    assert reply.json()["parameterName"] == "deliveryMode.address"


@pytest.mark.parametrize(
    "filters",
    [
        ["/restapi/v1.0/account/~/extension/~/presence"],
        ["/restapi/v1.0/account/999/extension/~/message-store"],
        ["/restapi/v1.0/account/~/extension/~/message-store?direction=Sideways"],
        [],
        "not-a-list",
    ],
)
def test_unknown_filters_are_400(raw: Raw, receiver: Receiver, filters: object) -> None:
    body = json.loads(subscription_body(receiver.url))
    body["eventFilters"] = filters
    reply = raw.request("POST", SUBSCRIPTION_PATH, json.dumps(body).encode(), JSON)
    assert (reply.status, reply.json()["errorCode"]) == (400, "CMN-101")


def test_inbound_fax_delivers_both_events_with_verification_token(
    raw: Raw, receiver: Receiver, emulator: Emulator, config: EmulatorConfig
) -> None:
    info = subscribe(raw, receiver, verificationToken="s3cret")
    fax_id = inbound(emulator)
    got = [receiver.next_event(), receiver.next_event()]
    for event in got:
        assert event.headers["verification-token"] == "s3cret"
        assert event.headers["content-type"] == "application/json"
        assert event.headers["user-agent"] == "RingCentral-Webhook/8.3"
        payload = event.json()
        assert set(payload) == {"uuid", "event", "timestamp", "subscriptionId", "ownerId", "body"}
        assert payload["subscriptionId"] == info["id"]
        assert payload["ownerId"] == config.extension_id
    by_event = {e.json()["event"]: e.json()["body"] for e in got}
    ids = f"/restapi/v1.0/account/{config.account_id}/extension/{config.extension_id}"
    record = by_event[f"{ids}/fax?direction=Inbound"]
    assert (str(record["id"]), record["direction"], record["messageStatus"]) == (
        fax_id,
        "Inbound",
        "Received",
    )
    change = by_event[f"{ids}/message-store"]
    assert change["changes"] == [
        {"type": "Fax", "newCount": 1, "updatedCount": 0, "newMessageIds": [int(fax_id)]}
    ]
    assert (change["accountId"], change["extensionId"]) == (config.account_id, config.extension_id)


def test_no_verification_token_header_without_one(
    raw: Raw, receiver: Receiver, emulator: Emulator
) -> None:
    subscribe(raw, receiver)
    inbound(emulator)
    assert "verification-token" not in receiver.next_event().headers


def test_outbound_send_status_and_read_changes(
    raw: Raw, receiver: Receiver, emulator: Emulator, clock: ManualClock
) -> None:
    body = json.loads(subscription_body(receiver.url))
    body["eventFilters"] = [f"{STORE_FILTER}?type=Fax&direction=Outbound"]
    reply = raw.request("POST", SUBSCRIPTION_PATH, json.dumps(body).encode(), JSON)
    assert reply.status == 200, reply.body
    inbound(emulator)  # filtered out: not Outbound
    data, ctype = form_data(
        [("to", "+16505550123")], [("attachment", "a.txt", "text/plain", b"hi")]
    )
    sent = raw.post_fax(data, ctype)
    assert sent.status == 200, sent.body
    fax_id = int(sent.json()["id"])
    created = receiver.next_event().json()
    assert created["event"].endswith("/message-store?type=Fax&direction=Outbound")
    assert created["body"]["changes"][0]["newMessageIds"] == [fax_id]
    clock.advance(31)  # past send_delay: Queued -> Sent, noticed by the watcher
    status = receiver.next_event().json()["body"]["changes"][0]
    assert (status["newCount"], status["updatedCount"], status["newMessageIds"]) == (0, 1, [])
    marked = raw.request("PUT", f"{STORE_PATH}/{fax_id}", b'{"readStatus":"Unread"}', JSON)
    assert marked.status == 200
    assert receiver.next_event().json()["body"]["changes"][0]["updatedCount"] == 1
    again = raw.request("PUT", f"{STORE_PATH}/{fax_id}", b'{"readStatus":"Unread"}', JSON)
    assert again.status == 200  # no change, no event
    assert raw.request("DELETE", f"{STORE_PATH}/{fax_id}").status == 204
    assert raw.post_fax(data, ctype).status == 200
    later = [receiver.next_event().json()["body"]["changes"][0] for _ in range(2)]
    assert [(c["newCount"], c["updatedCount"]) for c in later] == [(0, 1), (1, 0)]
    with pytest.raises(queue.Empty):
        receiver.events.get_nowait()  # the inbound fax produced nothing for this filter


def test_failing_receiver_is_blacklisted(raw: Raw, receiver: Receiver, emulator: Emulator) -> None:
    info = subscribe(raw, receiver)
    receiver.behaviour = Behaviour(status=500)
    inbound(emulator)
    for _ in range(3):  # webhook_blacklist_after attempts, retried with backoff
        receiver.next_event()
    path = f"{SUBSCRIPTION_PATH}/{info['id']}"
    assert wait_until(lambda: raw.request("GET", path).json()["status"] == "Blacklisted")
    data = raw.request("GET", path).json()["blacklistedData"]
    assert data["reason"] == "I/O operation is failed. Details: [HTTP status 500]"
    assert data["blacklistedAt"]
    while not receiver.events.empty():
        receiver.events.get_nowait()
    receiver.behaviour = Behaviour()
    second = subscribe(raw, receiver)
    inbound(emulator)
    # one worker delivers in order: the blacklisted subscription's turn came first
    assert {receiver.next_event().json()["subscriptionId"] for _ in range(2)} == {second["id"]}


def test_recovering_receiver_resets_the_failure_count(
    raw: Raw, receiver: Receiver, emulator: Emulator
) -> None:
    info = subscribe(raw, receiver)
    receiver.behaviour = Behaviour(status=503)
    inbound(emulator)
    receiver.next_event()
    receiver.next_event()  # two failures of three
    receiver.behaviour = Behaviour()
    receiver.next_event()  # the third attempt succeeds
    receiver.next_event()  # the second event of that fax
    assert raw.request("GET", f"{SUBSCRIPTION_PATH}/{info['id']}").json()["status"] == "Active"


def test_thirty_first_subscription_is_refused(raw: Raw, receiver: Receiver) -> None:
    for _ in range(30):
        subscribe(raw, receiver)
    reply = raw.request("POST", SUBSCRIPTION_PATH, subscription_body(receiver.url), JSON)
    assert reply.status == 403
    assert (reply.json()["errorCode"], reply.json()["parameterName"]) == (
        "CMN-101",
        "eventFilters",
    )
    assert len(raw.request("GET", SUBSCRIPTION_PATH).json()["records"]) == 30


def test_renew_and_expiry_follow_the_clock(
    raw: Raw, receiver: Receiver, clock: ManualClock
) -> None:
    info = subscribe(raw, receiver, expiresIn=100)
    path = f"{SUBSCRIPTION_PATH}/{info['id']}"
    clock.advance(60)
    assert raw.request("GET", path).json()["expiresIn"] == 40
    renewed = raw.request("POST", f"{path}/renew")
    assert renewed.status == 200
    assert renewed.json()["expiresIn"] == 100
    assert renewed.json()["expirationTime"] > str(info["expirationTime"])
    clock.advance(60)
    by_put = raw.request("PUT", path, b"", JSON)
    assert (by_put.status, by_put.json()["expiresIn"]) == (200, 100)
    clock.advance(101)
    gone = raw.request("GET", path)
    assert (gone.status, gone.json()["errorCode"]) == (404, "CMN-102")
    assert raw.request("POST", f"{path}/renew").status == 404
    assert raw.request("GET", SUBSCRIPTION_PATH).json()["records"] == []


@pytest.mark.parametrize("value", [0, 315_360_001, "7", True])
def test_expires_in_out_of_range_is_400(raw: Raw, receiver: Receiver, value: object) -> None:
    reply = raw.request(
        "POST", SUBSCRIPTION_PATH, subscription_body(receiver.url, expiresIn=value), JSON
    )
    assert (reply.status, reply.json()["parameterName"]) == (400, "expiresIn")


def test_update_filters_and_delete(raw: Raw, receiver: Receiver) -> None:
    info = subscribe(raw, receiver)
    path = f"{SUBSCRIPTION_PATH}/{info['id']}"
    updated = raw.request("PUT", path, json.dumps({"eventFilters": [STORE_FILTER]}).encode(), JSON)
    assert updated.json()["eventFilters"] == [STORE_FILTER]
    assert raw.request("DELETE", path).status == 204
    assert raw.request("GET", path).status == 404
    assert raw.request("DELETE", path).status == 404


def test_subscriptions_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    clock = ManualClock()
    with Emulator(tmp_path / "data", config=push_config(), clock=clock) as first:
        info = subscribe(Raw(first), receiver, verificationToken="kept")
    with Emulator(tmp_path / "data", config=push_config(), clock=clock) as second:
        raw = Raw(second)
        assert raw.request("GET", f"{SUBSCRIPTION_PATH}/{info['id']}").json()["status"] == "Active"
        inbound(second)
        assert receiver.next_event().headers["verification-token"] == "kept"


def test_subscriptions_need_a_token(raw: Raw) -> None:
    assert raw.request("GET", SUBSCRIPTION_PATH, auth=False).status == 401


def test_fax_path_is_unaffected(raw: Raw) -> None:
    assert raw.request("GET", FAX_PATH).status == 405


def test_filters_with_the_real_ids_match(
    raw: Raw, receiver: Receiver, emulator: Emulator, config: EmulatorConfig
) -> None:
    body = json.loads(subscription_body(receiver.url))
    ids = f"/restapi/v1.0/account/{config.account_id}/extension/{config.extension_id}"
    body["eventFilters"] = [f"{ids}/message-store?type=Fax"]
    assert raw.request("POST", SUBSCRIPTION_PATH, json.dumps(body).encode(), JSON).status == 200
    fax_id = inbound(emulator)
    event = receiver.next_event().json()
    assert event["event"] == f"{ids}/message-store?type=Fax"
    assert event["body"]["changes"][0]["newMessageIds"] == [int(fax_id)]


def test_a_stuck_receiver_never_blocks_the_api_and_the_queue_is_bounded(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The receiver holds the first delivery; the API keeps answering; with room for one
    queued delivery, a third event is dropped, and deliveries resume in order."""
    config = push_config(webhook_queue_size=1, webhook_delivery_timeout=20.0)
    with Emulator(tmp_path / "data", config=config, clock=ManualClock()) as emu:
        raw = Raw(emu)
        body = json.loads(subscription_body(receiver.url))
        body["eventFilters"] = [STORE_FILTER]
        assert raw.request("POST", SUBSCRIPTION_PATH, json.dumps(body).encode(), JSON).status == 200
        gate = threading.Event()
        receiver.behaviour = Behaviour(gate=gate)
        data, ctype = form_data(
            [("from", "+16505550150")], [("attachment", "a.pdf", "application/pdf", PDF[2])]
        )

        def post_inbound() -> int:
            reply = raw.request("POST", INBOUND_PATH, data, {"Content-Type": ctype}, auth=False)
            assert reply.status == 200, reply.body
            return int(reply.json()["id"])

        first = post_inbound()
        held = receiver.next_event()  # the worker is now stuck in this delivery
        second = post_inbound()  # answered although the receiver is stuck: queued
        post_inbound()  # answered too: the queue is full, so this delivery is dropped
        gate.set()
        resumed = receiver.next_event()  # the queued one; the queue is empty again
        fourth = post_inbound()
        ids = [held.json(), resumed.json(), receiver.next_event().json()]
        assert [e["body"]["changes"][0]["newMessageIds"][0] for e in ids] == [
            first,
            second,
            fourth,
        ]


def test_unreachable_receiver_is_blacklisted(raw: Raw, emulator: Emulator) -> None:
    gone = start_receiver()
    try:
        info = subscribe(raw, gone)
    finally:
        stop_receiver(gone)  # its port now refuses connections
    inbound(emulator)
    path = f"{SUBSCRIPTION_PATH}/{info['id']}"
    assert wait_until(lambda: raw.request("GET", path).json()["status"] == "Blacklisted")
    reason = raw.request("GET", path).json()["blacklistedData"]["reason"]
    assert reason == "I/O operation is failed. Details: [Connection refused]"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("webhook_allowed_networks", ("127.0.0.0/8", "not-a-net"), "'not-a-net' is not an IP"),
        ("webhook_allowed_networks", "127.0.0.0/8", "must be a tuple of networks"),
        ("webhook_blacklist_after", 0, "must be a positive number"),
        ("ws_recovery_timeout", -1.0, "must be a positive number"),
    ],
)
def test_bad_push_settings_are_refused_up_front(field: str, value: object, says: str) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        EmulatorConfig(**{field: value})  # type: ignore[arg-type]
    assert field in str(refused.value)


def test_configured_networks_widen_the_allow_list(tmp_path: Path, receiver: Receiver) -> None:
    narrow = push_config(webhook_allowed_networks=("127.0.0.2/32",))
    with Emulator(tmp_path / "data", config=narrow, clock=ManualClock()) as emu:
        reply = Raw(emu).request("POST", SUBSCRIPTION_PATH, subscription_body(receiver.url), JSON)
        assert (reply.status, reply.json()["parameterName"]) == (400, "deliveryMode.address")
        assert receiver.handshakes.empty()  # refused before any connection
