"""multipart/byteranges (RFC 9110 §14.6): each part's ``Content-Range``, and putting the
ranges of a 206 answer back into a file.

``Content-Range: bytes first-last/complete`` (``complete`` may be ``*`` when the server does
not know it). The ``bytes */complete`` form belongs to a 416 answer, never to a part.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ._errors import MalformedInput, UsageError

__all__ = [
    "ContentRange",
    "RangedPart",
    "RangesWritten",
    "awrite_ranges",
    "parse_content_range",
    "write_ranges",
]

# Positions beyond 18 digits (~1 EB) are no real resource: refused before int() runs.
MAX_RANGE_DIGITS = 18

ContentRange = tuple[int, int, "int | None"]
"""``(first, last, complete)``: inclusive byte positions; ``complete`` is ``None`` for ``*``."""


class HasRange(Protocol):
    """A decoded part: its headers and position."""

    index: int
    offset: int | None

    def header(self, name: str, default: str | None = None) -> str | None: ...


class RangedPart(HasRange, Protocol):
    """A decoded part of a multipart/byteranges body whose chunks are iterated."""

    def __iter__(self) -> Iterator[bytes]: ...


class AsyncRangedPart(HasRange, Protocol):
    """An async decoded part (:class:`~mimewire.AsyncStreamedPart`)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...


def _position(text: str, what: str, value: str, part: int | None, offset: int | None) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise MalformedInput(
            f"Content-Range {value[:80]!r}: {what} {text[:40]!r} is not a decimal byte position",
            offset=offset,
            part=part,
        )
    if len(text) > MAX_RANGE_DIGITS:
        raise MalformedInput(
            f"Content-Range {value[:80]!r}: {what} has {len(text)} digits"
            f" (at most {MAX_RANGE_DIGITS})",
            offset=offset,
            part=part,
        )
    return int(text)


def parse_content_range(
    value: str, *, part: int | None = None, offset: int | None = None
) -> ContentRange:
    """``"bytes 0-499/1234"`` -> ``(0, 499, 1234)``; ``"bytes 0-499/*"`` -> ``(0, 499, None)``.

    Anything else (another unit, ``first > last``, ``last >= complete``, non-digits, more
    than 18 digits, the ``*/complete`` form) is :class:`MalformedInput` naming ``part``.
    """
    if not isinstance(value, str):
        raise UsageError(f"Content-Range must be a str, not {type(value).__name__}")
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        raise MalformedInput(
            f"Content-Range {value[:80]!r} is not in bytes (expected 'bytes first-last/complete')",
            offset=offset,
            part=part,
        )
    span, slash, total = spec.strip().partition("/")
    first_text, dash, last_text = span.partition("-")
    if not slash or not dash:
        raise MalformedInput(
            f"Content-Range {value[:80]!r} is not 'bytes first-last/complete'",
            offset=offset,
            part=part,
        )
    first = _position(first_text, "first", value, part, offset)
    last = _position(last_text, "last", value, part, offset)
    complete = None if total == "*" else _position(total, "complete length", value, part, offset)
    if first > last:
        raise MalformedInput(
            f"Content-Range {value[:80]!r}: first byte {first} is after last byte {last}",
            offset=offset,
            part=part,
        )
    if complete is not None and last >= complete:
        raise MalformedInput(
            f"Content-Range {value[:80]!r}: last byte {last} is past the complete length"
            f" {complete}",
            offset=offset,
            part=part,
        )
    return first, last, complete


def part_range(part: HasRange) -> ContentRange:
    """The parsed Content-Range of a decoded part; a part without one is MalformedInput."""
    value = part.header("Content-Range")
    if value is None:
        raise MalformedInput(
            "a multipart/byteranges part has no Content-Range", offset=part.offset, part=part.index
        )
    return parse_content_range(value, part=part.index, offset=part.offset)


