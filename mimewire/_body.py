"""The encoding I/O edge: :class:`MultipartBody` (iterate, async-iterate) and :class:`BodyReader`.

A :class:`MultipartBody` is laid out once, at construction, by the sans-I/O planner
(:func:`mimewire._plan.plan`: framing, header blocks, exact Content-Length, boundary choice).
Iterating it then only streams the planned segments:

* framing and in-memory bodies are ready-made bytes (bodies under 4 KiB joined with their
  framing into ~64 KiB chunks);
* larger in-memory bodies, file reads and the chunks an iterable yields are passed through as
  they are -- never copied, never joined -- with the framing as separate small chunks;
* only parts declaring ``base64``, ``quoted-printable`` or ``7bit`` go through a codec.

The sources themselves are read by :mod:`mimewire._sources`, except a plain file part, whose
read loop is inlined here (it is the throughput-critical path). :class:`Part` (in
:mod:`mimewire._part`) describes the sources.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from ._codecs import is_identity
from ._errors import UsageError
from ._headers import check_header, render_content_type
from ._part import AITER, FILE, PATH, BodySource, NestedBody, OneShot, Part
from ._plan import JOIN_LIMIT, Segment, Slot, plan
from ._related import multipart_params
from ._sources import aguarded, awire_chunks, guarded, open_path, wire_chunks

__all__ = ["JOIN_LIMIT", "BodyReader", "BodySource", "MultipartBody", "Part"]

ProgressCallback = Callable[[int, int | None], object]

# Caller's file objects a BodyReader reads in place: their read() returns bytes and they
# have readinto. Others (duck-typed readers) go through the length-checked chunk iterator.
_STD_FILES = (io.RawIOBase, io.BufferedIOBase)
_UNSIZED = 1 << 62  # the bytes an unsized file part may still yield (no length promised)


def _as_parts(parts: object) -> tuple[Part, ...]:
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Iterable):
        raise UsageError(f"parts must be an iterable of Part, not {type(parts).__name__}")
    return tuple(parts)


def _check_parts(parts: tuple[Part, ...]) -> None:
    """:class:`UsageError` naming the first of ``parts`` that is not a :class:`Part`.

    (Called only when planning failed with AttributeError: checking 10,000 parts up front
    would cost the many-fields case ~3%.)"""
    for i, part in enumerate(parts):
        if not isinstance(part, Part):
            raise UsageError(f"part {i} is a {type(part).__name__}, not a Part")


def _as_bytes(value: object, what: str) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise UsageError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


class _UnknownLength(UsageError, TypeError):
    """``len()`` of a body whose length is unknown (a :class:`UsageError` and, as for any
    unsized object, a ``TypeError``)."""


class MultipartBody(NestedBody):
    """A complete multipart body: iterate it, async-iterate it or ``read()`` it.

    ``parts`` are :class:`Part` objects; ``subtype`` is ``"form-data"`` (default),
    ``"mixed"`` or any other multipart subtype. ``boundary`` defaults to a fresh
    :func:`make_boundary` that is regenerated if it occurs in any in-memory part; a caller's
    boundary is validated (RFC 2046) and a collision with an in-memory part (or the
    preamble, or a nested body's in-memory bytes) is a :class:`UsageError` naming the part.
    Parts streamed from files or iterables are scanned for a caller's boundary while they are
    sent: a collision raises :class:`UsageError` before the colliding chunk goes out (the
    receiver then sees a truncated body, never a smuggled part).

    ``content_length`` is exact whenever every part's length is knowable (in-memory,
    paths, seekable files, nested bodies, declared ``length=``; base64 computed,
    in-memory quoted-printable encoded once), else ``None``. ``headers`` holds
    ``Content-Type`` and, when known, ``Content-Length``.

    Iterating again yields the same bytes (files re-read from their start); a body with a
    one-shot source raises :class:`UsageError` on the second iteration, before any byte.
    ``on_progress(sent, total)`` is called with 0 first and after each chunk is handed out.
    In-memory parts under 4 KiB are joined with their framing into ~64 KiB chunks, cached for the
    lifetime of the body (so their bytes are held twice); large payload is never joined.

    The layout (framing, joins, exact length, boundary choice) is made once, at
    construction, by the sans-I/O planner (:mod:`mimewire._plan`), whose bytes come from the
    same renderer as :class:`Encoder`'s; iterating only reads the streamed sources.
    """

    def __init__(
        self,
        parts: Iterable[Part],
        subtype: str = "form-data",
        boundary: str | None = None,
        preamble: bytes | None = None,
        epilogue: bytes | None = None,
        *,
        chunk_size: int = 65536,
        on_progress: ProgressCallback | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        self.parts: tuple[Part, ...] = _as_parts(parts)
        if not isinstance(subtype, str):
            raise UsageError(f"subtype must be a str, not {type(subtype).__name__}")
        subtype = subtype.strip().lower()
        check_header("Content-Type", f"multipart/{subtype}")
        if not subtype or any(c in subtype for c in ' \t;,"/()<>@:\\[]?={}'):
            raise UsageError(f"invalid multipart subtype {subtype!r}")
        self.subtype = subtype
        if type(chunk_size) is not int or chunk_size <= 0:
            raise UsageError(f"chunk_size must be a positive int, not {chunk_size!r}")
        self.chunk_size = chunk_size
        if on_progress is not None and not callable(on_progress):
            raise UsageError(f"on_progress must be callable, not {type(on_progress).__name__}")
        self.on_progress = on_progress
        self.preamble = _as_bytes(preamble, "preamble")
        self.epilogue = _as_bytes(epilogue, "epilogue")

        try:
            laid_out = plan(self.parts, subtype, boundary, self.preamble, self.epilogue)
        except AttributeError:
            _check_parts(self.parts)  # names the culprit
            raise
        self.boundary: str = laid_out.boundary
        self._segments: list[Segment] = laid_out.segments
        # A caller's boundary cannot be regenerated, so streamed parts are scanned for it
        # while they are sent (generated boundaries are 128-bit random: no scan needed).
        self._guard: bytes | None = None
        if boundary is not None:
            self._guard = b"--" + self.boundary.encode("ascii")
        self.content_length: int | None = laid_out.content_length
        self.content_type: str = render_content_type(
            f"multipart/{subtype}", (("boundary", self.boundary), *multipart_params(params))
        )
        self.headers: dict[str, str] = {"Content-Type": self.content_type}
        if self.content_length is not None:
            self.headers["Content-Length"] = str(self.content_length)

        # The one-shot and async sources among the streamed parts (nested ones included).
        self._shots: list[tuple[OneShot, str]] = []
        self._async_part: str | None = None
        for seg in self._segments:
            if type(seg) is bytes:
                continue
            assert isinstance(seg, Slot)
            part, here = seg.part, seg.where()
            if part._one_shot is not None:
                self._shots.append((part._one_shot, here))
            nested = part._nested
            if nested is not None:
                self._shots.extend((cell, f"{here}: {w}") for cell, w in nested._shots)
                if nested._async_part is not None and self._async_part is None:
                    self._async_part = f"{here}: {nested._async_part}"
            elif part._kind == AITER and self._async_part is None:
                self._async_part = here

    # -- iteration ------------------------------------------------------------------------

    def _claim(self, *, asynchronous: bool) -> None:
        if not asynchronous and self._async_part is not None:
            raise UsageError(
                f"{self._async_part} has an async source; iterate the body with `async for`"
                " (e.g. httpx.AsyncClient(...).post(content=aiter(body)))"
            )
        for cell, here in self._shots:
            if cell.used:
                raise UsageError(
                    f"{here} has a one-shot source that was already consumed; build a new"
                    " body (or pass a re-iterable source: bytes, a path, a seekable file,"
                    " a list) to send it again"
                )
        for cell, _ in self._shots:
            cell.used = True

    def __iter__(self) -> Iterator[bytes]:
        """Yield the body's bytes: framing and payload chunks (payload never copied)."""
        self._claim(asynchronous=False)
        if self.on_progress is None:
            return self._iter_raw()
        return self._progress(self._iter_raw(), self.on_progress)

    def __aiter__(self) -> AsyncIterator[bytes]:
        """Async iteration: async sources are awaited; sync sources (files) read inline."""
        self._claim(asynchronous=True)
        if self.on_progress is None:
            return self._aiter_raw()
        return self._aprogress(self._aiter_raw(), self.on_progress)

    def _iter_raw(self) -> Iterator[bytes]:
        chunk_size = self.chunk_size
        for seg in self._segments:
            if type(seg) is bytes:
                yield seg
                continue
            assert isinstance(seg, Slot)
            part = seg.part
            if self._guard is not None:
                yield from guarded(wire_chunks(seg, chunk_size), self._guard, seg)
            elif part._kind == PATH and (part._cte is None or is_identity(part._cte)):
                # Hot path: a file read straight through, no extra generator layers (going
                # through _sources.raw_chunks costs ~4% of the throughput of a plain read).
                f, size = open_path(seg)
                with f:
                    read = f.read
                    total = 0
                    while chunk := read(chunk_size):
                        total += len(chunk)
                        if total > size:
                            raise seg.mismatch(total, more=True)
                        yield chunk
                    if total != size:
                        raise seg.mismatch(total, more=False)
            else:
                yield from wire_chunks(seg, chunk_size)

    async def _aiter_raw(self) -> AsyncIterator[bytes]:
        chunk_size = self.chunk_size
        for seg in self._segments:
            if type(seg) is bytes:
                yield seg
                continue
            assert isinstance(seg, Slot)
            part = seg.part
            if self._guard is not None:
                async for chunk in aguarded(awire_chunks(seg, chunk_size), self._guard, seg):
                    yield chunk
            elif part._kind == PATH and (part._cte is None or is_identity(part._cte)):
                # Hot path, as in _iter_raw. Page-cache reads are fast enough to do inline;
                # a file on a slow network mount would block the event loop meanwhile.
                f, size = open_path(seg)
                with f:
                    read = f.read
                    total = 0
                    while chunk := read(chunk_size):
                        total += len(chunk)
                        if total > size:
                            raise seg.mismatch(total, more=True)
                        yield chunk
                    if total != size:
                        raise seg.mismatch(total, more=False)
            else:
                async for chunk in awire_chunks(seg, chunk_size):
                    yield chunk

    def _progress(self, chunks: Iterator[bytes], callback: ProgressCallback) -> Iterator[bytes]:
        total = self.content_length
        sent = 0
        callback(0, total)
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
            callback(sent, total)

    async def _aprogress(
        self, chunks: AsyncIterator[bytes], callback: ProgressCallback
    ) -> AsyncIterator[bytes]:
        total = self.content_length
        sent = 0
        callback(0, total)
        async for chunk in chunks:
            sent += len(chunk)
            yield chunk
            callback(sent, total)

    def __len__(self) -> int:
        """The exact Content-Length. With an unknown length this raises :class:`UsageError`
        that is also a ``TypeError`` -- what ``len()`` of an unsized object raises -- so a
        client that probes ``len()`` (``requests``' ``super_len``) falls back to chunked
        transfer encoding instead of sending a wrong or a second length header."""
        length = self.content_length
        if length is None:
            raise _UnknownLength(
                f"the body's length is unknown: {self._unsized()} (pass length= to the"
                " part for an exact Content-Length)"
            )
        return length

    def __bool__(self) -> bool:
        """Always true: a multipart body is never empty (it has at least its close
        delimiter), and truth must not depend on whether the length is known."""
        return True

    def _unsized(self) -> str:
        """Where the length gets lost: the first streamed part without a known length."""
        for seg in self._segments:
            if type(seg) is not bytes:
                assert isinstance(seg, Slot)
                if seg.part._wire_length is None:
                    return f"{seg.where()} has no known length"
        return "no part has an unknown length"  # pragma: no cover - content_length is known

    def reader(self) -> BodyReader:
        """A file-like :class:`BodyReader` over a fresh iteration of this body."""
        return BodyReader(self)

    def to_bytes(self) -> bytes:
        """The whole body in memory (for tests and small bodies)."""
        return b"".join(self)

    def __repr__(self) -> str:
        return (
            f"MultipartBody({len(self.parts)} parts, {self.content_type!r},"
            f" content_length={self.content_length})"
        )


