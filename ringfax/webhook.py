"""A RingCentral WebHook receiver as a WSGI and an ASGI application (docs/push.md).

::

    from ringfax import FaxClient, Inbox, InboxSyncWorker
    from ringfax.webhook import WebhookApp

    client = FaxClient.from_env()
    worker = InboxSyncWorker(Inbox(client, "faxes/"))
    worker.start()
    app = WebhookApp(worker.notify, verification_token=TOKEN)
    # WSGI: serve `app` (gunicorn, waitress, or make_server below); ASGI: `app.asgi` (uvicorn)
    server = make_server(app, "127.0.0.1", 8090)
    server.serve_forever()

Per request: a ``Validation-Token`` header (RingCentral's handshake when a subscription is
created) is echoed in an empty 200 answer, far below the 1,024-byte limit; any other
request must be a ``POST`` whose ``Verification-Token`` equals the subscription's
(compared in constant time; 401 otherwise; the token is never logged), whose body is at
most ``max_body`` bytes (413 beyond) and a JSON notification (400 otherwise). A
notification whose ``uuid`` was seen among the last ``dedup_size`` is answered 200 and
dropped. ``on_event(notification)`` must return at once — hand the work to a queue
(:meth:`InboxSyncWorker.notify <ringfax.InboxSyncWorker.notify>` does) — so RingCentral
gets its 200 long before its timeout; when it raises, the answer is 503 and a redelivery
of the same uuid is processed again.
"""

from __future__ import annotations

import collections
import hmac
import json
import logging
import re
import socketserver
import threading
import wsgiref.simple_server
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

__all__ = ["MAX_BODY", "ASGIApp", "WebhookApp", "make_server"]

log = logging.getLogger("ringfax")

MAX_BODY = 1 << 20
"""Default largest notification body accepted (bytes); one fax record is a few KiB."""

_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]{1,512}")  # printable ASCII: safe to echo in a header
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    503: "Service Unavailable",
}

Answer = tuple[int, list[tuple[str, str]], bytes]


