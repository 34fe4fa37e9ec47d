"""The WebSocket gateway with a real ``websockets`` client on 127.0.0.1: tokens,
ConnectionDetails, subscribing by ClientRequest, notifications, heartbeats, ping and
idle/absolute timeouts, and ``wsc`` session recovery."""

from __future__ import annotations

import base64
import errno
import json
import os
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest
from emulator_helpers import Raw
from push_helpers import INBOUND_FILTER, STORE_FILTER, WAIT, push_config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

PDF = ("scan.pdf", "application/pdf", b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n")


@pytest.fixture
def config() -> EmulatorConfig:
    return push_config(ws_idle_timeout=600.0, ws_absolute_timeout=3600.0)


def wstoken(raw: Raw) -> dict[str, Any]:
    reply = raw.request("POST", "/restapi/oauth/wstoken")
    assert reply.status == 200, reply.body
    data: dict[str, Any] = reply.json()
    return data


def open_ws(raw: Raw, wsc: str | None = None) -> ClientConnection:
    token = wstoken(raw)
    uri = f"{token['uri']}?access_token={token['ws_access_token']}"
    if wsc is not None:
        uri += f"&wsc={wsc}"
    return connect(uri, open_timeout=WAIT, close_timeout=1)


def receive(ws: ClientConnection) -> list[Any]:
    message = ws.recv(timeout=WAIT)
    parts: list[Any] = json.loads(message)
    return parts


def subscribe(ws: ClientConnection, filters: list[str], message_id: str = "m1") -> dict[str, Any]:
    request = [
        {
            "type": "ClientRequest",
            "messageId": message_id,
            "method": "POST",
            "path": "/restapi/v1.0/subscription/",
        },
        {"eventFilters": filters, "deliveryMode": {"transportType": "WebSocket"}},
    ]
    ws.send(json.dumps(request))
    meta, body = receive(ws)
    assert (meta["type"], meta["messageId"], meta["status"]) == ("ClientRequest", message_id, 200)
    info: dict[str, Any] = body
    return info


def inbound(emulator: Emulator) -> str:
    return str(emulator.inject_inbound_fax(from_number="+16505550150", documents=[PDF])["id"])


def test_wstoken_shape_and_single_use(raw: Raw) -> None:
    token = wstoken(raw)
    assert token["expires_in"] == 30
    url = urlsplit(token["uri"])
    assert (url.scheme, url.hostname, url.path) == ("ws", "127.0.0.1", "/ws")
    uri = f"{token['uri']}?access_token={token['ws_access_token']}"
    with connect(uri, open_timeout=WAIT):
        pass
    with pytest.raises(InvalidStatus) as refused:
        connect(uri, open_timeout=WAIT)
    assert refused.value.response.status_code == 401
    assert raw.request("POST", "/restapi/oauth/wstoken", auth=False).status == 401


def test_expired_wstoken_is_refused(raw: Raw, clock: ManualClock) -> None:
    token = wstoken(raw)
    clock.advance(31)
    with pytest.raises(InvalidStatus):
        connect(f"{token['uri']}?access_token={token['ws_access_token']}", open_timeout=WAIT)


def test_connection_details_come_first(raw: Raw) -> None:
    with open_ws(raw) as ws:
        meta, body = receive(ws)
    assert (meta["type"], meta["status"]) == ("ConnectionDetails", 200)
    assert meta["wsc"]["sequence"] == 0 and meta["wsc"]["token"]
    assert {k: body[k] for k in body if k != "creationTime"} == {
        "maxConnectionsPerSession": 50,
        "recoveryBufferSize": 100,
        "recoveryTimeout": 180,
        "idleTimeout": 600,
        "absoluteTimeout": 3600,
        "maxActiveRequests": 10,
    }


def test_subscribe_and_receive_notifications(
    raw: Raw, emulator: Emulator, config: EmulatorConfig
) -> None:
    with open_ws(raw) as ws:
        receive(ws)
        info = subscribe(ws, [INBOUND_FILTER, STORE_FILTER])
        assert info["deliveryMode"]["transportType"] == "WebSocket"
        assert info["status"] == "Active"
        fax_id = inbound(emulator)
        notes = [receive(ws), receive(ws)]
    assert [m["type"] for m, _ in notes] == ["ServerNotification"] * 2
    assert [m["wsc"]["sequence"] for m, _ in notes] == [1, 2]
    bodies = {b["event"].rsplit("/", 1)[1]: b for _, b in notes}
    assert set(bodies) == {"fax?direction=Inbound", "message-store"}
    assert str(bodies["fax?direction=Inbound"]["body"]["id"]) == fax_id
    for _, body in notes:
        assert body["subscriptionId"] == info["id"]
        assert body["ownerId"] == config.extension_id
        assert set(body) == {"uuid", "event", "timestamp", "subscriptionId", "ownerId", "body"}


def test_second_subscription_replaces_the_first(raw: Raw, emulator: Emulator) -> None:
    with open_ws(raw) as ws:
        receive(ws)
        first = subscribe(ws, [STORE_FILTER], "a")
        second = subscribe(ws, [INBOUND_FILTER], "b")
        ws.send(
            json.dumps(
                [
                    {
                        "type": "ClientRequest",
                        "messageId": "c",
                        "method": "GET",
                        "path": f"/restapi/v1.0/subscription/{first['id']}",
                    }
                ]
            )
        )
        meta, body = receive(ws)
        assert (meta["status"], body["errorCode"]) == (404, "CMN-102")
        inbound(emulator)
        ws.send(json.dumps([{"type": "Heartbeat", "messageId": "h"}]))
        note = receive(ws)
        assert note[1]["subscriptionId"] == second["id"]
        assert note[1]["event"].endswith("/fax?direction=Inbound")
        assert receive(ws)[0]["type"] == "Heartbeat"  # no message-store event: replaced


def test_heartbeat_is_answered(raw: Raw) -> None:
    with open_ws(raw) as ws:
        receive(ws)
        ws.send(json.dumps([{"type": "Heartbeat", "messageId": "hb-1"}]))
        (meta,) = receive(ws)
    assert (meta["type"], meta["messageId"], meta["status"]) == ("Heartbeat", "hb-1", 200)


def test_garbage_is_an_error_message(raw: Raw) -> None:
    with open_ws(raw) as ws:
        receive(ws)
        ws.send("not json")
        meta, body = receive(ws)
    assert (meta["type"], body["errorCode"]) == ("Error", "CMN-103")


def expect_error_then_close(ws: ClientConnection, code: str, text: str) -> None:
    meta, body = receive(ws)
    assert (meta["type"], body) == ("Error", {"errorCode": code, "message": text})
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)


