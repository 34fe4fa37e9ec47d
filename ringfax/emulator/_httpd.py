"""The connection layer: a bounded worker pool, read deadlines, request-body framing.

Capacity (``EmulatorConfig.max_connections``, ``max_waiting_connections``): at most
``max_connections`` connections are served at once, one worker thread each (threads are
started on demand and kept until the server closes). Up to ``max_waiting_connections`` more
are accepted and wait, in arrival order, for a free worker (their requests are answered
late, not refused). A connection beyond both is answered at once with ``503`` +
``Retry-After: 1`` (RingCentral's error body, code ``AGW-503``) and closed.

Deadlines (seconds, from ``EmulatorConfig``): ``idle_timeout`` for the first byte of a
request (a new or kept-alive connection that sends nothing is closed); ``header_timeout``
from that first byte until the end of the request head (a client sending headers at 1 byte/s
is cut off); ``body_timeout`` for each read of the request body and each 64 KiB write of the
response (a client that stalls mid-body, or does not read its answer, is cut off). A
connection cut off by a deadline is closed without an answer.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, BinaryIO

from ._config import EmulatorConfig
from ._errors import ApiError, BodyTooLarge

__all__ = [
    "BadRequestBody",
    "DeadlineHandler",
    "PooledHTTPServer",
    "RequestBody",
    "iter_chunks",
]

log = logging.getLogger("ringfax.emulator")

LISTEN_BACKLOG = 128


class _DeadlineReader(io.RawIOBase):
    """Socket reads bounded by the idle, head and body deadlines."""

    def __init__(self, sock: socket.socket, limits: EmulatorConfig) -> None:
        self._sock = sock
        self._limits = limits
        self._deadline: float | None = None
        self._timeout = limits.idle_timeout
        self._awaiting_head = True
        self._applied: float | None = None  # the socket's timeout (settimeout costs syscalls)

    def _apply(self, timeout: float) -> None:
        if timeout != self._applied:
            self._sock.settimeout(timeout)
            self._applied = timeout

    def readable(self) -> bool:
        return True

    def await_request(self) -> None:
        """Wait up to ``idle_timeout`` for a request's first byte, then ``header_timeout``
        for the rest of its head."""
        self._deadline = None
        self._timeout = self._limits.idle_timeout
        self._awaiting_head = True

    def read_body(self) -> None:
        """The head is in: each body read (and response write) gets ``body_timeout``."""
        self._deadline = None
        self._awaiting_head = False
        self._timeout = self._limits.body_timeout
        self._apply(self._timeout)

    def readinto(self, buffer: Any) -> int:
        timeout = self._timeout
        if self._deadline is not None:
            timeout = self._deadline - time.monotonic()
            if timeout <= 0:
                raise TimeoutError(
                    f"request head not complete within {self._limits.header_timeout} s"
                )
        self._apply(timeout)
        received = self._sock.recv_into(buffer)
        if received and self._awaiting_head:
            self._awaiting_head = False
            self._deadline = time.monotonic() + self._limits.header_timeout
        return received


class DeadlineHandler(BaseHTTPRequestHandler):
    """A request handler whose reads obey the server's deadlines (``limits``); a
    subclass calls :meth:`begin_body` once it has the request head."""

    server: PooledHTTPServer

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # replaced: reads go through the deadlines
        self._reader = _DeadlineReader(self.connection, self.server.limits)
        self.rfile = io.BufferedReader(self._reader, 1 << 16)

    def handle_one_request(self) -> None:
        self._reader.await_request()
        super().handle_one_request()

    def begin_body(self) -> None:
        """Switch from the head deadline to the per-read body deadline."""
        self._reader.read_body()


class PooledHTTPServer(HTTPServer):
    """An HTTP server with a bounded worker pool (see the module docstring)."""

    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], handler: type[DeadlineHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.limits = EmulatorConfig()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._waiting: queue.SimpleQueue[tuple[socket.socket, Any] | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._admitted = 0  # connections waiting or being served
        self._closed = False
        super().__init__(address, handler)  # a failed bind calls server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a worker (starting one if all are busy and the pool is
        not full), let it wait, or refuse it with 503."""
        limits = self.limits
        with self._lock:
            full = limits.max_connections + limits.max_waiting_connections
            refuse = self._closed or self._admitted >= full
            if not refuse:
                self._admitted += 1
                self._connections.add(request)
                workers = len(self._workers)
                if self._admitted > workers and workers < limits.max_connections:
                    worker = threading.Thread(
                        target=self._work, name=f"ringfax-emulator-{workers + 1}", daemon=True
                    )
                    self._workers.append(worker)
                    worker.start()
        if refuse:
            self._refuse(request)
        else:
            self._waiting.put((request, client_address))

    def _work(self) -> None:
        while True:
            item = self._waiting.get()
            if item is None:
                return
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self._release(request)

    def _release(self, request: socket.socket) -> None:
        self.shutdown_request(request)
        with self._lock:
            self._admitted -= 1

    def _refuse(self, request: socket.socket) -> None:
        err = ApiError(503, "AGW-503", "Service Unavailable: too many connections")
        body = json.dumps(err.body()).encode("utf-8")
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            f"RCRequestId: {uuid.uuid4()}\r\n"
            "Retry-After: 1\r\n"
            "Content-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")
        with contextlib.suppress(OSError):
            request.setblocking(False)  # never let a refused client stall the acceptor
            request.send(head + body)
        log.debug("connection refused: %d connections admitted", self._admitted)
        super().shutdown_request(request)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection failed mid-request (usually the client went away): log, don't print."""
        log.debug("connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut every open connection down (their workers then finish)."""
        with self._lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def server_close(self) -> None:
        """Stop listening, drop waiting connections, shut open ones, stop the workers."""
        super().server_close()
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        while True:
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._release(item[0])
        self.close_connections()
        for _ in workers:
            self._waiting.put(None)
        deadline = time.monotonic() + 5
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))