class BodyReader(io.RawIOBase):
    """A read-only file-like view of one iteration of a :class:`MultipartBody`.

    ``read(n)`` returns at most ``n`` bytes (whole source chunks are returned without a
    copy when they fit); ``readinto`` fills a caller's buffer. ``len`` is the total
    Content-Length or ``None`` and ``tell()`` the bytes read so far, so ``requests``
    (``data=body.reader()``) sends a Content-Length when the length is known and
    chunked encoding otherwise. Usable as ``http.client``'s and ``urllib3``'s ``body=``.
    ``close()`` stops the iteration and closes any file it had opened.

    Plain file parts (a path or a standard binary file object, no transfer encoding) are
    read straight from the file: ``read(n)`` is one ``read(n)`` of the file and ``readinto``
    reads into the caller's buffer with no intermediate bytes object, with the same length
    checks as iteration. A file the reader opened (a path) it closes; a caller's it never does.
    With ``on_progress`` or a caller's boundary (which streamed parts are scanned for)
    the reader pulls the body's own iterator instead.
    """

    # Slots: attribute access on an io.RawIOBase subclass through its instance dict is
    # slow enough to cost ~5% of a 64 KiB page-cache read per call; slots are not.
    __slots__ = (
        "_buf",
        "_chunk_size",
        "_chunks",
        "_file",
        "_file_size",
        "_left",
        "_owned",
        "_pos",
        "_segments",
        "_slot",
        "_tell",
        "len",
    )

    def __init__(self, body: MultipartBody) -> None:
        super().__init__()
        self._buf = b""  # the bytes being handed out ...
        self._pos = 0  # ... from this offset
        self._file: Any = None  # a plain file part being read directly
        self._slot: Slot | None = None  # ... the part it belongs to
        self._file_size = 0  # ... the bytes it promised (_UNSIZED: no promise)
        self._left = 0  # ... the bytes it still owes
        self._owned = False  # ... whether the reader opened it (and so closes it)
        self._chunks: Iterator[bytes] | None = None  # chunks of a part read otherwise
        self._segments: Iterator[Segment] | None = None  # the body's planned segments
        self._chunk_size = body.chunk_size
        if body.on_progress is None and body._guard is None:
            body._claim(asynchronous=False)
            self._segments = iter(body._segments)
        else:
            self._chunks = iter(body)
        self._tell = 0
        self.len: int | None = body.content_length

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        """Bytes read so far (during a plain file part: its bytes read count too)."""
        if self._slot is None:
            return self._tell
        return self._tell + self._file_size - self._left

    def _advance(self) -> bool:
        """Move to the next source of bytes (a buffer, an open file or a chunk iterator);
        False at the end of the body."""
        self._check_open()
        if self._file is not None:
            self._end_file()
        while True:
            chunks = self._chunks
            if chunks is not None:
                for chunk in chunks:
                    if chunk:
                        self._buf = chunk
                        self._pos = 0
                        return True
                self._chunks = None
            segments = self._segments
            if segments is None:
                self._buf = b""
                self._pos = 0
                return False
            seg = next(segments, None)
            if seg is None:
                self._segments = None
                continue
            if type(seg) is bytes:
                if seg:
                    self._buf = seg
                    self._pos = 0
                    return True
                continue
            assert isinstance(seg, Slot)
            part = seg.part
            if part._cte is None or is_identity(part._cte):
                kind = part._kind
                if kind == PATH:
                    self._file, size = open_path(seg)
                    self._owned = True
                elif kind == FILE and isinstance(part._source, _STD_FILES):
                    self._file = part._source  # the caller's: read in place, never closed
                    if part._one_shot is None:
                        self._file.seek(part._start)
                    size = _UNSIZED if seg.expected is None else seg.expected
                    self._owned = False
                else:
                    self._chunks = wire_chunks(seg, self._chunk_size)
                    continue
                self._slot = seg
                self._left = self._file_size = size
                self._buf = b""
                self._pos = 0
                return True
            self._chunks = wire_chunks(seg, self._chunk_size)

    def _end_file(self) -> None:
        f, slot, left = self._file, self._slot, self._left
        self._tell = self.tell()
        self._file = self._slot = None
        if self._owned:
            f.close()
        if left and slot is not None and slot.expected is not None:
            raise slot.mismatch(slot.expected - left, more=False)

    def _overrun(self, got: int) -> UsageError:
        f, slot = self._file, self._slot
        self._file = self._slot = None
        if self._owned:
            f.close()
        assert slot is not None and slot.expected is not None
        return slot.mismatch(slot.expected + got - self._left, more=True)

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self.readall()
        while True:
            f = self._file
            if f is not None:  # a plain file part: the caller's size is the read size
                out = f.read(size)
                if out:
                    left = self._left - len(out)
                    if left < 0:
                        raise self._overrun(len(out))
                    self._left = left
                    return out  # type: ignore[no-any-return]
            else:
                buf = self._buf
                pos = self._pos
                if pos < len(buf):
                    if not size:
                        return b""
                    end = pos + size
                    if pos == 0 and end >= len(buf):
                        out = buf
                        self._buf = b""
                    else:
                        out = buf[pos:end]
                        self._pos = pos + len(out)
                    self._tell += len(out)
                    return out
            if not size:
                self._check_open()
                return b""
            if not self._advance():
                return b""

    def readinto(self, buffer: Any, /) -> int:
        while True:
            f = self._file
            if f is not None:  # a plain file part: straight into the caller's buffer
                n = f.readinto(buffer)
                if n:
                    left = self._left - n
                    if left < 0:
                        raise self._overrun(n)
                    self._left = left
                    return n  # type: ignore[no-any-return]
                if not memoryview(buffer).nbytes:
                    return 0
            else:
                view = memoryview(buffer).cast("B")
                buf = self._buf
                pos = self._pos
                if pos < len(buf):
                    n = min(len(view), len(buf) - pos)
                    view[:n] = memoryview(buf)[pos : pos + n]
                    self._pos = pos + n
                    self._tell += n
                    return n
                if not view:
                    self._check_open()
                    return 0
            if not self._advance():
                return 0

    def readall(self) -> bytes:
        pieces: list[bytes] = []
        while True:
            if self._file is not None:
                chunk = self.read(self._chunk_size)  # a file: chunk_size reads
            elif self._pos < len(self._buf):
                chunk = self.read(len(self._buf))  # the rest of an in-memory chunk, whole
            elif self._advance():
                continue
            else:
                return b"".join(pieces)
            if chunk:
                pieces.append(chunk)

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed BodyReader")

    def close(self) -> None:
        """Stop: close the file being read and the part iterator; every later read raises
        ``ValueError`` (the hot paths see only empty state and fall through to the check)."""
        if not self.closed:
            f, chunks = self._file, self._chunks
            self._file = self._slot = self._chunks = self._segments = None
            self._buf = b""
            try:
                if f is not None and self._owned:
                    f.close()
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            finally:
                super().close()
