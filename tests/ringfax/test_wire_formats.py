"""The three fax wire formats, parsed back with mimewire AND an independent parser.

form-data / form-fields: the ``multipart`` package; mixed: the stdlib ``email`` parser.
RingCentral's documented request examples are in ``tests/data/ringcentral/`` (see its README).
"""

from __future__ import annotations

import email
import email.policy
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import multipart
import pytest
from _scripted_server import fax_json, json_response

import mimewire
from ringfax import Attachment, FaxClient, FunctionTransport, Recipient, Request, Response

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "ringcentral"


def reference(name: str) -> tuple[str, bytes]:
    """Content-Type and body of one of RingCentral's documented example requests."""
    head, body = (REFERENCE / name).read_bytes().split(b"\r\n\r\n", 1)
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    return headers["Content-Type"], body


PDF = b"%PDF-1.4\r\n--not-a-boundary\r\n\x00\xff binary \r\n"
TXT = b"Hello, World!\r\n"


def capture(tmp_path: Path, wire_format: str, **kw: Any) -> tuple[Request, bytes]:
    seen: list[tuple[Request, bytes]] = []

    def fn(request: Request) -> Response:
        seen.append((request, request.read_body()))
        return json_response(fax_json())

    pdf = tmp_path / "scan #1 & co.pdf"
    pdf.write_bytes(PDF)
    client = FaxClient(
        "https://rc.test",
        access_token="t",
        transport=FunctionTransport(fn),
        clock=lambda: 1_300_000_000.0,  # 2011: the golden examples schedule faxes in 2013
    )
    client.send_fax(
        kw.pop("to", [Recipient("+16505550123", "Jane Doe"), "+16505550124"]),
        kw.pop("attachments", [pdf, Attachment(TXT, filename="note.txt")]),
        wire_format=wire_format,  # type: ignore[arg-type]
        **kw,
    )
    ((request, body),) = seen
    assert request.content_length == len(body)
    return request, body


OPTIONS: dict[str, Any] = {
    "cover_index": 2,
    "cover_page_text": "Re: claim 8812 — ünïcode",
    "resolution": "High",
    "send_time": datetime(2030, 3, 19, 8, 0, tzinfo=timezone.utc),
    "iso_code": "UK",
}


def mimewire_parts(request: Request, body: bytes) -> list[dict[str, Any]]:
    return parts_of(request.headers["Content-Type"], body)


def parts_of(content_type: str, body: bytes) -> list[dict[str, Any]]:
    out = []
    for part in mimewire.parse(io.BytesIO(body), content_type):
        out.append(
            {
                "name": part.name,
                "filename": part.filename,
                "content_type": part.content_type,
                "headers": [(k.lower(), v) for k, v in part.headers],
                "data": part.read(),
            }
        )
    return out


def multipart_parts(request: Request, body: bytes) -> list[dict[str, Any]]:
    boundary = request.headers["Content-Type"].split("boundary=", 1)[1].strip('"')
    parser = multipart.MultipartParser(io.BytesIO(body), boundary, len(body), strict=True)
    return [
        {
            "name": p.name,
            "filename": p.filename,
            "content_type": p.content_type,
            "headers": [(k.lower(), v) for k, v in p.headerlist],
            "data": p.raw,
        }
        for p in parser
    ]


def email_parts(request: Request, body: bytes) -> list[email.message.Message]:
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    assert not message.defects
    return list(message.iter_parts())  # type: ignore[attr-defined]


ENVELOPE = {
    "to": [{"phoneNumber": "+16505550123", "name": "Jane Doe"}, {"phoneNumber": "+16505550124"}],
    "faxResolution": "High",
    "sendTime": "2030-03-19T08:00:00.000Z",
    "isoCode": "UK",
    "coverIndex": 2,
    "coverPageText": "Re: claim 8812 — ünïcode",
}


def test_form_data_json_envelope_parsed_by_mimewire_and_multipart(tmp_path: Path) -> None:
    request, body = capture(tmp_path, "form-data", **OPTIONS)
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    for parts in (mimewire_parts(request, body), multipart_parts(request, body)):
        assert [p["name"] for p in parts] == ["json", "attachment", "attachment"]
        envelope = parts[0]
        assert envelope["filename"] == "request.json"
        assert envelope["content_type"] == "application/json"
        assert json.loads(envelope["data"]) == ENVELOPE
        assert parts[1]["filename"] == "scan _1 _ co.pdf"  # sanitised on the wire
        assert parts[1]["content_type"] == "application/pdf"
        assert parts[1]["data"] == PDF
        assert parts[2]["filename"] == "note.txt"
        assert parts[2]["content_type"] == "text/plain"
        assert parts[2]["data"] == TXT