class BadRequestBody(Exception):
    """The request body framing (chunked encoding) is broken."""


class RequestBody:
    """Reads a request body framed by Content-Length or ``Transfer-Encoding: chunked``,
    counting bytes and refusing more than ``cap`` (:class:`BodyTooLarge`). ``length``: the
    declared Content-Length (None when chunked)."""

    def __init__(self, rfile: BinaryIO, length: int | None, chunked: bool, cap: int) -> None:
        self.length = length
        self.cap = cap
        self._rfile = rfile
        self._remaining = length
        self._chunked = chunked
        self._chunk_left = 0
        self._cap = cap
        self.consumed = 0
        self.done = not chunked and not length

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._rfile.readline(1026)
            if not line.endswith(b"\n"):
                raise BadRequestBody("chunk size line too long or truncated")
            text = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(text, 16)
            except ValueError:
                raise BadRequestBody(f"bad chunk size {text[:20]!r}") from None
            if self._chunk_left < 0:
                raise BadRequestBody("negative chunk size")
            if self._chunk_left == 0:
                while True:  # trailers
                    trailer = self._rfile.readline(8192)
                    if not trailer or trailer in (b"\r\n", b"\n"):
                        break
                self.done = True
                return b""
        data = self._rfile.read(min(size, self._chunk_left))
        if not data:
            raise BadRequestBody("connection closed inside a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._rfile.readline(3).strip():
            raise BadRequestBody("missing CRLF after chunk data")
        return data

    def read(self, size: int = 1 << 16) -> bytes:
        """Up to ``size`` bytes; b"" at the end of the body."""
        if self.done:
            return b""
        if self._chunked:
            data = self._read_chunked(size)
        else:
            assert self._remaining is not None
            data = self._rfile.read(min(size, self._remaining))
            if not data:
                raise BadRequestBody("connection closed before Content-Length bytes arrived")
            self._remaining -= len(data)
            if self._remaining == 0:
                self.done = True
        self.consumed += len(data)
        if self.consumed > self._cap:
            raise BodyTooLarge(self._cap)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read()
            if not data:
                if self.done:
                    return
                continue
            yield data

    def read_all(self, limit: int) -> bytes:
        """The whole body (at most ``limit`` bytes, else :class:`BodyTooLarge`)."""
        out = bytearray()
        for chunk in self:
            out += chunk
            if len(out) > limit:
                raise BodyTooLarge(limit)
        return bytes(out)

    def drain(self, limit: int) -> bool:
        """Discard the rest of the body; False if that would take more than ``limit`` bytes."""
        self._cap = self.consumed + limit
        try:
            while not self.done:
                self.read()
        except (BodyTooLarge, BadRequestBody, OSError):
            return False
        return True


def iter_chunks(source: BinaryIO, length: int, chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """Exactly ``length`` bytes of ``source`` in chunks; stops early if it is shorter."""
    left = length
    while left > 0:
        chunk = source.read(min(chunk_size, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk
