"""Endless multipart/x-mixed-replace streams (MJPEG cameras) read through HTTP clients:
each frame is handed over as soon as its last declared byte arrived (per-part
Content-Length), memory stays bounded by one frame, and leaving the loop closes the response
so the server sees the client go away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

import mimewire
from tests.clients._servers import Camera, serve

pytestmark = [pytest.mark.network, pytest.mark.interop]

TIMEOUT = 20.0
FRAMES = 8
LIMITS = mimewire.Limits(max_parts=1_000_000, max_part_size=1 << 20)


@contextmanager
def _urllib3(url: str) -> Iterator[tuple[object, str]]:
    import urllib3

    with urllib3.PoolManager() as pool:
        resp = pool.request("GET", url, preload_content=False, timeout=TIMEOUT)
        with resp:
            yield resp, resp.headers["Content-Type"]


@contextmanager
def _requests_raw(url: str) -> Iterator[tuple[object, str]]:
    import requests

    with requests.get(url, stream=True, timeout=TIMEOUT) as resp:
        yield resp.raw, resp.headers["Content-Type"]


@contextmanager
def _httpx(url: str) -> Iterator[tuple[object, str]]:
    import httpx

    with httpx.Client(timeout=TIMEOUT) as client, client.stream("GET", url) as resp:
        yield resp.iter_raw(), resp.headers["Content-Type"]


OPENERS: dict[str, Callable[[str], AbstractContextManager[tuple[object, str]]]] = {
    "urllib3": _urllib3,
    "requests-raw": _requests_raw,
    "httpx-iter_raw": _httpx,
}


def _watch(url: str, opener: str, camera: Camera, frames: int) -> list[int]:
    seen = []
    with OPENERS[opener](url) as (source, content_type):
        for part in mimewire.parse_stream(source, content_type, limits=LIMITS):  # type: ignore[arg-type]
            seq = int(part.header("X-Seq") or "-1")
            assert part.read() == camera.frame(seq)
            camera.ack(seq)
            seen.append(seq)
            if len(seen) == frames:
                break
    return seen


@pytest.mark.parametrize("opener", sorted(OPENERS))
def test_each_frame_is_handed_over_before_the_next_is_sent(opener: str) -> None:
    """Lockstep: the server sends frame k+1 only after the client reported frame k (or after
    5 s, recording k as late). A decoder that needs the next delimiter to end a part, or a
    read that waits for a full buffer, makes every frame late."""
    camera = Camera(lockstep=True)
    with serve(camera.app) as base:
        seen = _watch(base, opener, camera, FRAMES)
        camera.halt()
        assert camera.finished.wait(TIMEOUT)
    assert seen == list(range(FRAMES))
    assert camera.late == []


def test_aiohttp_frames_in_lockstep() -> None:
    import aiohttp

    camera = Camera(lockstep=True)

    async def main(url: str) -> list[int]:
        seen = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as s:
            async with s.get(url) as resp:
                parts = mimewire.aparse_stream(
                    resp.content.iter_any(), resp.headers["Content-Type"], limits=LIMITS
                )
                async for part in parts:
                    seq = int(part.header("X-Seq") or "-1")
                    assert await part.aread() == camera.frame(seq)
                    camera.ack(seq)
                    seen.append(seq)
                    if len(seen) == FRAMES:
                        break
                await parts.aclose()
        return seen

    with serve(camera.app) as base:
        seen = asyncio.run(main(base))
        camera.halt()
        assert camera.finished.wait(TIMEOUT)
    assert seen == list(range(FRAMES))
    assert camera.late == []


@pytest.mark.parametrize("opener", sorted(OPENERS))
def test_leaving_the_loop_closes_the_stream(opener: str) -> None:
    """A free-running camera (a frame every 50 ms, never ending by itself): after the client
    leaves the loop and the response is closed, the server's next writes fail and its
    handler ends; the client started no thread."""
    camera = Camera(interval=0.05)
    with serve(camera.app) as base:
        before = set(threading.enumerate())
        seen = _watch(base, opener, camera, 5)
        assert camera.finished.wait(TIMEOUT), "the server kept writing to a closed stream"
        assert not camera.stop.is_set()
        new = [t for t in set(threading.enumerate()) - before if t.is_alive()]
        assert [t for t in new if "process_request_thread" not in t.name] == []  # server's own
    assert seen == list(range(5))
    assert camera.sent < camera.max_frames


def test_memory_is_bounded_by_one_frame() -> None:
    """400 frames of 256 KiB (100 MiB in all) through parse_stream: the traced peak stays
    within a few frames."""
    import tracemalloc

    camera = Camera(lockstep=True, frame_size=256 * 1024, max_frames=400)
    with serve(camera.app) as base:
        tracemalloc.start()
        try:
            seen = _watch(base, "urllib3", camera, 400)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        camera.halt()
        assert camera.finished.wait(TIMEOUT)
    assert len(seen) == 400
    assert peak < 8 * camera.frame_size, f"peak {peak} bytes"
