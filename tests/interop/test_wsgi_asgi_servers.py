"""The README's upload apps under real servers, posted to by real clients.

The WSGI app (``parse_stream`` over ``wsgi.input``) runs under werkzeug's development
server, waitress and the stdlib's ``wsgiref``; the ASGI app (``aparse_stream`` over
``receive``) under uvicorn. requests and curl send a MultipartBody with Content-Length and
chunked; curl also sends its own ``-F`` form. werkzeug's server and ``wsgiref`` hand the
app the socket itself, open after the body: the app answers only because reading stops at
the close delimiter (and, with Content-Length, never asks for more than the body).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mimewire import MultipartBody, Part

from ._app_servers import (
    ASGI_SERVERS,
    ASGI_SIGNATURE,
    CLIENTS,
    README,
    TIMEOUT,
    WSGI_SERVERS,
    WSGI_SIGNATURE,
    cleanup,
    curl_missing,
    load_app,
    post_curl_form,
    readme_app_block,
)

pytestmark = [pytest.mark.interop, pytest.mark.network]

SERVERS = {**WSGI_SERVERS, **ASGI_SERVERS}
DOC = README.read_bytes()


def _body() -> MultipartBody:
    return MultipartBody([Part.field("note", "hi"), Part.file("doc", README)])


def _expected(doc_type: str) -> list[dict[str, Any]]:
    return [
        {"name": "note", "value": "hi"},
        {"name": "doc", "filename": "README.md", "type": doc_type, "size": len(DOC)},
    ]


@pytest.fixture(params=list(SERVERS))
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(server name, upload url, the app's namespace) for the README app that server runs."""
    name = request.param
    signature = ASGI_SIGNATURE if name in ASGI_SERVERS else WSGI_SIGNATURE
    namespace = load_app(*readme_app_block(signature))
    try:
        with SERVERS[name](namespace["app"]) as url:
            yield name, url, namespace
    finally:
        cleanup(namespace)


def _saved_files(namespace: dict[str, Any]) -> list[bytes]:
    upload_dir = namespace.get("UPLOAD_DIR")
    if upload_dir is None:  # the ASGI example only counts the bytes
        return [DOC]
    return [p.read_bytes() for p in Path(upload_dir).iterdir()]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("client", list(CLIENTS))
def test_readme_app_receives_a_multipart_body(
    served: tuple[str, str, dict[str, Any]], client: str, framing: str
) -> None:
    server, url, namespace = served
    if client == "curl" and (reason := curl_missing()):
        pytest.skip(reason)
    status, payload = CLIENTS[client](url, _body(), framing == "chunked")
    if server == "wsgiref" and framing == "chunked":
        # wsgiref passes the chunked framing on undecoded, with no CONTENT_LENGTH and no
        # wsgi.input_terminated: the app refuses it instead of misreading it
        assert status == 411, payload
        return
    assert status == 200, payload
    assert json.loads(payload) == _expected("text/markdown")
    assert _saved_files(namespace) == [DOC]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_readme_app_receives_curls_own_form(
    served: tuple[str, str, dict[str, Any]], framing: str
) -> None:
    server, url, _ = served
    if reason := curl_missing():
        pytest.skip(reason)
    status, payload = post_curl_form(url, ["note=hi", "doc=@README.md"], framing == "chunked")
    if server == "wsgiref" and framing == "chunked":
        assert status == 411, payload
        return
    assert status == 200, payload
    assert json.loads(payload) == _expected("application/octet-stream")


def test_keep_alive_connection_serves_the_next_request(
    served: tuple[str, str, dict[str, Any]],
) -> None:
    """Whatever the app leaves unread after the close delimiter, the next request on the
    same connection is read correctly."""
    import requests

    _, url, _ = served
    with requests.Session() as session:
        for _ in range(3):
            body = _body()
            response = session.post(url, data=body.reader(), headers=body.headers, timeout=TIMEOUT)
            assert response.status_code == 200, response.content
            assert response.json() == _expected("text/markdown")