class WebhookApp:
    """WSGI (call the object) and ASGI (:meth:`asgi`) WebHook endpoint; see the module."""

    def __init__(
        self,
        on_event: Callable[[Mapping[str, Any]], object],
        *,
        verification_token: str | None,
        max_body: int = MAX_BODY,
        dedup_size: int = 4096,
    ) -> None:
        if verification_token is not None and not verification_token:
            raise ValueError("verification_token is empty: pass None to accept any sender")
        if max_body < 1 or dedup_size < 1:
            raise ValueError("max_body and dedup_size must be at least 1")
        self.on_event = on_event
        self._token = verification_token.encode() if verification_token else None
        self.max_body = max_body
        self.dedup_size = dedup_size
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()
        #: The ASGI 3 application (``http`` scopes; ``lifespan`` is acknowledged).
        self.asgi = ASGIApp(self)
        #: Counters: handshakes answered, notifications handed on, duplicates, refusals.
        self.handshakes = 0
        self.delivered = 0
        self.duplicates = 0
        self.refused = 0

    def __repr__(self) -> str:
        return f"WebhookApp(delivered={self.delivered}, refused={self.refused})"

    # ------------------------------------------------------------ the decision

    def precheck(
        self, method: str, headers: Mapping[str, str], length: int | None
    ) -> Answer | None:
        """The answer decided before the body is read (None: read it and call :meth:`handle`).
        ``headers`` have lower-case names."""
        validation = headers.get("validation-token")
        if validation is not None:
            if not _TOKEN_SHAPE.fullmatch(validation):
                return self._refuse(400, "a Validation-Token that is not printable ASCII")
            self.handshakes += 1
            return (
                200,
                [("Validation-Token", validation), ("Content-Type", "application/json")],
                b"",
            )
        if method != "POST":
            return self._refuse(405, f"method {method}")
        if self._token is not None:
            given = headers.get("verification-token", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, self._token):
                return self._refuse(401, "a missing or wrong Verification-Token")
        if length is None:
            return self._refuse(411, "no Content-Length")
        if length > self.max_body:
            return self._refuse(413, f"a body of {length} bytes (limit {self.max_body})")
        return None

    def handle(self, body: bytes) -> Answer:
        """The answer to an accepted notification body."""
        if len(body) > self.max_body:
            return self._refuse(413, f"a body over {self.max_body} bytes")
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            return self._refuse(400, "a body that is not JSON")
        if not isinstance(event, dict):
            return self._refuse(400, "a body that is not a JSON object")
        uuid = event.get("uuid")
        key = uuid if isinstance(uuid, str) and uuid else None
        if key is not None and not self._first_time(key):
            self.duplicates += 1
            return _plain(200)
        try:
            self.on_event(event)
        except Exception:
            log.exception("webhook: the event handler failed; answering 503")
            if key is not None:
                with self._lock:
                    self._seen.pop(key, None)
            return _plain(503)
        self.delivered += 1
        return _plain(200)

    def _first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            while len(self._seen) > self.dedup_size:
                self._seen.popitem(last=False)
            return True

    def _refuse(self, status: int, why: str) -> Answer:
        self.refused += 1
        log.warning("webhook: refused %s (%d)", why, status)
        return _plain(status)

    # --------------------------------------------------------------------- WSGI

    def __call__(
        self, environ: Mapping[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        raw_length = environ.get("CONTENT_LENGTH") or None
        length: int | None
        try:
            length = int(raw_length) if raw_length is not None else None
        except ValueError:
            length = -1
        if length is not None and length < 0:
            status, head, body = self._refuse(400, "a bad Content-Length")
        else:
            answer = self.precheck(str(environ.get("REQUEST_METHOD", "")), headers, length)
            if answer is None:
                assert length is not None
                data = environ["wsgi.input"].read(length) if length else b""
                answer = self.handle(data)
            status, head, body = answer
        head = [*head, ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, 'Error')}", head)
        return [body]

    # --------------------------------------------------------------------- ASGI

    async def _asgi(
        self,
        scope: Mapping[str, Any],
        receive: Callable[[], Awaitable[Mapping[str, Any]]],
        send: Callable[[Mapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        length: int | None = None
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                length = -1
        if length is not None and length < 0:
            answer = self._refuse(400, "a bad Content-Length")
        else:
            pre = self.precheck(
                str(scope.get("method", "")), headers, length if length is not None else 0
            )
            answer = pre if pre is not None else await self._asgi_body(receive)
        status, head, body = answer
        raw_head = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in head]
        raw_head.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_head})
        await send({"type": "http.response.body", "body": body})

    async def _asgi_body(self, receive: Callable[[], Awaitable[Mapping[str, Any]]]) -> Answer:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _plain(400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return self._refuse(413, f"a body over {self.max_body} bytes")
            parts.append(chunk)
            if not message.get("more_body", False):
                return self.handle(b"".join(parts))


class ASGIApp:
    """``WebhookApp.asgi``: an object whose ``__call__`` is a coroutine function, which is
    how servers (uvicorn) tell ASGI 3 from ASGI 2; a bound method would look like ASGI 2."""

    def __init__(self, app: WebhookApp) -> None:
        self.app = app

    def __repr__(self) -> str:
        return f"ASGIApp({self.app!r})"

    async def __call__(
        self,
        scope: Mapping[str, Any],
        receive: Callable[[], Awaitable[Mapping[str, Any]]],
        send: Callable[[Mapping[str, Any]], Awaitable[None]],
    ) -> None:
        await self.app._asgi(scope, receive, send)


def _plain(status: int) -> Answer:
    return status, [("Content-Type", "application/json")], b""


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # WebhookApp logs refusals itself, without headers (never a token)


def make_server(app: WebhookApp, host: str, port: int) -> wsgiref.simple_server.WSGIServer:
    """A standard-library WSGI server for ``app`` (one thread per request, no access log),
    bound to ``host:port`` (0: any free port); call ``serve_forever()`` on it."""
    return wsgiref.simple_server.make_server(
        host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
