"""A fault-injecting HTTP/1.1 proxy for loopback tests.

``FaultProxy(upstream_url, decide)`` listens on 127.0.0.1 and relays requests to the
upstream server one by one (keep-alive connections are honoured). For every request it
calls ``decide(method, path, index)`` (``index`` counts requests the decider sees, from 0)
and applies the returned action:

==================  ==============================================================
``"pass"``          relay the request and the response unchanged
``"drop_before"``   read the head and half of the body, then reset the connection
                    (nothing reaches the upstream)
``"drop_after"``    relay the request, read the upstream response, then reset the
                    connection instead of answering (the upstream did process it)
``"slow"``          relay, then hold the response for ``slow_delay`` seconds (longer
                    than the client's read timeout) before answering
``"429"``/``"503"`` answer that status with ``Retry-After: 1`` without relaying
``"500"``/``"502"`` answer that status without relaying
``"502_after"``     relay (the upstream processes it), answer 502 instead of its answer
``"500_after"``     same with 500
==================  ==============================================================

``proxy.log`` records ``(index, method, path, action)`` for every request.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from types import TracebackType

Decide = Callable[[str, str, int], str]

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}


class _Closed(Exception):
    pass


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashing peer or middlebox would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """See the module docstring."""

    def __init__(self, upstream: str, decide: Decide, *, slow_delay: float = 1.0) -> None:
        u = urllib.parse.urlsplit(upstream)
        assert u.hostname is not None and u.port is not None
        self.upstream = (u.hostname, u.port)
        self.decide = decide
        self.slow_delay = slow_delay
        self.log: list[tuple[int, str, str, str]] = []
        self._count = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        t = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            _reset(c)
        for t in self._threads:
            t.join(5)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()

    # -- one client connection -------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        rfile = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                try:
                    self._one_request(conn, rfile)
                except _Closed:
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                rfile.close()
            _reset(conn)

    def _one_request(self, conn: socket.socket, rfile: object) -> None:
        readline = rfile.readline  # type: ignore[attr-defined]
        read = rfile.read  # type: ignore[attr-defined]
        line = readline(65537)
        if not line:
            raise _Closed
        method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while True:
            h = readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers.append((k.strip(), v.strip()))
        hmap = {k.lower(): v for k, v in headers}
        with self._lock:
            index = self._count
            self._count += 1
        path = urllib.parse.urlsplit(target).path
        action = self.decide(method, path, index)
        with self._lock:
            self.log.append((index, method, path, action))

        length = int(hmap.get("content-length", "0") or 0)
        chunked = "chunked" in hmap.get("transfer-encoding", "").lower()
        if action == "drop_before":
            if length:
                read(max(1, length // 2))
            raise _Closed
        body = self._read_chunked(readline, read) if chunked else read(length)

        if action in ("429", "503", "500", "502"):
            extra = [("Retry-After", "1")] if action in ("429", "503") else []
            self._answer(conn, int(action), b'{"errorCode":"CMN-999","message":"injected"}', extra)
            return

        status, reason, rheaders, rbody = self._relay(method, target, headers, body)
        if action == "drop_after":
            raise _Closed
        if action == "slow":
            time.sleep(self.slow_delay)
        if action in ("502_after", "500_after"):
            self._answer(conn, int(action[:3]), b"<html>bad gateway</html>", [])
            return
        self._write(conn, status, reason, rheaders, rbody)

    @staticmethod
    def _read_chunked(readline: Callable[[int], bytes], read: Callable[[int], bytes]) -> bytes:
        out = []
        while True:
            size = int(readline(65537).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(out)
            out.append(read(size))
            readline(65537)

    def _relay(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        up = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            up.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                if k.lower() not in HOP_BY_HOP:
                    up.putheader(k, v)
            up.putheader("Content-Length", str(len(body)))
            up.endheaders(body)
            resp = up.getresponse()
            data = resp.read()
            return resp.status, resp.reason, list(resp.getheaders()), data
        finally:
            up.close()

    def _answer(
        self, conn: socket.socket, status: int, body: bytes, extra: list[tuple[str, str]]
    ) -> None:
        headers = [("Content-Type", "application/json"), *extra]
        self._write(conn, status, http.client.responses.get(status, "Error"), headers, body)

    @staticmethod
    def _write(
        conn: socket.socket, status: int, reason: str, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP]
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        conn.sendall(head + body)