def _raw_post(url: str, head_extra: bytes, body: bytes, content_type: str) -> bytes:
    """POST ``body`` over a socket, then half-close it: the server sees the input end."""
    target = urlsplit(url)
    assert target.hostname is not None and target.port is not None
    with socket.create_connection((target.hostname, target.port), timeout=TIMEOUT) as sock:
        head = (
            f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            f"Content-Type: {content_type}\r\nConnection: close\r\n"
        ).encode()
        sock.sendall(head + head_extra + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        answer = bytearray()
        while chunk := sock.recv(65536):
            answer += chunk
    return bytes(answer)


def test_body_shorter_than_content_length_is_a_400(
    served: tuple[str, str, dict[str, Any]],
) -> None:
    server, url, _ = served
    if server == "waitress":
        pytest.skip("waitress buffers the whole body before it calls the app")
    body = _body()
    wire = b"".join(body)
    sent = wire[: len(wire) // 2]
    answer = _raw_post(url, f"Content-Length: {len(wire)}\r\n".encode(), sent, body.content_type)
    if server == "uvicorn":
        # uvicorn reports the half-closed connection as http.disconnect: the app's body
        # ends short and it answers, but uvicorn drops answers to a disconnected client
        assert b" 200 " not in answer[:20]
        return
    assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400"), answer[:200]
    assert f"body ended after {len(sent)} of content_length={len(wire)} bytes".encode() in answer


def test_body_without_close_delimiter_is_a_400(
    served: tuple[str, str, dict[str, Any]],
) -> None:
    _, url, _ = served
    body = _body()
    wire = b"".join(body)[:-40]
    answer = _raw_post(url, f"Content-Length: {len(wire)}\r\n".encode(), wire, body.content_type)
    assert answer.split(b" ", 2)[1] == b"400", answer[:200]
    assert b"without a close delimiter" in answer


def test_asgi_app_answers_400_to_a_short_body() -> None:
    """The ASGI app's error path, driven directly: the client disconnects mid-body."""
    import asyncio

    namespace = load_app(*readme_app_block(ASGI_SIGNATURE))
    body = _body()
    wire = b"".join(body)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": wire[:1000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        assert messages, "receive() called after the disconnect"
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [
            (b"content-type", body.content_type.encode()),
            (b"content-length", str(len(wire)).encode()),
        ],
    }
    asyncio.run(asyncio.wait_for(namespace["app"](scope, receive, send), TIMEOUT))
    assert sent[0]["status"] == 400
    error = json.loads(sent[1]["body"])["error"]
    assert f"body ended after 1000 of content_length={len(wire)} bytes" in error


@pytest.mark.parametrize("server", ["uvicorn", "werkzeug"])
def test_httpx_async_client_needs_the_async_iterator(server: str) -> None:
    """httpx takes any iterable as a sync body, so AsyncClient refuses a MultipartBody
    itself; ``aiter(body)`` (what the README shows) sends it, with its Content-Length."""
    import asyncio

    import httpx

    signature = ASGI_SIGNATURE if server in ASGI_SERVERS else WSGI_SIGNATURE
    namespace = load_app(*readme_app_block(signature))

    async def post(url: str) -> httpx.Response:
        body = _body()
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            with pytest.raises(RuntimeError, match="sync request"):
                await client.post(url, content=body, headers=body.headers)
            return await client.post(url, content=aiter(body), headers=body.headers)

    try:
        with SERVERS[server](namespace["app"]) as url:
            response = asyncio.run(post(url))
    finally:
        cleanup(namespace)
    assert response.status_code == 200, response.content
    assert response.json() == _expected("text/markdown")
    assert response.request.headers["Content-Length"] == str(_body().content_length)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_readme_app_receives_a_large_file(
    served: tuple[str, str, dict[str, Any]], framing: str
) -> None:
    """4 MiB arrive in many socket reads; the last one ends at the close delimiter."""
    import hashlib

    server, url, namespace = served
    data = hashlib.sha256(b"seed").digest() * (4 << 15)
    body = MultipartBody(
        [
            Part.field("note", "hi"),
            Part(data, name="doc", filename="big.bin", content_type="application/octet-stream"),
        ]
    )
    status, payload = CLIENTS["requests"](url, body, framing == "chunked")
    if server == "wsgiref" and framing == "chunked":
        assert status == 411, payload
        return
    assert status == 200, payload
    assert json.loads(payload)[1] == {
        "name": "doc",
        "filename": "big.bin",
        "type": "application/octet-stream",
        "size": len(data),
    }
    if "UPLOAD_DIR" in namespace:
        assert _saved_files(namespace) == [data]
