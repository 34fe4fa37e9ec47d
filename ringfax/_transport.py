"""HTTP transports: one method, ``send(request) -> response``.

:class:`Urllib3Transport` is the real one (the only module of ringfax that imports urllib3;
every urllib3 exception becomes a :class:`~ringfax.TransportError` here). urllib3 is an
optional extra (``pip install 'mimewire[fax]'``): without it ``import ringfax`` still works and
creating a :class:`Urllib3Transport` raises :class:`~ringfax.RingFaxError` saying how to
install it. :class:`FunctionTransport`
wraps a plain function — handy in tests::

    def handler(request: Request) -> Response:
        return Response(200, {"Content-Type": "application/json"}, b'{"id": 1}')

    client = FaxClient("https://platform.example", access_token="t",
                       transport=FunctionTransport(handler))
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

from ._errors import RingFaxError, TransportError, redact_url

if TYPE_CHECKING:
    import urllib3

MAX_BUFFERED_BODY = 32 * 1024 * 1024
"""Most bytes of a non-streamed answer (JSON) held in memory; one more marks it as too large."""

URLLIB3_MISSING = "ringfax needs urllib3: pip install 'mimewire[fax]'"
"""The message of the :class:`~ringfax.RingFaxError` raised when urllib3 is not installed."""


def _urllib3() -> Any:
    """The urllib3 module, or :class:`RingFaxError` telling how to install it."""
    try:
        import urllib3
    except ImportError:
        raise RingFaxError(URLLIB3_MISSING) from None
    return urllib3


__all__ = [
    "MAX_BUFFERED_BODY",
    "URLLIB3_MISSING",
    "Body",
    "FunctionTransport",
    "HeaderMap",
    "Request",
    "Response",
    "Transport",
    "Urllib3Transport",
]

Body = Union[bytes, Iterable[bytes], IO[bytes], None]  # noqa: UP007 (runtime alias, py3.10)
"""A request body: bytes, an iterable of bytes chunks, a binary file-like object, or None."""


class HeaderMap(Mapping[str, str]):
    """A case-insensitive, read-only header mapping (repeated headers joined with ``, ``)."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._data: dict[str, tuple[str, str]] = {}
        for key, value in pairs:
            lkey = key.lower()
            if lkey in self._data:
                self._data[lkey] = (self._data[lkey][0], f"{self._data[lkey][1]}, {value}")
            else:
                self._data[lkey] = (key, value)

    def __getitem__(self, key: str) -> str:
        return self._data[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def __repr__(self) -> str:
        return f"HeaderMap({dict(self.items())!r})"


_REDACTED_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}


@dataclass
class Request:
    """An HTTP request as handed to a transport.

    ``body`` is bytes, an iterable of bytes chunks (streamed as is), a binary file-like object,
    or None; ``content_length`` is its exact size when known (then the body is NOT sent
    chunked). ``stream=True`` asks for a response whose body is read lazily (downloads).
    ``timeout`` is ``(connect, read)`` seconds or None for the transport's default.
    """

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = None
    content_length: int | None = None
    stream: bool = False
    timeout: tuple[float, float] | None = None

    def __repr__(self) -> str:
        return f"Request({self.method} {redact_url(self.url)})"

    def redacted_headers(self) -> dict[str, str]:
        """The headers with credentials replaced by ``***`` (safe to log)."""
        return {
            k: ("***" if k.lower() in _REDACTED_HEADERS else v) for k, v in self.headers.items()
        }

    def read_body(self) -> bytes:
        """The whole body as bytes (consumes an iterable/file body; for tests and small bodies)."""
        body = self.body
        if body is None:
            return b""
        if isinstance(body, (bytes, bytearray, memoryview)):
            return bytes(body)
        if hasattr(body, "read"):
            chunks = []
            while True:
                chunk = body.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        return b"".join(bytes(c) for c in body)


