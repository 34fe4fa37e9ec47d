"""MultipartBody through real HTTP clients over 127.0.0.1 sockets.

A tiny threaded capture server records each request's headers and (de-chunked) body. For
urllib3, requests, httpx (sync and async), aiohttp and http.client: the body arrives
byte-for-byte, with ``Content-Length`` (and no chunking) when the length is known and
``Transfer-Encoding: chunked`` when it is not.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mimewire import MultipartBody, Part, UsageError

pytestmark = [pytest.mark.network, pytest.mark.interop]


@dataclass
class Captured:
    method: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    captured: list[Captured]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self) -> None:
        body = self._read_body()
        self.server.captured.append(  # type: ignore[attr-defined]
            Captured("POST", {k.lower(): v for k, v in self.headers.items()}, body)
        )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def server() -> Iterator[tuple[str, list[Captured]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    captured: list[Captured] = []
    httpd.captured = captured  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield f"http://{host!s}:{port}/upload", captured
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "fax.pdf"
    path.write_bytes(b"%PDF-1.4\r\n" + bytes(range(256)) * 2000 + b"\r\n--x--\r\n%%EOF")
    return path


def known(pdf: Path) -> MultipartBody:
    return MultipartBody(
        [
            Part.field("to", "+16505550100"),
            Part.field("faxResolution", "High"),
            Part.file("attachment", pdf),
            Part(b"\x00\xff" * 5000, name="raw", filename="r.bin", transfer_encoding="base64"),
        ]
    )


def unknown(pdf: Path) -> MultipartBody:
    def gen() -> Iterator[bytes]:
        yield b"streamed "
        yield b"chunks of unknown length"

    return MultipartBody(
        [Part.field("to", "+16505550100"), Part(gen(), name="s"), Part.file("a", pdf)]
    )


def check(captured: list[Captured], body: MultipartBody, expected: bytes) -> None:
    assert len(captured) == 1
    got = captured[0]
    assert got.headers["content-type"] == body.content_type
    assert got.body == expected
    if body.content_length is not None:
        assert got.headers["content-length"] == str(body.content_length)
        assert "transfer-encoding" not in got.headers
    else:
        assert got.headers["transfer-encoding"].lower() == "chunked"
        assert "content-length" not in got.headers


def _expected(body: MultipartBody, pdf: Path, length_known: bool) -> bytes:
    """What must arrive: a replay of the (replayable) known body, or the unknown body's
    parts rebuilt with the boundary that was sent (its generator is one-shot)."""
    if length_known:
        return b"".join(body)
    rebuilt = MultipartBody(
        [
            Part.field("to", "+16505550100"),
            Part([b"streamed chunks of unknown length"], name="s"),
            Part.file("a", pdf),
        ],
        boundary=body.boundary,
    )
    return b"".join(rebuilt)


def _ct_only(body: MultipartBody) -> dict[str, str]:
    return {"Content-Type": body.content_type}


# --------------------------------------------------------------------------- http.client


@pytest.mark.parametrize("length_known", [True, False])
def test_http_client(server: tuple[str, list[Captured]], pdf: Path, length_known: bool) -> None:
    url, captured = server
    body = known(pdf) if length_known else unknown(pdf)
    host_port = url.split("/")[2]
    conn = http.client.HTTPConnection(host_port, timeout=10)
    try:
        conn.request("POST", "/upload", body=body.reader(), headers=body.headers)
        assert conn.getresponse().read() == b"ok"
    finally:
        conn.close()
    check(captured, body, _expected(body, pdf, length_known))


# --------------------------------------------------------------------------- urllib3


@pytest.mark.parametrize("length_known", [True, False])
def test_urllib3(server: tuple[str, list[Captured]], pdf: Path, length_known: bool) -> None:
    urllib3 = pytest.importorskip("urllib3")
    url, captured = server
    body = known(pdf) if length_known else unknown(pdf)
    with urllib3.PoolManager() as pool:
        if length_known:
            resp = pool.request("POST", url, body=body.reader(), headers=body.headers)
        else:
            resp = pool.request("POST", url, body=iter(body), headers=body.headers)
    assert resp.status == 200
    check(captured, body, _expected(body, pdf, length_known))


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize("length_known", [True, False])
def test_requests(server: tuple[str, list[Captured]], pdf: Path, length_known: bool) -> None:
    requests = pytest.importorskip("requests")
    url, captured = server
    body = known(pdf) if length_known else unknown(pdf)
    # requests computes Content-Length itself from BodyReader.len / tell()
    resp = requests.post(url, data=body.reader(), headers=_ct_only(body), timeout=10)
    assert resp.status_code == 200
    check(captured, body, _expected(body, pdf, length_known))


# --------------------------------------------------------------------------- httpx


@pytest.mark.parametrize("length_known", [True, False])
def test_httpx_sync(server: tuple[str, list[Captured]], pdf: Path, length_known: bool) -> None:
    httpx = pytest.importorskip("httpx")
    url, captured = server
    body = known(pdf) if length_known else unknown(pdf)
    with httpx.Client(timeout=10) as client:
        resp = client.post(url, content=body, headers=body.headers)
    assert resp.status_code == 200
    check(captured, body, _expected(body, pdf, length_known))


@pytest.mark.parametrize("length_known", [True, False])
def test_httpx_async(server: tuple[str, list[Captured]], pdf: Path, length_known: bool) -> None:
    httpx = pytest.importorskip("httpx")
    url, captured = server
    body = known(pdf) if length_known else unknown(pdf)

    async def main() -> int:
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.post(url, content=aiter(body), headers=body.headers)
            return int(resp.status_code)

    assert asyncio.run(main()) == 200
    check(captured, body, _expected(body, pdf, length_known))


# --------------------------------------------------------------------------- aiohttp


@pytest.mark.parametrize("length_known", [True, False])
def test_aiohttp(server: tuple[str, list[Captured]], pdf: Path, length_known: bool) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    url, captured = server
    body = known(pdf) if length_known else unknown(pdf)

    async def main() -> int:
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=body.headers) as resp:
                await resp.read()
                return int(resp.status)

    assert asyncio.run(main()) == 200
    check(captured, body, _expected(body, pdf, length_known))


def test_replay_for_retry(server: tuple[str, list[Captured]], pdf: Path) -> None:
    """The same body object sent twice (a retry) sends the same bytes twice."""
    urllib3 = pytest.importorskip("urllib3")
    url, captured = server
    body = known(pdf)
    with urllib3.PoolManager() as pool:
        for _ in range(2):
            assert pool.request("POST", url, body=body.reader(), headers=body.headers).status == 200
    assert captured[0].body == captured[1].body == b"".join(body)


# --------------------------------------------------------------------------- werkzeug server


def _form_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Parses the form with werkzeug and answers with what it saw (fields, file sizes and
    the framing headers), so a test can check the server's view, not just the bytes."""
    from werkzeug.wrappers import Request, Response

    request = Request(environ)
    seen = {
        "form": dict(request.form),
        "files": {k: len(f.read()) for k, f in request.files.items()},
        "content_length": request.headers.get("Content-Length"),
        "transfer_encoding": request.headers.get("Transfer-Encoding"),
    }
    return Response(json.dumps(seen), mimetype="application/json")(environ, start_response)


