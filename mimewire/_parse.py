"""High-level decoding with spooled bodies: :func:`parse` and :func:`aparse`.

Each part is yielded once its body is complete, the body *spooled*: kept in memory up to
``spool_threshold`` bytes, in an anonymous temporary file beyond that. Temporary files are
closed (and so removed) when the part is closed, garbage-collected, or when decoding fails.
To read bodies while they arrive, without spooling, use :func:`parse_stream`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Generator, Iterator

from ._decoder import Limits
from ._errors import UsageError
from ._events import PartStart
from ._input import (
    DEFAULT_CHUNK_SIZE,
    Source,
    async_chunks,
    check_chunk_size,
    check_content_length,
    open_decoder,
    sync_chunks,
)
from ._nested import TreeDecoder
from ._partview import PartView, refuse_ambiguous
from ._spool import SpooledBody, Spooler

__all__ = ["DEFAULT_SPOOL_THRESHOLD", "ParsedPart", "aparse", "parse"]

DEFAULT_SPOOL_THRESHOLD = 1 << 20


class ParsedPart(PartView):
    """One decoded part: headers plus its complete, spooled body.

    The parsed header views (:attr:`name`, :attr:`filename`, :attr:`content_type`,
    :attr:`charset`, :attr:`transfer_encoding`) come from :class:`PartStart`. The body is
    the *decoded* body when transfer decoding is on. Use it as a context manager (or call
    :meth:`close`) to free the body early.

    With ``parse(..., nested=True)`` a ``multipart/*`` part has its nested parts in
    :attr:`parts` instead of a body: its bytes were decoded as they arrived, not kept, so
    :meth:`read` and friends raise :class:`UsageError` (``size`` still tells how many
    bytes it had). :attr:`parts` is ``None`` for every other part.
    """

    __slots__ = ("_body", "_closed", "_size", "parts")

    def __init__(
        self,
        start: PartStart,
        body: SpooledBody | None,
        size: int,
        *,
        index: int,
        offset: int | None = None,
        parts: list[ParsedPart] | None = None,
    ) -> None:
        self._start = start
        self.index = index
        self.offset = offset
        self._body = body
        self._size = size
        self._closed = False
        self.parts = parts
        """The nested parts of a ``multipart/*`` part (``parse(nested=True)``), else ``None``."""

    @property
    def size(self) -> int:
        """Body size in bytes (decoded)."""
        return self._size

    @property
    def in_memory(self) -> bool:
        """True when the body is held in memory (not in a temporary file)."""
        return self._body is not None and self._body.in_memory

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def _spool(self) -> SpooledBody:
        if self._closed:
            raise UsageError(f"part {self.index} is closed")
        if self._body is None:
            raise UsageError(
                f"part {self.index} is a nested multipart: its body was decoded into .parts, "
                "not kept (use parse(nested=False) to keep it)"
            )
        return self._body

    def iter_bytes(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Iterate over the body in chunks (as decoded, or ``chunk_size`` from a file)."""
        check_chunk_size(chunk_size)
        body = self._spool()
        for chunk in body.iter_bytes(chunk_size):
            self._spool()  # closed while iterating?
            yield chunk

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def read(self) -> bytes:
        """The whole body."""
        return self._spool().read()

    def text(self, errors: str = "strict", *, encoding: str | None = None) -> str:
        """The body decoded with ``encoding``, else the part's charset, else UTF-8.

        Only real text charsets are used (not ``punycode``, ``base64_codec``, ...): an
        unusable charset in the headers or undecodable bytes (with ``errors="strict"``)
        raise :class:`MalformedInput` naming the part; a bad ``encoding`` or ``errors``
        argument raises :class:`UsageError`.
        """
        codec = self._text_codec(encoding, errors)
        return self._decode_text(self.read(), codec, errors)

    def save(self, path: str | os.PathLike[str]) -> int:
        """Copy the body to the file ``path``; returns the bytes written."""
        body = self._spool()
        written = 0
        with open(path, "wb") as out:
            for chunk in body.iter_bytes(1 << 20):
                out.write(chunk)
                written += len(chunk)
        return written

    # async spelling, so code written for aparse() reads any part the same way ------------
    async def aiter_bytes(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Async :meth:`iter_bytes` (the body is already spooled)."""
        for chunk in self.iter_bytes(chunk_size):
            yield chunk

    async def aread(self) -> bytes:
        """Async :meth:`read`."""
        return self.read()

    async def atext(self, errors: str = "strict", *, encoding: str | None = None) -> str:
        """Async :meth:`text`."""
        return self.text(errors, encoding=encoding)

    async def asave(self, path: str | os.PathLike[str]) -> int:
        """Async :meth:`save` (the file writes themselves are ordinary blocking I/O)."""
        return self.save(path)

    def close(self) -> None:
        """Free the body (close the temporary file); nested parts are closed too."""
        if self._closed:
            return
        self._closed = True
        if self._body is not None:
            self._body.close()
        for child in self.parts or ():
            child.close()

    def __enter__(self) -> ParsedPart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<ParsedPart {self.index} name={self.name!r} filename={self.filename!r} "
            f"content_type={self.content_type!r} size={self.size}>"
        )


class _SpoolSink(SpooledBody):
    """A leaf part: its body spooled."""

    __slots__ = ("index", "offset", "start")

    def __init__(self, spooler: Spooler, start: PartStart, index: int, offset: int | None) -> None:
        self.spooler = spooler
        self.chunks = []
        self.file = None
        self.size = 0
        self.start = start
        self.index = index
        self.offset = offset

    def finish(self, children: list[ParsedPart] | None) -> ParsedPart:
        self.flush()
        return ParsedPart(self.start, self, self.size, index=self.index, offset=self.offset)

    def abort(self) -> None:
        self.close()


class _NestedSink:
    """A ``multipart/*`` part decoded into nested parts: only its size is kept."""

    __slots__ = ("index", "offset", "size", "start")

    def __init__(self, start: PartStart, index: int, offset: int | None) -> None:
        self.start = start
        self.index = index
        self.offset = offset
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)

    def finish(self, children: list[ParsedPart] | None) -> ParsedPart:
        return ParsedPart(
            self.start, None, self.size, index=self.index, offset=self.offset, parts=children
        )

    def abort(self) -> None:
        pass


class _Spooling:
    """The :class:`PartHandler` of :func:`parse`: spools leaves, nests multiparts."""

    __slots__ = ("spooler",)

    def __init__(self, spooler: Spooler) -> None:
        self.spooler = spooler

    def open(
        self, start: PartStart, index: int, offset: int | None, depth: int, nested: bool
    ) -> _SpoolSink | _NestedSink:
        refuse_ambiguous(start)
        spooler = self.spooler
        if not depth:  # a new top-level part gets the whole memory allowance
            spooler.memory = spooler.threshold
        if nested:
            return _NestedSink(start, index, offset)
        return _SpoolSink(spooler, start, index, offset)

    def discard(self, item: ParsedPart) -> None:
        item.close()


def _tree(
    content_type: str | bytes,
    limits: Limits | None,
    strict: bool,
    decode_transfer: bool | None,
    spool_threshold: int,
    nested: bool,
    spool_dir: str | None,
) -> TreeDecoder[ParsedPart]:
    decoder = open_decoder(
        content_type, limits=limits, strict=strict, decode_transfer=decode_transfer
    )
    spooler = Spooler(spool_threshold, spool_dir, decoder.limits.max_total_size)
    return TreeDecoder(decoder, _Spooling(spooler), nested=nested, decode_transfer=decode_transfer)


def parse(
    source: Source,
    content_type: str | bytes,
    *,
    limits: Limits | None = None,
    strict: bool = False,
    decode_transfer: bool | None = None,
    spool_threshold: int = DEFAULT_SPOOL_THRESHOLD,
    nested: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    spool_dir: str | None = None,
    content_length: int | str | bytes | None = None,
) -> Generator[ParsedPart, None, None]:
    """Decode a multipart body, yielding each :class:`ParsedPart` once it is complete.

    ``source`` is ``bytes``, a binary file-like object (``read(n)``) or an iterable of
    byte chunks; ``content_type`` the body's Content-Type (its ``boundary`` is used; not
    ``multipart/*`` or no boundary -> :class:`MalformedInput`, raised by this call). Bodies
    up to ``spool_threshold`` bytes stay in memory, bigger ones go to a temporary file (in
    ``spool_dir``).

    Reading stops at the close delimiter: the epilogue is never waited for, so a server's
    request stream that stays open after the body does not hang (bytes already received
    after it are still checked in strict mode). A file is read with ``read1`` when it has
    one, taking what has arrived. ``content_length`` (an int, or the WSGI
    ``CONTENT_LENGTH`` string; ``None`` or ``""`` for unknown) is the body's length: no
    byte past it is read, and a body ending before it or reaching it without a close
    delimiter is :class:`MalformedInput`. A truncated body always raises.

    ``decode_transfer``: ``None`` (default) decodes base64 and quoted-printable bodies,
    except in ``multipart/form-data`` (RFC 7578 §4.7 deprecates Content-Transfer-Encoding
    there); ``True``/``False`` force it on/off. The declared encoding stays visible.

    ``nested=True`` decodes ``multipart/*`` parts into :attr:`ParsedPart.parts` while they
    arrive (depth bounded by ``limits.max_depth``): a nested leaf is spooled once, and the
    limits hold for the whole request (``max_parts`` counts the parts of all levels,
    ``max_total_size`` also bounds the bytes spooled).

    To handle each body while it arrives, without spooling, use :func:`parse_stream`.
    """
    tree = _tree(content_type, limits, strict, decode_transfer, spool_threshold, nested, spool_dir)
    check_chunk_size(chunk_size)
    length = check_content_length(content_length, tree.decoder.limits)
    return _parse(tree, sync_chunks(source, chunk_size, "parse()", length))


def _parse(
    tree: TreeDecoder[ParsedPart], chunks: Iterator[bytes]
) -> Generator[ParsedPart, None, None]:
    try:
        for chunk in chunks:
            yield from tree.feed(chunk)
            if tree.ended:  # the epilogue is never waited for
                tree.settle()
                return
        yield from tree.finish()
    finally:
        tree.abort()


async def aparse(
    source: AsyncIterable[bytes] | bytes,
    content_type: str | bytes,
    *,
    limits: Limits | None = None,
    strict: bool = False,
    decode_transfer: bool | None = None,
    spool_threshold: int = DEFAULT_SPOOL_THRESHOLD,
    nested: bool = False,
    spool_dir: str | None = None,
    content_length: int | str | bytes | None = None,
) -> AsyncGenerator[ParsedPart, None]:
    """Async :func:`parse` over an async iterable of byte chunks (e.g. a request stream).

    A chunk is pulled only while the decoder needs one: none after the close delimiter.
    ``content_length`` is that of :func:`parse` (an ASGI ``content-length`` header value,
    ``bytes``, is accepted too). Spooling to a temporary file is ordinary blocking file
    I/O. To handle each body while it arrives, use :func:`aparse_stream`.
    """
    tree = _tree(content_type, limits, strict, decode_transfer, spool_threshold, nested, spool_dir)
    length = check_content_length(content_length, tree.decoder.limits)
    chunks = async_chunks(source, "aparse()", length)
    try:
        async for chunk in chunks:
            for part in tree.feed(chunk):
                yield part
            if tree.ended:  # the epilogue is never waited for
                tree.settle()
                return
        for part in tree.finish():
            yield part
    finally:
        tree.abort()
