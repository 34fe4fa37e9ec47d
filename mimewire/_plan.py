"""The planner: lay out a whole multipart body once, as bytes and slots for streamed parts.

Sans-I/O. Given the parts, the subtype, a boundary, preamble and epilogue, :func:`plan`
returns the body as a list of *segments*: ``bytes`` (framing plus in-memory bodies, every
byte rendered by :mod:`mimewire._render`) and :class:`Slot` placeholders for the bodies
that are read while sending (files, iterables, nested bodies, ...). From that list follow
the exact Content-Length (:func:`content_length`) and whether ``--boundary`` occurs in any
known byte (a collision: a generated boundary is then drawn again).

Layout rules, chosen for speed:

* in-memory bodies smaller than :data:`PASS_THROUGH` are joined with the framing around
  them into segments of about ``JOIN_LIMIT`` bytes;
* larger in-memory bodies, and every slot, are segments of their own -- never copied or
  joined (a copy into fresh memory costs more than handing out one more chunk);
* runs of plain form fields (``Part.field(name, str)``) are rendered in blobs of about
  :data:`FIELD_BLOB` bytes (:func:`_render_fields`), from the same templates as
  :func:`form_data_head`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._errors import UsageError
from ._headers import make_boundary, validate_boundary
from ._part import Part
from ._render import (
    FORM_HEAD,
    FORM_TAIL,
    close_delimiter,
    delimiter,
    form_data_head,
    header_text,
    is_plain,
    part_head,
)

__all__ = [
    "FIELD_BLOB",
    "JOIN_LIMIT",
    "PASS_THROUGH",
    "Plan",
    "Slot",
    "content_length",
    "plan",
    "scan",
    "where",
]

JOIN_LIMIT = 65536
"""Joined segments (framing plus small in-memory bodies) are cut at about this size."""

PASS_THROUGH = 4096
"""In-memory bodies of this size or more are segments of their own (the caller's bytes object
itself): joining copies them, and copying into fresh memory runs at ~1.2 GB/s."""

FIELD_BLOB = JOIN_LIMIT - JOIN_LIMIT // 8
"""Runs of plain fields are rendered in blobs of about this many bytes: small enough to stay
in cache and in the allocator's reused memory, large enough to cost one call per ~1000
fields."""

_MAX_BOUNDARY_TRIES = 16


def where(index: int, part: Part) -> str:
    """``part 3 (name='x', filename='y')``: how error messages name a part."""
    desc = part.describe()
    return f"part {index}" + (f" ({desc})" if desc else "")


class Slot:
    """A part body the planner cannot render: it is read while the body is sent."""

    __slots__ = ("expected", "index", "part")

    def __init__(self, index: int, part: Part) -> None:
        self.index = index
        self.part = part
        self.expected = part._raw_length  # source bytes promised (None: unknown)

    def where(self) -> str:
        return where(self.index, self.part)

    def mismatch(self, got: int, *, more: bool) -> UsageError:
        """The error for a source that yields more (or fewer) bytes than promised."""
        if more:
            return UsageError(
                f"{self.where()}: source yielded more than the declared {self.expected} bytes"
                f" ({got} so far)"
            )
        return UsageError(
            f"{self.where()}: source yielded {got} bytes but {self.expected} were declared"
        )


Segment = bytes | Slot


class Plan:
    """A laid-out body: its boundary, segments and exact length (None when unknown)."""

    __slots__ = ("boundary", "content_length", "segments")

    def __init__(self, boundary: str, segments: list[Segment]) -> None:
        self.boundary = boundary
        self.segments = segments
        self.content_length = content_length(segments)


def content_length(segments: Sequence[Segment]) -> int | None:
    """The exact number of bytes ``segments`` make on the wire, or None when a slot's
    length is unknown (an iterable without ``length=``, quoted-printable streams)."""
    total = 0
    for seg in segments:
        if type(seg) is bytes:
            total += len(seg)
        else:
            assert isinstance(seg, Slot)
            length = seg.part._wire_length
            if length is None:
                return None
            total += length
    return total


def scan(segments: Sequence[Segment], needle: bytes) -> int:
    """Offset of ``needle`` in the known bytes of ``segments`` (spanning segments, and
    into nested bodies), or -1."""
    keep = len(needle) - 1
    tail = b""
    offset = 0
    for seg in segments:
        if isinstance(seg, bytes):
            pos = (tail + seg[:keep]).find(needle) if tail else -1
            if pos >= 0:
                return offset - len(tail) + pos
            pos = seg.find(needle)
            if pos >= 0:
                return offset + pos
            tail = seg[-keep:] if keep else b""
            offset += len(seg)
        else:
            nested = seg.part._nested
            if nested is not None:
                pos = scan(nested._segments, needle)
                if pos >= 0:
                    return offset + pos
            tail = b""
            offset += seg.part._wire_length or 0
    return -1


def plan(
    parts: Sequence[Part],
    subtype: str,
    boundary: str | None,
    preamble: bytes | None,
    epilogue: bytes | None,
) -> Plan:
    """Lay out ``parts`` (all :class:`Part` objects). A caller's ``boundary`` is validated
    and must not occur in any known byte (:class:`UsageError` naming where it does); with
    ``None``, a fresh :func:`make_boundary` is drawn until none collides."""
    layout = _Layout(parts, subtype, preamble, epilogue)
    if boundary is not None:
        boundary = validate_boundary(boundary)
        segments, problem = layout.segments(boundary)
        if problem is not None:
            raise UsageError(f"boundary {boundary!r} occurs in {problem}")
        return Plan(boundary, segments)
    for _ in range(_MAX_BOUNDARY_TRIES):
        boundary = make_boundary()
        segments, problem = layout.segments(boundary)
        if problem is None:
            return Plan(boundary, segments)
    raise UsageError(  # pragma: no cover - needs 16 colliding 128-bit random boundaries
        "could not generate a boundary that does not collide"
    )


class _Layout:
    """Lays out one body for a given boundary (header blocks are boundary independent and
    rendered once, however many boundaries are tried)."""

    def __init__(
        self,
        parts: Sequence[Part],
        subtype: str,
        preamble: bytes | None,
        epilogue: bytes | None,
    ) -> None:
        self.parts = parts
        self.subtype = subtype
        self.preamble = preamble
        self.epilogue = epilogue
        self.blocks: dict[int, bytes] = {}

    def block(self, i: int, part: Part) -> bytes:
        """Part ``i``'s header block: its :meth:`Part.headers_for` list, rendered."""
        block = self.blocks.get(i)
        if block is None:
            try:
                headers = part.headers_for(self.subtype)
                if (
                    self.subtype == "form-data"
                    and part.name is None
                    and not any(k.lower() == "content-disposition" for k, _ in part._extra)
                ):
                    raise UsageError(
                        "a multipart/form-data part needs a name (RFC 7578 §4.2);"
                        " pass name= or a Content-Disposition header"
                    )
            except UsageError as exc:
                raise UsageError(f"{where(i, part)}: {exc.message}") from None
            block = self.blocks[i] = header_text(headers).encode()
        return block

    def segments(self, boundary_str: str) -> tuple[list[Segment], str | None]:
        """The segments for ``boundary_str``, or ``([], where)`` when ``--boundary`` occurs
        in known bytes (the preamble, an in-memory body, a nested body's known bytes)."""
        text_dash = delimiter(boundary_str)
        needle = text_dash[2:-2].encode("ascii")  # --boundary
        preamble = self.preamble
        if preamble is not None and needle in preamble:
            return [], "the preamble"
        segments: list[Segment] = []
        pending: list[bytes] = []
        pending_size = 0
        first = b"" if preamble is None else preamble + b"\r\n"
        append = pending.append
        parts = self.parts
        n = len(parts)
        form_data = self.subtype == "form-data"
        i = 0
        batch = 64  # plain fields per rendered blob: sized to make ~FIELD_BLOB bytes
        backoff = 8  # how many to send through the per-part path when even a few fail
        while i < n:
            stop = i + 1
            if form_data and parts[i]._ftext is not None:
                while True:
                    blob, stop = self._render_fields(i, min(n, i + batch), text_dash)
                    if blob is not None:
                        # aim the next blob at FIELD_BLOB bytes, growing at most 2x a step
                        batch = max(8, min(2 * batch, (stop - i) * FIELD_BLOB // len(blob)))
                        backoff = 8
                        break
                    if stop - i <= 8:
                        # The next few go through the per-part path below; more of
                        # them after each such failure (many fields needing escapes).
                        stop = min(n, i + backoff)
                        backoff *= 2
                        break
                    batch = (stop - i) // 2  # isolate the field(s) that need it
                if blob is not None:
                    if i == 0 and first:
                        append(first)
                        pending_size += len(first)
                    # A blob is about FIELD_BLOB bytes: it starts a segment of its own
                    # (never copied into a join) unless it fits with what is pending.
                    if pending_size and pending_size + len(blob) > JOIN_LIMIT:
                        segments.append(b"".join(pending))
                        pending.clear()
                        pending_size = 0
                    append(blob)
                    pending_size += len(blob)
                    if pending_size >= FIELD_BLOB:
                        segments.append(b"".join(pending))
                        pending.clear()
                        pending_size = 0
                    i = stop
                    continue
            for i in range(i, stop):  # noqa: B020 - one part at a time
                part = parts[i]
                wire = part._wire
                if wire is not None:
                    if needle in wire:
                        return [], f"{where(i, part)} at body offset {wire.find(needle)}"
                    name = part.name
                    filename = part.filename
                    if (
                        not part._slow
                        and form_data
                        and name is not None
                        and (name.isalnum() or is_plain(name))
                        and (filename is None or filename.isalnum() or is_plain(filename))
                    ):
                        head = text_dash + form_data_head(name, filename, part.content_type)
                        head_bytes = head.encode()
                        if i == 0:
                            head_bytes = first + head_bytes[2:]
                        append(head_bytes)
                        pending_size += len(head_bytes)
                    else:
                        head_bytes = part_head(
                            boundary_str, self.block(i, part), first=i == 0, preamble=preamble
                        )
                        append(head_bytes)
                        pending_size += len(head_bytes)
                    if len(wire) < PASS_THROUGH:
                        append(wire)
                        pending_size += len(wire)
                        if pending_size >= JOIN_LIMIT:
                            segments.append(b"".join(pending))
                            pending.clear()
                            pending_size = 0
                    else:
                        segments.append(b"".join(pending))
                        pending.clear()
                        pending_size = 0
                        segments.append(wire)
                else:
                    block = self.block(i, part)
                    nested = part._nested
                    if nested is not None:
                        pos = scan(nested._segments, needle)
                        if pos >= 0:
                            return [], f"{where(i, part)} (nested body) at offset {pos}"
                    append(part_head(boundary_str, block, first=i == 0, preamble=preamble))
                    segments.append(b"".join(pending))
                    pending.clear()
                    pending_size = 0
                    segments.append(Slot(i, part))
            i = stop
        append(
            close_delimiter(
                boundary_str, any_parts=bool(parts), preamble=preamble, epilogue=self.epilogue
            )
        )
        segments.append(b"".join(pending))
        return segments, None

    def _render_fields(self, start: int, stop: int, text_dash: str) -> tuple[bytes | None, int]:
        """Render the plain fields (``Part.field(name, str)``) among ``parts[start:stop]``
        as one UTF-8 blob -- each ``text_dash + form_data_head(name, None, None) + value``,
        the first of the body without its leading CRLF -- and say where they end (the
        first part that is not a plain field). The blob is None when any of them needs
        the per-part path: a name that needs escaping, a value holding ``--boundary`` or
        so large it must not be joined."""
        parts = self.parts[start:stop]
        # Comprehensions, not attrgetter: specialised attribute loads, ~2x faster. Any:
        # a None (not a plain field) is found by the join that refuses it.
        values: list[Any] = [part._ftext for part in parts]
        try:
            text = "".join(values)
        except TypeError:  # the run of plain fields ends inside this range
            k = values.index(None)
            stop = start + k
            del values[k:]
            parts = parts[:k]
            text = "".join(values)
        # A needle has no CR, LF or '"', so in the blob it could only come from a value
        # (or span two of them here: a false alarm the per-part path settles). A name
        # holding it is harmless: a name never follows a CRLF.
        if text_dash[2:-2] in text:
            return None, stop
        if len(text) >= JOIN_LIMIT // 4 and max(map(len, values)) >= JOIN_LIMIT // 4:
            return None, stop  # might be >= JOIN_LIMIT bytes once encoded
        names: list[Any] = [part.name for part in parts]
        try:
            joined = "".join(names)
        except TypeError:
            return None, stop  # a nameless field: the per-part path names the problem
        if not is_plain(joined):
            return None, stop
        pieces: list[str | None] = [text_dash + FORM_HEAD, None, FORM_TAIL, None] * len(parts)
        pieces[1::4] = names
        pieces[3::4] = values
        if start == 0:
            pieces[0] = text_dash[2:] + FORM_HEAD
        return "".join(pieces).encode(), stop  # type: ignore[arg-type]
