"""The WebSocket gateway (RingCentral's WSG): sessions, one subscription per session,
``wsc`` recovery, pings and timeouts (message shapes: docs/push.md).

It runs the ``websockets`` asyncio server on its own event loop in a background thread,
bound to ``EmulatorConfig.ws_host`` (loopback) and its own port. Everything about sessions
happens on that loop; other threads hand events in with ``call_soon_threadsafe``.

A session is identified by its ``wsc`` token. ``sequence`` counts the session's
notifications; every server message carries the current ``wsc``. The last
``ws_recovery_buffer`` notifications are kept; a connection that ends leaves the session
waiting ``ws_recovery_timeout`` (emulator clock) for a reconnect with ``&wsc=<token>``,
which then gets ``recoveryState: "Successful"`` and every kept notification it has not
been sent, in order. Later, or with an unknown token: ``"Failed"`` and a new, empty
session. Idle (no client message for ``ws_idle_timeout``) and absolute
(``ws_absolute_timeout``) timeouts send an ``Error`` message (``WSG-902`` / ``WSG-903``)
and close; a client that does not answer protocol pings within ``ws_ping_timeout`` real
seconds is dropped by ``websockets``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ._clock import Clock, format_time
from ._config import EmulatorConfig
from ._errors import ApiError, cmn102
from ._subscriptions import FaxEvent, Subscription, new_id, parse_filters

__all__ = ["WebSocketGateway"]

log = logging.getLogger("ringfax.emulator")

_SECRET_QUERY = re.compile(r"((?:access_token|wsc)=)[^&\s]+")


class _RedactTokens(logging.Filter):
    """The websockets library logs request paths at DEBUG; their tokens are credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = _SECRET_QUERY.sub(r"\1[redacted]", text)
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


ws_log = logging.getLogger("ringfax.emulator.websocket")
ws_log.addFilter(_RedactTokens())

SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"
MAX_CONNECTIONS_PER_SESSION = 50
MAX_ACTIVE_REQUESTS = 10
MAX_MESSAGE = 1024 * 1024

Render = Callable[[Subscription, FaxEvent], "list[dict[str, Any]]"]


@dataclass
class _Session:
    token: str
    owner: str
    sequence: int = 0
    delivered: int = 0
    subscription: Subscription | None = None
    kept: collections.deque[tuple[int, str]] = field(default_factory=collections.deque)
    connection: ServerConnection | None = None
    outbox: asyncio.Queue[tuple[int, str] | None] | None = None
    connected_at: float = 0.0
    last_activity: float = 0.0
    disconnected_at: float | None = None


