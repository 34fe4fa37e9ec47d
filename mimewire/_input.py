"""What :func:`parse` and :func:`parse_stream` share before decoding starts.

Checking the caller's arguments, turning a source (bytes, a binary file, an iterable or an
async iterable of byte chunks) into chunks, and making the top-level :class:`Decoder` from
the request's Content-Type. Nothing here reads more than the caller hands over.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, Protocol, Union, runtime_checkable

from ._decoder import Decoder, Limits
from ._errors import LimitExceeded, MalformedInput, UsageError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Source",
    "SupportsRead",
    "async_chunks",
    "check_chunk_size",
    "check_content_length",
    "decodes_transfer",
    "media_type",
    "open_decoder",
    "sync_chunks",
]

DEFAULT_CHUNK_SIZE = 65536


@runtime_checkable
class SupportsRead(Protocol):
    """A binary file-like object."""

    def read(self, n: int = -1, /) -> bytes: ...


Source = Union[bytes, bytearray, memoryview, SupportsRead, Iterable[bytes]]  # noqa: UP007
"""What :func:`parse` and :func:`parse_stream` read a multipart body from."""


def media_type(content_type: str) -> str:
    """The lowercased media type of a Content-Type value (``"multipart/form-data"``)."""
    return content_type.split(";", 1)[0].strip().lower()


def decodes_transfer(decode_transfer: bool | None, content_type: str) -> bool:
    """Whether base64/quoted-printable bodies of the multipart ``content_type`` are decoded.

    ``None`` (the default) decodes them except in ``multipart/form-data``: RFC 7578 §4.7
    deprecates Content-Transfer-Encoding there, and servers that honour it disagree with
    the many that do not (a parser differential).
    """
    if decode_transfer is None:
        return media_type(content_type) != "multipart/form-data"
    if not isinstance(decode_transfer, bool):
        raise UsageError(
            f"decode_transfer must be None, True or False, not {type(decode_transfer).__name__}"
        )
    return decode_transfer


def _text(content_type: str | bytes) -> str:
    if isinstance(content_type, (bytes, bytearray)):
        return bytes(content_type).decode("latin-1")
    if not isinstance(content_type, str):
        raise UsageError(f"content_type must be a str, not {type(content_type).__name__}")
    return content_type


def open_decoder(
    content_type: str | bytes,
    *,
    limits: Limits | None,
    strict: bool,
    decode_transfer: bool | None,
    depth: int = 0,
) -> Decoder:
    """A :class:`Decoder` for a body of this (remote) Content-Type.

    A Content-Type that is not ``multipart/*``, has no usable boundary, ... is bad input:
    :class:`MalformedInput` (HTTP 400), never :class:`UsageError`.
    """
    text = _text(content_type)
    if limits is not None and not isinstance(limits, Limits):
        raise UsageError(f"limits must be a Limits instance, not {type(limits).__name__}")
    decode = decodes_transfer(decode_transfer, text)
    try:
        return Decoder.from_content_type(
            text,
            limits=limits if limits is not None else Limits(),
            strict=strict,
            decode_transfer=decode,
            depth=depth,
        )
    except UsageError as exc:  # the boundary came from a (remote) Content-Type header
        raise MalformedInput(f"unusable boundary in Content-Type: {exc.message}") from None


def check_chunk_size(chunk_size: int) -> None:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        raise UsageError(f"chunk_size must be a positive int, got {chunk_size!r}")


def check_content_length(content_length: object, limits: Limits) -> int | None:
    """The body length the caller announced (``None``: unknown), checked.

    ``content_length`` is an ``int`` >= 0, the digits of one as ``str`` or ``bytes`` (the
    WSGI ``CONTENT_LENGTH`` string, an ASGI ``content-length`` header value), or ``None`` /
    ``""`` for unknown. Anything else is a :class:`UsageError` naming the parameter. A
    length above ``limits.max_total_size`` is refused before any byte is read.
    """
    if content_length is None:
        return None
    if isinstance(content_length, bool) or not isinstance(content_length, (int, str, bytes)):
        raise UsageError(
            "content_length must be an int, a str of digits or None, "
            f"not {type(content_length).__name__}"
        )
    if isinstance(content_length, int):
        length = content_length
    else:
        text = content_length
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        if not text:
            return None
        if not (text.isascii() and text.isdigit() and len(text) <= 19):
            raise UsageError(f"content_length must be a count of bytes, got {text[:40]!r}")
        length = int(text)
    if length < 0:
        raise UsageError(f"content_length must be >= 0, got {length}")
    most = limits.max_total_size
    if most is not None and length > most:
        raise LimitExceeded("max_total_size", most, detail=f"content_length={length} announced")
    return length


def _bytes_chunk(data: object) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise UsageError(f"body chunks must be bytes, got {type(data).__name__}")


class _Budget:
    """The bytes still due before ``content_length``: chunks are cut there, a pull once it
    is reached (the decoder needs more) or an input ending before it is MalformedInput."""

    __slots__ = ("length", "received")

    def __init__(self, length: int) -> None:
        self.length = length
        self.received = 0

    def left(self) -> int:
        """Bytes still due; raises when none are (the body needs more than announced)."""
        left = self.length - self.received
        if not left:
            raise MalformedInput(
                f"body reached content_length={self.length} bytes without a close delimiter",
                offset=self.length,
            )
        return left

    def cut(self, chunk: bytes) -> bytes:
        left = self.length - self.received
        if len(chunk) > left:
            chunk = chunk[:left]
        self.received += len(chunk)
        return chunk

    def ended(self) -> MalformedInput:
        return MalformedInput(
            f"body ended after {self.received} of content_length={self.length} bytes",
            offset=self.received,
        )


def _file_chunks(read: Any, chunk_size: int, length: int | None, who: str) -> Iterator[bytes]:
    """Chunks from ``read`` (a file's ``read1`` or ``read``), never past ``length``."""
    budget = None if length is None else _Budget(length)
    while True:
        n = chunk_size if budget is None else min(chunk_size, budget.left())
        data = read(n)
        if not data:
            if budget is not None:
                raise budget.ended()
            return
        if isinstance(data, str):
            raise UsageError(f"{who} needs a binary file, got a text file")
        chunk = _bytes_chunk(data)
        if budget is not None:
            if len(chunk) > n:
                raise UsageError(f"{who}: read({n}) returned {len(chunk)} bytes")
            budget.received += len(chunk)
        yield chunk


def _bounded(chunks: Iterable[object], length: int | None) -> Iterator[bytes]:
    """The non-empty chunks of ``chunks``, cut at ``length`` bytes (when known)."""
    if length is None:
        for data in chunks:
            chunk = _bytes_chunk(data)
            if chunk:
                yield chunk
        return
    budget = _Budget(length)
    budget.left()
    for data in chunks:
        chunk = _bytes_chunk(data)
        if chunk:
            yield budget.cut(chunk)
            budget.left()  # pulled again: the decoder needs more
    raise budget.ended()


def sync_chunks(
    source: object, chunk_size: int, who: str, content_length: int | None = None
) -> Iterator[bytes]:
    """The non-empty byte chunks of a synchronous source (passed on uncopied when bytes).

    A file is read with ``read1(n)`` when it has one (buffered streams, sockets'
    ``makefile("rb")``): it returns what has arrived instead of blocking until ``n`` bytes
    did. With ``content_length`` nothing past it is read (a read asks for at most what is
    left); the input ending before it, or a pull once it is reached (the decoder needs
    more), is :class:`MalformedInput`. Pull only while the decoder needs input: the
    caller stops at the close delimiter.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _bounded((source,), content_length)
    if isinstance(source, str):
        raise UsageError(f"{who} needs bytes, a binary file or an iterable of bytes, not str")
    read: Any = getattr(source, "read1", None)
    if not callable(read):
        read = getattr(source, "read", None)
    if callable(read):
        return _file_chunks(read, chunk_size, content_length, who)
    if isinstance(source, AsyncIterable):
        raise UsageError(f"{who} got an async iterable; use its async variant")
    try:
        iterator = iter(source)  # type: ignore[call-overload]
    except TypeError:
        raise UsageError(f"cannot read a multipart body from {type(source).__name__}") from None
    return _bounded(iterator, content_length)


async def async_chunks(
    source: object, who: str, content_length: int | None = None
) -> AsyncIterator[bytes]:
    """The non-empty byte chunks of ``bytes`` or an async iterable of byte chunks, cut at
    ``content_length`` (see :func:`sync_chunks`); each pulled only when asked for."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        for chunk in _bounded((source,), content_length):
            yield chunk
        return
    if not isinstance(source, AsyncIterable):
        raise UsageError(f"{who} needs an async iterable of bytes, not {type(source).__name__}")
    budget = None if content_length is None else _Budget(content_length)
    if budget is not None:
        budget.left()
    async for data in source:
        chunk = _bytes_chunk(data)
        if not chunk:
            continue
        if budget is None:
            yield chunk
        else:
            yield budget.cut(chunk)
            budget.left()  # pulled again: the decoder needs more
    if budget is not None:
        raise budget.ended()
