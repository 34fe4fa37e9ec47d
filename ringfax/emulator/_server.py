"""The HTTP layer: turns a connection's requests into :class:`ApiRequest` values for the
socket-free API (:mod:`ringfax.emulator._api`) and writes its answers back (connections,
pool and deadlines: :mod:`ringfax.emulator._httpd`)."""

from __future__ import annotations

import errno
import logging
import threading
import uuid
from typing import Any

from ._api import Api
from ._errors import ApiError, too_large
from ._exchange import ApiRequest, ApiResponse, error_response
from ._httpd import DeadlineHandler, PooledHTTPServer, RequestBody, iter_chunks

__all__ = ["EmulatorServer", "bind_http_server"]

log = logging.getLogger("ringfax.emulator")

_DRAIN_LIMIT = 128 * 1024 * 1024
_EPILOGUE_DRAIN = 1024 * 1024


class _Handler(DeadlineHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ringfax-emulator"
    sys_version = ""
    # Responses are written in several small pieces; with Nagle on, each one waits for the
    # client's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True

    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _write(self, response: ApiResponse) -> None:
        status = response.status
        self.send_response(status)
        self.send_header("RCRequestId", str(uuid.uuid4()))
        self.send_header("RoutingKey", "EMU01P01")
        self.send_header("Content-Language", "en-US")
        for key, value in response.headers.items():
            self.send_header(key, value)
        stream = response.stream
        if status == 204:
            self.send_header("Content-Length", "0")
        elif stream is not None:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(response.length))
        else:
            if response.body:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD" or status == 204:
            return
        if stream is not None:
            sent = 0
            for chunk in iter_chunks(stream, response.length):
                self.wfile.write(chunk)
                sent += len(chunk)
            if sent != response.length:  # cannot happen to a file held open; never answer short
                log.error(
                    "document shorter than its Content-Length (%d < %d)", sent, response.length
                )
                self.close_connection = True
        elif response.body:
            self.wfile.write(response.body)

    def _handle(self) -> None:
        api = self.server.api
        cap = api.services.config.max_body_size
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length: int | None = None
        try:
            if not chunked:
                raw_len = self.headers.get("Content-Length")
                length = int(raw_len) if raw_len is not None else 0
                if length < 0:
                    raise ValueError
        except ValueError:
            self.close_connection = True
            self._write(error_response(ApiError(400, "CMN-104", "Cannot parse request")))
            return
        self.begin_body()
        body = RequestBody(self.rfile, length, chunked, cap)  # type: ignore[arg-type]
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = ApiRequest(self.command, self.path, headers, body, self.server.base_url)
        try:
            response = api.handle(request)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        try:
            if response.close:
                self.close_connection = True
            elif not body.done:
                limit = _DRAIN_LIMIT if response.status >= 400 else _EPILOGUE_DRAIN
                if not body.drain(limit):
                    self.close_connection = True
            self._write(response)
        finally:
            if response.stream is not None:
                response.stream.close()

    def handle_expect_100(self) -> bool:
        """Refuse an ``Expect: 100-continue`` upload over the body cap before it is sent."""
        cap = self.server.api.services.config.max_body_size
        raw_len = (self.headers.get("Content-Length") or "").strip()
        if raw_len.isdigit() and int(raw_len) > cap:
            self.close_connection = True
            self._write(error_response(too_large(cap)))
            return False
        return super().handle_expect_100()

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle


class _HTTPServer(PooledHTTPServer):
    api: Api
    base_url: str


def bind_http_server(host: str, port: int) -> _HTTPServer:
    """Bind (and listen on) ``host:port``. A failure is an ``OSError`` whose message says
    what went wrong in words, e.g. ``port 8099 is already in use on 127.0.0.1``; its
    ``errno`` is the original one. Nothing stays open after a failure (socketserver closes
    the socket itself)."""
    try:
        return _HTTPServer((host, port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            text = f"port {port} is already in use on {host}"
        elif exc.errno == errno.EACCES:
            text = f"no permission to listen on port {port} ({host})"
        elif exc.errno == errno.EADDRNOTAVAIL:
            text = f"address {host} is not available on this machine (port {port})"
        else:
            text = f"cannot listen on {host} port {port}: {exc.strerror or exc}"
        err = OSError(text)
        err.errno = exc.errno
        raise err from exc
    except (OverflowError, UnicodeError) as exc:  # port > 65535, bad host name
        raise OSError(f"cannot listen on {host!r} port {port}: {exc}") from exc


class EmulatorServer:
    """Runs a bound HTTP server (see :func:`bind_http_server`) in a background thread,
    answering through ``api``."""

    def __init__(self, httpd: _HTTPServer, api: Api) -> None:
        self.httpd = httpd
        self.api = api
        self.httpd.api = api
        self.httpd.limits = api.services.config
        bound_host, bound_port = self.httpd.server_address[:2]
        if isinstance(bound_host, bytes):
            bound_host = bound_host.decode()
        shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        self.url = f"http://{shown}:{bound_port}"
        self.httpd.base_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self.httpd.server_close()
        self.httpd.close_connections()
