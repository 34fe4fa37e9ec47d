"""Every wire format and bodies from other clients are accepted over real HTTP."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_helpers import FAX_PATH, Raw

from ringfax._client import FaxClient
from ringfax.emulator import Emulator

pytestmark = pytest.mark.network

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "ringcentral"


def _reference(name: str) -> tuple[str, bytes]:
    """Content-Type and body of one of RingCentral's documented example requests
    (``tests/data/ringcentral/``, see its README)."""
    head, body = (REFERENCE / name).read_bytes().split(b"\r\n\r\n", 1)
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    return headers["Content-Type"], body


# The field-style form-data example (its third attachment part is omitted in the source too).
REFERENCE_FORM_FIELDS_CT, REFERENCE_FORM_FIELDS = _reference("form-fields.http")
REFERENCE_MIXED_CT, REFERENCE_MIXED = _reference("mixed.http")


def _download(raw: Raw, record: dict[str, Any], index: int) -> bytes:
    uri = record["attachments"][index]["uri"]
    path = "/" + uri.split("/", 3)[3]
    reply = raw.request("GET", path)
    assert reply.status == 200, reply.body
    return reply.body


@pytest.mark.parametrize("wire_format", ["form-data", "form-fields", "mixed"])
def test_client_wire_formats(
    wire_format: str, client: FaxClient, emulator: Emulator, docs: dict[str, Path], raw: Raw
) -> None:
    msg = client.send_fax(
        ["+16505550123", "+16505550124"],
        [str(docs["pdf"]), str(docs["tiff"])],
        cover_index=3,
        cover_page_text="Re: claim 8812",
        resolution="Low",
        wire_format=wire_format,  # type: ignore[arg-type]
    )
    assert msg.message_status is not None and msg.message_status.value == "Queued"
    assert [r.phone_number for r in msg.to] == ["+16505550123", "+16505550124"]
    (stored,) = emulator.faxes()
    assert stored.id == int(msg.id)
    assert stored.wire_format == wire_format
    assert stored.fax_resolution == "Low"
    assert stored.cover_index == 3
    assert stored.cover_page_text == "Re: claim 8812"
    assert [a.filename for a in stored.attachments] == ["letter.pdf", "scan.tiff"]
    assert [a.content_type for a in stored.attachments] == ["application/pdf", "image/tiff"]
    assert stored.page_count == 1 + 2 + 1  # cover + 2 PDF pages + 1 TIFF page
    assert msg.uri is not None
    record = raw.request("GET", "/" + msg.uri.split("/", 3)[3])
    body = record.json()
    assert _download(raw, body, 0) == docs["pdf"].read_bytes()
    assert _download(raw, body, 1) == docs["tiff"].read_bytes()


def test_reference_form_fields_body_byte_for_byte(raw: Raw, emulator: Emulator) -> None:
    reply = raw.post_fax(REFERENCE_FORM_FIELDS, REFERENCE_FORM_FIELDS_CT)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert [t["phoneNumber"] for t in body["to"]] == ["+18005554567", "+18005554568"]
    assert body["messageStatus"] == "Queued"  # scheduled for 2030
    assert body["coverIndex"] == 2 and body["faxResolution"] == "High"
    (stored,) = emulator.faxes()
    assert stored.iso_code == "UK" and stored.wire_format == "form-fields"
    assert stored.cover_page_text is None
    assert [a.content_type for a in stored.attachments] == ["text/plain", "text/plain"]
    assert _download(raw, body, 0) == b"attachment0"
    assert _download(raw, body, 1) == b"attachment1"


def test_reference_mixed_body_byte_for_byte(raw: Raw, emulator: Emulator) -> None:
    reply = raw.post_fax(REFERENCE_MIXED, REFERENCE_MIXED_CT)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert [t["phoneNumber"] for t in body["to"]] == ["+18005554567"]
    assert body["attachments"][0]["filename"] == "fax.txt"
    assert _download(raw, body, 0) == b"Hello, World!\r\n"
    assert emulator.faxes()[0].wire_format == "mixed"


def test_reference_bodies_pass_strict_mode(tmp_path: Path) -> None:
    from ringfax.emulator import EmulatorConfig

    with Emulator(tmp_path, config=EmulatorConfig(strict=True, rate_limiting=False)) as emu:
        raw = Raw(emu)
        assert raw.post_fax(REFERENCE_FORM_FIELDS, REFERENCE_FORM_FIELDS_CT).status == 200
        assert raw.post_fax(REFERENCE_MIXED, REFERENCE_MIXED_CT).status == 200


def test_chunked_request_body(raw: Raw) -> None:
    reply = raw.post_fax(REFERENCE_MIXED, REFERENCE_MIXED_CT, chunked=True)
    assert reply.status == 200, reply.body
    assert _download(raw, reply.json(), 0) == b"Hello, World!\r\n"


class _Platform:
    def create_url(self, url: str, add_server: bool = False) -> str:
        return url


@pytest.mark.parametrize("mixed", [False, True])
def test_official_ringcentral_sdk_body(
    mixed: bool, raw: Raw, emulator: Emulator, docs: dict[str, Path]
) -> None:
    from ringcentral.http.multipart_builder import MultipartBuilder

    builder = MultipartBuilder(_Platform())
    builder.set_body(
        {
            "to": [{"phoneNumber": "+16505550100", "name": "Bob"}],
            "faxResolution": "High",
            "coverIndex": 0,
        }
    )
    builder.add(("test.pdf", docs["pdf"].read_bytes(), "application/pdf"))
    builder.add(("notes.txt", "hello"))  # 2-tuple: no Content-Type header
    builder.set_multipart_mixed(mixed)
    request = builder.request(emulator.url + FAX_PATH)
    prepared = request if mixed else request.prepare()
    prepared.headers["Authorization"] = f"bearer {raw.token()}"  # the SDK's lowercase scheme
    with requests.Session() as session:
        resp = session.send(prepared, timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["to"][0]["name"] == "Bob"
    assert [a["filename"] for a in body["attachments"]] == ["test.pdf", "notes.txt"]
    assert _download(raw, body, 0) == docs["pdf"].read_bytes()
    assert _download(raw, body, 1) == b"hello"
    assert body["coverIndex"] == 0


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_form_upload(raw: Raw, emulator: Emulator, docs: dict[str, Path]) -> None:
    envelope = json.dumps({"to": [{"phoneNumber": "+16505550123"}]})
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-H",
            f"Authorization: Bearer {raw.token()}",
            "-F",
            f"json={envelope};type=application/json",
            "-F",
            f"attachment=@{docs['pdf']}",
            "-F",
            f"attachment=@{docs['txt']};type=text/plain",
            emulator.url + FAX_PATH,
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    body = json.loads(out.stdout)
    assert body["messageStatus"] == "Queued", body
    assert [a["filename"] for a in body["attachments"]] == ["letter.pdf", "note.txt"]
    assert _download(raw, body, 0) == docs["pdf"].read_bytes()


def test_extensible_and_ruby_style_parts(raw: Raw) -> None:
    """rcx: Content-Type before Content-Disposition, name=request.json; Ruby: base64 JSON,
    file part without Content-Disposition; RFC 2231 filename*."""
    envelope = base64.b64encode(json.dumps({"to": [{"phoneNumber": "+16505550123"}]}).encode())
    body = (
        b"preamble to ignore\r\n"
        b"--xyz\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + envelope + b"\r\n"
        b"--xyz\r\n"
        b"Content-Type: application/pdf\r\n"
        b'Content-Disposition: form-data; name="attachments";'
        b" filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n"
        b"\r\n%PDF-1.4 /Type /Page \r\n"
        b"--xyz\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\nplain text page\r\n"
        b"--xyz--\r\nepilogue"
    )
    reply = raw.post_fax(body, 'multipart/form-data; boundary="xyz"')
    assert reply.status == 200, reply.body
    data = reply.json()
    assert [a.get("filename") for a in data["attachments"]] == ["résumé.pdf", None]


RCX_BOUNDARY = "ad05fc42-a66d-4a94-b807-f1c91136c17b"
# ringcentral-extensible: Content-Type first, and Buffer contents directly followed by the
# delimiter (no CRLF before it).
RCX_BODY = (
    f"--{RCX_BOUNDARY}\r\n"
    "Content-Type: application/json\r\n"
    'Content-Disposition: form-data; name="request.json"; filename="request.json"\r\n\r\n'
    '{"to":[{"phoneNumber":"+16505550123","name":"Jane"}],"coverIndex":0}\r\n'
    f"--{RCX_BOUNDARY}\r\n"
    "Content-Type: application/pdf\r\n"
    'Content-Disposition: form-data; name="attachments"; filename="résumé %22A&B%22.pdf"\r\n\r\n'
    "%PDF-1.4 one page /Type /Page >>"
    f"--{RCX_BOUNDARY}--\r\n"
).encode()


def test_extensible_body_without_crlf_before_delimiter(raw: Raw, tmp_path: Path) -> None:
    reply = raw.post_fax(RCX_BODY, f"multipart/form-data; boundary={RCX_BOUNDARY}")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["attachments"][0]["filename"] == 'résumé "A&B".pdf'
    assert _download(raw, body, 0) == b"%PDF-1.4 one page /Type /Page >>"
    from ringfax.emulator import EmulatorConfig

    with Emulator(tmp_path, config=EmulatorConfig(strict=True, rate_limiting=False)) as emu:
        strict = Raw(emu).post_fax(RCX_BODY, f"multipart/form-data; boundary={RCX_BOUNDARY}")
        assert strict.status == 400 and strict.json()["errorCode"] == "CMN-104"