class WebSocketGateway:
    """Start with :meth:`start`, stop with :meth:`stop`; :attr:`uri` is the ``/ws`` URL."""

    def __init__(self, config: EmulatorConfig, clock: Clock, render: Render) -> None:
        self._config = config
        self._clock = clock
        self._render = render
        self._tokens: dict[str, tuple[str, float]] = {}
        self._tokens_lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._owners: dict[ServerConnection, str] = {}  # accepted, not yet served
        self._loop: asyncio.AbstractEventLoop | None = None  # made by start()
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.uri = ""

    # -- lifecycle (any thread) -------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="emulator-websockets", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            future.result(10)
        except OSError as exc:
            self.stop()
            host, port = self._config.ws_host, self._config.ws_port
            if exc.errno == errno.EADDRINUSE:
                text = f"WebSocket gateway: port {port} is already in use on {host}"
            else:
                text = f"WebSocket gateway: cannot listen on {host} port {port}: {exc}"
            err = OSError(text)
            err.errno = exc.errno
            raise err from exc
        except BaseException:
            self.stop()
            raise

    async def _start(self) -> None:
        cfg = self._config
        self._server = await serve(
            self._serve,
            cfg.ws_host,
            cfg.ws_port,
            process_request=self._check_request,
            ping_interval=cfg.ws_ping_interval,
            ping_timeout=cfg.ws_ping_timeout,
            close_timeout=cfg.ws_ping_timeout,
            max_size=MAX_MESSAGE,
            server_header="ringfax-emulator",
            logger=ws_log,
        )
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.uri = f"ws://{shown}:{port}/ws"
        self._ticker = asyncio.ensure_future(self._tick())

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._stop(), loop)
            try:
                future.result(10)
            except Exception:  # pragma: no cover - already broken; still stop the loop
                log.exception("stopping the WebSocket gateway")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        loop.close()

    async def _stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def issue_token(self, owner: str) -> dict[str, Any]:
        """``POST /restapi/oauth/wstoken``: a single-use token for ``ws_token_ttl`` s."""
        token = secrets.token_urlsafe(24)
        now = self._clock.now()
        with self._tokens_lock:
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (owner, now + self._config.ws_token_ttl)
        return {
            "ws_access_token": token,
            "uri": self.uri,
            "expires_in": int(self._config.ws_token_ttl),
        }

    def publish(self, event: FaxEvent) -> None:
        """Hand an event to the gateway (any thread; never blocks)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # closed by stop() meanwhile
                loop.call_soon_threadsafe(self._publish, event)

    def drop_connections(self) -> None:
        """Cut every WebSocket connection without a closing handshake, as a gateway restart
        would; sessions stay recoverable (tests)."""
        asyncio.run_coroutine_threadsafe(self._drop(), self._running()).result(10)

    async def _drop(self) -> None:
        for session in self._sessions.values():
            if session.connection is not None:
                session.connection.transport.abort()
                self._detach(session)

    def _running(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            raise RuntimeError("the WebSocket gateway is not running")
        return self._loop

    # -- connections (the loop) -------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path.rstrip("/") != "/ws":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        token = parse_qs(url.query).get("access_token", [""])[0]
        with self._tokens_lock:
            found = self._tokens.pop(token, None)
        if found is None or found[1] <= self._clock.now():
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid or expired token\n")
        self._owners[connection] = found[0]
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        owner = self._owners.pop(connection)
        wsc = parse_qs(urlsplit(connection.request.path if connection.request else "").query)
        session, recovery = self._attach(owner, wsc.get("wsc", [None])[0])
        now = self._clock.now()
        session.connection = connection
        session.connected_at = session.last_activity = now
        session.disconnected_at = None
        outbox: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
        session.outbox = outbox
        details: dict[str, Any] = {
            "creationTime": format_time(now),
            "maxConnectionsPerSession": MAX_CONNECTIONS_PER_SESSION,
            "recoveryBufferSize": self._config.ws_recovery_buffer,
            "recoveryTimeout": int(self._config.ws_recovery_timeout),
            "idleTimeout": int(self._config.ws_idle_timeout),
            "absoluteTimeout": int(self._config.ws_absolute_timeout),
            "maxActiveRequests": MAX_ACTIVE_REQUESTS,
        }
        if recovery is not None:
            details["recoveryState"] = recovery
        outbox.put_nowait((0, self._message(session, "ConnectionDetails", new_id(), 200, details)))
        if recovery == "Successful":
            for kept in session.kept:
                if kept[0] > session.delivered:
                    outbox.put_nowait(kept)
        writer = asyncio.ensure_future(self._write(session, connection, outbox))
        try:
            async for message in connection:
                if session.connection is not connection:
                    break
                session.last_activity = self._clock.now()
                reply = self._answer(session, message)
                if reply is not None:
                    outbox.put_nowait((0, reply))
        except ConnectionClosed:
            pass
        finally:
            outbox.put_nowait(None)
            writer.cancel()
            if session.connection is connection:
                self._detach(session)

    def _attach(self, owner: str, wsc: str | None) -> tuple[_Session, str | None]:
        if wsc is not None:
            old = self._sessions.get(wsc)
            limit = self._config.ws_recovery_timeout
            now = self._clock.now()
            if (
                old is not None
                and old.owner == owner
                and (old.disconnected_at is None or now - old.disconnected_at <= limit)
            ):
                if old.connection is not None:  # the same session from a new socket
                    old.connection.transport.abort()
                    self._detach(old)
                return old, "Successful"
        session = _Session(secrets.token_hex(12), owner)
        session.kept = collections.deque(maxlen=self._config.ws_recovery_buffer)
        self._sessions[session.token] = session
        return session, None if wsc is None else "Failed"

    def _detach(self, session: _Session) -> None:
        if session.outbox is not None:
            session.outbox.put_nowait(None)
        session.connection = None
        session.outbox = None
        session.disconnected_at = self._clock.now()

    async def _write(
        self,
        session: _Session,
        connection: ServerConnection,
        outbox: asyncio.Queue[tuple[int, str] | None],
    ) -> None:
        """Send queued messages in order; ``sequence`` > 0 marks a notification, counted
        as delivered once written."""
        while True:
            item = await outbox.get()
            if item is None:
                return
            sequence, text = item
            try:
                await connection.send(text)
            except ConnectionClosed:
                return
            if sequence and session.connection is connection:
                session.delivered = max(session.delivered, sequence)

    def _message(
        self, session: _Session, kind: str, message_id: str, status: int, body: Any = None
    ) -> str:
        meta: dict[str, Any] = {"type": kind, "messageId": message_id, "status": status}
        if kind in ("ClientRequest", "ServerNotification"):
            meta["headers"] = {"Content-Type": "application/json"}
        meta["wsc"] = {"token": session.token, "sequence": session.sequence}
        parts: list[Any] = [meta] if body is None else [meta, body]
        return json.dumps(parts, ensure_ascii=False)

    # -- client messages --------------------------------------------------------------------

    def _answer(self, session: _Session, message: str | bytes) -> str | None:
        try:
            parts = json.loads(message)
            meta = parts[0]
            kind = meta["type"]
            message_id = str(meta.get("messageId") or new_id())
        except (ValueError, TypeError, KeyError, IndexError):
            body = {"errorCode": "CMN-103", "message": "JSON can't be parsed."}
            return self._message(session, "Error", new_id(), 400, body)
        if kind == "Heartbeat":
            return self._message(session, "Heartbeat", message_id, 200)
        if kind != "ClientRequest":
            body = {"errorCode": "CMN-101", "message": "Parameter [type] value is invalid."}
            return self._message(session, "Error", message_id, 400, body)
        try:
            status, answer = self._request(
                session,
                str(meta.get("method") or "GET").upper(),
                str(meta.get("path") or ""),
                parts[1] if len(parts) > 1 else None,
            )
        except ApiError as exc:
            status, answer = exc.status, exc.body()
        return self._message(session, "ClientRequest", message_id, status, answer)

    def _request(
        self, session: _Session, method: str, path: str, body: Any
    ) -> tuple[int, dict[str, Any] | None]:
        """Subscription requests over the WebSocket (the only REST the gateway answers)."""
        path = urlsplit(path).path.rstrip("/")
        now = self._clock.now()
        current = session.subscription
        base = self._config_base()
        if path == SUBSCRIPTION_PATH and method == "POST":
            if not isinstance(body, dict):
                raise ApiError(400, "CMN-103", "JSON can't be parsed.")
            mode = body.get("deliveryMode") or {}
            if not isinstance(mode, dict) or mode.get("transportType", "WebSocket") != "WebSocket":
                raise ApiError(
                    400,
                    "CMN-101",
                    "Parameter [deliveryMode.transportType] value is invalid.",
                    parameter_name="deliveryMode.transportType",
                )
            filters = parse_filters(body.get("eventFilters"), self._config)
            lifetime = int(self._config.ws_absolute_timeout)
            session.subscription = Subscription(
                id=new_id(),
                owner=session.owner,
                filters=filters,
                transport="WebSocket",
                address=None,
                verification_token=None,
                expires_in=lifetime,
                creation=now,
                expiration=now + lifetime,
            )
            return 200, session.subscription.info(base, now)
        prefix = SUBSCRIPTION_PATH + "/"
        if not path.startswith(prefix):
            raise ApiError(404, "AGW-404", "Resource not found")
        sub_id = path[len(prefix) :]
        if current is None or current.id != sub_id:
            raise cmn102("subscriptionId", sub_id)
        if method == "GET":
            return 200, current.info(base, now)
        if method == "PUT":
            if isinstance(body, dict) and "eventFilters" in body:
                filters = parse_filters(body.get("eventFilters"), self._config)
                session.subscription = current = replace(current, filters=filters)
            return 200, current.info(base, now)
        if method == "DELETE":
            session.subscription = None
            return 204, None
        raise ApiError(405, "AGW-405", f"Method {method} not allowed")

    def _config_base(self) -> str:
        return self.uri.replace("ws://", "http://").rsplit("/ws", 1)[0]

    # -- events and timers (the loop) -------------------------------------------------------

    def _publish(self, event: FaxEvent) -> None:
        for session in list(self._sessions.values()):
            sub = session.subscription
            if sub is None:
                continue
            for payload in self._render(sub, event):
                session.sequence += 1
                text = self._message(session, "ServerNotification", new_id(), 200, payload)
                session.kept.append((session.sequence, text))
                if session.outbox is not None:
                    session.outbox.put_nowait((session.sequence, text))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._config.push_poll_interval)
            now = self._clock.now()
            cfg = self._config
            for stale in [c for c in self._owners if c.state is State.CLOSED]:
                del self._owners[stale]  # its opening handshake failed
            for token, session in list(self._sessions.items()):
                conn = session.connection
                if conn is None:
                    gone = session.disconnected_at
                    if gone is not None and now - gone > cfg.ws_recovery_timeout:
                        del self._sessions[token]
                    continue
                if now - session.last_activity >= cfg.ws_idle_timeout:
                    await self._expire(session, conn, "WSG-902", "Idle timeout expired")
                elif now - session.connected_at >= cfg.ws_absolute_timeout:
                    await self._expire(session, conn, "WSG-903", "Absolute timeout expired")

    async def _expire(
        self, session: _Session, conn: ServerConnection, code: str, text: str
    ) -> None:
        message = self._message(
            session, "Error", new_id(), 408, {"errorCode": code, "message": text}
        )
        self._detach(session)
        try:
            await asyncio.wait_for(conn.send(message), self._config.ws_ping_timeout)
            await asyncio.wait_for(conn.close(1000, text), self._config.ws_ping_timeout)
        except (ConnectionClosed, asyncio.TimeoutError):
            conn.transport.abort()