def test_idle_timeout_sends_wsg_902_then_closes(raw: Raw, clock: ManualClock) -> None:
    with open_ws(raw) as ws:
        receive(ws)
        clock.advance(601)
        expect_error_then_close(ws, "WSG-902", "Idle timeout expired")


def test_absolute_timeout_sends_wsg_903_even_to_an_active_client(
    raw: Raw, clock: ManualClock
) -> None:
    with open_ws(raw) as ws:
        receive(ws)
        for _ in range(7):  # 3,500 s, never idle for 600
            clock.advance(500)
            ws.send(json.dumps([{"type": "Heartbeat", "messageId": "hb"}]))
            assert receive(ws)[0]["type"] == "Heartbeat"
        clock.advance(101)
        expect_error_then_close(ws, "WSG-903", "Absolute timeout expired")


def test_client_that_ignores_pings_is_dropped(tmp_path: Any) -> None:
    config = push_config(ws_ping_interval=0.05, ws_ping_timeout=0.2)
    with Emulator(tmp_path / "data", config=config, clock=ManualClock()) as emu:
        token = wstoken(Raw(emu))
        url = urlsplit(token["uri"])
        key = base64.b64encode(os.urandom(16)).decode()
        with socket.create_connection((url.hostname, url.port), timeout=WAIT) as sock:
            sock.sendall(
                f"GET /ws?access_token={token['ws_access_token']} HTTP/1.1\r\n"
                f"Host: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            received = b""
            for _ in range(10_000):  # read (never answering pings) until the server hangs up
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
            else:
                pytest.fail("the server kept a client that never answers pings")
        assert received.startswith(b"HTTP/1.1 101")
        assert b"\x89" in received  # at least one ping frame (FIN + opcode 9) was sent


def test_recovery_replays_missed_events_in_order(raw: Raw, emulator: Emulator) -> None:
    with open_ws(raw) as ws:
        wsc = receive(ws)[0]["wsc"]["token"]
        info = subscribe(ws, [INBOUND_FILTER])
        emulator.drop_websockets()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    missed = [inbound(emulator) for _ in range(3)]
    with open_ws(raw, wsc) as ws:
        meta, details = receive(ws)
        assert (meta["type"], details["recoveryState"]) == ("ConnectionDetails", "Successful")
        assert meta["wsc"]["token"] == wsc
        replayed = [receive(ws) for _ in missed]
        assert [m["wsc"]["sequence"] for m, _ in replayed] == [1, 2, 3]
        assert [str(b["body"]["id"]) for _, b in replayed] == missed
        assert {b["subscriptionId"] for _, b in replayed} == {info["id"]}
        later = inbound(emulator)
        meta, body = receive(ws)  # the subscription lives on
        assert (meta["wsc"]["sequence"], str(body["body"]["id"])) == (4, later)


def test_recovery_keeps_only_the_buffer(tmp_path: Any) -> None:
    clock = ManualClock()
    with Emulator(tmp_path / "d", config=push_config(ws_recovery_buffer=2), clock=clock) as emu:
        raw = Raw(emu)
        with open_ws(raw) as ws:
            wsc = receive(ws)[0]["wsc"]["token"]
            subscribe(ws, [INBOUND_FILTER])
            emu.drop_websockets()
        missed = [inbound(emu) for _ in range(3)]
        with open_ws(raw, wsc) as ws:
            assert receive(ws)[1]["recoveryBufferSize"] == 2
            replayed = [receive(ws) for _ in range(2)]
    assert [m["wsc"]["sequence"] for m, _ in replayed] == [2, 3]
    assert [str(b["body"]["id"]) for _, b in replayed] == missed[1:]


@pytest.mark.parametrize("late", [True, False], ids=["after-recovery-timeout", "unknown-wsc"])
def test_recovery_fails_late_or_unknown(
    raw: Raw, emulator: Emulator, clock: ManualClock, late: bool
) -> None:
    with open_ws(raw) as ws:
        wsc = receive(ws)[0]["wsc"]["token"]
        subscribe(ws, [INBOUND_FILTER])
        emulator.drop_websockets()
    if late:
        clock.advance(181)
    else:
        wsc = "no-such-session"
    inbound(emulator)
    with open_ws(raw, wsc) as ws:
        meta, details = receive(ws)
        assert details["recoveryState"] == "Failed"
        assert meta["wsc"]["token"] != wsc and meta["wsc"]["sequence"] == 0
        inbound(emulator)
        ws.send(json.dumps([{"type": "Heartbeat", "messageId": "h"}]))
        assert receive(ws)[0]["type"] == "Heartbeat"  # no replay, no subscription


def test_busy_gateway_port_fails_the_start_and_leaks_nothing(tmp_path: Any) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        emu = Emulator(tmp_path / "data", config=push_config(ws_port=port))
        with pytest.raises(OSError) as failed:
            emu.start()
    assert failed.value.errno == errno.EADDRINUSE
    assert str(failed.value) == f"WebSocket gateway: port {port} is already in use on 127.0.0.1"
    assert not emu.running
    assert not [t for t in threading.enumerate() if t.name.startswith("emulator-")]
    with Emulator(tmp_path / "data", config=push_config()):  # the data directory is free
        pass


def test_tokens_never_reach_the_gateway_log(raw: Raw, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    answer = wstoken(raw)
    token = answer["ws_access_token"]
    ws = connect(f"{answer['uri']}?access_token={token}", open_timeout=WAIT, close_timeout=1)
    try:
        details = receive(ws)
    finally:
        ws.close()
    wsc = details[0]["wsc"]["token"]
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("ringfax.emulator")
    )
    assert "GET /ws?access_token=[redacted]" in logged
    assert token not in logged and wsc not in logged