@pytest.fixture
def werkzeug_url() -> Iterator[str]:
    serving = pytest.importorskip("werkzeug.serving")
    httpd = serving.make_server("127.0.0.1", 0, _form_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/upload"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _werkzeug_view(pdf: Path, length_known: bool) -> dict[str, object]:
    b64 = base64.b64encode(b"\x00\xff" * 5000)  # werkzeug keeps the transfer encoding
    raw = len(b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)))
    files = {"attachment": pdf.stat().st_size, "raw": raw} if length_known else {}
    form = {"to": "+16505550100"}
    if length_known:
        form["faxResolution"] = "High"
    else:
        form["s"] = "streamed chunks of unknown length"
        files = {"a": pdf.stat().st_size}
    return {"form": form, "files": files}


@pytest.mark.parametrize("length_known", [True, False])
def test_requests_body_itself_with_its_headers(
    werkzeug_url: str, pdf: Path, length_known: bool
) -> None:
    """``requests.post(url, data=body, headers=body.headers)``: requests takes the length
    from ``len(body)``, so it sends the one Content-Length (no chunking) when it is known
    and chunked encoding alone when it is not; werkzeug parses the form either way."""
    requests = pytest.importorskip("requests")
    body = known(pdf) if length_known else unknown(pdf)
    resp = requests.post(werkzeug_url, data=body, headers=body.headers, timeout=10)
    assert resp.status_code == 200, resp.text[:500]
    seen = resp.json()
    if length_known:
        assert seen["content_length"] == str(body.content_length)
        assert seen["transfer_encoding"] is None
    else:
        assert seen["content_length"] is None
        assert seen["transfer_encoding"].lower() == "chunked"
    assert {"form": seen["form"], "files": seen["files"]} == _werkzeug_view(pdf, length_known)


@pytest.mark.parametrize("client", ["http.client", "urllib3"])
def test_body_itself_through_http_client_and_urllib3(
    werkzeug_url: str, pdf: Path, client: str
) -> None:
    """``len(body)`` changes nothing for clients that stream an iterable body as it is."""
    body = known(pdf)
    if client == "http.client":
        conn = http.client.HTTPConnection(werkzeug_url.split("/")[2], timeout=10)
        try:
            conn.request("POST", "/upload", body=body, headers=body.headers)
            resp = conn.getresponse()
            status, text = resp.status, resp.read()
        finally:
            conn.close()
    else:
        urllib3 = pytest.importorskip("urllib3")
        with urllib3.PoolManager() as pool:
            r = pool.request("POST", werkzeug_url, body=body, headers=body.headers)
            status, text = r.status, r.data
    assert status == 200, text[:500]
    seen = json.loads(text)
    assert seen["content_length"] == str(body.content_length) and seen["transfer_encoding"] is None
    assert {"form": seen["form"], "files": seen["files"]} == _werkzeug_view(pdf, True)


def test_len_of_a_body_of_unknown_length(pdf: Path) -> None:
    body = unknown(pdf)
    assert bool(body)
    with pytest.raises(TypeError, match=r"part 1 \(name='s'\) has no known length"):
        len(body)
    with pytest.raises(UsageError, match="length is unknown"):
        len(body)
    assert len(known(pdf)) == known(pdf).content_length
