"""Inbound (received) faxes: injection (Python and HTTP), record shape, content, listing
filters, read status, delete/purge, forwarding, durability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import FAX_PATH, INBOUND_PATH, STORE_PATH, Raw, form_data

from ringfax._client import FaxClient
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock
from ringfax.emulator._samples import make_pdf, make_tiff

pytestmark = pytest.mark.network

PDF = make_pdf(["received page one", "received page two"])


def _inject(emu: Emulator, **kw: Any) -> dict[str, Any]:
    kw.setdefault("from_number", "+14155550100")
    kw.setdefault("documents", [("scan.pdf", "application/pdf", PDF)])
    return emu.inject_inbound_fax(**kw)


def _put(raw: Raw, ident: object, body: dict[str, Any], method: str = "PUT") -> Any:
    reply = raw.request(
        method,
        f"{STORE_PATH}/{ident}",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    assert reply.status == 200, reply.body
    return reply.json()


def test_injected_record_looks_like_ringcentral(emulator: Emulator, raw: Raw) -> None:
    msg = _inject(emulator, to_number="+1 (650) 555-0199", subject="Re: claim 8812")
    assert msg["direction"] == "Inbound"
    assert msg["messageStatus"] == "Received"
    assert msg["readStatus"] == "Unread"
    assert msg["availability"] == "Alive"
    assert msg["type"] == "Fax"
    assert msg["from"] == {"phoneNumber": "+14155550100"}
    assert msg["to"][0]["phoneNumber"] == "+16505550199"
    assert msg["subject"] == "Re: claim 8812"
    assert msg["faxPageCount"] == 2
    assert isinstance(msg["id"], int)
    (att,) = msg["attachments"]
    assert att["fileName"] == "scan.pdf" and att["contentType"] == "application/pdf"
    assert att["type"] == "RenderedDocument" and att["size"] == len(PDF)
    assert att["uri"].endswith(f"/message-store/{msg['id']}/content/{att['id']}")
    assert msg["uri"].startswith(emulator.url) and msg["uri"].endswith(str(msg["id"]))
    # the same record through the API, and its document through the content endpoint
    got = raw.request("GET", f"{STORE_PATH}/{msg['id']}")
    assert got.status == 200 and got.json() == msg
    content = raw.request("GET", f"{STORE_PATH}/{msg['id']}/content/{att['id']}")
    assert content.status == 200 and content.body == PDF
    assert content.headers["content-type"] == "application/pdf"


def test_defaults_and_several_documents(emulator: Emulator) -> None:
    tiff = make_tiff()
    msg = _inject(
        emulator,
        documents=[("a.pdf", "application/pdf", PDF), ("b.tiff", "image/tiff", tiff)],
    )
    assert msg["to"][0]["phoneNumber"] == emulator.config.from_number
    assert msg["subject"] == "+14155550100"  # the remote station id, as RingCentral shows
    assert [a["fileName"] for a in msg["attachments"]] == ["a.pdf", "b.tiff"]
    assert msg["faxPageCount"] == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"from_number": "not a number"}, ValueError, "from"),
        ({"from_number": 4155550100}, TypeError, "from_number"),
        ({"to_number": "12"}, ValueError, "to"),
        ({"documents": []}, ValueError, "documents"),
        ({"documents": b"raw"}, TypeError, "documents"),
        ({"documents": [("a.pdf", "application/pdf")]}, TypeError, r"documents\[0\]"),
        ({"documents": [("a.pdf", "application/pdf", "text")]}, TypeError, "bytes"),
        ({"documents": [("a.pdf", "pdf", PDF)]}, ValueError, "content type"),
        ({"documents": [("", "application/pdf", PDF)]}, ValueError, "file name"),
        ({"documents": [("a\nb.pdf", "application/pdf", PDF)]}, ValueError, "file name"),
        ({"documents": [("a.pdf", "application/pdf", b"")]}, ValueError, "empty"),
        ({"subject": "x" * 1025}, ValueError, "subject"),
    ],
)
def test_inject_rejects_bad_input(
    emulator: Emulator, kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        _inject(emulator, **kwargs)
    assert emulator.count_faxes() == 0
    assert list((emulator.data_dir / "incoming").iterdir()) == []


def test_inject_needs_a_running_emulator(tmp_path: Path) -> None:
    emu = Emulator(tmp_path / "data")
    with pytest.raises(RuntimeError, match="not running"):
        _inject(emu)


def test_http_injection(emulator: Emulator, raw: Raw) -> None:
    body, ctype = form_data(
        [("from", "+14155550100"), ("to", "+16505550199"), ("subject", "hello")],
        [
            ("attachment", "scan.pdf", "application/pdf", PDF),
            ("attachment", "notes.txt", None, b"line\n"),
            ("attachment", "blob.tiff", "application/octet-stream", make_tiff()),
        ],
    )
    reply = raw.request("POST", INBOUND_PATH, body, {"Content-Type": ctype}, auth=False)
    assert reply.status == 200, reply.body
    msg = reply.json()
    assert msg["direction"] == "Inbound" and msg["subject"] == "hello"
    assert msg["to"][0]["phoneNumber"] == "+16505550199"
    assert [(a["fileName"], a["contentType"]) for a in msg["attachments"]] == [
        ("scan.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("blob.tiff", "image/tiff"),
    ]
    assert "rcrequestid" in reply.headers
    first = msg["attachments"][0]
    content = raw.request("GET", f"{STORE_PATH}/{msg['id']}/content/{first['id']}")
    assert content.body == PDF


def test_http_injection_chunked_and_unnamed_file(emulator: Emulator, raw: Raw) -> None:
    body, ctype = form_data([("from", "14155550100")], [("attachment", None, None, b"x" * 5000)])
    reply = raw.request(
        "POST", INBOUND_PATH, body, {"Content-Type": ctype}, auth=False, chunked=True
    )
    assert reply.status == 200, reply.body
    (att,) = reply.json()["attachments"]
    assert att["fileName"] == "document-1.bin" and att["size"] == 5000
    assert reply.json()["from"]["phoneNumber"] == "+14155550100"


def _error(reply: Any, status: int, code: str, parameter: str | None = None) -> None:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["errorCode"] == code and body["errors"][0]["errorCode"] == code
    if parameter is not None:
        assert body["parameterName"] == parameter
        assert body["errors"][0]["parameterName"] == parameter


@pytest.mark.parametrize(
    ("fields", "files", "status", "code", "parameter"),
    [
        ([], [("attachment", "a.pdf", None, PDF)], 400, "CMN-101", "from"),
        ([("from", "abc")], [("attachment", "a.pdf", None, PDF)], 400, "CMN-101", "from"),
        ([("from", "+14155550100")], [], 400, "CMN-101", "attachment"),
        (
            [("from", "+14155550100"), ("from", "+14155550101")],
            [("attachment", "a.pdf", None, PDF)],
            400,
            "CMN-101",
            "from",
        ),
        (
            [("from", "+14155550100"), ("color", "red")],
            [("attachment", "a.pdf", None, PDF)],
            400,
            "CMN-101",
            "color",
        ),
        (
            [("from", "+14155550100")],
            [("attachment", "a.pdf", None, b"")],
            400,
            "MSG-347",
            None,
        ),
        (
            [("from", "+14155550100")],
            [("attachment", "a.bin", "not a type", b"x")],
            400,
            "CMN-101",
            "attachment",
        ),
    ],
)
def test_http_injection_errors(
    emulator: Emulator,
    raw: Raw,
    fields: list[tuple[str, str]],
    files: list[tuple[str, str | None, str | None, bytes]],
    status: int,
    code: str,
    parameter: str | None,
) -> None:
    body, ctype = form_data(fields, files)
    reply = raw.request("POST", INBOUND_PATH, body, {"Content-Type": ctype}, auth=False)
    _error(reply, status, code, parameter)
    assert emulator.count_faxes() == 0


def test_http_injection_wrong_method_and_type(raw: Raw) -> None:
    reply = raw.request(
        "POST", INBOUND_PATH, b"{}", {"Content-Type": "application/json"}, auth=False
    )
    _error(reply, 415, "CMN-415", "Content-Type")
    _error(raw.request("GET", INBOUND_PATH, auth=False), 405, "AGW-405")
    broken = b"--b\r\nContent-Disposition: form-data; name=from\r\n\r\n+14155550100"
    reply = raw.request(
        "POST",
        INBOUND_PATH,
        broken,
        {"Content-Type": "multipart/form-data; boundary=b"},
        auth=False,
    )
    _error(reply, 400, "CMN-104")


def test_http_injection_size_limits(tmp_path: Path, clock: ManualClock) -> None:
    config = EmulatorConfig(
        rate_limiting=False, max_attachment_size=1000, max_message_size=1500, max_body_size=5000
    )
    with Emulator(tmp_path / "d", config=config, clock=clock) as emu:
        raw = Raw(emu)

        def post(*sizes: int) -> Any:
            files = [
                ("attachment", f"{i}.txt", "text/plain", b"z" * n) for i, n in enumerate(sizes)
            ]
            body, ctype = form_data([("from", "+14155550100")], files)
            return raw.request("POST", INBOUND_PATH, body, {"Content-Type": ctype}, auth=False)

        _error(post(1001), 400, "MSG-337")
        _error(post(900, 900), 400, "MSG-338")
        _error(post(4000, 4000), 413, "AGW-413")
        assert post(900, 500).status == 200
        with pytest.raises(ValueError, match="MSG-337"):
            emu.inject_inbound_fax(
                from_number="+14155550100", documents=[("a.txt", "text/plain", b"z" * 1001)]
            )
        assert emu.count_faxes() == 1


def test_listing_filters(emulator: Emulator, raw: Raw, client: FaxClient, docs: Any) -> None:
    sent = client.send_fax(["+16505550123"], [str(docs["txt"])])
    a = _inject(emulator)
    b = _inject(emulator, from_number="+14155550101")
    _put(raw, a["id"], {"readStatus": "Read"})

    def ids(query: str) -> list[int]:
        reply = raw.request("GET", f"{STORE_PATH}?{query}")
        assert reply.status == 200, reply.body
        return [r["id"] for r in reply.json()["records"]]

    assert ids("direction=Inbound") == [b["id"], a["id"]]
    assert ids("direction=Outbound") == [int(sent.id)]
    assert ids("direction=Inbound&readStatus=Unread") == [b["id"]]
    assert ids("readStatus=Read") == [a["id"], int(sent.id)]  # outbound faxes are Read
    reply = raw.request("GET", f"{STORE_PATH}?readStatus=Maybe")
    _error(reply, 400, "CMN-101", "readStatus")


def test_read_status_delete_and_purge(emulator: Emulator, raw: Raw, clock: ManualClock) -> None:
    msg = _inject(emulator)
    clock.advance(5)
    read = _put(raw, msg["id"], {"readStatus": "Read"})
    assert read["readStatus"] == "Read"
    assert read["lastModifiedTime"] > msg["lastModifiedTime"]
    unread = _put(raw, msg["id"], {"readStatus": "Unread"}, method="PATCH")
    assert unread["readStatus"] == "Unread" and unread["messageStatus"] == "Received"
    assert raw.request("DELETE", f"{STORE_PATH}/{msg['id']}").status == 204
    got = raw.request("GET", f"{STORE_PATH}/{msg['id']}").json()
    assert got["availability"] == "Deleted"
    restored = _put(raw, msg["id"], {"availability": "Alive"}, method="PATCH")
    assert restored["availability"] == "Alive"
    assert raw.request("DELETE", f"{STORE_PATH}/{msg['id']}?purge=true").status == 204
    assert raw.request("GET", f"{STORE_PATH}/{msg['id']}").status == 404
    assert not (emulator.data_dir / "attachments" / str(msg["id"])).exists()


def test_forward_received_fax(
    emulator: Emulator, raw: Raw, client: FaxClient, clock: ManualClock
) -> None:
    tiff = make_tiff()
    msg = _inject(
        emulator, documents=[("a.pdf", "application/pdf", PDF), ("b.tif", "image/tiff", tiff)]
    )
    fwd = client.resend_fax(str(msg["id"]), to=["+16505550123"])
    assert fwd.id != str(msg["id"])
    record = raw.request("GET", f"{STORE_PATH}/{fwd.id}").json()
    assert record["direction"] == "Outbound" and record["messageStatus"] == "Queued"
    assert [a["fileName"] for a in record["attachments"]] == ["a.pdf", "b.tif"]
    bodies = [
        raw.request("GET", f"{STORE_PATH}/{fwd.id}/content/{a['id']}").body
        for a in record["attachments"]
    ]
    assert bodies == [PDF, tiff]
    clock.advance(60)
    done = raw.request("GET", f"{STORE_PATH}/{fwd.id}").json()
    assert done["messageStatus"] == "Sent" and done["faxPageCount"] == 4  # cover + 2 + 1
    # a received fax cannot be "resent" to its original recipient (that is us)
    reply = raw.request(
        "POST",
        FAX_PATH,
        json.dumps({"originalMessageId": str(msg["id"])}).encode(),
        {"Content-Type": "application/json"},
    )
    _error(reply, 400, "CMN-101", "to")
    # the inbound fax itself is unchanged
    again = raw.request("GET", f"{STORE_PATH}/{msg['id']}").json()
    assert again["readStatus"] == "Unread" and again["messageStatus"] == "Received"


def test_inbound_faxes_survive_restart(tmp_path: Path, clock: ManualClock) -> None:
    data = tmp_path / "data"
    config = EmulatorConfig(rate_limiting=False)
    with Emulator(data, config=config, clock=clock) as emu:
        msg = _inject(emu, subject="kept")
        _put(Raw(emu), msg["id"], {"readStatus": "Read"})
    with Emulator(data, config=config, clock=clock) as emu:
        raw = Raw(emu)
        got = raw.request("GET", f"{STORE_PATH}/{msg['id']}").json()
        assert got["subject"] == "kept" and got["readStatus"] == "Read"
        assert got["from"] == msg["from"] and got["direction"] == "Inbound"
        att = got["attachments"][0]
        assert raw.request("GET", f"{STORE_PATH}/{msg['id']}/content/{att['id']}").body == PDF