def test_form_fields_parsed_by_mimewire_and_multipart(tmp_path: Path) -> None:
    request, body = capture(tmp_path, "form-fields", **OPTIONS)
    expected_fields = [
        ("coverPageText", "Re: claim 8812 — ünïcode".encode()),
        ("coverIndex", b"2"),
        ("faxResolution", b"High"),
        ("sendTime", b"2030-03-19T08:00:00.000Z"),
        ("isoCode", b"UK"),
        ("to", b"+16505550123"),
        ("to", b"+16505550124"),
    ]
    for parts in (mimewire_parts(request, body), multipart_parts(request, body)):
        fields = [(p["name"], p["data"]) for p in parts[:7]]
        assert fields == expected_fields
        for p in parts[:7]:
            assert p["filename"] == ""
            assert p["content_type"] == "text/plain"
            assert ("content-transfer-encoding", "8bit") in p["headers"]
        assert [(p["name"], p["filename"], p["data"]) for p in parts[7:]] == [
            ("attachment", "scan _1 _ co.pdf", PDF),
            ("attachment", "note.txt", TXT),
        ]
    assert b"Jane Doe" not in body  # names cannot be carried in field style


def test_form_fields_match_the_documented_example_byte_for_byte(tmp_path: Path) -> None:
    """Every field part is laid out as in RingCentral's field-style example: same order, same
    headers (``filename=""`` and ``Content-Transfer-Encoding: 8bit`` on every field), same
    delimiters. The example writes numbers without ``+``; the client sends E.164."""
    content_type, documented = reference("form-fields.http")
    boundary = content_type.split("boundary=", 1)[1]
    request, body = capture(
        tmp_path,
        "form-fields",
        to=["+18005554567", "+18005554568"],
        attachments=[Attachment(b"attachment0", filename="a.txt")],
        cover_page_text="",
        cover_index=2,
        resolution="High",
        send_time=datetime(2030, 3, 19, 8, 0, tzinfo=timezone.utc),
        iso_code="UK",
        boundary=boundary,
    )
    assert request.headers["Content-Type"] == f"multipart/form-data; boundary={boundary}"
    first_file = f'--{boundary}\r\nContent-Disposition: form-data; name="attachment"'.encode()
    fields = body[: body.index(first_file)].replace(b"\r\n+1800", b"\r\n1800")
    assert fields == documented[: documented.index(first_file)]
    assert fields.count(b"--" + boundary.encode()) == 7


def test_mixed_parsed_by_mimewire_and_email(tmp_path: Path) -> None:
    request, body = capture(tmp_path, "mixed", **OPTIONS)
    assert request.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    parts = mimewire_parts(request, body)
    assert parts[0]["content_type"] == "application/json"
    assert "content-disposition" not in [k for k, _ in parts[0]["headers"]]
    assert json.loads(parts[0]["data"]) == ENVELOPE
    assert [(p["filename"], p["data"]) for p in parts[1:]] == [
        ("scan _1 _ co.pdf", PDF),
        ("note.txt", TXT),
    ]
    for p in parts[1:]:
        disposition = dict(p["headers"])["content-disposition"]
        assert disposition.startswith("attachment; filename=")
        assert "form-data" not in disposition
    stdlib = email_parts(request, body)
    assert stdlib[0].get_content_type() == "application/json"
    assert stdlib[0]["Content-Disposition"] is None
    assert json.loads(stdlib[0].get_payload(decode=True)) == ENVELOPE
    assert [(m.get_filename(), m.get_content_disposition()) for m in stdlib[1:]] == [
        ("scan _1 _ co.pdf", "attachment"),
        ("note.txt", "attachment"),
    ]
    assert stdlib[1].get_payload(decode=True) == PDF
    assert stdlib[2].get_payload(decode=True) == TXT


