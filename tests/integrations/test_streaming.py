"""stream_form() hands a part to the route while the rest of the upload is still on the
client: the client sends the first part, waits until the route has seen it, and only then
sends the rest (under uvicorn, over a raw socket)."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest

from tests.integrations.conftest import _uvicorn

pytestmark = pytest.mark.network


def test_each_part_arrives_before_the_upload_ends() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from mimewire.integrations.starlette import stream_form

    seen: list[str] = []
    first_part_seen = threading.Event()

    async def upload(request: Request) -> PlainTextResponse:
        digest = hashlib.sha256()
        async for part in stream_form(request):
            seen.append(part.name)
            first_part_seen.set()
            async for chunk in part:
                digest.update(chunk)
        return PlainTextResponse(f"{','.join(seen)} {digest.hexdigest()}")

    url, stop = _uvicorn(Starlette(routes=[Route("/upload", upload, methods=["POST"])]))
    try:
        boundary = "liveB0undary"
        first = f'--{boundary}\r\nContent-Disposition: form-data; name="first"\r\n\r\none'
        second = f'name="second"; filename="s.bin"\r\n\r\n{"x" * 100_000}\r\n--{boundary}--\r\n'
        rest = f"\r\n--{boundary}\r\nContent-Disposition: form-data; {second}"
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as client:
            client.sendall(
                f"POST /upload HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(first) + len(rest)}\r\n\r\n{first}".encode()
            )
            assert first_part_seen.wait(20), "the route saw no part before the upload ended"
            assert seen == ["first"]
            client.sendall(rest.encode())
            answer = b""
            while data := client.recv(65536):
                answer += data
        expected = hashlib.sha256(b"one" + b"x" * 100_000).hexdigest()
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(f"first,second {expected}".encode())
    finally:
        stop()
