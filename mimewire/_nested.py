"""Decoding a multipart body together with the multipart bodies nested in its parts.

Shared by :func:`parse` (``nested=True``) and ``python -m mimewire inspect``. A
:class:`TreeDecoder` feeds the top-level :class:`Decoder`; the data of a ``multipart/*``
part goes, as it streams, both to the part's sink and to an inner decoder, so a nested leaf
is handled once (never re-read from a spool). The limits hold per request:
``max_parts`` counts the parts of every nesting level together, ``max_depth`` bounds the
nesting, and every decoder keeps its own header/size limits.

What happens to part bodies is the caller's business: a :class:`PartHandler` opens a
:class:`PartSink` per part and turns it into an item (a ``ParsedPart``, a JSON dict, ...)
once the part (and its nested parts) ended. Errors of nested decoders carry absolute
input offsets when the nested body is not transfer-decoded.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from ._decoder import Decoder, Limits
from ._errors import LimitExceeded, MalformedInput, MimeWireError, UsageError
from ._events import Event, MultipartEnd, PartData, PartEnd, PartStart, decoded_part_start
from ._input import decodes_transfer

__all__ = ["PartHandler", "PartSink", "TreeDecoder"]

T = TypeVar("T")
_IDENTITY = (None, "7bit", "8bit", "binary")


class PartSink(Protocol[T]):
    """Receives one part body; ``finish`` turns it into an item."""

    def write(self, data: bytes, /) -> None: ...

    def finish(self, children: list[T] | None, /) -> T: ...

    def abort(self) -> None: ...


class PartHandler(Protocol[T]):
    """Opens a sink per part; discards items the caller will never get (after an error).

    ``open`` gets the part's headers, its 0-based index within its multipart body, the
    absolute input offset of its first body byte (``None`` when not knowable: inside a
    transfer-decoded nested body), its depth (0 for the top-level body) and whether it is
    decoded as a nested multipart (its items then come to ``finish``).
    """

    def open(
        self, start: PartStart, index: int, offset: int | None, depth: int, nested: bool, /
    ) -> PartSink[T]: ...

    def discard(self, item: T, /) -> None: ...


class _Request:
    """Per-request state shared by every level."""

    __slots__ = ("decode_transfer", "handler", "limits", "max_parts", "nested", "parts", "strict")

    def __init__(
        self,
        handler: PartHandler[T],
        limits: Limits,
        strict: bool,
        decode_transfer: bool | None,
        nested: bool,
    ) -> None:
        self.handler: PartHandler[object] = handler  # type: ignore[assignment]
        self.limits = limits
        self.max_parts = limits.max_parts
        self.strict = strict
        self.decode_transfer = decode_transfer
        self.nested = nested
        self.parts = 0  # parts seen so far, all levels together


class _Level(Generic[T]):
    """One multipart body: its decoder, the part being decoded, the items finished."""

    __slots__ = (
        "base",
        "child",
        "count",
        "decoder",
        "depth",
        "done",
        "ended",
        "path",
        "req",
        "sink",
    )

    def __init__(
        self, req: _Request, decoder: Decoder, base: int | None, depth: int, path: str
    ) -> None:
        self.req = req
        self.decoder = decoder
        self.base = base  # absolute offset of this body's first byte (None: not knowable)
        self.depth = depth
        self.path = path  # "part 2" / "part 2.0" for nested bodies ("" at the top)
        self.count = 0
        self.sink: PartSink[T] | None = None
        self.child: _Level[T] | None = None
        self.done: list[T] = []
        self.ended = False  # the close delimiter was decoded

    def feed(self, data: bytes) -> None:
        try:
            events = self.decoder.feed(data)
        except MimeWireError as exc:
            raise self._rebased(exc) from None
        self._handle(events)

    def finish(self) -> list[T]:
        self.feed(b"")
        try:
            self.decoder.close()
        except MimeWireError as exc:
            raise self._rebased(exc) from None
        done, self.done = self.done, []
        return done

    def _handle(self, events: list[Event]) -> None:
        sink = self.sink
        for event in events:
            kind = type(event)
            if kind is PartData:
                data: bytes = event.data  # type: ignore[union-attr]
                sink.write(data)  # type: ignore[union-attr]
                if self.child is not None:
                    self.child.feed(data)
            elif kind is PartStart:
                sink = self._start(event)  # type: ignore[arg-type]
            elif kind is PartEnd:
                self._end()
                sink = None
            elif kind is MultipartEnd:
                self.ended = True

    def _start(self, start: PartStart) -> PartSink[T]:
        req = self.req
        index = self.count
        self.count = index + 1
        req.parts += 1
        offset = start.body_offset
        if self.depth:  # views of a nested part report absolute offsets too
            base = self.base
            offset = None if base is None or offset is None else base + offset
            # the headers were checked when the decoder made them: no second pass
            start = decoded_part_start(start.headers, index, offset)
        if req.parts > req.max_parts:
            raise LimitExceeded(
                "max_parts",
                req.max_parts,
                offset=offset,
                detail=f"{req.parts} parts, all nesting levels together",
            )
        nested = False
        if req.nested:
            try:
                nested = (start.content_type or "").startswith("multipart/")
            except MimeWireError as exc:
                raise self._rebased(exc, relative=False) from None
        if nested:
            self.child = self._open_child(start, index, offset)
        sink: PartSink[T] = req.handler.open(  # type: ignore[assignment]
            start, index, offset, self.depth, nested
        )
        self.sink = sink
        return sink

    def _end(self) -> None:
        sink = self.sink
        assert sink is not None
        child = self.child
        children = child.finish() if child is not None else None
        self.child = None
        self.sink = None
        try:
            item = sink.finish(children)
        except BaseException:
            for kid in children or ():
                self.req.handler.discard(kid)
            raise
        self.done.append(item)

    def _open_child(self, start: PartStart, index: int, offset: int | None) -> _Level[T]:
        req = self.req
        path = f"{self.path}.{index}" if self.path else f"part {index}"
        content_type = start.get("Content-Type") or ""
        try:
            decode = decodes_transfer(req.decode_transfer, content_type)
            decoder = Decoder.from_content_type(
                content_type,
                limits=req.limits,
                strict=req.strict,
                decode_transfer=decode,
                depth=self.depth + 1,
            )
        except LimitExceeded as exc:
            raise LimitExceeded(
                exc.limit, exc.value, offset=offset, detail=f"{path} nests too deep"
            ) from None
        except MimeWireError as exc:
            reason = exc.reason if isinstance(exc, MalformedInput) else exc.message
            raise MalformedInput(f"nested multipart in {path}: {reason}", offset=offset) from None
        identity = start.transfer_encoding in _IDENTITY
        base = offset if identity or not self.decoder.decode_transfer else None
        return _Level(req, decoder, base, self.depth + 1, path)

    def _rebased(self, exc: MimeWireError, *, relative: bool = True) -> MimeWireError:
        """An error of this level's decoder, its offset made absolute (when knowable)."""
        if not self.depth:
            return exc
        offset = getattr(exc, "offset", None)
        if not relative and offset is not None and self.base is not None:
            offset -= self.base
        where = f"in the multipart nested in {self.path}"
        if getattr(exc, "part", None) is not None:
            where += f", its part {exc.part}"  # type: ignore[attr-defined]
        if offset is not None and self.base is None:
            where += f" (transfer-decoded, at its byte {offset})"
        absolute = None if offset is None or self.base is None else self.base + offset
        if isinstance(exc, LimitExceeded):
            return LimitExceeded(exc.limit, exc.value, offset=absolute, detail=where)
        if isinstance(exc, MalformedInput):
            return MalformedInput(f"{exc.reason} ({where})", offset=absolute)
        return exc

    def abort(self, handler: PartHandler[T]) -> None:
        """Drop everything not handed out: open sinks, finished items, nested levels."""
        child, self.child = self.child, None
        if child is not None:
            child.abort(handler)
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.abort()
        done, self.done = self.done, []
        for item in done:
            handler.discard(item)


