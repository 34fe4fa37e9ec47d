"""High-level decoding: :func:`parse` and :func:`aparse` (the I/O edge of the decoder).

Each part is yielded once its body is complete, with the body *spooled*: kept in memory
up to ``spool_threshold`` bytes, in an anonymous temporary file beyond that. Temporary
files are closed (and so removed) when the part is closed, garbage-collected, or when
decoding fails.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable, Iterator
from typing import IO, Any, Protocol, Union, runtime_checkable

from ._decoder import Decoder, Limits
from ._errors import LimitExceeded, MalformedInput, MimeWireError, UsageError
from ._events import Headers, PartData, PartEnd, PartStart
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
    """One decoded part: headers plus a spooled body.

    The parsed header views (:attr:`name`, :attr:`filename`, :attr:`content_type`,
    :attr:`charset`, :attr:`transfer_encoding`) come from :class:`PartStart`. The body is
    the *decoded* body when transfer decoding is on. :attr:`parts` holds the nested parts
    when ``parse(..., nested=True)`` met a ``multipart/*`` part, else ``None``.
    Use it as a context manager (or call :meth:`close`) to free the body early.
    """

    def __init__(
        self,
        start: PartStart,
        chunks: list[bytes],
        file: IO[bytes] | None,
        size: int,
        *,
        index: int,
        offset: int | None = None,
    ) -> None:
        self._start = start
        self._chunks = chunks
        self._file = file
        self.size = size
        """Body size in bytes (decoded)."""
        self.index = index
        """0-based position of the part in its multipart body."""
        self.offset = offset
        """Absolute input offset of the first body byte (when known)."""
        self.parts: list[ParsedPart] | None = None
        self._closed = False

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
        """True when the body is held in memory (not in a temporary file)."""
        return self._file is None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    # body access ----------------------------------------------------------------
    def _check(self) -> None:
        if self._closed:
            raise UsageError(f"part {self.index} is closed")

    def iter_bytes(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """Iterate over the body in chunks (as decoded, or ``chunk_size`` from a file)."""
        self._check()
        if chunk_size <= 0:
            raise UsageError(f"chunk_size must be positive, got {chunk_size}")
        file = self._file
        if file is None:
            yield from list(self._chunks)
            return
        pos = 0
        while pos < self.size:
            self._check()
            file.seek(pos)
            data = file.read(min(chunk_size, self.size - pos))
            if not data:
                break
            pos += len(data)
            yield data

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def read(self) -> bytes:
        """The whole body."""
        self._check()
        if self._file is None:
            if len(self._chunks) != 1:
                self._chunks = [b"".join(self._chunks)]
            return self._chunks[0]
        self._file.seek(0)
        return self._file.read()

    def text(self, errors: str = "strict", *, encoding: str | None = None) -> str:
        """The body decoded with ``encoding``, else the part's charset, else UTF-8.

        An unknown charset or undecodable bytes (with ``errors="strict"``) raise
        :class:`MalformedInput`.
        """
        charset = encoding or self.charset or "utf-8"
        try:
            codecs.lookup(charset)
        except LookupError:
            raise MalformedInput(f"unknown charset {charset!r}", part=self.index) from None
        try:
            return self.read().decode(charset, errors)
        except UnicodeDecodeError as exc:
            raise MalformedInput(
                f"body is not valid {charset}: {exc.reason} at body byte {exc.start}",
                part=self.index,
            ) from None

    def save(self, path: str | os.PathLike[str]) -> int:
        """Copy the body to the file ``path`` (streamed); returns the bytes written."""
        self._check()
        written = 0
        with open(path, "wb") as out:
            for chunk in self.iter_bytes(1 << 20):
                out.write(chunk)
                written += len(chunk)
        return written

    def close(self) -> None:
        """Free the body (close the temporary file); nested parts are closed too."""
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
) -> Generator[ParsedPart, None, None]:
    """Decode a multipart body, yielding each :class:`ParsedPart` once it is complete.

    ``source`` is ``bytes``, a binary file-like object (``read(n)``) or an iterable of
    byte chunks; ``content_type`` the body's Content-Type (its ``boundary`` is used; not
    ``multipart/*`` or no boundary -> :class:`MalformedInput`). Bodies up to
    ``spool_threshold`` bytes stay in memory, bigger ones go to a temporary file (in
    ``spool_dir``). With ``nested=True`` ``multipart/*`` parts are decoded recursively into
    :attr:`ParsedPart.parts` (depth bounded by ``limits.max_depth``). The source is read to
    its end, so a truncated body or bad bytes after the close delimiter (strict mode) raise.
    """
    boundary = _boundary(content_type)
    _check_options(spool_threshold, chunk_size)
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
) -> AsyncIterator[ParsedPart]:
    """Async :func:`parse` over an async iterable of byte chunks (e.g. a request stream).

    Spooling to a temporary file is ordinary blocking file I/O.
    """
    boundary = _boundary(content_type)
    _check_options(spool_threshold, 65536)
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
            stream: object = source
            if not isinstance(stream, AsyncIterable):
                raise UsageError(
                    f"aparse() needs an async iterable of bytes, not {type(stream).__name__}"
                )
            async for data in stream:
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise UsageError(f"body chunks must be bytes, got {type(data).__name__}")
                if data:
                    for part in asm.feed(bytes(data)):
                        yield part
        for part in asm.finish():
            yield part
    finally:
        asm.abort()
