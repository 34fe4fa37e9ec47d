"""A small scripted HTTP server on 127.0.0.1 for ringfax integration tests, plus test helpers.

The server records every request (method, path, headers, body or — with ``keep_bodies=False`` —
only its size and SHA-256) and answers with a handler function ``fn(recorded) -> Reply``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ringfax import FaxClient, FunctionTransport, Request, Response, TransportError


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    size: int
    sha256: str
    chunked: bool


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] | list[Any] | Callable[[], Iterator[bytes]] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (read-timeout tests)
    drop: bool = False  # close the connection without answering


Handler = Callable[[Recorded], Reply]


class ScriptedServer:
    """``with ScriptedServer(handler) as srv: srv.url ...``; ``srv.requests`` lists Recorded."""

    def __init__(self, handler: Handler, *, keep_bodies: bool = True) -> None:
        self.handler = handler
        self.keep_bodies = keep_bodies
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        outer = self

        class _H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _read_body(self) -> tuple[bytes | None, int, str, bool]:
                digest = hashlib.sha256()
                keep: list[bytes] | None = [] if outer.keep_bodies else None
                size = 0
                chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
                if chunked:
                    while True:
                        line = self.rfile.readline()
                        n = int(line.split(b";")[0].strip() or b"0", 16)
                        if n == 0:
                            self.rfile.readline()
                            break
                        data = self.rfile.read(n)
                        self.rfile.readline()
                        digest.update(data)
                        size += len(data)
                        if keep is not None:
                            keep.append(data)
                else:
                    remaining = int(self.headers.get("Content-Length", "0") or 0)
                    while remaining:
                        data = self.rfile.read(min(remaining, 65536))
                        if not data:
                            break
                        remaining -= len(data)
                        digest.update(data)
                        size += len(data)
                        if keep is not None:
                            keep.append(data)
                body = b"".join(keep) if keep is not None else None
                return body, size, digest.hexdigest(), chunked

            def _serve(self) -> None:
                body, size, sha, chunked = self._read_body()
                rec = Recorded(
                    self.command,
                    self.path,
                    {k: v for k, v in self.headers.items()},
                    body,
                    size,
                    sha,
                    chunked,
                )
                with outer._lock:
                    outer.requests.append(rec)
                reply = outer.handler(rec)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = reply.body
                headers = dict(reply.headers)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    headers.setdefault("Content-Type", "application/json;charset=UTF-8")
                self.send_response(reply.status)
                headers.setdefault("RCRequestId", f"req-{len(outer.requests)}")
                if callable(payload):
                    headers["Transfer-Encoding"] = "chunked"
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    for chunk in payload():
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                headers["Content-Length"] = str(len(payload))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        class _Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # a client that timed out / went away is expected in these tests
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self._server = _Server(("127.0.0.1", 0), _H)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# ----------------------------------------------------------------------------- helpers


class FakeClock:
    """An injectable clock + sleep: ``sleep`` advances the time and records the waits."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {"Content-Type": "application/json;charset=UTF-8", "RCRequestId": "rid-1"}
    h.update(headers or {})
    return Response(status, h, json.dumps(data).encode())


def fax_json(
    message_id: int = 1724099032020, status: str = "Queued", **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uri": f"https://platform.ringcentral.com/restapi/v1.0/account/1/extension/2/message-store/{message_id}",
        "id": message_id,
        "to": [{"phoneNumber": "+16505550123", "messageStatus": status, "recipientId": "9"}],
        "type": "Fax",
        "creationTime": "2026-08-20T17:02:11.000Z",
        "readStatus": "Unread",
        "priority": "Normal",
        "attachments": [
            {
                "id": 55,
                "uri": "https://media.ringcentral.com/x",
                "type": "RenderedDocument",
                "contentType": "application/pdf",
            }
        ],
        "direction": "Outbound",
        "availability": "Alive",
        "messageStatus": status,
        "faxResolution": "High",
        "faxPageCount": 0,
        "lastModifiedTime": "2026-08-20T17:02:11.519Z",
    }
    data.update(extra)
    return data


TOKEN_JSON = {
    "access_token": "AT-secret-1",
    "token_type": "bearer",
    "expires_in": 3600,
    "refresh_token": "RT-secret-1",
    "refresh_token_expires_in": 604800,
    "scope": "Faxes ReadMessages",
    "owner_id": "256440016",
}


def is_token_request(request: Request) -> bool:
    return request.url.endswith("/restapi/oauth/token")


SERVER = "https://platform.example.test"
"""The server URL of :func:`scripted_client` (never contacted: the transport is a function)."""


class Recorder:
    """A scripted function transport: answers from a list, records requests + bodies."""

    def __init__(self, *answers: Response | TransportError | Callable[[Request], Response]):
        self.answers = list(answers)
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        self.bodies.append(request.read_body())
        answer = self.answers.pop(0)
        if isinstance(answer, TransportError):
            raise answer
        if callable(answer) and not isinstance(answer, Response):
            return answer(request)
        return answer

    def query(self, index: int = 0) -> dict[str, list[str]]:
        """The parsed query string of request ``index``."""
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.requests[index].url).query)


def scripted_client(
    fn: Callable[[Request], Response], clock: FakeClock | None = None, **kw: Any
) -> FaxClient:
    """A FaxClient on a function transport with a fake clock (no real sleeps, no jitter)."""
    clock = clock or FakeClock()
    kw.setdefault("access_token", "static-token")
    return FaxClient(
        SERVER,
        transport=FunctionTransport(fn),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.0,
        **kw,
    )
