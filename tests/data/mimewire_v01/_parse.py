"""High-level decoding: :func:`parse` and :func:`aparse` (the I/O edge of the decoder).

By default each part is yielded once its body is complete, with the body *spooled*: kept
in memory up to ``spool_threshold`` bytes, in an anonymous temporary file beyond that.
Temporary files are closed (and so removed) when the part is closed, garbage-collected, or
when decoding fails.

With ``stream=True`` each part is yielded as soon as its headers are decoded and its body
is pulled from the source, through the :class:`Decoder`, while the caller iterates it:
nothing is spooled, memory stays bounded by the decoder's limits plus one chunk.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable, Iterator
from typing import IO, Any, Protocol, Union, runtime_checkable

from ._decoder import Decoder, Limits
from ._errors import LimitExceeded, MalformedInput, MimeWireError, UsageError
from ._events import Event, Headers, MultipartEnd, PartData, PartEnd, PartStart
from ._headers import boundary_from_content_type

__all__ = ["ParsedPart", "aparse", "parse"]

DEFAULT_SPOOL_THRESHOLD = 1 << 20


@runtime_checkable
class SupportsRead(Protocol):
    """A binary file-like object."""

    def read(self, n: int = -1, /) -> bytes: ...


Source = Union[bytes, bytearray, memoryview, SupportsRead, Iterable[bytes]]  # noqa: UP007


class _Budget:
    """Bytes of part bodies that may still be held in memory."""

    __slots__ = ("remaining",)

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining


class ParsedPart:
    """One decoded part: headers plus a body, spooled or streamed.

    The parsed header views (:attr:`name`, :attr:`filename`, :attr:`content_type`,
    :attr:`charset`, :attr:`transfer_encoding`) come from :class:`PartStart`. The body is
    the *decoded* body when transfer decoding is on. :attr:`parts` holds the nested parts
    when ``parse(..., nested=True)`` met a ``multipart/*`` part, else ``None``.
    Use it as a context manager (or call :meth:`close`) to free the body early.

    Parts from ``parse(..., stream=True)`` (:attr:`streaming`) have a *streamed* body: it
    is pulled from the source as it is iterated (:meth:`iter_bytes`, ``for chunk in
    part``), read (:meth:`read`, :meth:`text`) or saved (:meth:`save`), each of which
    consumes the rest of it; it can be consumed once, and only until the parser advances
    to the next part (which discards what was not read). Parts from
    ``aparse(..., stream=True)`` are read with the ``a*`` methods (:meth:`aiter_bytes`,
    :meth:`aread`, :meth:`atext`, :meth:`asave`), which also work on every other part.
    """

    def __init__(
        self,
        start: PartStart,
        chunks: list[bytes],
        file: IO[bytes] | None,
        size: int | None,
        *,
        index: int,
        offset: int | None = None,
        stream: _StreamBody | None = None,
    ) -> None:
        self._start = start
        self._chunks = chunks
        self._file = file
        self._size = size
        self._stream = stream
        self.index = index
        """0-based position of the part in its multipart body."""
        self.offset = offset
        """Absolute input offset of the first body byte (when known)."""
        self.parts: list[ParsedPart] | None = None
        self._closed = False

    @property
    def size(self) -> int | None:
        """Body size in bytes (decoded).

        Always known for spooled parts. For a streamed part it is ``None`` until the body
        was consumed to its end (by the caller, or discarded when the parser advanced).
        """
        stream = self._stream
        if stream is None:
            return self._size
        return stream.size if stream.done else None

    # header views -------------------------------------------------------------
    @property
    def start(self) -> PartStart:
        """The :class:`PartStart` event of the part."""
        return self._start

    @property
    def headers(self) -> Headers:
        """``(name, value)`` header pairs in wire order."""
        return self._start.headers

    @property
    def name(self) -> str | None:
        """Form-data field name (Content-Disposition ``name``)."""
        return self._start.name

    @property
    def filename(self) -> str | None:
        """File name (Content-Disposition ``filename*`` or ``filename``)."""
        return self._start.filename

    @property
    def content_type(self) -> str | None:
        """Media type, lowercased, without parameters."""
        return self._start.content_type

    @property
    def charset(self) -> str | None:
        """``charset`` parameter of the Content-Type."""
        return self._start.charset

    @property
    def transfer_encoding(self) -> str | None:
        """Declared Content-Transfer-Encoding, lowercased."""
        return self._start.transfer_encoding

    @property
    def in_memory(self) -> bool:
        """True when the body is held in memory (spooled, not in a temporary file).

        False for a streamed part (its body is not held at all).
        """
        return self._file is None and self._stream is None

    @property
    def streaming(self) -> bool:
        """True for a part from ``parse(..., stream=True)`` / ``aparse(..., stream=True)``."""
        return self._stream is not None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    # body access ----------------------------------------------------------------
    def _check(self) -> None:
        if self._closed:
            raise UsageError(f"part {self.index} is closed")

    def _sync_stream(self, stream: _StreamBody) -> None:
        """Raise unless the streamed body can be read synchronously now."""
        if stream.pump.is_async:
            raise UsageError(
                f"part {self.index} comes from aparse(stream=True): read it with "
                "'async for chunk in part.aiter_bytes()', 'await part.aread()', "
                "'await part.atext()' or 'await part.asave(path)'"
            )
        stream.check(self)

    def _stream_chunks(self, stream: _StreamBody) -> Iterator[bytes]:
        self._sync_stream(stream)
        pump = stream.pump
        while True:
            stream.check(self)
            data = stream.step(pump.pull())
            if data is None:
                return
            yield data

    def iter_bytes(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """Iterate over the body in chunks (as decoded, or ``chunk_size`` from a file).

        A streamed part yields the chunks as the decoder produces them (not copied;
        ``chunk_size`` is ignored), pulling the source as needed; errors in the input
        (:class:`MalformedInput`, :class:`LimitExceeded`) are raised from here.
        """
        self._check()
        if chunk_size <= 0:
            raise UsageError(f"chunk_size must be positive, got {chunk_size}")
        if self._stream is not None:
            yield from self._stream_chunks(self._stream)
            return
        file = self._file
        if file is None:
            yield from list(self._chunks)
            return
        size = self._size or 0
        pos = 0
        while pos < size:
            self._check()
            file.seek(pos)
            data = file.read(min(chunk_size, size - pos))
            if not data:
                break
            pos += len(data)
            yield data

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def read(self) -> bytes:
        """The whole body (for a streamed part: the rest of it, consuming it)."""
        self._check()
        if self._stream is not None:
            return b"".join(self._stream_chunks(self._stream))
        if self._file is None:
            if len(self._chunks) != 1:
                self._chunks = [b"".join(self._chunks)]
            return self._chunks[0]
        self._file.seek(0)
        return self._file.read()

    def _charset(self, encoding: str | None) -> str:
        charset = encoding or self.charset or "utf-8"
        try:
            codecs.lookup(charset)
        except LookupError:
            raise MalformedInput(f"unknown charset {charset!r}", part=self.index) from None
        return charset

    def _decode(self, data: bytes, errors: str, charset: str) -> str:
        try:
            return data.decode(charset, errors)
        except UnicodeDecodeError as exc:
            raise MalformedInput(
                f"body is not valid {charset}: {exc.reason} at body byte {exc.start}",
                part=self.index,
            ) from None

    def text(self, errors: str = "strict", *, encoding: str | None = None) -> str:
        """The body decoded with ``encoding``, else the part's charset, else UTF-8.

        An unknown charset or undecodable bytes (with ``errors="strict"``) raise
        :class:`MalformedInput`. A streamed part is consumed (see :meth:`read`).
        """
        charset = self._charset(encoding)
        return self._decode(self.read(), errors, charset)

    def save(self, path: str | os.PathLike[str]) -> int:
        """Copy the body to the file ``path`` (streamed); returns the bytes written."""
        self._check()
        if self._stream is not None:  # fail before creating the file
            self._sync_stream(self._stream)
        written = 0
        with open(path, "wb") as out:
            for chunk in self.iter_bytes(1 << 20):
                out.write(chunk)
                written += len(chunk)
        return written

    # async body access ------------------------------------------------------------
    async def aiter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """Async :meth:`iter_bytes`: the way to read a part from ``aparse(stream=True)``.

        For any other part it yields what :meth:`iter_bytes` yields.
        """
        self._check()
        stream = self._stream
        if stream is None or not stream.pump.is_async:
            for chunk in self.iter_bytes(chunk_size):
                yield chunk
            return
        pump = stream.pump
        while True:
            stream.check(self)
            data = stream.step(await pump.apull())
            if data is None:
                return
            yield data

    async def aread(self) -> bytes:
        """Async :meth:`read`."""
        self._check()
        if self._stream is None or not self._stream.pump.is_async:
            return self.read()
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def atext(self, errors: str = "strict", *, encoding: str | None = None) -> str:
        """Async :meth:`text`."""
        charset = self._charset(encoding)
        return self._decode(await self.aread(), errors, charset)

    async def asave(self, path: str | os.PathLike[str]) -> int:
        """Async :meth:`save` (the file writes themselves are ordinary blocking I/O)."""
        self._check()
        if self._stream is not None:  # fail before creating the file
            self._stream.check(self)
        written = 0
        with open(path, "wb") as out:
            async for chunk in self.aiter_bytes(1 << 20):
                out.write(chunk)
                written += len(chunk)
        return written

    def close(self) -> None:
        """Free the body (close the temporary file); nested parts are closed too.

        A streamed body can no longer be read; its unread rest is discarded when the
        parser advances.
        """
        if self._closed:
            return
        self._closed = True
        self._chunks = []
        if self._file is not None:
            self._file.close()
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


_MORE: Any = object()  # _Pump._take(): a chunk of input is needed


class _Pump:
    """Stream mode: pulls chunks from the source through the decoder, one event at a time.

    Shared by the part generator and the body of the current part, so that events are
    consumed by whoever pulls. An input error is remembered and raised to every later pull.
    """

    __slots__ = (
        "asource",
        "count",
        "current",
        "decoder",
        "done",
        "eof",
        "error",
        "events",
        "is_async",
        "offsets",
        "pos",
        "skipped",
        "source",
    )

    def __init__(
        self,
        decoder: Decoder,
        offsets: list[int],
        source: Iterator[bytes] | None = None,
        asource: AsyncIterator[bytes] | None = None,
    ) -> None:
        self.decoder = decoder
        self.offsets = offsets
        self.source = source
        self.asource = asource
        self.is_async = asource is not None
        self.events: list[Event] = []
        self.pos = 0
        self.eof = False  # the source is exhausted (b"" was fed)
        self.done = False  # the decoder was closed successfully
        self.error: Exception | None = None
        self.current: _StreamBody | None = None  # the part whose body is being pulled
        self.skipped: _StreamBody | None = None  # the part last drained unread
        self.count = 0

    def _take(self) -> Any:
        """The next event, ``None`` at the end of the input, or ``_MORE``."""
        while True:
            pos = self.pos
            if pos < len(self.events):
                self.pos = pos + 1
                return self.events[pos]
            if self.done:
                return None
            if self.error is not None:
                raise self.error
            if not self.eof:
                return _MORE
            try:
                self.decoder.close()
            except Exception as exc:
                self.error = exc
                raise
            self.done = True

    def _put(self, data: bytes | None) -> None:
        try:
            if data is None:
                self.eof = True
                events = self.decoder.feed(b"")
            else:
                events = self.decoder.feed(data)
        except Exception as exc:
            self.error = exc
            raise
        self.events = events
        self.pos = 0

    def pull(self) -> Event | None:
        event = self._take()
        while event is _MORE:
            assert self.source is not None
            try:
                data = next(self.source, None)
            except Exception as exc:
                self.error = exc
                raise
            self._put(data)
            event = self._take()
        return event  # type: ignore[no-any-return]

    async def apull(self) -> Event | None:
        event = self._take()
        while event is _MORE:
            assert self.asource is not None
            try:
                data = await anext(self.asource, None)
            except Exception as exc:
                self.error = exc
                raise
            self._put(data)
            event = self._take()
        return event  # type: ignore[no-any-return]

    def begin(self, start: PartStart) -> ParsedPart:
        """A streamed :class:`ParsedPart` for ``start`` (which becomes the current part)."""
        index = self.count
        self.count += 1
        if self.skipped is not None:
            self.skipped.successor = f"part {index}"
            self.skipped = None
        offsets = self.offsets
        body = _StreamBody(self, index)
        self.current = body
        return ParsedPart(
            start,
            [],
            None,
            None,
            index=index,
            offset=offsets[index] if index < len(offsets) else None,
            stream=body,
        )

    def ended(self) -> None:
        if self.skipped is not None:
            self.skipped.successor = "the end of the multipart body"
            self.skipped = None

    def drained(self, body: _StreamBody, discarded: int) -> None:
        if discarded or not body.touched:
            body.skipped = True
            self.skipped = body


class _StreamBody:
    """The body state of one streamed part."""

    __slots__ = ("done", "index", "pump", "size", "skipped", "successor", "touched")

    def __init__(self, pump: _Pump, index: int) -> None:
        self.pump = pump
        self.index = index
        self.size = 0
        self.done = False  # PartEnd was pulled
        self.touched = False  # the caller started reading
        self.skipped = False  # the parser advanced past it, discarding unread data
        self.successor = f"part {index + 1}"

    def check(self, part: ParsedPart) -> None:
        if part.closed:
            raise UsageError(f"part {self.index} is closed")
        if self.done:
            if self.skipped:
                raise UsageError(
                    f"part {self.index} body was not read before advancing to "
                    f"{self.successor}; use stream=False to keep bodies"
                )
            raise UsageError(
                f"part {self.index} body was already read (with stream=True a body can be "
                "read once; use stream=False to keep bodies)"
            )
        self.touched = True

    def step(self, event: Event | None) -> bytes | None:
        """Account for the next event of this body: its data, or ``None`` at its end."""
        if type(event) is PartData:
            data = event.data
            self.size += len(data)
            return data
        if type(event) is PartEnd:
            self.done = True
            self.pump.current = None
            return None
        # unreachable with a conforming decoder (it raises on a truncated body)
        self.done = True
        self.pump.current = None
        raise MalformedInput(f"part {self.index} body ended without a delimiter", part=self.index)


class _Builder:
    """Collects one part body: memory first, a temporary file past the budget."""

    def __init__(
        self,
        start: PartStart,
        budget: _Budget,
        spool_dir: str | None,
        index: int,
        offset: int | None,
    ) -> None:
        self.start = start
        self.budget = budget
        self.spool_dir = spool_dir
        self.index = index
        self.offset = offset
        self.chunks: list[bytes] = []
        self.file: IO[bytes] | None = None
        self.size = 0

    def write(self, data: bytes) -> None:
        n = len(data)
        if self.file is None:
            if n <= self.budget.remaining:
                self.budget.remaining -= n
                self.chunks.append(data)
                self.size += n
                return
            self.file = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115
            for chunk in self.chunks:
                self.file.write(chunk)
            self.budget.remaining += self.size
            self.chunks = []
        self.file.write(data)
        self.size += n

    def finish(self) -> ParsedPart:
        file = self.file
        if file is not None:
            file.flush()
        self.file = None
        return ParsedPart(
            self.start, self.chunks, file, self.size, index=self.index, offset=self.offset
        )

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        self.chunks = []


class _Assembler:
    """Turns decoder events into :class:`ParsedPart` objects (no reading of its own)."""

    def __init__(
        self,
        boundary: str,
        *,
        limits: Limits,
        strict: bool,
        decode_transfer: bool,
        spool_threshold: int,
        nested: bool,
        spool_dir: str | None,
        depth: int = 0,
        budget: _Budget | None = None,
        base_offset: int | None = 0,
    ) -> None:
        try:
            self.decoder = Decoder(
                boundary, limits=limits, strict=strict, decode_transfer=decode_transfer, depth=depth
            )
        except UsageError as exc:  # the boundary came from a (remote) Content-Type header
            raise MalformedInput(f"unusable boundary in Content-Type: {exc.message}") from None
        self.offsets: list[int] = []
        self.decoder._offsets = self.offsets
        self.limits = limits
        self.strict = strict
        self.decode_transfer = decode_transfer
        self.spool_threshold = spool_threshold
        self.nested = nested
        self.spool_dir = spool_dir
        self.depth = depth
        self.budget = budget  # shared by nested parts; None = a fresh budget per part
        self.base_offset = base_offset
        self.current: _Builder | None = None
        self.count = 0

    def feed(self, chunk: bytes) -> list[ParsedPart]:
        return self._handle(self.decoder.feed, chunk)

    def finish(self) -> list[ParsedPart]:
        out = self._handle(self.decoder.feed, b"")
        try:
            self.decoder.close()
        except BaseException:
            self.abort()
            for part in out:
                part.close()
            raise
        return out

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()
            self.current = None

    def _handle(self, feed: Any, chunk: bytes) -> list[ParsedPart]:
        out: list[ParsedPart] = []
        try:
            for event in feed(chunk):
                kind = type(event)
                if kind is PartData:
                    assert self.current is not None
                    self.current.write(event.data)
                elif kind is PartStart:
                    budget = self.budget or _Budget(self.spool_threshold)
                    rel = self.offsets[self.count]
                    offset = None if self.base_offset is None else self.base_offset + rel
                    self.current = _Builder(event, budget, self.spool_dir, self.count, offset)
                    self.count += 1
                elif kind is PartEnd:
                    assert self.current is not None
                    part = self.current.finish()
                    self.current = None
                    out.append(part)
                    if self.nested and (part.content_type or "").startswith("multipart/"):
                        part.parts = self._children(part)
        except BaseException:
            self.abort()
            for part in out:
                part.close()
            raise
        return out

    def _children(self, part: ParsedPart) -> list[ParsedPart]:
        ctype = part.start.get("Content-Type") or ""
        try:
            boundary = boundary_from_content_type(ctype)
        except MimeWireError as exc:
            raise MalformedInput(
                f"nested multipart part: {exc.message}", offset=part.offset, part=part.index
            ) from None
        identity = part.transfer_encoding in (None, "7bit", "8bit", "binary")
        sub = _Assembler(
            boundary,
            limits=self.limits,
            strict=self.strict,
            decode_transfer=self.decode_transfer,
            spool_threshold=self.spool_threshold,
            nested=True,
            spool_dir=self.spool_dir,
            depth=self.depth + 1,
            budget=self.budget or _Budget(self.spool_threshold),
            base_offset=part.offset if identity or not self.decode_transfer else None,
        )
        children: list[ParsedPart] = []
        try:
            for chunk in part.iter_bytes():
                children.extend(sub.feed(chunk))
            children.extend(sub.finish())
        except MimeWireError as exc:
            sub.abort()
            for child in children:
                child.close()
            raise _rebased(exc, part.offset if sub.base_offset is not None else None) from None
        except BaseException:
            sub.abort()
            for child in children:
                child.close()
            raise
        return children


def _rebased(exc: MimeWireError, base: int | None) -> MimeWireError:
    """A nested decoder's error with its offset made absolute (when it can be)."""
    if isinstance(exc, MalformedInput):
        off = None if exc.offset is None or base is None else base + exc.offset
        return MalformedInput(f"in a nested multipart: {exc.reason}", offset=off)
    if isinstance(exc, LimitExceeded):
        off = None if exc.offset is None or base is None else base + exc.offset
        return LimitExceeded(exc.limit, exc.value, offset=off, detail="in a nested multipart")
    return exc


def _boundary(content_type: str | bytes) -> str:
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    if not isinstance(content_type, str):
        raise UsageError(f"content_type must be a str, not {type(content_type).__name__}")
    return boundary_from_content_type(content_type)


def _check_options(spool_threshold: int, chunk_size: int) -> None:
    if not isinstance(spool_threshold, int) or spool_threshold < 0:
        raise UsageError(f"spool_threshold must be an int >= 0, got {spool_threshold!r}")
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise UsageError(f"chunk_size must be a positive int, got {chunk_size!r}")


def _chunks(source: Any, chunk_size: int) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source):
            yield bytes(source) if not isinstance(source, bytes) else source
        return
    if isinstance(source, str):
        raise UsageError("parse() needs bytes, a binary file or an iterable of bytes, not str")
    read: Any = getattr(source, "read", None)
    if callable(read):
        while True:
            data = read(chunk_size)
            if not data:
                return
            if isinstance(data, str):
                raise UsageError("parse() needs a binary file, got a text file")
            yield bytes(data)
    try:
        iterator = iter(source)
    except TypeError:
        raise UsageError(f"cannot read a multipart body from {type(source).__name__}") from None
    for data in iterator:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise UsageError(f"body chunks must be bytes, got {type(data).__name__}")
        if data:
            yield data if isinstance(data, bytes) else bytes(data)


def _new_pump(
    boundary: str,
    limits: Limits | None,
    strict: bool,
    decode_transfer: bool,
    nested: bool,
    *,
    source: Iterator[bytes] | None = None,
    asource: AsyncIterator[bytes] | None = None,
) -> _Pump:
    if nested:
        raise UsageError("nested=True cannot be combined with stream=True")
    try:
        decoder = Decoder(
            boundary,
            limits=limits if limits is not None else Limits(),
            strict=strict,
            decode_transfer=decode_transfer,
        )
    except UsageError as exc:  # the boundary came from a (remote) Content-Type header
        raise MalformedInput(f"unusable boundary in Content-Type: {exc.message}") from None
    offsets: list[int] = []
    decoder._offsets = offsets
    return _Pump(decoder, offsets, source=source, asource=asource)


def parse(
    source: Source,
    content_type: str,
    *,
    limits: Limits | None = None,
    strict: bool = False,
    decode_transfer: bool = True,
    spool_threshold: int = DEFAULT_SPOOL_THRESHOLD,
    nested: bool = False,
    chunk_size: int = 65536,
    spool_dir: str | None = None,
    stream: bool = False,
) -> Generator[ParsedPart, None, None]:
    """Decode a multipart body, yielding each :class:`ParsedPart` once it is complete.

    ``source`` is ``bytes``, a binary file-like object (``read(n)``) or an iterable of
    byte chunks; ``content_type`` the body's Content-Type (its ``boundary`` is used; not
    ``multipart/*`` or no boundary -> :class:`MalformedInput`). Bodies up to
    ``spool_threshold`` bytes stay in memory, bigger ones go to a temporary file (in
    ``spool_dir``). With ``nested=True`` ``multipart/*`` parts are decoded recursively into
    :attr:`ParsedPart.parts` (depth bounded by ``limits.max_depth``). The source is read to
    its end, so a truncated body or bad bytes after the close delimiter (strict mode) raise.

    ``stream=True`` yields each part as soon as its headers are decoded, without spooling:
    its body is pulled from the source while the caller reads it (``for chunk in part``,
    :meth:`~ParsedPart.read`, :meth:`~ParsedPart.text`, :meth:`~ParsedPart.save`), the
    decoder's chunks passed on uncopied. Advancing to the next part discards what was not
    read of the current one; reading it afterwards raises :class:`UsageError`.
    :attr:`ParsedPart.size` is ``None`` until the body was consumed. Input errors are
    raised from whatever pulls: the body iteration or this generator. Memory is bounded by
    ``limits`` plus one chunk. ``spool_threshold``/``spool_dir`` are unused, and
    ``nested=True`` is refused (:class:`UsageError`).
    """
    boundary = _boundary(content_type)
    _check_options(spool_threshold, chunk_size)
    if stream:
        pump = _new_pump(
            boundary, limits, strict, decode_transfer, nested, source=_chunks(source, chunk_size)
        )
        return _parse_stream(pump)
    asm = _Assembler(
        boundary,
        limits=limits if limits is not None else Limits(),
        strict=strict,
        decode_transfer=decode_transfer,
        spool_threshold=spool_threshold,
        nested=nested,
        spool_dir=spool_dir,
    )
    return _parse(asm, source, chunk_size)


def _parse(asm: _Assembler, source: Source, chunk_size: int) -> Generator[ParsedPart, None, None]:
    try:
        for chunk in _chunks(source, chunk_size):
            yield from asm.feed(chunk)
        yield from asm.finish()
    finally:
        asm.abort()


def _parse_stream(pump: _Pump) -> Generator[ParsedPart, None, None]:
    # Stopping early (break, close()) leaves the current part readable to its end.
    while True:
        body = pump.current
        if body is not None:  # discard what the caller did not read
            discarded = body.size
            while body.step(pump.pull()) is not None:
                pass
            pump.drained(body, body.size - discarded)
        event = pump.pull()
        if event is None:
            return
        if type(event) is PartStart:
            yield pump.begin(event)
        elif type(event) is MultipartEnd:
            pump.ended()


async def _achunks(source: object) -> AsyncIterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source):
            yield bytes(source) if not isinstance(source, bytes) else source
        return
    if not isinstance(source, AsyncIterable):
        raise UsageError(f"aparse() needs an async iterable of bytes, not {type(source).__name__}")
    async for data in source:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise UsageError(f"body chunks must be bytes, got {type(data).__name__}")
        if data:
            yield data if isinstance(data, bytes) else bytes(data)


async def aparse(
    source: AsyncIterable[bytes] | bytes,
    content_type: str,
    *,
    limits: Limits | None = None,
    strict: bool = False,
    decode_transfer: bool = True,
    spool_threshold: int = DEFAULT_SPOOL_THRESHOLD,
    nested: bool = False,
    spool_dir: str | None = None,
    stream: bool = False,
) -> AsyncIterator[ParsedPart]:
    """Async :func:`parse` over an async iterable of byte chunks (e.g. a request stream).

    Spooling to a temporary file is ordinary blocking file I/O. With ``stream=True`` (see
    :func:`parse`) read each part's body with ``async for chunk in part.aiter_bytes()``,
    ``await part.aread()``, ``await part.atext()`` or ``await part.asave(path)``.
    """
    boundary = _boundary(content_type)
    _check_options(spool_threshold, 65536)
    if stream:
        pump = _new_pump(
            boundary, limits, strict, decode_transfer, nested, asource=_achunks(source)
        )
        while True:
            body = pump.current
            if body is not None:  # discard what the caller did not read
                discarded = body.size
                while body.step(await pump.apull()) is not None:
                    pass
                pump.drained(body, body.size - discarded)
            event = await pump.apull()
            if event is None:
                return
            if type(event) is PartStart:
                yield pump.begin(event)
            elif type(event) is MultipartEnd:
                pump.ended()
    asm = _Assembler(
        boundary,
        limits=limits if limits is not None else Limits(),
        strict=strict,
        decode_transfer=decode_transfer,
        spool_threshold=spool_threshold,
        nested=nested,
        spool_dir=spool_dir,
    )
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            for part in asm.feed(bytes(source)) if len(source) else []:
                yield part
        else:
            chunks: object = source
            if not isinstance(chunks, AsyncIterable):
                raise UsageError(
                    f"aparse() needs an async iterable of bytes, not {type(chunks).__name__}"
                )
            async for data in chunks:
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise UsageError(f"body chunks must be bytes, got {type(data).__name__}")
                if data:
                    for part in asm.feed(bytes(data)):
                        yield part
        for part in asm.finish():
            yield part
    finally:
        asm.abort()
