"""Malformed or refused requests get RingCentral-style error answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import FAX_PATH, STORE_PATH, Raw

from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

pytestmark = pytest.mark.network


def form(*parts: tuple[str, str | None, str | None, bytes], boundary: str = "b0und") -> bytes:
    """A multipart/form-data body from ``(name, filename, content_type, data)`` parts."""
    out = b""
    for name, filename, ctype, data in parts:
        disp = f'form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


CT = "multipart/form-data; boundary=b0und"
ENVELOPE = ("json", "request.json", "application/json", b'{"to":[{"phoneNumber":"+16505550123"}]}')
DOC = ("attachment", "a.txt", "text/plain", b"some text")


def check_error(reply: Any, status: int, code: str, parameter: str | None = None) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.headers.get("rcrequestid")
    body: dict[str, Any] = reply.json()
    assert body["errorCode"] == code
    assert body["errors"][0]["errorCode"] == code
    assert body["message"] == body["errors"][0]["message"]
    if parameter is not None:
        assert body["errors"][0]["parameterName"] == parameter
    return body


def test_wrong_content_type(raw: Raw) -> None:
    reply = raw.post_fax(b"to=+16505550123", "text/plain")
    check_error(reply, 415, "CMN-415")


def test_missing_to(raw: Raw) -> None:
    body = form(("json", None, "application/json", b'{"faxResolution":"High"}'), DOC)
    err = check_error(raw.post_fax(body, CT), 400, "CMN-101", "to")
    assert err["message"] == "Parameter [to] value is invalid."
    assert check_error(raw.post_fax(form(DOC), CT), 400, "CMN-101", "to")


def test_bad_json_envelope(raw: Raw) -> None:
    body = form(("json", None, "application/json", b'{"to": [}'), DOC)
    err = check_error(raw.post_fax(body, CT), 400, "MSG-349")
    assert err["message"] == "Unable to parse fax envelope"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("faxResolution", "Ultra"),
        ("coverIndex", 14),
        ("coverPageText", "x" * 1025),
        ("sendTime", "tomorrow"),
        ("isoCode", "USA"),
    ],
)
def test_invalid_fields(raw: Raw, field: str, value: object) -> None:
    env = {"to": [{"phoneNumber": "+16505550123"}], field: value}
    body = form(("json", None, "application/json", json.dumps(env).encode()), DOC)
    check_error(raw.post_fax(body, CT), 400, "CMN-101", field)


def test_invalid_phone_number(raw: Raw) -> None:
    env = {"to": [{"phoneNumber": "call me"}]}
    body = form(("json", None, "application/json", json.dumps(env).encode()), DOC)
    check_error(raw.post_fax(body, CT), 400, "CMN-101", "to")


def test_unsupported_attachment_type(raw: Raw, emulator: Emulator) -> None:
    body = form(ENVELOPE, DOC, ("attachment", "evil.exe", "application/x-msdownload", b"MZ"))
    err = check_error(raw.post_fax(body, CT), 415, "MSG-348")
    assert err["message"] == "Unsupported attachment media type"
    assert err["errors"][0]["parameterValue"] == "attachment [1]: [evil.exe]"
    assert emulator.count_faxes() == 0
    assert list((emulator.data_dir / "incoming").iterdir()) == []
    assert list((emulator.data_dir / "attachments").iterdir()) == []


def test_empty_attachment(raw: Raw) -> None:
    body = form(ENVELOPE, ("attachment", "a.pdf", "application/pdf", b""))
    check_error(raw.post_fax(body, CT), 400, "MSG-347")


def test_malformed_multipart(raw: Raw) -> None:
    body = form(ENVELOPE, DOC)[:-12]  # close delimiter cut off
    check_error(raw.post_fax(body, CT), 400, "CMN-104")
    check_error(raw.post_fax(b"whatever", "multipart/form-data"), 400, "CMN-104")  # no boundary


def test_size_limits(tmp_path: Path) -> None:
    config = EmulatorConfig(
        rate_limiting=False, max_attachment_size=1000, max_message_size=1500, max_body_size=4000
    )
    with Emulator(tmp_path, config=config, clock=ManualClock()) as emu:
        raw = Raw(emu)
        big = ("attachment", "a.txt", "text/plain", b"x" * 1001)
        check_error(raw.post_fax(form(ENVELOPE, big), CT), 400, "MSG-337")
        two = ("attachment", "b.txt", "text/plain", b"y" * 800)
        check_error(raw.post_fax(form(ENVELOPE, two, two), CT), 400, "MSG-338")
        huge = ("attachment", "c.txt", "text/plain", b"z" * 5000)
        reply = raw.post_fax(form(ENVELOPE, huge), CT)
        check_error(reply, 413, "AGW-413")
        assert emu.count_faxes() == 0
        ok = raw.post_fax(form(ENVELOPE, two), CT)  # the server still works
        assert ok.status == 200
    # a chunked body has no Content-Length: the cap is enforced while reading
    config = EmulatorConfig(rate_limiting=False, max_body_size=4000)
    with Emulator(tmp_path / "chunked", config=config, clock=ManualClock()) as emu:
        raw = Raw(emu)
        reply = raw.post_fax(form(ENVELOPE, huge), CT, chunked=True)
        check_error(reply, 413, "AGW-413")
        assert emu.count_faxes() == 0
        assert list((emu.data_dir / "incoming").iterdir()) == []


def test_strict_mode_disposition_rules(tmp_path: Path) -> None:
    config = EmulatorConfig(rate_limiting=False, strict=True)
    with Emulator(tmp_path, config=config, clock=ManualClock()) as emu:
        raw = Raw(emu)
        no_disp = (
            b"--b0und\r\nContent-Type: application/json\r\n\r\n"
            b'{"to":[{"phoneNumber":"+16505550123"}]}\r\n'
            b"--b0und\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--b0und--\r\n"
        )
        check_error(raw.post_fax(no_disp, "multipart/mixed; boundary=b0und"), 400, "MSG-350")
        no_name = form(ENVELOPE, ("attachment", None, "application/pdf", b"%PDF-1.4"))
        check_error(raw.post_fax(no_name, CT), 400, "MSG-351")
        plain_to = form(("json", None, "application/json", b'{"to":["+16505550123"]}'), DOC)
        check_error(raw.post_fax(plain_to, CT), 400, "CMN-101", "to")
        # lenient default accepts all three
    with Emulator(tmp_path / "lenient", clock=ManualClock()) as emu:
        raw = Raw(emu)
        assert raw.post_fax(no_disp, "multipart/mixed; boundary=b0und").status == 200
        assert raw.post_fax(no_name, CT).status == 200
        assert raw.post_fax(plain_to, CT).status == 200


def test_auth_errors(raw: Raw, clock: ManualClock) -> None:
    reply = raw.request("GET", STORE_PATH, auth=False)
    body = check_error(reply, 401, "AGW-401")
    assert body["message"] == "Authorization header is not specified"
    reply = raw.request("GET", STORE_PATH, headers={"Authorization": "Bearer nope"})
    assert reply.status == 401 and reply.json()["errors"][0]["errorCode"] == "OAU-149"
    token = raw.token()
    ok = raw.request("GET", STORE_PATH, headers={"Authorization": f"BEARER {token}"})
    assert ok.status == 200
    clock.advance(3601)
    reply = raw.request("GET", STORE_PATH)
    assert reply.status == 401
    body = reply.json()
    assert body["errorCode"] == "TokenExpired"
    assert body["errors"][0] == {"errorCode": "OAU-128", "message": "Access token expired."}


def test_not_found_and_headers(raw: Raw) -> None:
    reply = raw.request("GET", STORE_PATH + "/12345")
    check_error(reply, 404, "CMN-102", "messageId")
    assert reply.headers["x-rate-limit-group"] == "light"
    assert reply.headers["x-rate-limit-limit"] == "50"
    assert reply.headers["x-rate-limit-window"] == "60"
    assert "x-rate-limit-remaining" in reply.headers
    reply = raw.request("GET", "/restapi/v1.0/nothing/here")
    check_error(reply, 404, "AGW-404")
    reply = raw.request("GET", "/restapi/v1.0/account/123/extension/~/message-store")
    check_error(reply, 404, "CMN-102", "accountId")


def test_oauth_errors(raw: Raw, emulator: Emulator) -> None:
    reply = raw.token_reply(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "wrong"}
    )
    assert reply.status == 400
    body = reply.json()
    assert set(body) == {"error", "error_description", "errors"}
    assert body["error"] == "invalid_grant"
    reply = raw.token_reply({"grant_type": "password"})
    assert reply.status == 401 and reply.json()["error"] == "unsupported_grant_type"
    reply = raw.token_reply(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": emulator.jwt},
        basic="Basic " + "Zm9vOmJhcg==",
    )
    assert reply.status == 401 and reply.json()["errors"][0]["errorCode"] == "OAU-146"


def test_expect_100_continue_over_cap_is_refused_before_upload(tmp_path: Path) -> None:
    import socket

    config = EmulatorConfig(rate_limiting=False, max_body_size=1000)
    with Emulator(tmp_path, config=config, clock=ManualClock()) as emu:
        raw = Raw(emu)
        head = (
            f"POST {FAX_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {raw.token()}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000\r\n"
            "Expect: 100-continue\r\n\r\n"
        ).encode()
        with socket.create_connection((raw.host, raw.port), timeout=10) as sock:
            sock.sendall(head)  # no body: the answer must come without it
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b"AGW-413" in answer and b"RCRequestId: " in answer


def test_put_read_status(raw: Raw, emulator: Emulator) -> None:
    body = form(ENVELOPE, DOC)
    sent = raw.post_fax(body, CT).json()
    path = f"{STORE_PATH}/{sent['id']}"
    reply = raw.request(
        "PATCH",
        path,
        json.dumps({"readStatus": "Unread"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert reply.status == 200 and reply.json()["readStatus"] == "Unread"
    assert reply.headers["x-rate-limit-group"] == "medium"
    reply = raw.request(
        "PUT",
        path,
        json.dumps({"readStatus": "Maybe"}).encode(),
        {"Content-Type": "application/json"},
    )
    check_error(reply, 400, "CMN-101", "readStatus")
    assert raw.request("DELETE", path).status == 204
    restored = raw.request(
        "PATCH",
        path,
        json.dumps({"availability": "Alive"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert restored.json()["availability"] == "Alive"
