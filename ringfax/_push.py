"""Push-driven receiving: events are a trigger, message-sync stays the source of truth.

:class:`InboxSyncWorker` runs :meth:`Inbox.sync <ringfax.Inbox.sync>` in one background
thread whenever an event (or anything else) asks for it; requests that arrive while a sync
runs are coalesced into one more sync, so a burst of events costs a few syncs and a lost
event costs nothing: the next sync (another event, a reconnect, or the periodic resync)
finds the fax. :class:`PushReceiver` feeds it from RingCentral's WebSocket gateway
(docs/push.md): wstoken, connect, ``ConnectionDetails``, subscribe with a ``ClientRequest``,
heartbeats, reconnect with ``wsc`` recovery, and a catch-up sync whenever recovery is not
possible (first start, ``recoveryState`` Failed, a reconnect after the recovery timeout).

The WebSocket half needs the optional ``websockets`` package (the ``fax`` extra); it is
imported when a receiver connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import queue
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ._errors import AuthError, BadRequest, Forbidden, RingFaxError, ValidationError
from ._inbox import Inbox, ReceivedFax
from ._subscriptions import INBOUND_FAX_FILTERS, WebSocketToken

try:  # POSIX only, as the inbox's own lock
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # pragma: no cover - Windows
    _HAVE_FLOCK = False

__all__ = ["RECEIVER_LOCK", "InboxSyncWorker", "PushReceiver", "receiver_lock"]

log = logging.getLogger("ringfax")

RECEIVER_LOCK = ".ringfax-receiver.lock"
"""Held in the inbox directory by a push receiver for as long as it runs."""

MAX_WS_MESSAGE = 1 << 20  # bytes; a notification carries one message record
_STOP = object()
_RESYNC = object()


@contextlib.contextmanager
def receiver_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``DIR/.ringfax-receiver.lock`` (an ``flock``) or refuse: one push receiver per
    directory. Each sync also takes the inbox's own lock, which keeps every fax landing
    exactly once even beside a polling ``ringfax receive``."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    if not _HAVE_FLOCK:  # pragma: no cover - Windows
        yield
        return
    lock = path / RECEIVER_LOCK
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(lock, flags, 0o600)
    except OSError as exc:
        raise RingFaxError(f"cannot open the receiver lock {lock}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RingFaxError(
                f"another ringfax receiver is running on {path} (lock held on {RECEIVER_LOCK})"
            ) from None
        yield
    finally:
        os.close(fd)


class InboxSyncWorker:
    """One thread running ``inbox.sync()`` on request (see the module docstring).

    :meth:`start` begins with a catch-up sync. :meth:`notify` (an event) and
    :meth:`request_sync` never block: a full queue means a sync is already due. A failed sync
    is retried after ``retry_delay`` seconds, doubling up to ``max_retry_delay``; without
    requests the worker syncs every ``resync_interval`` seconds anyway (None: never).
    ``on_received(faxes)`` and ``on_error(exc)`` run in the worker thread.
    """

    def __init__(
        self,
        inbox: Inbox,
        *,
        on_received: Callable[[list[ReceivedFax]], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        resync_interval: float | None = 300.0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
        queue_size: int = 1000,
    ) -> None:
        self.inbox = inbox
        self.on_received = on_received
        self.on_error = on_error
        self.resync_interval = resync_interval
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        #: Number of syncs run (successful or not) and faxes landed by them.
        self.syncs = 0
        self.received = 0
        #: The last sync's error, None after a successful sync.
        self.last_error: Exception | None = None

    def __repr__(self) -> str:
        return f"InboxSyncWorker({self.inbox!r}, syncs={self.syncs})"

    def start(self) -> None:
        """Start the thread; its first act is a catch-up sync."""
        if self._thread is not None:
            raise RingFaxError("the sync worker is already started")
        self._queue.put(_RESYNC)
        self._thread = threading.Thread(target=self._run, name="ringfax-inbox-sync", daemon=True)
        self._thread.start()

    def notify(self, event: Mapping[str, Any] | None = None) -> bool:
        """An event arrived: sync soon. False when the queue was full (a sync is due anyway)."""
        try:
            self._queue.put_nowait(event if event is not None else _RESYNC)
        except queue.Full:
            return False
        return True

    def request_sync(self) -> None:
        """Sync soon (a reconnect, a recreated subscription, ...)."""
        self.notify(None)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every request so far is covered by a finished sync (True) or
        ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                done.wait(left)
        return True

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the running sync (it leaves the inbox consistent) and end the thread."""
        if self._thread is None:
            return
        while True:  # make room for the stop marker; dropped requests only mean fewer syncs
            try:
                self._queue.put_nowait(_STOP)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                    self._queue.task_done()
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        delay = self.retry_delay
        wait = self.resync_interval
        while True:
            taken = 1
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item, taken = _RESYNC, 0
            stop = item is _STOP
            while not stop:  # coalesce everything already queued into this one sync
                try:
                    stop = self._queue.get_nowait() is _STOP
                except queue.Empty:
                    break
                taken += 1
            ok = stop or self._sync_once()
            for _ in range(taken):  # these requests are covered (wait_idle counts them)
                self._queue.task_done()
            if stop:
                return
            if ok:
                delay, wait = self.retry_delay, self.resync_interval
            else:
                wait, delay = delay, min(delay * 2, self.max_retry_delay)

    def _sync_once(self) -> bool:
        self.syncs += 1
        try:
            got = self.inbox.sync()
        except Exception as exc:  # a service keeps going: reported, retried later
            self.last_error = exc
            log.warning("inbox sync failed (retried): %s", exc)
            if self.on_error is not None:
                self.on_error(exc)
            return False
        self.last_error = None
        self.received += len(got)
        if got and self.on_received is not None:
            self.on_received(got)
        return True


