"""Receiving side of FaxClient: message-sync, read status, safe cancel, delete,
download naming and no silent overwrite. Function transport + fake clock, no sockets."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from _scripted_server import Recorder, fax_json, json_response, scripted_client

from ringfax import (
    AsyncFaxClient,
    BadRequest,
    DownloadError,
    FaxClient,
    FaxSync,
    MessageAttachment,
    MessageStatus,
    NotCancellable,
    Response,
    ValidationError,
)

SYNC_PATH = "/restapi/v1.0/account/~/extension/~/message-sync"


def client_for(script: Recorder, **kw: Any) -> FaxClient:
    kw.setdefault("access_token", "t")
    return scripted_client(script, **kw)


def inbound(message_id: int, **extra: Any) -> dict[str, Any]:
    data = fax_json(message_id, "Received", direction="Inbound", readStatus="Unread")
    data["attachments"] = [
        {"id": message_id * 10, "contentType": "application/pdf", "fileName": "in.pdf"}
    ]
    data.update(extra)
    return data


def sync_answer(
    records: list[dict[str, Any]], token: str, kind: str, older: bool = False
) -> Response:
    return json_response(
        {
            "records": records,
            "syncInfo": {
                "syncType": kind,
                "syncToken": token,
                "syncTime": "2026-05-28T20:26:40.000Z",
                "olderRecordsExist": older,
            },
        }
    )


# ------------------------------------------------------------------ sync


def test_full_then_incremental_sync() -> None:
    script = Recorder(
        sync_answer([inbound(2), inbound(1)], "tok-1", "FSync", older=True),
        sync_answer([inbound(3)], "tok-2", "ISync"),
    )
    client = client_for(script)
    since = datetime(2026, 5, 1, tzinfo=timezone.utc)
    first = client.sync_faxes(direction="Inbound", date_from=since, record_count=2)
    assert isinstance(first, FaxSync)
    assert [m.id for m in first.records] == ["2", "1"]
    assert first.full and first.older_records_exist and first.sync_token == "tok-1"
    assert first.sync_time == datetime(2026, 5, 28, 20, 26, 40, tzinfo=timezone.utc)
    assert urllib.parse.urlsplit(script.requests[0].url).path == SYNC_PATH
    assert script.query(0) == {
        "syncType": ["FSync"],
        "messageType": ["Fax"],
        "direction": ["Inbound"],
        "dateFrom": ["2026-05-01T00:00:00.000Z"],
        "recordCount": ["2"],
    }
    second = client.sync_faxes(first.sync_token)
    assert [m.id for m in second.records] == ["3"] and not second.full
    assert second.sync_token == "tok-2"
    assert script.query(1) == {
        "syncType": ["ISync"],
        "syncToken": ["tok-1"],
        "messageType": ["Fax"],
    }


def test_sync_drops_other_types_and_directions() -> None:
    outbound = fax_json(5, "Sent", direction="Outbound")
    sms = dict(inbound(6), type="SMS")
    script = Recorder(sync_answer([inbound(4), outbound, sms], "t", "FSync"))
    result = client_for(script).sync_faxes(direction="Inbound")
    assert [m.id for m in result.records] == ["4"]


def test_sync_validates_and_reports_bad_tokens() -> None:
    client = client_for(Recorder())
    with pytest.raises(ValidationError, match="date_from applies only to a full sync"):
        client.sync_faxes("tok", date_from=datetime(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValidationError, match="sync_token is empty"):
        client.sync_faxes("  ")
    with pytest.raises(ValidationError, match="record_count"):
        client.sync_faxes(record_count=0)
    with pytest.raises(ValidationError, match="direction"):
        client.sync_faxes(direction="inbound")
    body = {
        "errorCode": "CMN-101",
        "message": "Parameter [syncToken] value is invalid.",
        "errors": [{"errorCode": "CMN-101", "parameterName": "syncToken"}],
    }
    with pytest.raises(BadRequest) as info:
        client_for(Recorder(json_response(body, 400))).sync_faxes("stale")
    assert info.value.errors[0].parameter_name == "syncToken"


def test_sync_answer_without_token_is_an_api_error() -> None:
    from ringfax import APIError

    script = Recorder(json_response({"records": [], "syncInfo": {}}))
    with pytest.raises(APIError, match="syncToken"):
        client_for(script).sync_faxes()


# ------------------------------------------------------------- read status


def test_mark_read_and_unread() -> None:
    script = Recorder(
        json_response(inbound(7, readStatus="Read")), json_response(inbound(7, readStatus="Unread"))
    )
    client = client_for(script)
    assert client.mark_read(7).read_status == "Read"
    assert client.mark_unread("7").read_status == "Unread"
    assert [r.method for r in script.requests] == ["PUT", "PUT"]
    assert script.requests[0].url.endswith("/message-store/7")
    assert [json.loads(b) for b in script.bodies] == [
        {"readStatus": "Read"},
        {"readStatus": "Unread"},
    ]


# ------------------------------------------------------------- cancel/delete


@pytest.mark.parametrize("status", ["Sent", "Delivered", "SendingFailed", "Received", "Weird"])
def test_cancel_refuses_anything_but_queued(status: str) -> None:
    script = Recorder(json_response(fax_json(8, status)))
    with pytest.raises(NotCancellable) as info:
        client_for(script).cancel_fax(8)
    assert [r.method for r in script.requests] == ["GET"]  # nothing deleted
    assert status in str(info.value) and "delete_fax" in str(info.value)
    assert info.value.message_id == "8"
    expected = MessageStatus.parse(status) or status
    assert info.value.status == expected


def test_cancel_refuses_an_already_deleted_queued_fax() -> None:
    script = Recorder(json_response(fax_json(9, "Queued", availability="Deleted")))
    with pytest.raises(NotCancellable, match="already removed"):
        client_for(script).cancel_fax(9)
    assert [r.method for r in script.requests] == ["GET"]


def test_delete_and_purge() -> None:
    script = Recorder(Response(204), Response(204))
    client = client_for(script)
    assert client.delete_fax(10) is None
    client.delete_fax(10, purge=True)
    assert [r.method for r in script.requests] == ["DELETE", "DELETE"]
    assert script.requests[0].url.endswith("/message-store/10")
    assert script.requests[1].url.endswith("/message-store/10?purge=true")


# ---------------------------------------------------------------- download


def pdf_answer(headers: dict[str, str] | None = None) -> Response:
    return Response(200, {"Content-Type": "application/pdf", **(headers or {})}, b"%PDF-1.4 x")


def test_download_names_from_the_attachment(tmp_path: Path) -> None:
    script = Recorder(
        pdf_answer(),
        pdf_answer(),
        pdf_answer({"Content-Disposition": 'attachment; filename="scan 1.pdf"'}),
        Response(200, {"Content-Type": "image/tiff"}, b"II*"),
    )
    client = client_for(script)
    message = client_for(Recorder(json_response(inbound(11)))).get_fax(11)
    att = message.attachments[0]
    assert client.download(message.id, att, tmp_path).name == "11-in.pdf"
    nameless = MessageAttachment(id="12", content_type="application/pdf")
    assert client.download("11", nameless, tmp_path).name == "11-12.pdf"
    assert client.download("11", "13", tmp_path).name == "11-scan_1.pdf"
    assert client.download("11", "14", tmp_path).name == "11-14.tif"
    assert script.requests[0].url.endswith("/message-store/11/content/110")


def test_download_never_overwrites_silently(tmp_path: Path) -> None:
    existing = tmp_path / "11-in.pdf"
    existing.write_bytes(b"mine")
    script = Recorder(pdf_answer(), pdf_answer(), pdf_answer())
    client = client_for(script)
    att = MessageAttachment(id="110", filename="in.pdf", content_type="application/pdf")
    with pytest.raises(DownloadError, match=r"already exists.*overwrite=True") as info:
        client.download(11, att, tmp_path)
    assert info.value.path == existing
    assert existing.read_bytes() == b"mine"
    with pytest.raises(DownloadError):
        client.download(11, att, existing)  # an explicit file path too
    assert existing.read_bytes() == b"mine"
    assert client.download(11, att, existing, overwrite=True) == existing
    assert existing.read_bytes() == b"%PDF-1.4 x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["11-in.pdf"]  # no temp files left


def test_download_race_does_not_clobber(tmp_path: Path) -> None:
    target = tmp_path / "f.pdf"

    def chunks() -> Any:
        yield b"new"
        target.write_bytes(b"appeared meanwhile")  # another process wins the race

    client = client_for(Recorder(Response(200, {}, chunks())))
    with pytest.raises(DownloadError):
        client.download(1, 2, target)
    assert target.read_bytes() == b"appeared meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["f.pdf"]


# ---------------------------------------------------------------- async twin


def test_async_client_has_the_new_methods(tmp_path: Path) -> None:
    script = Recorder(
        sync_answer([inbound(1)], "tok", "FSync"),
        json_response(inbound(1, readStatus="Read")),
        json_response(inbound(1, readStatus="Unread")),
        json_response(fax_json(2, "Queued")),
        Response(204),
        Response(204),
        pdf_answer(),
    )

    async def main() -> None:
        async with AsyncFaxClient(client=client_for(script)) as client:
            result = await client.sync_faxes(direction="Inbound")
            assert result.sync_token == "tok"
            assert (await client.mark_read(1)).read_status == "Read"
            assert (await client.mark_unread(1)).read_status == "Unread"
            assert (await client.cancel_fax(2)).message_status is MessageStatus.QUEUED
            await client.delete_fax(1, purge=True)
            path = await client.download(1, "10", tmp_path / "x.pdf", overwrite=False)
            assert path.read_bytes() == b"%PDF-1.4 x"

    asyncio.run(main())
    assert [r.method for r in script.requests] == [
        "GET",
        "PUT",
        "PUT",
        "GET",
        "DELETE",
        "DELETE",
        "GET",
    ]