class TreeDecoder(Generic[T]):
    """Decodes a multipart body (and, with ``nested``, every ``multipart/*`` part in it).

    :meth:`feed` returns the items of the top-level parts completed by a chunk, with the
    items of their nested parts inside; :meth:`finish` ends the input. After an error the
    parts not yet returned are discarded through the handler; call :meth:`abort` when the
    caller stops early.

    ``decode_transfer`` is applied per nested body: ``None`` decodes base64 and
    quoted-printable except in ``multipart/form-data`` bodies.
    """

    def __init__(
        self,
        decoder: Decoder,
        handler: PartHandler[T],
        *,
        nested: bool,
        decode_transfer: bool | None,
    ) -> None:
        if not isinstance(nested, bool):
            raise UsageError(f"nested must be True or False, not {type(nested).__name__}")
        self.decoder = decoder
        self.handler = handler
        req = _Request(handler, decoder.limits, decoder.strict, decode_transfer, nested)
        self._top: _Level[T] = _Level(req, decoder, 0, 0, "")

    def feed(self, data: bytes) -> list[T]:
        top = self._top
        try:
            top.feed(data)
        except BaseException:
            self.abort()
            raise
        done, top.done = top.done, []
        return done

    def finish(self) -> list[T]:
        top = self._top
        try:
            return top.finish()
        except BaseException:
            self.abort()
            raise

    @property
    def ended(self) -> bool:
        """True once the top-level close delimiter was decoded: every item was returned,
        and the input that follows (the epilogue) need not be read."""
        return self._top.ended

    def settle(self) -> None:
        """Stop after the close delimiter without ending the input: raise the error the
        bytes already fed after it caused, if any (strict mode, ``max_epilogue``)."""
        try:
            self.decoder.next_event()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self._top.abort(self.handler)