class _Token(Protocol):
    def websocket_token(self) -> WebSocketToken: ...


class _Lost(Exception):
    """The connection ended (any reason): reconnect."""


class _Refused(RingFaxError):
    """The gateway refused the subscription request itself (a 4xx other than 429)."""


class PushReceiver:
    """Receives faxes into ``inbox`` driven by RingCentral's WebSocket notifications.

    :meth:`run` blocks until ``stop`` is set (or KeyboardInterrupt); :meth:`arun` is the
    asyncio form (cancel it to stop). ``client`` gives the ws tokens (a
    :class:`~ringfax.FaxClient`; normally the inbox's own client). ``heartbeat``: seconds
    between ``Heartbeat`` messages (default: a third of the gateway's idle timeout, at most
    600 s), which keep the session from the idle timeout (WSG-902). A lost connection is
    retried after ``reconnect_delay`` seconds, doubling up to ``max_reconnect_delay``.
    ``on_event(notification)``, ``on_status(text)``, ``on_received`` and ``on_error`` are
    optional callbacks (``on_received``/``on_error`` run in the sync worker's thread).
    """

    def __init__(
        self,
        inbox: Inbox,
        client: _Token | None = None,
        *,
        event_filters: Sequence[str] = INBOUND_FAX_FILTERS,
        heartbeat: float | None = None,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 30.0,
        resync_interval: float | None = 300.0,
        on_event: Callable[[Mapping[str, Any]], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_received: Callable[[list[ReceivedFax]], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        token_source = client if client is not None else inbox.client
        if not callable(getattr(token_source, "websocket_token", None)):
            raise RingFaxError("the push receiver needs a FaxClient (for websocket_token)")
        self.inbox = inbox
        self.client: _Token = token_source  # type: ignore[assignment]
        self.event_filters = tuple(event_filters)
        self.heartbeat = heartbeat
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.on_event = on_event
        self.on_status = on_status
        self.worker = InboxSyncWorker(
            inbox, on_received=on_received, on_error=on_error, resync_interval=resync_interval
        )
        self._wsc: str | None = None
        self._lost_at: float | None = None
        self._recovery_timeout = 180.0
        #: Connections made, and how many of them recovered the session (``wsc``).
        self.connections = 0
        self.recovered = 0
        self.connected = threading.Event()

    def __repr__(self) -> str:
        return f"PushReceiver({self.inbox!r}, connections={self.connections})"

    def _status(self, text: str) -> None:
        log.info("%s", text)
        if self.on_status is not None:
            self.on_status(text)

    # ------------------------------------------------------------------ running

    def run(self, stop: threading.Event | None = None) -> None:
        """Catch up, then listen until ``stop`` is set, holding the directory's
        :func:`receiver_lock` throughout. Lost connections and unreachable servers are
        retried; refused credentials, permissions or event filters raise."""
        stop = stop or threading.Event()
        try:
            import websockets  # noqa: F401 - the optional dependency, checked up front
        except ImportError:
            raise RingFaxError(
                "receiving over WebSocket needs the websockets package: pip install 'mimewire[fax]'"
            ) from None
        with receiver_lock(self.inbox.directory):
            self.worker.start()
            delay = self.reconnect_delay
            try:
                while not stop.is_set():
                    try:
                        self._session(stop)
                        delay = self.reconnect_delay
                    except _Lost as exc:
                        self._status(f"WebSocket connection lost ({exc}); reconnecting")
                        if self.connected.is_set():
                            delay = self.reconnect_delay
                    except (AuthError, BadRequest, Forbidden, ValidationError, _Refused):
                        raise  # credentials, permissions or filters: retrying cannot help
                    except (RingFaxError, OSError) as exc:
                        self._status(f"cannot reach the WebSocket gateway ({exc}); retrying")
                    except Exception as exc:  # websockets' errors; the loop must keep going
                        self._status(f"WebSocket error ({type(exc).__name__}: {exc}); retrying")
                    if self.connected.is_set():
                        self._lost_at = time.monotonic()
                        self.connected.clear()
                    if stop.wait(delay):
                        break
                    delay = min(delay * 2, self.max_reconnect_delay)
            finally:
                self.connected.clear()
                self.worker.stop()

    async def arun(self) -> None:
        """:meth:`run` in a worker thread; cancelling this task stops it cleanly."""
        stop = threading.Event()
        task = asyncio.ensure_future(asyncio.to_thread(self.run, stop))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            stop.set()
            await task
            raise

    # ------------------------------------------------------------ one connection

    def _url(self, token: WebSocketToken) -> tuple[str, bool]:
        params = {"access_token": token.token}
        recovering = (
            self._wsc is not None
            and self._lost_at is not None
            and time.monotonic() - self._lost_at < self._recovery_timeout
        )
        if recovering:
            assert self._wsc is not None
            params["wsc"] = self._wsc
        sep = "&" if urllib.parse.urlsplit(token.uri).query else "?"
        return token.uri + sep + urllib.parse.urlencode(params), recovering

    def _session(self, stop: threading.Event) -> None:
        from websockets.exceptions import ConnectionClosed  # optional dependency
        from websockets.sync.client import connect

        url, recovering = self._url(self.client.websocket_token())
        with connect(
            url,
            open_timeout=10,
            close_timeout=2,
            max_size=MAX_WS_MESSAGE,
            compression=None,
            proxy=None,  # as the REST transport: proxy variables are not consulted
            logger=_WS_LOG,
        ) as ws:
            try:
                self._listen(ws, stop, recovering)
            except ConnectionClosed as exc:
                raise _Lost(str(exc) or "closed") from None
            except TimeoutError:
                raise _Lost("no answer from the gateway") from None

    def _listen(self, ws: Any, stop: threading.Event, recovering: bool) -> None:
        meta, body = _parse(ws.recv(timeout=10))
        if meta.get("type") != "ConnectionDetails":
            raise _Lost(f"expected ConnectionDetails, got {meta.get('type')!r}")
        self._take_details(meta, body)
        self.connections += 1
        if recovering and body.get("recoveryState") == "Successful":
            self.recovered += 1
            self._status("WebSocket session recovered (missed events are replayed)")
        else:
            if recovering:
                self._status("WebSocket session not recovered: subscribing again, catching up")
            self._subscribe(ws)
        # the catch-up: without recovery, events between the last sync and the subscription
        # are lost; with it, more than recoveryBufferSize missed events would be. One
        # incremental message-sync covers both.
        self.worker.request_sync()
        self.connected.set()
        interval = self._heartbeat_interval(body)
        next_beat = time.monotonic() + interval
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                ws.send(json.dumps([{"type": "Heartbeat", "messageId": str(uuid.uuid4())}]))
                next_beat = now + interval
            try:
                raw = ws.recv(timeout=min(0.25, max(0.0, next_beat - now)))
            except TimeoutError:
                continue
            self._handle(*_parse(raw))
        ws.close()

    def _take_details(self, meta: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        wsc = meta.get("wsc")
        if isinstance(wsc, Mapping) and isinstance(wsc.get("token"), str):
            self._wsc = wsc["token"]
        recovery = body.get("recoveryTimeout")
        if isinstance(recovery, (int, float)) and recovery > 0:
            self._recovery_timeout = float(recovery)

    def _heartbeat_interval(self, details: Mapping[str, Any]) -> float:
        if self.heartbeat is not None:
            return self.heartbeat
        idle = details.get("idleTimeout")
        if isinstance(idle, (int, float)) and idle > 0:
            return max(1.0, min(600.0, idle / 3))
        return 600.0

    def _subscribe(self, ws: Any) -> None:
        request_id = str(uuid.uuid4())
        ws.send(
            json.dumps(
                [
                    {
                        "type": "ClientRequest",
                        "messageId": request_id,
                        "method": "POST",
                        "path": "/restapi/v1.0/subscription/",
                    },
                    {
                        "eventFilters": list(self.event_filters),
                        "deliveryMode": {"transportType": "WebSocket"},
                    },
                ]
            )
        )
        deadline = time.monotonic() + 10
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Lost("no answer to the subscription request within 10 s")
            meta, body = _parse(ws.recv(timeout=left))
            if meta.get("type") == "ClientRequest" and meta.get("messageId") == request_id:
                status = meta.get("status")
                if status != 200:
                    refused = isinstance(status, int) and 400 <= status < 500 and status != 429
                    raise (_Refused if refused else RingFaxError)(
                        f"the gateway refused the subscription: status {meta.get('status')}, "
                        f"{body.get('errorCode') or ''} {body.get('message') or ''}".rstrip()
                    )
                return
            self._handle(meta, body)

    def _handle(self, meta: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        kind = meta.get("type")
        wsc = meta.get("wsc")
        if isinstance(wsc, Mapping) and isinstance(wsc.get("token"), str):
            self._wsc = wsc["token"]
        if kind == "ServerNotification":
            if self.on_event is not None:
                self.on_event(body)
            self.worker.notify(body)
        elif kind == "Error":
            code = body.get("errorCode")
            self._status(f"gateway error {code}: {body.get('message')}")


class _NoDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger without its debug records: they carry the request line, whose
    query holds the ws access token."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_WS_LOG = _NoDebug(logging.getLogger("ringfax.websocket"), {})


def _parse(raw: str | bytes) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """A gateway message ``[meta]`` or ``[meta, body]``; anything else ends the connection."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise _Lost("the gateway sent a message that is not JSON") from None
    if not isinstance(data, list) or not data or not isinstance(data[0], Mapping):
        raise _Lost("the gateway sent a message that is not [meta, body]")
    body = data[1] if len(data) > 1 and isinstance(data[1], Mapping) else {}
    return data[0], body
