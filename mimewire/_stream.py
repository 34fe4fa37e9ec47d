"""Streamed decoding: :func:`parse_stream` and :func:`aparse_stream`.

Each part is yielded as soon as its headers are decoded; its body is pulled from the
source, through the :class:`Decoder`, while the caller reads it. Nothing is spooled:
memory stays bounded by the decoder's limits plus one chunk. A body can be read once, and
only until the caller advances to the next part (which discards what was not read).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Generator, Iterator
from typing import Any

from ._decoder import Decoder, Limits
from ._errors import MalformedInput, UsageError
from ._events import Event, MultipartEnd, PartData, PartEnd, PartStart
from ._input import (
    DEFAULT_CHUNK_SIZE,
    Source,
    async_chunks,
    check_chunk_size,
    check_content_length,
    open_decoder,
    sync_chunks,
)
from ._partview import PartView

__all__ = ["AsyncStreamedPart", "StreamedPart", "aparse_stream", "parse_stream"]

_MORE: Any = object()  # _Pump._take(): a chunk of input is needed


class _Pump:
    """Pulls chunks from the source through the decoder, one event at a time.

    Shared by the part generator and the body of the current part, so that events are
    consumed by whoever pulls. An input error is remembered and raised to every later pull.
    """

    __slots__ = (
        "asource",
        "at_end",
        "count",
        "current",
        "decoder",
        "done",
        "eof",
        "error",
        "events",
        "pos",
        "skipped",
        "source",
    )

    def __init__(
        self,
        decoder: Decoder,
        source: Iterator[bytes] | None = None,
        asource: AsyncIterator[bytes] | None = None,
    ) -> None:
        self.decoder = decoder
        self.source = source
        self.asource = asource
        self.events: list[Event] = []
        self.pos = 0
        self.eof = False  # the source is exhausted (b"" was fed)
        self.done = False  # the input is complete: no event will follow
        self.at_end = False  # the close delimiter was decoded: no input is pulled any more
        self.error: BaseException | None = None
        self.current: _Body | None = None  # the part whose body is being pulled
        self.skipped: _Body | None = None  # the part last drained unread
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
            try:
                if self.eof:
                    self.decoder.close()
                elif self.at_end:  # the epilogue is never waited for: raise what the
                    self.decoder.next_event()  # bytes already fed after the end caused
                else:
                    return _MORE
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
        if events and type(events[-1]) is MultipartEnd:
            self.at_end = True

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

    def begin(self, start: PartStart) -> _Body:
        """The body state of the part ``start`` opens (it becomes the current part)."""
        index = self.count
        self.count += 1
        if self.skipped is not None:
            self.skipped.successor = f"part {index}"
            self.skipped = None
        body = _Body(self, index)
        self.current = body
        return body

    def ended(self) -> None:
        if self.skipped is not None:
            self.skipped.successor = "the end of the multipart body"
            self.skipped = None

    def drained(self, body: _Body, discarded: int) -> None:
        if discarded or not body.touched:
            body.skipped = True
            self.skipped = body


class _Body:
    """The body state of one streamed part."""

    __slots__ = ("closed", "done", "index", "pump", "size", "skipped", "successor", "touched")

    def __init__(self, pump: _Pump, index: int) -> None:
        self.pump = pump
        self.index = index
        self.size = 0
        self.done = False  # PartEnd was pulled
        self.touched = False  # the caller started reading
        self.skipped = False  # the parser advanced past it, discarding unread data
        self.closed = False
        self.successor = f"part {index + 1}"

    def check(self) -> None:
        """Raise unless the body can be read (now)."""
        if self.closed:
            raise UsageError(f"part {self.index} is closed")
        if self.done:
            if self.skipped:
                raise UsageError(
                    f"part {self.index} body was not read before advancing to "
                    f"{self.successor}; use parse() to keep bodies"
                )
            raise UsageError(
                f"part {self.index} body was already read (a streamed body can be read "
                "once; use parse() to keep bodies)"
            )
        self.touched = True

    def step(self, event: Event | None) -> bytes | None:
        """Account for the next event of this body: its data, or ``None`` at its end."""
        if type(event) is PartData:
            data = event.data
            self.size += len(data)
            return data
        self.done = True
        self.pump.current = None
        if type(event) is PartEnd:
            return None
        # unreachable with a conforming decoder (it raises on a truncated body)
        raise MalformedInput(f"part {self.index} body ended without a delimiter", part=self.index)


class _StreamedView(PartView):
    """Header views, size and close() of a part whose body is pulled from the source."""

    __slots__ = ("_body",)

    def __init__(self, start: PartStart, body: _Body) -> None:
        super().__init__(start, body.index, start.body_offset)
        self._body = body

    @property
    def size(self) -> int | None:
        """Body size in bytes (decoded); ``None`` until the body was consumed to its end
        (by the caller, or discarded when the parser advanced)."""
        body = self._body
        return body.size if body.done else None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._body.closed

    def close(self) -> None:
        """The body can no longer be read; its unread rest is discarded when the parser
        advances."""
        self._body.closed = True

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.index} name={self.name!r} "
            f"filename={self.filename!r} content_type={self.content_type!r} size={self.size}>"
        )


class StreamedPart(_StreamedView):
    """A part from :func:`parse_stream`: headers now, the body pulled while it is read.

    Read the body once, before advancing the parser, with ``for chunk in part``
    (:meth:`iter_bytes`), :meth:`read`, :meth:`text` or :meth:`save`. Errors in the input
    (:class:`MalformedInput`, :class:`LimitExceeded`) are raised from whatever pulls.
    """

    __slots__ = ()

    def iter_bytes(self) -> Iterator[bytes]:
        """The body chunks as the decoder produces them (not copied)."""
        body = self._body
        body.check()
        pump = body.pump
        while True:
            body.check()
            data = body.step(pump.pull())
            if data is None:
                return
            yield data

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def read(self) -> bytes:
        """The rest of the body (consuming it)."""
        return b"".join(self.iter_bytes())

    def text(self, errors: str = "strict", *, encoding: str | None = None) -> str:
        """The body decoded with ``encoding``, else the part's charset, else UTF-8 (see
        :meth:`ParsedPart.text`); consumes the body."""
        codec = self._text_codec(encoding, errors)
        return self._decode_text(self.read(), codec, errors)

    def save(self, path: str | os.PathLike[str]) -> int:
        """Write the rest of the body to the file ``path``; returns the bytes written."""
        self._body.check()  # fail before creating the file
        written = 0
        with open(path, "wb") as out:
            for chunk in self.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        return written

    def __enter__(self) -> StreamedPart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStreamedPart(_StreamedView):
    """A part from :func:`aparse_stream`: read its body with ``async for chunk in part``
    (:meth:`aiter_bytes`), :meth:`aread`, :meth:`atext` or :meth:`asave`."""

    __slots__ = ()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body chunks as the decoder produces them (not copied)."""
        body = self._body
        body.check()
        pump = body.pump
        while True:
            body.check()
            data = body.step(await pump.apull())
            if data is None:
                return
            yield data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.aiter_bytes()

    async def aread(self) -> bytes:
        """The rest of the body (consuming it)."""
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def atext(self, errors: str = "strict", *, encoding: str | None = None) -> str:
        """Async :meth:`StreamedPart.text`."""
        codec = self._text_codec(encoding, errors)
        return self._decode_text(await self.aread(), codec, errors)

    async def asave(self, path: str | os.PathLike[str]) -> int:
        """Write the rest of the body to ``path`` (ordinary blocking file writes)."""
        self._body.check()
        written = 0
        with open(path, "wb") as out:
            async for chunk in self.aiter_bytes():
                out.write(chunk)
                written += len(chunk)
        return written

    async def __aenter__(self) -> AsyncStreamedPart:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def parse_stream(
    source: Source,
    content_type: str | bytes,
    *,
    limits: Limits | None = None,
    strict: bool = False,
    decode_transfer: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    content_length: int | str | bytes | None = None,
) -> Generator[StreamedPart, None, None]:
    """Decode a multipart body, yielding each :class:`StreamedPart` once its headers are in.

    ``source``, ``content_type``, ``limits``, ``strict``, ``decode_transfer`` and
    ``content_length`` are those of :func:`parse`; reading stops at the close delimiter
    (the epilogue is never waited for). Each body is pulled from the source while the
    caller reads it, the decoder's chunks passed on uncopied. Advancing to the next part
    discards what was not read of the current one; reading it afterwards raises
    :class:`UsageError`. Stopping early (``break``) leaves the current part readable to
    its end. Memory is bounded by
    ``limits`` plus one chunk. Nested multiparts are not decoded (use ``parse(...,
    nested=True)``).
    """
    decoder = open_decoder(
        content_type, limits=limits, strict=strict, decode_transfer=decode_transfer
    )
    check_chunk_size(chunk_size)
    length = check_content_length(content_length, decoder.limits)
    pump = _Pump(decoder, source=sync_chunks(source, chunk_size, "parse_stream()", length))
    return _parse_stream(pump)


def _parse_stream(pump: _Pump) -> Generator[StreamedPart, None, None]:
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
            yield StreamedPart(event, pump.begin(event))
        elif type(event) is MultipartEnd:
            pump.ended()


async def aparse_stream(
    source: AsyncIterable[bytes] | bytes,
    content_type: str | bytes,
    *,
    limits: Limits | None = None,
    strict: bool = False,
    decode_transfer: bool | None = None,
    content_length: int | str | bytes | None = None,
) -> AsyncGenerator[AsyncStreamedPart, None]:
    """Async :func:`parse_stream` over an async iterable of byte chunks (e.g. the bodies of
    ASGI ``receive`` messages), yielding :class:`AsyncStreamedPart` objects. A chunk is
    pulled only while the decoder needs one: none after the close delimiter."""
    decoder = open_decoder(
        content_type, limits=limits, strict=strict, decode_transfer=decode_transfer
    )
    length = check_content_length(content_length, decoder.limits)
    pump = _Pump(decoder, asource=async_chunks(source, "aparse_stream()", length))
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
            yield AsyncStreamedPart(event, pump.begin(event))
        elif type(event) is MultipartEnd:
            pump.ended()