class Response:
    """An HTTP response: ``status``, case-insensitive ``headers``, ``read()``/``stream()``.

    ``body`` is either bytes or an iterator of byte chunks (read lazily); ``release`` is called
    once by :meth:`close`.
    """

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | Iterable[bytes] = b"",
        *,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.headers: HeaderMap = headers if isinstance(headers, HeaderMap) else HeaderMap(headers)
        self._body = body
        self._release = release
        self._consumed = False
        self._closed = False

    def __repr__(self) -> str:
        return f"Response({self.status})"

    def read(self, limit: int | None = None) -> bytes:
        """The whole body — or its first ``limit`` bytes — then close (later calls: b"")."""
        try:
            if limit is None:
                return b"".join(self.stream())
            out = bytearray()
            for chunk in self.stream():
                out += chunk[: limit - len(out)]
                if len(out) >= limit:
                    break
            return bytes(out)
        finally:
            self.close()

    def stream(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """Yield the body in chunks (once). ``chunk_size`` is a hint for lazy bodies."""
        if self._consumed:
            return
        self._consumed = True
        body = self._body
        if isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size]
            return
        for chunk in body:
            if chunk:
                yield chunk

    def json(self) -> Any:
        """The body parsed as JSON."""
        import json

        data = self.read()
        return json.loads(data.decode("utf-8")) if data.strip() else None

    def close(self) -> None:
        """Release the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._release is not None:
                self._release()


@runtime_checkable
class Transport(Protocol):
    """Anything with ``send(request) -> Response`` (and optionally ``close()``)."""

    def send(self, request: Request) -> Response:
        """Perform one HTTP exchange. Raise :class:`TransportError` when there is no answer."""
        ...


class FunctionTransport:
    """A transport that is a function ``fn(request) -> Response`` (for tests and stubs).

    The function may raise :class:`TransportError` to simulate network failures.
    """

    def __init__(self, fn: Callable[[Request], Response]) -> None:
        self.fn = fn

    def send(self, request: Request) -> Response:
        """Call the function."""
        return self.fn(request)

    def close(self) -> None:
        """Nothing to release."""


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return redact_url(text)


def translate_error(exc: BaseException, method: str, url: str) -> TransportError:
    """Map a urllib3 / OS exception to :class:`TransportError` with the right ``.sent``."""
    u3exc = _urllib3().exceptions
    where = f"{method} {redact_url(url)}"
    sent = True
    kind = "connection error"
    if isinstance(exc, u3exc.ProxyError):
        # ProxyError wraps a failure to reach (or tunnel through) the proxy: nothing was sent
        sent, kind = False, "proxy connection failed"
    elif isinstance(exc, (u3exc.NewConnectionError, u3exc.NameResolutionError)):
        sent, kind = False, "could not connect"
    elif isinstance(exc, u3exc.ConnectTimeoutError):
        sent, kind = False, "connect timeout"
    elif isinstance(exc, u3exc.ReadTimeoutError):
        kind = "read timeout (the request may have been processed)"
    elif isinstance(exc, u3exc.SSLError):
        inner = exc.args[0] if exc.args else None
        if isinstance(inner, (ssl.SSLCertVerificationError, ssl.CertificateError)):
            sent, kind = False, "TLS certificate verification failed"
        else:
            kind = "TLS error"
    elif isinstance(exc, u3exc.ProtocolError):
        kind = "connection dropped"
    elif isinstance(exc, u3exc.TimeoutError):
        kind = "timeout"
    elif isinstance(exc, ConnectionRefusedError):
        sent, kind = False, "connection refused"
    return TransportError(f"{where}: {kind}: {_describe(exc)}", sent=sent)


class Urllib3Transport:
    """A pooled urllib3 transport with connect/read timeouts and TLS verification on.

    ``pool_manager``: bring your own (proxies, custom TLS); otherwise a ``PoolManager`` is
    created with ``verify`` (True, or a CA bundle path) and ``maxsize``. urllib3's own retries
    and redirects are disabled: the client decides about retries. A non-streamed answer is read
    into memory up to ``max_buffered`` bytes plus one (the client reports anything longer as an
    unreadable answer); downloads stream.
    """

    def __init__(
        self,
        pool_manager: urllib3.PoolManager | None = None,
        *,
        timeout: tuple[float, float] = (10.0, 120.0),
        verify: bool | str = True,
        maxsize: int = 4,
        max_buffered: int = MAX_BUFFERED_BODY,
    ) -> None:
        urllib3 = _urllib3()
        self.max_buffered = max_buffered
        self._u3 = urllib3
        if pool_manager is None:
            kwargs: dict[str, Any] = {"maxsize": maxsize, "block": False}
            if verify is False:
                kwargs["cert_reqs"] = "CERT_NONE"
            else:
                kwargs["cert_reqs"] = "CERT_REQUIRED"
                if isinstance(verify, str):
                    kwargs["ca_certs"] = verify
            pool_manager = urllib3.PoolManager(**kwargs)
        self.pool = pool_manager
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Urllib3Transport(timeout={self.timeout!r})"

    def send(self, request: Request) -> Response:
        """Send ``request``; urllib3 errors become :class:`TransportError`."""
        urllib3 = self._u3
        u3exc = urllib3.exceptions
        connect, read = request.timeout or self.timeout
        headers = dict(request.headers)
        body: Any = request.body
        if body is not None and request.content_length is not None:
            headers["Content-Length"] = str(request.content_length)
        try:
            raw = self.pool.urlopen(
                request.method,
                request.url,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                preload_content=False,
                decode_content=True,
                timeout=urllib3.Timeout(connect=connect, read=read),
            )
        except (u3exc.HTTPError, OSError) as exc:
            raise translate_error(exc, request.method, request.url) from None

        method, url = request.method, request.url

        finished = [False]

        def chunks() -> Iterator[bytes]:
            try:
                yield from raw.stream(65536)
            except (u3exc.HTTPError, OSError) as exc:
                raise translate_error(exc, method, url) from None
            finished[0] = True

        def release() -> None:
            if not finished[0]:  # never return a half-read connection to the pool
                raw.close()
            raw.release_conn()

        if not request.stream:
            try:
                data = raw.read(amt=self.max_buffered + 1)
            except (u3exc.HTTPError, OSError) as exc:
                raw.close()
                raw.release_conn()
                raise translate_error(exc, method, url) from None
            if len(data) > self.max_buffered:
                raw.close()  # the rest is never read: this connection cannot be reused
            raw.release_conn()
            return Response(raw.status, list(raw.headers.items()), data)
        return Response(raw.status, list(raw.headers.items()), chunks(), release=release)

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.clear()
