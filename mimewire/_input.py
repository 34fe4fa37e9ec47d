"""What :func:`parse` and :func:`parse_stream` share before decoding starts.

Checking the caller's arguments, turning a source (bytes, a binary file, an iterable or an
async iterable of byte chunks) into chunks, and making the top-level :class:`Decoder` from
the request's Content-Type. Nothing here reads more than the caller hands over.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, Protocol, Union, runtime_checkable

from ._decoder import Decoder, Limits
from ._errors import MalformedInput, UsageError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Source",
    "SupportsRead",
    "async_chunks",
    "check_chunk_size",
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


def _bytes_chunk(data: object) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise UsageError(f"body chunks must be bytes, got {type(data).__name__}")


def sync_chunks(source: object, chunk_size: int, who: str) -> Iterator[bytes]:
    """The non-empty byte chunks of a synchronous source (passed on uncopied when bytes)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source):
            yield _bytes_chunk(source)
        return
    if isinstance(source, str):
        raise UsageError(f"{who} needs bytes, a binary file or an iterable of bytes, not str")
    read: Any = getattr(source, "read", None)
    if callable(read):
        while True:
            data = read(chunk_size)
            if not data:
                return
            if isinstance(data, str):
                raise UsageError(f"{who} needs a binary file, got a text file")
            yield _bytes_chunk(data)
    if isinstance(source, AsyncIterable):
        raise UsageError(f"{who} got an async iterable; use its async variant")
    try:
        iterator = iter(source)  # type: ignore[call-overload]
    except TypeError:
        raise UsageError(f"cannot read a multipart body from {type(source).__name__}") from None
    for data in iterator:
        chunk = _bytes_chunk(data)
        if chunk:
            yield chunk


async def async_chunks(source: object, who: str) -> AsyncIterator[bytes]:
    """The non-empty byte chunks of ``bytes`` or an async iterable of byte chunks."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source):
            yield _bytes_chunk(source)
        return
    if not isinstance(source, AsyncIterable):
        raise UsageError(f"{who} needs an async iterable of bytes, not {type(source).__name__}")
    async for data in source:
        chunk = _bytes_chunk(data)
        if chunk:
            yield chunk
