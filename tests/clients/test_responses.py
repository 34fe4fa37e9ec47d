"""A 64 MiB multipart/mixed answer decoded from each HTTP client's response stream with flat
memory: parse_stream / aparse_stream over what the client hands out, content_length= from the
response, every part hashed chunk by chunk. The traced peak (client, decoder and the server
thread together) stays far below the answer's size."""

from __future__ import annotations

import asyncio
import hashlib
import tracemalloc
from collections.abc import AsyncIterable, Callable, Iterable, Iterator

import pytest

import mimewire
from tests.clients._servers import LargeAnswer, large_answer_app, serve

pytestmark = [pytest.mark.network, pytest.mark.interop]

PEAK_BOUND = 16 << 20
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def answer() -> LargeAnswer:
    return LargeAnswer(parts=4, mib_per_part=16)  # 64 MiB


@pytest.fixture(scope="module")
def url(answer: LargeAnswer) -> Iterator[str]:
    with serve(large_answer_app(answer)) as base:
        yield base + "/answer"


def _digests(parts: Iterable[mimewire.StreamedPart]) -> list[str]:
    out = []
    for part in parts:
        h = hashlib.sha256()
        for chunk in part:
            h.update(chunk)
        out.append(h.hexdigest())
    return out


async def _adigests(parts: AsyncIterable[mimewire.AsyncStreamedPart]) -> list[str]:
    out = []
    async for part in parts:
        h = hashlib.sha256()
        async for chunk in part:
            h.update(chunk)
        out.append(h.hexdigest())
    return out


def _traced(run: Callable[[], list[str]]) -> tuple[list[str], int]:
    tracemalloc.start()
    try:
        digests = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return digests, peak


def _urllib3_file(url: str) -> list[str]:
    import urllib3

    with urllib3.PoolManager() as pool:
        resp = pool.request("GET", url, preload_content=False, timeout=TIMEOUT)
        with resp:
            return _digests(
                mimewire.parse_stream(
                    resp,  # read with read1(): what has arrived
                    resp.headers["Content-Type"],
                    content_length=resp.headers.get("Content-Length"),
                )
            )


def _urllib3_stream(url: str) -> list[str]:
    import urllib3

    with urllib3.PoolManager() as pool:
        resp = pool.request("GET", url, preload_content=False, timeout=TIMEOUT)
        with resp:
            return _digests(
                mimewire.parse_stream(
                    resp.stream(65536),
                    resp.headers["Content-Type"],
                    content_length=resp.headers.get("Content-Length"),
                )
            )


def _requests_iter_content(url: str) -> list[str]:
    import requests

    with requests.get(url, stream=True, timeout=TIMEOUT) as resp:
        return _digests(
            mimewire.parse_stream(
                resp.iter_content(65536),
                resp.headers["Content-Type"],
                content_length=resp.headers.get("Content-Length"),
            )
        )


def _requests_raw(url: str) -> list[str]:
    import requests

    with requests.get(url, stream=True, timeout=TIMEOUT) as resp:
        return _digests(
            mimewire.parse_stream(
                resp.raw,
                resp.headers["Content-Type"],
                content_length=resp.headers.get("Content-Length"),
            )
        )


def _httpx_iter_raw(url: str) -> list[str]:
    import httpx

    with httpx.Client(timeout=TIMEOUT) as client, client.stream("GET", url) as resp:
        return _digests(
            mimewire.parse_stream(
                resp.iter_raw(),
                resp.headers["Content-Type"],
                content_length=resp.headers.get("Content-Length"),
            )
        )


def _httpx_iter_bytes(url: str) -> list[str]:
    import httpx

    with httpx.Client(timeout=TIMEOUT) as client, client.stream("GET", url) as resp:
        return _digests(mimewire.parse_stream(resp.iter_bytes(), resp.headers["Content-Type"]))


def _httpx_async(url: str) -> list[str]:
    import httpx

    async def main() -> list[str]:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            async with client.stream("GET", url) as resp:
                return await _adigests(
                    mimewire.aparse_stream(
                        resp.aiter_bytes(),
                        resp.headers["Content-Type"],
                        content_length=resp.headers.get("Content-Length"),
                    )
                )

    return asyncio.run(main())


def _aiohttp(url: str) -> list[str]:
    import aiohttp

    async def main() -> list[str]:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url) as resp:
                return await _adigests(
                    mimewire.aparse_stream(
                        resp.content.iter_any(),
                        resp.headers["Content-Type"],
                        content_length=resp.headers.get("Content-Length"),
                    )
                )

    return asyncio.run(main())


CLIENTS = {
    "urllib3-file": _urllib3_file,
    "urllib3-stream": _urllib3_stream,
    "requests-iter_content": _requests_iter_content,
    "requests-raw": _requests_raw,
    "httpx-iter_raw": _httpx_iter_raw,
    "httpx-iter_bytes": _httpx_iter_bytes,
    "httpx-async": _httpx_async,
    "aiohttp-iter_any": _aiohttp,
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_large_answer_decodes_with_flat_memory(client: str, url: str, answer: LargeAnswer) -> None:
    digests, peak = _traced(lambda: CLIENTS[client](url))
    assert digests == answer.expected
    total = answer.parts * answer.mib_per_part << 20
    assert peak < PEAK_BOUND, (
        f"{client}: traced peak {peak / (1 << 20):.1f} MiB for {total >> 20} MiB"
    )


@pytest.mark.parametrize("client", ["urllib3-file", "httpx-async", "aiohttp-iter_any"])
def test_parts_declaring_their_length_decode_with_flat_memory(client: str) -> None:
    """The same answer with a Content-Length on every part (counted, not scanned)."""
    counted = LargeAnswer(parts=2, mib_per_part=16, counted=True)
    with serve(large_answer_app(counted)) as base:
        digests, peak = _traced(lambda: CLIENTS[client](base))
    assert digests == counted.expected
    assert peak < PEAK_BOUND, f"{client}: traced peak {peak / (1 << 20):.1f} MiB"


def test_truncated_answer_is_an_error_not_silent(answer: LargeAnswer) -> None:
    """The server closes after half the body: parse_stream raises instead of handing out a
    short last part."""

    def short(h: object) -> None:
        from http.server import BaseHTTPRequestHandler

        assert isinstance(h, BaseHTTPRequestHandler)
        h.send_response(200)
        h.send_header("Content-Type", "multipart/mixed; boundary=mw-clients-test-boundary")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(answer.heads()[0] + answer.blocks[0])
        h.close_connection = True

    import urllib3

    with serve(short) as base, urllib3.PoolManager() as pool:
        resp = pool.request("GET", base, preload_content=False, timeout=TIMEOUT)
        with resp, pytest.raises(mimewire.MalformedInput):
            _digests(mimewire.parse_stream(resp, resp.headers["Content-Type"]))