@dataclass(frozen=True)
class RangesWritten:
    """What :func:`write_ranges` put into the file."""

    spans: tuple[tuple[int, int], ...]
    """The written ``(first, last)`` spans, inclusive, sorted and merged."""
    complete: int | None
    """The complete length the parts declared (``None`` when they all said ``*``)."""

    @property
    def is_complete(self) -> bool:
        """True when the spans cover the whole resource of a known length."""
        return self.complete is not None and (
            self.complete == 0 or self.spans == ((0, self.complete - 1),)
        )


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _check_overlap(
    file: Any, at: int, chunk: bytes, written: list[tuple[int, int, int]], index: int
) -> None:
    """Compare the bytes of ``chunk`` (to go at ``at``) that earlier parts already wrote."""
    end = at + len(chunk) - 1
    for first, last, other in written:
        lo, hi = max(first, at), min(last, end)
        if lo > hi:
            continue
        try:
            file.seek(lo)
            before = file.read(hi - lo + 1)
        except OSError as exc:
            raise UsageError(
                f"ranges overlap (part {index} and part {other}): write_ranges needs a file"
                f" open for reading too ('w+b' or 'r+b'): {exc}"
            ) from None
        if before != chunk[lo - at : hi - at + 1]:
            raise MalformedInput(
                f"bytes {lo}-{hi} differ from what part {other} gave for them", part=index
            )


class _RangeWriter:
    """The checks and writes of :func:`write_ranges`, one part and one chunk at a time."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.written: list[tuple[int, int, int]] = []
        self.complete: int | None = None
        self.declared = False
        self.part: HasRange | None = None
        self.first = self.last = self.at = 0

    def begin(self, part: HasRange) -> None:
        first, last, total = part_range(part)
        if total is not None:
            if self.declared and self.complete != total:
                raise MalformedInput(
                    f"Content-Range complete length {total} differs from {self.complete}"
                    " declared by an earlier part",
                    offset=part.offset,
                    part=part.index,
                )
            self.complete, self.declared = total, True
        complete = self.complete
        if complete is not None:
            beyond = [(la, i) for _, la, i in self.written if la >= complete]
            end, culprit = max([*beyond, (last, part.index)])
            if end >= complete:
                raise MalformedInput(
                    f"byte {end} is past the complete length {complete} the parts declare",
                    offset=part.offset if culprit == part.index else None,
                    part=culprit,
                )
        self.part, self.first, self.last, self.at = part, first, last, first

    def write(self, data: bytes) -> None:
        part, at, first, last = self.part, self.at, self.first, self.last
        assert part is not None
        chunk = bytes(data)
        if at + len(chunk) > last + 1:
            raise MalformedInput(
                f"body is longer than its Content-Range {first}-{last} ({last - first + 1} bytes)",
                offset=part.offset,
                part=part.index,
            )
        if self.written:
            _check_overlap(self.file, at, chunk, self.written, part.index)
        self.file.seek(at)
        self.file.write(chunk)
        self.at = at + len(chunk)

    def end(self) -> None:
        part, first, last = self.part, self.first, self.last
        assert part is not None
        if self.at != last + 1:
            raise MalformedInput(
                f"body has {self.at - first} bytes, its Content-Range {first}-{last} says"
                f" {last - first + 1}",
                offset=part.offset,
                part=part.index,
            )
        self.written.append((first, last, part.index))

    def result(self) -> RangesWritten:
        return RangesWritten(_merge([(f, la) for f, la, _ in self.written]), self.complete)


def write_ranges(parts: Iterable[RangedPart], file: Any) -> RangesWritten:
    """Write each part's body at its Content-Range position in ``file`` (a binary file
    opened ``'r+b'`` or ``'w+b'``: seekable, and readable when ranges overlap).

    Parts come from :func:`~mimewire.parse_stream` or :func:`~mimewire.parse`; their bodies
    are streamed chunk by chunk. Refused with :class:`MalformedInput` naming the part: a part
    without a valid Content-Range, a body longer or shorter than its range, parts declaring
    different complete lengths, a range past the declared complete length, and overlapping
    ranges whose bytes differ. The file is not truncated: call
    ``file.truncate(result.complete)`` when that is wanted.
    """
    writer = _RangeWriter(file)
    for part in parts:
        writer.begin(part)
        for data in part:
            writer.write(data)
        writer.end()
    return writer.result()


async def awrite_ranges(parts: AsyncIterable[AsyncRangedPart], file: Any) -> RangesWritten:
    """:func:`write_ranges` over :func:`~mimewire.aparse_stream` parts (the file writes
    themselves are synchronous)."""
    writer = _RangeWriter(file)
    async for part in parts:
        writer.begin(part)
        async for data in part:
            writer.write(data)
        writer.end()
    return writer.result()
