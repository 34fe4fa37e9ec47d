"""Hostile input never becomes a 500, and a failed start leaves nothing behind.

Rules: deeply nested JSON bodies are a 400 (never a RecursionError answered as 500
CMN-500); ids beyond SQLite's 64-bit range are a 400/404 (never an OverflowError); a busy
port fails with a message naming the port, before any temporary data directory exists.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import STORE_PATH, Raw

from ringfax._client import FaxClient
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

pytestmark = pytest.mark.network

DEEP = 50_000  # under the 64 KiB cap on JSON bodies, far over any recursion limit
HUGE_ID = "9" * 30
JSON = {"Content-Type": "application/json"}


def _error(reply: Any, status: int, code: str, parameter: str | None = None) -> dict[str, Any]:
    assert reply.status == status, reply.body
    body: dict[str, Any] = reply.json()
    assert body["errorCode"] == code
    assert body["errors"][0]["errorCode"] == code
    if parameter is not None:
        assert body["parameterName"] == parameter
        assert body["errors"][0]["parameterName"] == parameter
    return body


# -- deeply nested JSON ---------------------------------------------------------------------


@pytest.mark.parametrize("opener", ["[", '{"a":', '{"readStatus":'])
def test_deep_json_in_message_update_is_400(
    raw: Raw, client: FaxClient, docs: dict[str, Path], opener: str
) -> None:
    fax = client.send_fax(["+16505550123"], [str(docs["txt"])])
    body = (opener * (DEEP // len(opener))).encode()
    for method in ("PUT", "PATCH"):
        reply = raw.request(method, f"{STORE_PATH}/{fax.id}", body, JSON)
        _error(reply, 400, "CMN-103")


def test_json_nested_beyond_the_limit_is_refused_even_when_complete(
    raw: Raw, client: FaxClient, docs: dict[str, Path]
) -> None:
    fax = client.send_fax(["+16505550123"], [str(docs["txt"])])
    deep = "[" * 65 + "]" * 65
    body = f'{{"readStatus": "Read", "x": {deep}}}'.encode()
    _error(raw.request("PUT", f"{STORE_PATH}/{fax.id}", body, JSON), 400, "CMN-103")
    ok = f'{{"readStatus": "Read", "x": {"[" * 30 + "]" * 30}}}'.encode()
    assert raw.request("PUT", f"{STORE_PATH}/{fax.id}", ok, JSON).status == 200


def test_deep_json_resend_body_is_400(raw: Raw) -> None:
    body = ('{"originalMessageId": "1", "to": ' + "[" * DEEP).encode()
    _error(raw.post_fax(body, "application/json"), 400, "CMN-103")
    body = ("[" * (DEEP // 2) + "]" * (DEEP // 2)).encode()
    _error(raw.post_fax(body, "application/json"), 400, "CMN-103")


def test_deep_json_envelope_is_400(raw: Raw, emulator: Emulator) -> None:
    body = (
        b"--b\r\nContent-Type: application/json\r\n\r\n"
        + b'{"to": '
        + b"[" * DEEP
        + b"\r\n--b\r\nContent-Disposition: form-data; name=attachment; filename=a.txt\r\n"
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    _error(raw.post_fax(body, "multipart/form-data; boundary=b"), 400, "MSG-349")
    assert emulator.count_faxes() == 0


def test_deep_json_in_to_field_is_400(raw: Raw, emulator: Emulator) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="to"\r\n\r\n{"phoneNumber": '
        + b"[" * DEEP
        + b'\r\n--b\r\nContent-Disposition: form-data; name="attachment"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    _error(raw.post_fax(body, "multipart/form-data; boundary=b"), 400, "CMN-101", "to")
    assert emulator.count_faxes() == 0


# -- oversized and odd ids ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PUT", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/content/1"),
    ],
)
def test_oversized_message_id_is_400(raw: Raw, method: str, suffix: str) -> None:
    body = b'{"readStatus": "Read"}' if method in ("PUT", "PATCH") else None
    reply = raw.request(method, f"{STORE_PATH}/{HUGE_ID}{suffix}", body, JSON)
    _error(reply, 400, "CMN-101", "messageId")
    reply = raw.request(method, f"{STORE_PATH}/{2**63}{suffix}", body, JSON)
    _error(reply, 400, "CMN-101", "messageId")
    reply = raw.request(method, f"{STORE_PATH}/{2**63 - 1}{suffix}", body, JSON)
    _error(reply, 404, "CMN-102", "messageId")  # the largest id is merely unknown


@pytest.mark.parametrize("value", [HUGE_ID, 2**64, -(2**64), "0" * 5000 + "1" * 25])
def test_oversized_original_message_id_is_400(raw: Raw, value: object) -> None:
    body = json.dumps({"originalMessageId": value, "to": [{"phoneNumber": "+16505550123"}]})
    _error(raw.post_fax(body.encode(), "application/json"), 400, "CMN-101", "originalMessageId")


def _raw_get(emulator: Emulator, raw: Raw, target: bytes, accept: str = "*/*") -> bytes:
    """GET with a request target of raw bytes (http.client only sends ASCII; the server
    reads the request line as latin-1, so b"\\xb2" arrives as "\u00b2")."""
    host, port = emulator.url.rsplit("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"GET "
            + target
            + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + f"Authorization: Bearer {raw.token()}\r\nAccept: {accept}\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_bulk_read_with_odd_ids_is_207(
    emulator: Emulator, raw: Raw, client: FaxClient, docs: dict[str, Path]
) -> None:
    fax = client.send_fax(["+16505550123"], [str(docs["txt"])])
    target = f"{STORE_PATH}/{fax.id},{HUGE_ID},".encode() + b"\xb2,x"
    answer = _raw_get(emulator, raw, target, "application/vnd.ringcentral.multipart+json")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 207 "), answer[:300]
    assert [i["status"] for i in json.loads(body)] == [200, 400, 404, 404]
    answer = _raw_get(emulator, raw, target)
    assert answer.startswith(b"HTTP/1.1 207 "), answer[:300]
    assert b"Bad Request" in answer and b"Not Found" in answer


def test_superscript_digits_are_not_ids(emulator: Emulator, raw: Raw) -> None:
    answer = _raw_get(emulator, raw, f"{STORE_PATH}/".encode() + b"\xb2\xb3")
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:300]
    assert b"CMN-102" in answer


def test_leading_zeros_still_name_the_fax(
    raw: Raw, client: FaxClient, docs: dict[str, Path]
) -> None:
    fax = client.send_fax(["+16505550123"], [str(docs["txt"])])
    assert raw.request("GET", f"{STORE_PATH}/000{fax.id}").status == 200


def test_huge_parameter_values_are_not_echoed_in_full(raw: Raw) -> None:
    body = json.dumps({"originalMessageId": "x" * 50_000}).encode()
    err = _error(raw.post_fax(body, "application/json"), 400, "CMN-101", "originalMessageId")
    assert len(err["errors"][0]["parameterValue"]) < 300


# -- start failures -------------------------------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def busy_port() -> Any:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("how", ["start", "serve_forever", "context"])
def test_port_in_use_says_so_and_leaks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_port: int, how: str
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    fds, threads = _open_fds(), threading.active_count()
    emu = Emulator(port=busy_port, clock=ManualClock())
    with pytest.raises(OSError) as info:
        if how == "start":
            emu.start()
        elif how == "serve_forever":
            emu.serve_forever()
        else:
            with emu:
                pass
    assert f"port {busy_port} is already in use" in str(info.value)
    assert info.value.errno == errno.EADDRINUSE
    assert list(temp_root.iterdir()) == []  # no temporary data directory left behind
    assert _open_fds() == fds  # no socket, no sqlite handle
    assert threading.active_count() == threads
    assert not emu.running
    with pytest.raises(RuntimeError):
        _ = emu.data_dir


def test_port_in_use_leaves_a_given_data_dir_untouched(tmp_path: Path, busy_port: int) -> None:
    data = tmp_path / "data"
    with pytest.raises(OSError, match=f"port {busy_port} is already in use"):
        Emulator(data, port=busy_port).start()
    assert not data.exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_failure_after_binding_releases_the_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    fds = _open_fds()

    import ringfax.emulator as emulator_module

    def broken_store(path: Path) -> None:
        raise PermissionError(f"cannot open {path}")

    monkeypatch.setattr(emulator_module, "Store", broken_store)
    emu = Emulator(port=port)
    with pytest.raises(PermissionError):
        emu.start()
    assert list(temp_root.iterdir()) == []
    assert _open_fds() == fds
    monkeypatch.undo()
    with Emulator(port=port, config=EmulatorConfig(rate_limiting=False)) as again:
        assert again.url.endswith(f":{port}")  # the port was released


# -- charsets -------------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["punycode", "rot13", "base64_codec", "no-such-charset"])
def test_envelope_charset_must_be_a_text_encoding(
    raw: Raw, emulator: Emulator, charset: str
) -> None:
    """punycode's decoder is quadratic (200 KB: 1.5 s, 1 MiB: ~40 s of one core); the old
    emulator decoded envelopes with whatever charset the part named."""
    envelope = b'{"to": [{"phoneNumber": "+16505550123"}]}-'  # valid punycode of the JSON
    body = (
        f"--b\r\nContent-Type: application/json; charset={charset}\r\n\r\n".encode()
        + envelope
        + b"\r\n--b\r\nContent-Disposition: form-data; name=attachment; filename=a.txt\r\n"
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    _error(raw.post_fax(body, "multipart/form-data; boundary=b"), 400, "MSG-349")
    assert emulator.count_faxes() == 0


def test_envelope_in_a_real_text_charset_still_works(raw: Raw) -> None:
    envelope = '{"to": [{"phoneNumber": "+16505550123", "name": "Zoë"}]}'.encode("utf-16")
    body = (
        b"--b\r\nContent-Type: application/json; charset=UTF-16\r\n\r\n"
        + envelope
        + b"\r\n--b\r\nContent-Disposition: form-data; name=attachment; filename=a.txt\r\n"
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    reply = raw.post_fax(body, "multipart/form-data; boundary=b")
    assert reply.status == 200, reply.body
    assert reply.json()["to"][0]["name"] == "Zoë"


# -- ambiguous multipart headers, as the emulator sees them --------------------------------

PART = (
    b"--b\r\nContent-Type: application/json\r\n\r\n"
    b'{"to": [{"phoneNumber": "+16505550123"}]}\r\n'
    b"--b\r\nContent-Disposition: form-data; name=attachment; filename=a.txt\r\n"
    b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
)


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=b; boundary=c", "multipart/form-data; boundary=b; boundary*=c"],
)
def test_ambiguous_boundary_is_a_400(raw: Raw, emulator: Emulator, content_type: str) -> None:
    reply = raw.post_fax(PART, content_type)
    _error(reply, 400, "CMN-104")
    reply = raw.request("POST", "/emulator/v1/inbound-fax", PART, {"Content-Type": content_type})
    _error(reply, 400, "CMN-104")
    assert emulator.count_faxes() == 0


def test_ambiguous_part_name_is_a_400(raw: Raw, emulator: Emulator) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="from"; name="attachment"\r\n\r\n'
        b"+14155550100\r\n"
        b'--b\r\nContent-Disposition: form-data; name="attachment"; filename="a.txt"\r\n'
        b"\r\nhello\r\n--b--\r\n"
    )
    reply = raw.request(
        "POST",
        "/emulator/v1/inbound-fax",
        body,
        {"Content-Type": "multipart/form-data; boundary=b"},
    )
    _error(reply, 400, "CMN-104")
    assert emulator.count_faxes() == 0
