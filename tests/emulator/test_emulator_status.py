"""Status progression, scenarios, resend/forward, cancel, pagination."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from emulator_helpers import Raw

from ringfax._client import FaxClient
from ringfax._errors import APIError
from ringfax._models import MessageStatus
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

pytestmark = pytest.mark.network


def test_queued_then_sent_with_page_count(
    client: FaxClient, clock: ManualClock, docs: dict[str, Path]
) -> None:
    msg = client.send_fax(["+16505550123"], [str(docs["pdf"])], cover_index=0)
    assert msg.message_status is MessageStatus.QUEUED
    assert msg.fax_page_count == 0
    clock.advance(29)
    assert client.get_fax(msg.id).message_status is MessageStatus.QUEUED
    clock.advance(1)
    later = client.get_fax(msg.id)
    assert later.message_status is MessageStatus.SENT
    assert later.fax_page_count == 2
    assert later.to[0].message_status is MessageStatus.SENT
    assert later.last_modified_time is not None and later.creation_time is not None
    assert later.last_modified_time - later.creation_time == timedelta(seconds=30)


def test_wait_for_fax_per_recipient_aggregate(
    client: FaxClient, clock: ManualClock, docs: dict[str, Path]
) -> None:
    # 0003 fails fast (InvalidNumber), 0002 fails slowly (NoAnswer), the third is Sent.
    msg = client.send_fax(["+16505550003", "+16505550002", "+16505550123"], [str(docs["txt"])])
    clock.advance(6)
    mid = client.get_fax(msg.id)
    assert [r.message_status for r in mid.to] == [
        MessageStatus.SENDING_FAILED,
        MessageStatus.QUEUED,
        MessageStatus.QUEUED,
    ]
    assert mid.message_status is MessageStatus.QUEUED  # any Queued -> Queued
    final = client.wait_for_fax(msg.id, timeout=600, poll=10)
    assert final.message_status is MessageStatus.SENDING_FAILED
    codes = [r.fax_error_code for r in final.to]
    assert codes == ["InvalidNumber", "NoAnswer", None]
    assert final.to[2].message_status is MessageStatus.SENT


def test_delivered_after_sent(tmp_path: Path, docs: dict[str, Path]) -> None:
    clock = ManualClock()
    config = EmulatorConfig(rate_limiting=False, send_delay=10, delivered=True, delivered_delay=5)
    with (
        Emulator(tmp_path, config=config, clock=clock) as emu,
        FaxClient(
            emu.url,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            jwt=emu.jwt,
            clock=clock.now,
            sleep=clock.sleep,
        ) as client,
    ):
        msg = client.send_fax(["+16505550123"], [str(docs["txt"])])
        clock.advance(10)
        assert client.get_fax(msg.id).message_status is MessageStatus.SENT
        clock.advance(5)
        assert client.get_fax(msg.id).message_status is MessageStatus.DELIVERED


def test_send_time_holds_queued(
    client: FaxClient, clock: ManualClock, docs: dict[str, Path]
) -> None:
    when = datetime.fromtimestamp(clock.now(), timezone.utc) + timedelta(hours=2)
    msg = client.send_fax(["+16505550123"], [str(docs["txt"])], send_time=when)
    clock.advance(3600)
    assert client.get_fax(msg.id).message_status is MessageStatus.QUEUED
    clock.advance(3600 + 30)
    assert client.get_fax(msg.id).message_status is MessageStatus.SENT


def test_cancel_scheduled_fax(
    client: FaxClient, clock: ManualClock, docs: dict[str, Path], emulator: Emulator
) -> None:
    when = datetime.fromtimestamp(clock.now(), timezone.utc) + timedelta(hours=1)
    msg = client.send_fax(["+16505550123"], [str(docs["txt"])], send_time=when)
    client.cancel_fax(msg.id)
    clock.advance(7200)
    after = client.get_fax(msg.id)
    assert after.availability == "Deleted"
    assert after.message_status is MessageStatus.QUEUED  # frozen: never sent
    client.delete_fax(msg.id)  # deleting a deleted fax purges it
    with pytest.raises(APIError) as info:
        client.get_fax(msg.id)
    assert info.value.status == 404 and "CMN-102" in info.value.error_codes


def test_resend_after_failure_and_forward(
    client: FaxClient, clock: ManualClock, docs: dict[str, Path], emulator: Emulator
) -> None:
    # 0006 is busy on the first attempt only.
    first = client.send_fax(["+16505550006", "+16505550123"], [str(docs["pdf"])])
    with pytest.raises(APIError) as info:
        client.resend_fax(first.id)  # still Queued
    assert info.value.status == 406 and "MSG-343" in info.value.error_codes
    failed = client.wait_for_fax(first.id, poll=10)
    assert failed.message_status is MessageStatus.SENDING_FAILED
    assert failed.to[0].fax_error_code == "LineBusy"
    assert failed.to[0].retryable

    again = client.resend_fax(first.id)
    assert again.id != first.id
    assert [r.phone_number for r in again.to] == ["+16505550006"]  # only the failed one
    done = client.wait_for_fax(again.id, poll=10)
    assert done.message_status is MessageStatus.SENT
    stored = emulator.store.get_fax(int(again.id))
    assert stored is not None and stored.original_id == int(first.id)
    assert [a.size for a in stored.attachments] == [docs["pdf"].stat().st_size]

    with pytest.raises(APIError) as info:
        client.resend_fax(again.id)  # Sent: nothing to resend
    assert info.value.status == 406

    forwarded = client.resend_fax(again.id, to=["+16505550777"])
    assert [r.phone_number for r in forwarded.to] == ["+16505550777"]


def test_resend_unknown_message(client: FaxClient) -> None:
    with pytest.raises(APIError) as info:
        client.resend_fax("999999")
    assert info.value.status == 404 and "CMN-102" in info.value.error_codes


def test_pagination_and_filters(
    make_client: Callable[..., FaxClient], raw: Raw, clock: ManualClock, docs: dict[str, Path]
) -> None:
    client = make_client()
    ids = []
    for i in range(23):
        ids.append(client.send_fax([f"+1650555{1000 + i}"], [str(docs["txt"])]).id)
        clock.advance(1)
    listed = [m.id for m in client.iter_faxes(per_page=5)]
    assert listed == list(reversed(ids))  # newest first, every fax once
    page = raw.request(
        "GET", "/restapi/v1.0/account/~/extension/~/message-store?messageType=Fax&perPage=10&page=2"
    ).json()
    assert page["paging"] == {
        "page": 2,
        "totalPages": 3,
        "perPage": 10,
        "totalElements": 23,
        "pageStart": 10,
        "pageEnd": 19,
    }
    assert set(page["navigation"]) == {"firstPage", "nextPage", "previousPage", "lastPage"}
    assert "page=3" in page["navigation"]["nextPage"]["uri"]
    assert "messageType=Fax" in page["navigation"]["nextPage"]["uri"]
    assert list(client.iter_faxes(direction="Inbound")) == []
    start = datetime.fromtimestamp(clock.now(), timezone.utc) - timedelta(seconds=5)
    assert len(list(client.iter_faxes(date_from=start))) == 5
    sms = raw.request("GET", "/restapi/v1.0/account/~/extension/~/message-store?messageType=SMS")
    assert sms.json()["records"] == []
    clock.advance(86400)  # default window: the last 24 hours
    assert list(client.iter_faxes()) == []


def test_cover_pages(client: FaxClient) -> None:
    pages = client.cover_pages()
    assert [(p.id, p.name) for p in pages][:2] == [(1, "Ancient"), (2, "Birthday")]
    assert len(pages) == 13 and pages[-1].name == "Urgent"


def test_bulk_read_207(client: FaxClient, raw: Raw, docs: dict[str, Path]) -> None:
    import email.parser

    a = client.send_fax(["+16505550123"], [str(docs["txt"])]).id
    b = client.send_fax(["+16505550124"], [str(docs["txt"])]).id
    path = f"/restapi/v1.0/account/~/extension/~/message-store/{a},{b},77"
    reply = raw.request("GET", path)
    assert reply.status == 207
    assert reply.headers["content-type"].startswith("multipart/mixed; boundary=")
    head = f"Content-Type: {reply.headers['content-type']}\r\n\r\n".encode()
    msg = email.parser.BytesParser().parsebytes(head + reply.body)
    parts = [json.loads(p.get_payload(decode=True)) for p in msg.get_payload()]
    assert [r["status"] for r in parts[0]["response"]] == [200, 200, 404]
    assert [p.get("id") for p in parts[1:3]] == [int(a), int(b)]
    assert parts[3]["errorCode"] == "CMN-102"
    as_json = raw.request(
        "GET", path, headers={"Accept": "application/vnd.ringcentral.multipart+json"}
    ).json()
    assert [(i["resourceId"], i["status"]) for i in as_json] == [(a, 200), (b, 200), ("77", 404)]
