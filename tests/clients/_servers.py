"""Local HTTP servers (stdlib http.server on 127.0.0.1, port 0) that answer with multipart
bodies: a large multipart/mixed answer, 206 multipart/byteranges, a batch endpoint and an
endless multipart/x-mixed-replace camera. Every loop is bounded; every wait has a timeout."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mimewire
from mimewire.http import BatchHeaders, BatchResponse, build_batch_response

MIB = 1 << 20
BOUNDARY = "mw-clients-test-boundary"


def block(seed: int) -> bytes:
    """1 MiB of seeded bytes (sha256 chain) that never holds ``--`` + BOUNDARY."""
    out = bytearray()
    digest = seed.to_bytes(8, "big")
    while len(out) < MIB:
        digest = hashlib.sha256(digest).digest()
        out += digest
    return bytes(out[:MIB])


@dataclass
class LargeAnswer:
    """A multipart/mixed answer of ``parts`` parts of ``mib_per_part`` MiB each; part i
    repeats ``block(i)``. ``expected`` holds each part's sha256."""

    parts: int = 4
    mib_per_part: int = 16
    counted: bool = False  # each part declares its Content-Length
    blocks: list[bytes] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blocks = [block(i) for i in range(self.parts)]
        for b in self.blocks:
            h = hashlib.sha256()
            for _ in range(self.mib_per_part):
                h.update(b)
            self.expected.append(h.hexdigest())

    def heads(self) -> list[bytes]:
        return [
            (
                f"--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
                f'Content-Disposition: attachment; filename="part{i}.bin"\r\n'
                + (f"Content-Length: {self.mib_per_part * MIB}\r\n" if self.counted else "")
                + "\r\n"
            ).encode()
            for i in range(self.parts)
        ]

    @property
    def tail(self) -> bytes:
        return f"\r\n--{BOUNDARY}--\r\n".encode()

    @property
    def length(self) -> int:
        heads = self.heads()
        body = sum(len(h) for h in heads) + self.parts * self.mib_per_part * MIB
        return body + 2 * (self.parts - 1) + len(self.tail)

    def write(self, wfile: object) -> None:
        write: Callable[[bytes | memoryview], object] = wfile.write  # type: ignore[attr-defined]
        for i, head in enumerate(self.heads()):
            if i:
                write(b"\r\n")
            write(head)
            view = memoryview(self.blocks[i])
            for _ in range(self.mib_per_part):
                write(view)
        write(self.tail)


