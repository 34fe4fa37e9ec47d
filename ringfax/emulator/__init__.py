"""A local, RingCentral-compatible fax API server for tests, CI and demos.

::

    from ringfax import FaxClient
    from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

    with Emulator(config=EmulatorConfig(send_delay=1)) as emu:
        client = FaxClient(emu.url, client_id=emu.client_id,
                           client_secret=emu.client_secret, jwt=emu.jwt)
        fax = client.send_fax(to=["+16505550123"], attachments=["fax.pdf"])

It implements the endpoints of docs/ringcentral.md §9 over real HTTP/1.1 (keep-alive,
``Content-Length`` and chunked request bodies, concurrent clients, uploads streamed to disk
through :func:`mimewire.parse`): ``POST /restapi/oauth/token`` and ``/revoke``,
``POST …/extension/{e}/fax`` (form-data JSON envelope, form-data fields, multipart/mixed,
JSON resend/forward), ``GET/PUT/PATCH/DELETE …/message-store/{id}``, ``GET …/message-store``
(paging + navigation; ``direction``, ``readStatus``, ``availability`` filters),
``GET …/message-store/{id}/content/{attachmentId}``, ``GET …/message-sync`` (FSync/ISync,
see :mod:`ringfax.emulator._sync`) and ``GET /restapi/v1.0/dictionary/fax-cover-page``.
Received faxes are injected with :meth:`Emulator.inject_inbound_fax` or
``POST /emulator/v1/inbound-fax`` (emulator-only, no token; see
:mod:`ringfax.emulator._inbound`). Push notifications (WebHook subscriptions under
``/restapi/v1.0/subscription``, ``POST /restapi/oauth/wstoken`` and a WebSocket gateway
on its own port) are described in ``docs/push.md``. Every response carries ``RCRequestId``;
API responses carry ``X-Rate-Limit-*``. Records live in SQLite, documents in files, under
``data_dir`` (see :mod:`ringfax.emulator._store`).

Status progression and the scenario numbers (recipient numbers whose last four digits
choose a failure) are described in :class:`EmulatorConfig` and :data:`DEFAULT_SCENARIOS`.
Documents of sent faxes are listed as attachments of ``type`` ``SourceDocument`` (the
emulator does not render faxes); those of received faxes as ``RenderedDocument``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ._api import Api
from ._clock import Clock, ManualClock, RealClock
from ._config import DEFAULT_SCENARIOS, EmulatorConfig, RateLimit, Scenario
from ._server import EmulatorServer, bind_http_server
from ._services import Services
from ._store import AttachmentRow, FaxRow, RecipientRow, Store

__all__ = [
    "DEFAULT_SCENARIOS",
    "AttachmentRow",
    "Clock",
    "Emulator",
    "EmulatorConfig",
    "FaxRow",
    "ManualClock",
    "RateLimit",
    "RealClock",
    "RecipientRow",
    "Scenario",
    "Store",
]


class Emulator:
    """The emulator: ``start()``/``stop()`` or use it as a context manager.

    ``data_dir``: where records and documents are kept; ``None`` -> a temporary directory
    removed by :meth:`stop`. Starting again on the same directory finds every fax; while
    one emulator runs on a directory, no other can start on it (``docs/emulator.md``).
    ``port=0`` picks a free port; :attr:`url` tells which. ``clock``: a :class:`ManualClock`
    for tests (``clock.advance(s)`` drives status progression, token expiry and rate-limit
    windows); real time by default.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.clock: Clock = clock or RealClock()
        self._host = host
        self._port = port
        self._given_dir = Path(data_dir) if data_dir is not None else None
        self._data_dir: Path | None = None
        self._server: EmulatorServer | None = None
        self._store: Store | None = None
        self._services: Services | None = None
        self._refused_before: dict[str, int] = {}  # 429s of earlier runs of this emulator
        self._lock = threading.Lock()

    @property
    def client_id(self) -> str:
        """The client id the token endpoint accepts."""
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        """The client secret the token endpoint accepts."""
        return self.config.client_secret

    @property
    def jwt(self) -> str:
        """The JWT assertion the jwt-bearer grant accepts."""
        return self.config.jwt

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (only while running)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.url

    @property
    def data_dir(self) -> Path:
        """The data directory in use."""
        if self._data_dir is None:
            raise RuntimeError("the emulator is not running")
        return self._data_dir

    @property
    def store(self) -> Store:
        """The durable store (for inspection in tests: ``count_faxes()``, ``all_faxes()``)."""
        if self._store is None:
            raise RuntimeError("the emulator is not running")
        return self._store

    @property
    def running(self) -> bool:
        """Whether the server is running."""
        return self._server is not None

    def _open(self) -> EmulatorServer:
        """Bind first (a busy port fails before anything is created), then open the store.
        On any failure everything made so far is undone: socket closed, store closed,
        temporary directory removed."""
        httpd = bind_http_server(self._host, self._port)
        try:
            if self._given_dir is not None:
                self._data_dir = self._given_dir
            else:
                self._data_dir = Path(tempfile.mkdtemp(prefix="ringfax-emulator-"))
            self._store = Store(self._data_dir)
            self._services = Services.create(self.config, self._store, self.clock)
            server = EmulatorServer(httpd, Api(self._services))
            self._services.push.start(server.url)
            return server
        except BaseException:
            httpd.server_close()
            self._close()
            raise

    def start(self) -> Emulator:
        """Bind and serve in a background thread; returns ``self``.

        A port already in use raises ``OSError("port N is already in use on HOST")``
        (``errno`` EADDRINUSE) before anything is created; a data directory another emulator
        holds raises ``DataDirInUse`` (an ``OSError`` naming the directory and the holder's
        pid); any failure leaves no socket, thread, store handle or temporary directory
        behind."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the emulator is already running")
            server = self._open()
            self._server = server
            try:
                server.start()
            except BaseException:
                server.stop()
                self._close()
                raise
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until interrupted (Ctrl-C), then clean up."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the emulator is already running")
            self._server = self._open()
        try:
            self._server.serve_forever()
        finally:
            with self._lock:
                self._close()

    def stop(self) -> None:
        """Stop serving, close the store; remove the data directory if it was temporary."""
        with self._lock:
            if self._server is not None:
                self._server.stop()
            self._close()

    def _close(self) -> None:
        if self._services is not None:
            self._refused_before = self.rate_limited_by_group()
            self._services.push.stop()
            self._services = None
        if self._server is not None:
            self._server.httpd.server_close()
            self._server.httpd.close_connections()
        self._server = None
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._given_dir is None and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
        self._data_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def rate_limited_by_group(self) -> dict[str, int]:
        """429 answers this emulator gave (every start counts; also after :meth:`stop`), by
        rate-limit group (``Light``, ``Medium``, ``Heavy``, ``Auth``); groups without one are
        left out."""
        counts = dict(self._refused_before)
        if self._services is not None:
            for group, count in self._services.limiter.refused().items():
                counts[group] = counts.get(group, 0) + count
        return counts

    @property
    def rate_limited_count(self) -> int:
        """429 answers in all (see :meth:`rate_limited_by_group`)."""
        return sum(self.rate_limited_by_group().values())

    def count_faxes(self) -> int:
        """Number of stored faxes."""
        return self.store.count_faxes()

    def faxes(self) -> list[FaxRow]:
        """Every stored fax, oldest first."""
        return self.store.all_faxes()

    def inject_inbound_fax(
        self,
        *,
        from_number: str,
        to_number: str | None = None,
        documents: Sequence[tuple[str, str, bytes]],
        subject: str | None = None,
    ) -> dict[str, Any]:
        """Make the emulated extension receive a fax; return its message-store record JSON.

        ``documents``: ``(filename, content_type, data)`` per document, at least one.
        ``to_number`` defaults to :attr:`EmulatorConfig.from_number` (the extension's fax
        number), ``subject`` to ``from_number``. The fax is ``Inbound``, ``Received``,
        ``Unread``; clients see it in listings (``direction=Inbound``), message-sync,
        and can download, mark read, delete and forward it. Raises ``TypeError`` /
        ``ValueError`` (naming the argument) for bad input, ``RuntimeError`` when the
        emulator is not running. Same as ``POST /emulator/v1/inbound-fax``.
        """
        with self._lock:
            server = self._server
            if server is None:
                raise RuntimeError("the emulator is not running")
            services = server.api.services
            row = services.inbound.inject(
                from_number=from_number,
                to_number=to_number,
                documents=documents,
                subject=subject,
            )
            services.push.fax_changed("new", row)
            return services.faxes.render(row, server.url, store_style=True)

    def drop_websockets(self) -> None:
        """Cut every WebSocket gateway connection without a closing handshake, as a gateway
        restart would; sessions stay recoverable with their ``wsc`` token (tests)."""
        with self._lock:
            if self._services is None:
                raise RuntimeError("the emulator is not running")
            gateway = self._services.push.gateway
            if gateway is None:
                raise RuntimeError("no WebSocket gateway: the websockets package is missing")
            gateway.drop_connections()
