"""Reading part bodies: paths, file objects, iterables, async iterables, nested bodies.

The I/O edge of the encoder (a :class:`~mimewire.Part` sizes its source when it is made,
in :mod:`mimewire._part`): :func:`wire_chunks` / :func:`awire_chunks` read a streamed
part of a planned body (a :class:`~mimewire._plan.Slot`) while it is sent: length
checked against what was promised, transfer encoding applied, and -- with a caller's
boundary -- scanned so a colliding chunk is never sent. Nothing here reads more than the
caller handed over, and every file opened here is closed.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._codecs import is_identity, make_encoder
from ._errors import UsageError
from ._part import AITER, FILE, NESTED, PATH
from ._plan import Slot

__all__ = ["aguarded", "awire_chunks", "guarded", "open_path", "wire_chunks"]

# --------------------------------------------------------------------------- reading


def open_path(slot: Slot) -> tuple[Any, int]:
    """Open a path part unbuffered; refuse it if its size changed since the Part was made."""
    path = slot.part._source
    f = open(path, "rb", buffering=0)  # noqa: SIM115 - the caller closes it
    size = os.fstat(f.fileno()).st_size
    if size != slot.expected:
        f.close()
        raise UsageError(
            f"{slot.where()}: file {path!r} changed size from {slot.expected}"
            f" to {size} bytes since the part was created"
        )
    return f, size


def _coerce(slot: Slot, chunk: object) -> bytes:
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise UsageError(f"{slot.where()}: source yielded {type(chunk).__name__}, expected bytes")


def _read_file(slot: Slot, f: Any, chunk_size: int) -> Iterator[bytes]:
    expected = slot.expected
    read = f.read
    total = 0
    while chunk := read(chunk_size):
        if type(chunk) is not bytes:
            chunk = _coerce(slot, chunk)
        total += len(chunk)
        if expected is not None and total > expected:
            raise slot.mismatch(total, more=True)
        yield chunk
    if expected is not None and total != expected:
        raise slot.mismatch(total, more=False)


def raw_chunks(slot: Slot, chunk_size: int) -> Iterator[bytes]:
    """The source's bytes (before any transfer encoding), length-checked."""
    part = slot.part
    kind = part._kind
    if kind == PATH:
        f, _ = open_path(slot)
        with f:
            yield from _read_file(slot, f, chunk_size)
        return
    if kind == FILE:
        f = part._source
        if part._one_shot is None:
            f.seek(part._start)
        yield from _read_file(slot, f, chunk_size)
        return
    if kind == NESTED:
        yield from part._source._iter_raw()
        return
    if kind == AITER:
        raise UsageError(
            f"{slot.where()} has an async source ({type(part._source).__name__}); "
            "iterate the body with `async for` (e.g. httpx AsyncClient content=aiter(body))"
        )
    expected = slot.expected  # ITER
    total = 0
    for chunk in part._source:
        if type(chunk) is not bytes:
            chunk = _coerce(slot, chunk)
        total += len(chunk)
        if expected is not None and total > expected:
            raise slot.mismatch(total, more=True)
        if chunk:
            yield chunk
    if expected is not None and total != expected:
        raise slot.mismatch(total, more=False)


async def araw_chunks(slot: Slot, chunk_size: int) -> AsyncIterator[bytes]:
    """Async version of :func:`raw_chunks` (sync sources are read inline)."""
    part = slot.part
    kind = part._kind
    if kind == AITER:
        expected = slot.expected
        total = 0
        async for chunk in part._source:
            if type(chunk) is not bytes:
                chunk = _coerce(slot, chunk)
            total += len(chunk)
            if expected is not None and total > expected:
                raise slot.mismatch(total, more=True)
            if chunk:
                yield chunk
        if expected is not None and total != expected:
            raise slot.mismatch(total, more=False)
    elif kind == NESTED:
        async for chunk in part._source._aiter_raw():
            yield chunk
    else:
        for chunk in raw_chunks(slot, chunk_size):
            yield chunk


def wire_chunks(slot: Slot, chunk_size: int) -> Iterator[bytes]:
    """The part body as sent (transfer encoding applied)."""
    cte = slot.part._cte
    if cte is None or is_identity(cte):
        yield from raw_chunks(slot, chunk_size)
        return
    codec = make_encoder(cte, binary=True)
    feed = codec.feed
    try:
        for chunk in raw_chunks(slot, chunk_size):
            out = feed(chunk)
            if out:
                yield out
        out = codec.flush()
    except UsageError as exc:
        if exc.message.startswith(slot.where()):
            raise
        raise UsageError(f"{slot.where()}: {exc.message}") from None
    if out:
        yield out


async def awire_chunks(slot: Slot, chunk_size: int) -> AsyncIterator[bytes]:
    """Async version of :func:`wire_chunks`."""
    cte = slot.part._cte
    if cte is None or is_identity(cte):
        async for chunk in araw_chunks(slot, chunk_size):
            yield chunk
        return
    codec = make_encoder(cte, binary=True)
    feed = codec.feed
    try:
        async for chunk in araw_chunks(slot, chunk_size):
            out = feed(chunk)
            if out:
                yield out
        out = codec.flush()
    except UsageError as exc:
        if exc.message.startswith(slot.where()):
            raise
        raise UsageError(f"{slot.where()}: {exc.message}") from None
    if out:
        yield out


# --------------------------------------------------------------------------- boundary guard


class _BoundaryScan:
    """Finds ``needle`` in a stream of chunks, including across chunk edges."""

    __slots__ = ("keep", "needle", "offset", "slot", "tail")

    def __init__(self, needle: bytes, slot: Slot) -> None:
        self.needle = needle
        self.slot = slot
        self.keep = len(needle) - 1
        self.tail = b""
        self.offset = 0

    def check(self, chunk: bytes) -> None:
        """Raise before ``chunk`` is sent if the boundary occurs in it (or spans into it)."""
        needle, keep, tail = self.needle, self.keep, self.tail
        found = (tail + chunk[:keep]).find(needle) if tail else -1
        if found >= 0:
            pos = found - len(tail)  # starts in the previous chunk
        else:
            found = pos = chunk.find(needle)
        if found >= 0:
            raise UsageError(
                f"{self.slot.where()}: boundary {needle[2:].decode('ascii')!r} occurs in the"
                f" streamed body at offset {self.offset + pos}; stopped before sending it"
                " (let mimewire generate the boundary, or choose one the data cannot contain)"
            )
        self.offset += len(chunk)
        self.tail = chunk[-keep:] if len(chunk) >= keep else (tail + chunk)[-keep:]


def guarded(chunks: Iterator[bytes], needle: bytes, slot: Slot) -> Iterator[bytes]:
    """``chunks``, each checked for ``needle`` (``--boundary``) before it is passed on."""
    scan = _BoundaryScan(needle, slot)
    for chunk in chunks:
        scan.check(chunk)
        yield chunk


async def aguarded(chunks: AsyncIterator[bytes], needle: bytes, slot: Slot) -> AsyncIterator[bytes]:
    """Async version of :func:`guarded`."""
    scan = _BoundaryScan(needle, slot)
    async for chunk in chunks:
        scan.check(chunk)
        yield chunk