def _make_handler(app: Callable[[BaseHTTPRequestHandler], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            app(self)

        def do_POST(self) -> None:
            app(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(app: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """Serve ``app(handler)`` on 127.0.0.1; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(app))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def large_answer_app(answer: LargeAnswer) -> Callable[[BaseHTTPRequestHandler], None]:
    def app(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", f"multipart/mixed; boundary={BOUNDARY}")
        h.send_header("Content-Length", str(answer.length))
        h.end_headers()
        answer.write(h.wfile)

    return app


# ---------------------------------------------------------------------------- byte ranges


def parse_range_header(value: str, size: int) -> list[tuple[int, int]]:
    """``bytes=0-9,20-,-5`` -> inclusive spans within ``size`` (RFC 9110 §14.1.2)."""
    unit, _, spec = value.partition("=")
    assert unit.strip() == "bytes"
    spans = []
    for item in spec.split(","):
        first, _, last = item.strip().partition("-")
        if not first:
            spans.append((max(0, size - int(last)), size - 1))
        else:
            spans.append((int(first), min(int(last), size - 1) if last else size - 1))
    return spans


def ranges_app(
    resource: bytes, *, complete: str | None = None
) -> Callable[[BaseHTTPRequestHandler], None]:
    """Answer ``Range:`` with 206 multipart/byteranges (one part per requested span),
    without it with 200 and the whole resource. ``complete`` overrides what the parts
    declare after the slash (``"*"``, or a wrong length)."""

    def app(h: BaseHTTPRequestHandler) -> None:
        wanted = h.headers.get("Range")
        if wanted is None:
            h.send_response(200)
            h.send_header("Content-Length", str(len(resource)))
            h.end_headers()
            h.wfile.write(resource)
            return
        spans = parse_range_header(wanted, len(resource))
        total = complete if complete is not None else str(len(resource))
        parts = [
            mimewire.Part(
                resource[first : last + 1],
                content_type="application/octet-stream",
                headers={"Content-Range": f"bytes {first}-{last}/{total}"},
            )
            for first, last in spans
        ]
        body = mimewire.MultipartBody(parts, subtype="byteranges")
        h.send_response(206)
        for name, value in body.headers.items():
            h.send_header(name, value)
        h.end_headers()
        for chunk in body:
            h.wfile.write(chunk)

    return app


# ---------------------------------------------------------------------------- batch


def batch_app(h: BaseHTTPRequestHandler) -> None:
    """A batch endpoint: each application/http request is answered in order with 200 and
    a JSON echo of its request line, Content-ID prefixed ``response-`` as Google does;
    a request for ``/missing`` gets 404."""
    length = int(h.headers["Content-Length"])
    body = h.rfile.read(length)
    answers: list[BatchResponse] = []
    for part in mimewire.parse(body, h.headers["Content-Type"]):
        message = part.read()
        request_line = message.split(b"\r\n", 1)[0].decode()
        method, target, _ = request_line.split(" ")
        payload = f'{{"method": "{method}", "target": "{target}"}}'.encode()
        status, reason = (404, "Not Found") if target == "/missing" else (200, "OK")
        answers.append(
            BatchResponse(
                index=part.index,
                status=status,
                reason=reason,
                headers=BatchHeaders(
                    [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
                ),
                body=payload,
                content_id=part.content_id,
            )
        )
    out = build_batch_response(answers)
    h.send_response(200)
    for name, value in out.headers.items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(out.to_bytes())


# ---------------------------------------------------------------------------- endless camera


@dataclass
class Camera:
    """A multipart/x-mixed-replace stream that never ends by itself: a frame (with its
    Content-Length and an ``X-Seq`` number) every ``interval`` seconds until the client
    goes away, ``max_frames`` were sent or ``stop`` is set.

    With ``lockstep``, after frame k the server waits (at most ``ack_timeout`` s) until the
    client reports frame k via :meth:`ack` and records ``k`` in ``late`` when it did not: a
    frame handed over only once the next one's bytes arrive is caught by sequence numbers,
    not by a clock."""

    frame_size: int = 32 * 1024
    interval: float = 0.05
    max_frames: int = 2000
    lockstep: bool = False
    ack_timeout: float = 5.0
    sent: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)
    late: list[int] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    _acked: int = -1
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def frame(self, seq: int) -> bytes:
        return (b"\xff\xd8" + seq.to_bytes(4, "big") * (self.frame_size // 4))[: self.frame_size]

    def halt(self) -> None:
        """Stop sending (also ends a lockstep wait)."""
        with self._cond:
            self.stop.set()
            self._cond.notify_all()

    def ack(self, seq: int) -> None:
        with self._cond:
            self._acked = max(self._acked, seq)
            self._cond.notify_all()

    def app(self, h: BaseHTTPRequestHandler) -> None:
        h.protocol_version = "HTTP/1.0"  # the stream ends when the connection does
        h.send_response(200)
        h.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        try:
            for seq in range(self.max_frames):
                if self.stop.is_set():
                    break
                data = self.frame(seq)
                head = (
                    f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n"
                    f"X-Seq: {seq}\r\n\r\n"
                ).encode()
                self.sent_at[seq] = time.perf_counter()
                h.wfile.write(head + data + b"\r\n")
                h.wfile.flush()
                self.sent = seq + 1
                if self.lockstep:
                    with self._cond:
                        if not self._cond.wait_for(
                            lambda s=seq: self._acked >= s or self.stop.is_set(),  # type: ignore[misc]
                            self.ack_timeout,
                        ):
                            self.late.append(seq)
                else:
                    self.stop.wait(self.interval)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading and closed: the normal end of a camera stream
        finally:
            self.finished.set()
