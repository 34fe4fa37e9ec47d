"""Slow and idle clients: read deadlines, the bounded worker pool, 503 beyond capacity.

Deadlines are scaled down (fractions of a second); every wait is bounded, and the bounds
are generous multiples of the deadlines (no wall-clock assertion on the fast path).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from emulator_helpers import FAX_PATH, Raw

from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

pytestmark = pytest.mark.network

DEADLINE = 0.5
GIVE_UP = 20.0  # far beyond every deadline used here


def _start(tmp_path: Path, **limits: Any) -> Emulator:
    config = EmulatorConfig(
        rate_limiting=False,
        idle_timeout=limits.pop("idle_timeout", DEADLINE),
        header_timeout=limits.pop("header_timeout", DEADLINE),
        body_timeout=limits.pop("body_timeout", DEADLINE),
        **limits,
    )
    return Emulator(tmp_path / "data", config=config, clock=ManualClock()).start()


@pytest.fixture
def fast_deadlines(tmp_path: Path) -> Iterator[Emulator]:
    emu = _start(tmp_path)
    try:
        yield emu
    finally:
        emu.stop()


def _connect(emu: Emulator) -> socket.socket:
    parts = urlsplit(emu.url)
    return socket.create_connection(
        (parts.hostname or "127.0.0.1", parts.port or 80), timeout=GIVE_UP
    )


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset), without blocking."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
    finally:
        sock.setblocking(True)


def _drip_until_closed(sock: socket.socket, data: bytes, pause: float) -> float:
    """Send ``data`` one byte per ``pause`` s (again and again) until the server closes;
    the seconds that took. Fails after :data:`GIVE_UP` seconds."""
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < GIVE_UP:
        if _closed_by_server(sock):
            return time.monotonic() - start
        try:
            sock.send(data[i % len(data) : i % len(data) + 1])
        except OSError:
            return time.monotonic() - start
        i += 1
        time.sleep(pause)
    raise AssertionError(f"the server kept a slow connection open for {GIVE_UP} s")


def test_headers_at_one_byte_per_tick_are_cut_off(fast_deadlines: Emulator) -> None:
    with _connect(fast_deadlines) as sock:
        # each byte arrives well within any per-read timeout; only a deadline ends this
        _drip_until_closed(
            sock, b"GET /restapi/v1.0/dictionary/fax-cover-page HTTP/1.1\r\nX-A: ", 0.05
        )


def test_upload_stalled_mid_body_is_cut_off_and_stores_nothing(fast_deadlines: Emulator) -> None:
    raw = Raw(fast_deadlines)
    head = (
        f"POST {FAX_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {raw.token()}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    with _connect(fast_deadlines) as sock:
        sock.sendall(head + b"--b\r\nContent-Type: application/json\r\n\r\n{")
        sock.settimeout(GIVE_UP)
        with contextlib.suppress(ConnectionError):  # a reset is a close too
            assert sock.recv(65536) == b"", "closed without an answer"
    incoming = fast_deadlines.data_dir / "incoming"
    for _ in range(200):
        if not list(incoming.iterdir()):
            break
        time.sleep(0.05)
    assert list(incoming.iterdir()) == []
    assert fast_deadlines.count_faxes() == 0


def test_idle_connection_is_closed(fast_deadlines: Emulator) -> None:
    with _connect(fast_deadlines) as sock:
        sock.settimeout(GIVE_UP)
        assert sock.recv(1) == b""


def test_slowloris_sockets_do_not_stop_a_normal_request(tmp_path: Path) -> None:
    emu = _start(tmp_path, max_connections=4, max_waiting_connections=64, header_timeout=1.0)
    raw = Raw(emu)
    slow: list[socket.socket] = []
    stop = threading.Event()
    try:
        raw.token()  # one worker exists now
        threads_before = threading.active_count()
        slow = [_connect(emu) for _ in range(12)]
        line = b"GET / HTTP/1.1\r\nX-Slow: "

        def drip() -> None:
            i = 0
            while not stop.is_set() and i < 10_000:
                for sock in slow:
                    with contextlib.suppress(OSError):
                        sock.send(line[i % len(line) : i % len(line) + 1])
                i += 1
                stop.wait(0.05)

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        time.sleep(0.3)  # let every slow connection be accepted
        # at most 4 workers (one was there before), plus the dripper
        assert threading.active_count() - threads_before <= 3 + 1
        reply = raw.request("GET", "/restapi/v1.0/dictionary/fax-cover-page")
        assert reply.status == 200 and reply.json()["records"]
    finally:
        stop.set()
        for sock in slow:
            sock.close()
        emu.stop()


def test_connections_beyond_capacity_get_503_with_retry_after(tmp_path: Path) -> None:
    emu = _start(
        tmp_path,
        max_connections=1,
        max_waiting_connections=0,
        idle_timeout=GIVE_UP,
        header_timeout=GIVE_UP,
    )
    try:
        with _connect(emu) as holder:
            holder.sendall(b"GET /restapi/v1.0/dictionary/fax-cover-page HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.2)  # the only worker now waits for the rest of that head
            with _connect(emu) as refused:
                refused.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while not answer.endswith(b"}"):
                    chunk = refused.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), answer
        assert b"\r\nRetry-After: 1\r\n" in head
        error = json.loads(body)
        assert error["errorCode"] == "AGW-503" and error["errors"][0]["errorCode"] == "AGW-503"
        # the holder went away: its worker is free again (after a moment)
        statuses = []
        for _ in range(100):
            statuses.append(
                Raw(emu)
                .request("GET", "/restapi/v1.0/dictionary/fax-cover-page", auth=False)
                .status
            )
            if statuses[-1] != 503:
                break
            time.sleep(0.05)
        assert statuses[-1] == 401, statuses
    finally:
        emu.stop()


def test_stop_ends_the_workers(tmp_path: Path) -> None:
    before = threading.active_count()
    emu = _start(tmp_path, max_connections=3)
    socks = [_connect(emu) for _ in range(3)]
    time.sleep(0.2)
    emu.stop()
    for sock in socks:
        sock.close()
    assert threading.active_count() <= before