def test_mixed_documented_example_decodes_like_the_client_body(tmp_path: Path) -> None:
    """RingCentral's multipart/mixed example and the client's body for the same fax carry the
    same parts: a JSON envelope without disposition, then the file as an attachment."""
    content_type, documented = reference("mixed.http")
    request, body = capture(
        tmp_path,
        "mixed",
        to=["+18005554567"],
        attachments=[Attachment(TXT, filename="fax.txt")],
        resolution="High",
        send_time=datetime(2013, 2, 26, 9, 31, 20, 882000, tzinfo=timezone.utc),
    )
    doc_parts = parts_of(content_type, documented)
    our_parts = mimewire_parts(request, body)
    for parts in (doc_parts, our_parts):
        assert [(p["name"], p["filename"]) for p in parts] == [(None, None), (None, "fax.txt")]
        assert parts[0]["content_type"] == "application/json"
        assert "content-disposition" not in dict(parts[0]["headers"])
        assert dict(parts[1]["headers"])["content-disposition"] == 'attachment; filename="fax.txt"'
        assert parts[1]["data"] == TXT
    documented_envelope = json.loads(doc_parts[0]["data"])
    documented_envelope["to"][0]["phoneNumber"] = "+18005554567"  # the example omits the +
    assert json.loads(our_parts[0]["data"]) == documented_envelope


def test_mixed_golden_bytes(tmp_path: Path) -> None:
    boundary = "Boundary_1_14413901_1361871080888"
    request, body = capture(
        tmp_path,
        "mixed",
        to=["+18005554567"],
        attachments=[Attachment(TXT, filename="fax.txt")],
        resolution="High",
        send_time=datetime(2013, 2, 26, 9, 31, 20, 882000, tzinfo=timezone.utc),
        boundary=boundary,
    )
    assert request.headers["Content-Type"] == f"multipart/mixed; boundary={boundary}"
    assert body == (
        b"--Boundary_1_14413901_1361871080888\r\n"
        b"Content-Type: application/json\r\n"
        b"\r\n"
        b'{"to":[{"phoneNumber":"+18005554567"}],"faxResolution":"High",'
        b'"sendTime":"2013-02-26T09:31:20.882Z"}\r\n'
        b"--Boundary_1_14413901_1361871080888\r\n"
        b'Content-Disposition: attachment; filename="fax.txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"Hello, World!\r\n"
        b"\r\n"
        b"--Boundary_1_14413901_1361871080888--\r\n"
    )


def test_form_data_golden_bytes(tmp_path: Path) -> None:
    _, body = capture(
        tmp_path,
        "form-data",
        to=[Recipient("+16505550100", "Bob")],
        attachments=[Attachment(b"%PDF-1.4 x", filename="test.pdf")],
        resolution="High",
        cover_index=0,
        boundary="54bc00e76be70b691dfbee5d94762741",
    )
    assert body == (
        b"--54bc00e76be70b691dfbee5d94762741\r\n"
        b'Content-Disposition: form-data; name="json"; filename="request.json"\r\n'
        b"Content-Type: application/json\r\n"
        b"\r\n"
        b'{"to":[{"phoneNumber":"+16505550100","name":"Bob"}],"faxResolution":"High",'
        b'"coverIndex":0}\r\n'
        b"--54bc00e76be70b691dfbee5d94762741\r\n"
        b'Content-Disposition: form-data; name="attachment"; filename="test.pdf"\r\n'
        b"Content-Type: application/pdf\r\n"
        b"\r\n"
        b"%PDF-1.4 x\r\n"
        b"--54bc00e76be70b691dfbee5d94762741--\r\n"
    )


@pytest.mark.parametrize("wire_format", ["form-data", "form-fields", "mixed"])
def test_fixed_boundary_is_reproducible(tmp_path: Path, wire_format: str) -> None:
    _, first = capture(tmp_path, wire_format, boundary="fixed-boundary-1", **OPTIONS)
    _, second = capture(tmp_path, wire_format, boundary="fixed-boundary-1", **OPTIONS)
    assert first == second
    _, third = capture(tmp_path, wire_format, **OPTIONS)
    assert third != first  # a fresh random boundary by default


def test_non_ascii_and_quote_filename_round_trips(tmp_path: Path) -> None:
    name = 'résumé "A&B".pdf'
    request, body = capture(tmp_path, "form-data", attachments=[Attachment(PDF, filename=name)])
    assert 'filename="résumé %22A_B%22.pdf"'.encode() in body
    parts = mimewire_parts(request, body)
    assert parts[1]["filename"] == 'résumé "A_B".pdf'
    request, body = capture(tmp_path, "mixed", attachments=[Attachment(PDF, filename=name)])
    assert mimewire_parts(request, body)[1]["filename"] == 'résumé "A_B".pdf'  # filename* wins
    (_, att) = email_parts(request, body)
    # the stdlib parser takes the plain ASCII fallback that precedes filename*=UTF-8''...
    assert att.get_filename() in ('résumé "A_B".pdf', 'resume "A_B".pdf')
