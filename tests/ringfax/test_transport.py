"""Transports: urllib3 translation of errors, streaming bodies, headers, function transport."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
from _scripted_server import Recorded, Reply, ScriptedServer
from urllib3 import exceptions as u3exc

from ringfax import (
    FunctionTransport,
    Request,
    Response,
    Transport,
    TransportError,
    Urllib3Transport,
)
from ringfax._transport import HeaderMap, translate_error


def ok(rec: Recorded) -> Reply:
    return Reply(200, {"ok": True, "size": rec.size})


def gen(n: int, chunk: bytes) -> Iterator[bytes]:
    for _ in range(n):
        yield chunk


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.network
def test_streamed_body_content_length_and_chunked() -> None:
    transport = Urllib3Transport()
    with ScriptedServer(ok) as srv:
        req = Request("POST", srv.url + "/up", {"X-A": "1"}, gen(10, b"x" * 1000), 10_000)
        resp = transport.send(req)
        assert resp.status == 200 and resp.json() == {"ok": True, "size": 10_000}
        rec = srv.requests[-1]
        assert rec.headers["Content-Length"] == "10000"
        assert "Transfer-Encoding" not in rec.headers
        assert not rec.chunked and rec.size == 10_000
        assert rec.headers["X-A"] == "1"
        # unknown length: chunked transfer encoding
        resp = transport.send(Request("POST", srv.url + "/up", {}, gen(3, b"abc")))
        assert resp.json()["size"] == 9
        assert srv.requests[-1].chunked
        # bytes body
        resp = transport.send(Request("PUT", srv.url + "/b", {}, b"12345", 5))
        assert resp.json()["size"] == 5
    transport.close()


@pytest.mark.network
def test_streamed_response_is_lazy_and_releasable() -> None:
    def chunks() -> Iterator[bytes]:
        for i in range(50):
            yield bytes([i]) * 10_000

    transport = Urllib3Transport()
    with ScriptedServer(lambda rec: Reply(200, chunks)) as srv:
        resp = transport.send(Request("GET", srv.url + "/d", stream=True))
        assert resp.status == 200
        total = sum(len(c) for c in resp.stream(4096))
        assert total == 500_000
        resp.close()
        resp.close()  # idempotent
        # abandon a stream half-way: the connection is discarded, the next request works
        resp = transport.send(Request("GET", srv.url + "/d", stream=True))
        next(resp.stream())
        resp.close()
        assert transport.send(Request("GET", srv.url + "/d")).read()[:1] == b"\x00"
    transport.close()


@pytest.mark.network
def test_connection_refused_is_not_sent() -> None:
    port = closed_port()
    transport = Urllib3Transport(timeout=(2.0, 2.0))
    with pytest.raises(TransportError) as info:
        transport.send(Request("POST", f"http://127.0.0.1:{port}/fax?access_token=SECRET1", {}))
    assert info.value.sent is False
    assert "SECRET1" not in str(info.value)
    assert "access_token=***" in str(info.value)


@pytest.mark.network
def test_read_timeout_may_have_been_sent() -> None:
    transport = Urllib3Transport(timeout=(2.0, 0.2))
    with ScriptedServer(lambda rec: Reply(200, b"late", delay=1.0)) as srv:
        with pytest.raises(TransportError) as info:
            transport.send(Request("GET", srv.url + "/slow"))
    assert info.value.sent is True
    assert "read timeout" in str(info.value)
    transport.close()


@pytest.mark.network
def test_dropped_connection_may_have_been_sent() -> None:
    transport = Urllib3Transport(timeout=(2.0, 2.0))
    with ScriptedServer(lambda rec: Reply(drop=True)) as srv:
        with pytest.raises(TransportError) as info:
            transport.send(Request("POST", srv.url + "/fax", {}, b"body", 4))
    assert info.value.sent is True
    transport.close()


def test_translate_error_table() -> None:
    url = "https://h/x?access_token=abc"
    cases: list[tuple[BaseException, bool]] = [
        (u3exc.NewConnectionError(None, "refused"), False),  # type: ignore[arg-type]
        (u3exc.NameResolutionError("h", None, socket.gaierror("no")), False),  # type: ignore[arg-type]
        (u3exc.ConnectTimeoutError("connect timed out"), False),
        (u3exc.ProxyError("proxy", OSError("refused")), False),
        (u3exc.SSLError(ssl.SSLCertVerificationError("bad cert")), False),
        (u3exc.SSLError(ssl.SSLError("bad record mac")), True),
        (u3exc.ReadTimeoutError(None, url, "read timed out"), True),  # type: ignore[arg-type]
        (u3exc.ProtocolError("Connection aborted.", ConnectionResetError()), True),
        (ConnectionRefusedError(), False),
        (ConnectionResetError(), True),
    ]
    for exc, sent in cases:
        err = translate_error(exc, "POST", url)
        assert isinstance(err, TransportError)
        assert err.sent is sent, (exc, sent)
        assert "abc" not in str(err)
        assert str(err).startswith("POST https://h/x?access_token=***: ")


def test_default_pool_verifies_tls() -> None:
    transport = Urllib3Transport()
    assert transport.pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert Urllib3Transport(verify=False).pool.connection_pool_kw["cert_reqs"] == "CERT_NONE"
    bundle = Urllib3Transport(verify="/etc/ssl/certs/ca.pem").pool.connection_pool_kw
    assert bundle["ca_certs"] == "/etc/ssl/certs/ca.pem"


def test_header_map_is_case_insensitive() -> None:
    headers = HeaderMap([("Retry-After", "5"), ("X-Rate", "1"), ("x-rate", "2")])
    assert headers["retry-after"] == "5"
    assert headers.get("X-RATE") == "1, 2"
    assert "RETRY-AFTER" in headers and 5 not in headers
    assert len(headers) == 2 and list(headers) == ["Retry-After", "X-Rate"]
    assert "Retry-After" in repr(headers)


def test_response_read_stream_json() -> None:
    released: list[int] = []
    resp = Response(
        200, {"A": "b"}, iter([b"{", b"", b'"k": 1}']), release=lambda: released.append(1)
    )
    assert resp.json() == {"k": 1}
    assert released == [1]
    assert resp.read() == b""  # consumed once
    assert Response(204).json() is None
    limited = Response(200, {}, iter([b"abc", b"def", b"ghi"]))
    assert limited.read(5) == b"abcde" and limited.read() == b""
    big = Response(200, {}, b"x" * 10)
    assert list(big.stream(4)) == [b"xxxx", b"xxxx", b"xx"]
    assert repr(big) == "Response(200)"


def test_request_redaction_and_read_body() -> None:
    req = Request(
        "GET",
        "https://h/p?access_token=SECRETTOK",
        {"Authorization": "Bearer SECRETTOK", "Accept": "x"},
        iter([b"a", b"b"]),
    )
    assert "SECRETTOK" not in repr(req)
    assert req.redacted_headers() == {"Authorization": "***", "Accept": "x"}
    assert req.read_body() == b"ab"
    assert Request("GET", "u").read_body() == b""


def test_function_transport_is_a_transport() -> None:
    transport = FunctionTransport(lambda r: Response(201, {}, r.url.encode()))
    assert isinstance(transport, Transport)
    assert transport.send(Request("GET", "u")).read() == b"u"
    transport.close()
