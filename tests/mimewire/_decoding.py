"""Helpers shared by the decoder tests: feed a Decoder and normalise what comes out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mimewire import (
    NEED_DATA,
    Decoder,
    Event,
    MimeWireError,
    MultipartEnd,
    PartData,
    PartEnd,
    PartStart,
)
from mimewire._state import State, next_state

Parts = list[tuple[tuple[tuple[str, str], ...], bytes]]


@dataclass
class Outcome:
    """What a decoder made of an input: the parts (headers, joined body) and any error."""

    parts: Parts = field(default_factory=list)  # on error: only the completed parts
    error: tuple[type, str] | None = None
    finished: bool = False
    preamble_size: int | None = None
    epilogue_size: int | None = None
    exc: MimeWireError | None = field(default=None, compare=False, repr=False)
    completed: int = field(default=0, compare=False, repr=False)


def _pull(decoder: Decoder, out: Outcome, state: list[State]) -> None:
    while True:
        event = decoder.next_event()
        if event is NEED_DATA:
            return
        _record([event], out, state)


def _record(events: list[Event], out: Outcome, state: list[State]) -> None:
    for event in events:
        new = next_state(state[0], event)
        assert new is not None, f"decoder emitted {event!r} in state {state[0]}"
        state[0] = new
        if isinstance(event, PartStart):
            out.parts.append((event.headers, b""))
        elif isinstance(event, PartData):
            assert type(event.data) is bytes and event.data, "PartData must be non-empty bytes"
            headers, data = out.parts[-1]
            out.parts[-1] = (headers, data + event.data)
        elif isinstance(event, MultipartEnd):
            out.finished = True
        else:
            assert isinstance(event, PartEnd)
            out.completed += 1


def decode_chunks(
    boundary: str | bytes, chunks: Iterable[bytes], *, use_feed: bool = False, **kw: object
) -> Outcome:
    """Feed ``chunks`` (pulling events after each) then end the input; never raises
    MimeWireError (it is recorded), and checks errors are sticky. ``use_feed``: use
    ``Decoder.feed`` instead of ``receive_data`` + ``next_event``."""
    decoder = Decoder(boundary, **kw)  # type: ignore[arg-type]
    out = Outcome()
    state = [State.BETWEEN_PARTS]
    try:
        for chunk in chunks:
            if use_feed:
                _record(decoder.feed(chunk), out, state)
            else:
                decoder.receive_data(chunk)
                _pull(decoder, out, state)
        if use_feed:
            _record(decoder.feed(b""), out, state)
        else:
            decoder.receive_data(b"")
            _pull(decoder, out, state)
        decoder.close()
    except MimeWireError as exc:
        out.error = (type(exc), str(exc))
        out.exc = exc
        # how much of an unfinished part was delivered before the error depends on the
        # chunking; the completed parts and the error itself do not
        del out.parts[out.completed :]
        for again in (decoder.next_event, lambda: decoder.receive_data(b"x"), decoder.close):
            try:
                again()
            except MimeWireError as exc2:
                assert type(exc2) is type(exc) and str(exc2) == str(exc), (exc, exc2)
            else:
                raise AssertionError(f"error not sticky: {again} did not raise")
        return out
    assert state[0] is State.DONE
    out.preamble_size = decoder.preamble_size
    out.epilogue_size = decoder.epilogue_size
    return out


def decode(body: bytes, boundary: str | bytes = "b", **kw: Any) -> Outcome:
    """Decode ``body`` fed in one piece."""
    return decode_chunks(boundary, [body] if body else [], **kw)


def splits(body: bytes) -> Iterable[list[bytes]]:
    """Every two-piece split of ``body`` and the byte-by-byte feeding."""
    for k in range(len(body) + 1):
        yield [body[:k], body[k:]]
    yield [body[i : i + 1] for i in range(len(body))]


def same_for_every_split(
    body: bytes, boundary: str | bytes = "b", *, errors_only: bool = False, **kw: object
) -> Outcome:
    """Decode ``body`` whole, then at every split offset and byte by byte; assert equal
    (with ``errors_only``, only the errors are compared)."""
    ref = decode(body, boundary, **kw)
    for n, chunks in enumerate(splits(body)):
        got = decode_chunks(boundary, [c for c in chunks if c], use_feed=n % 2 == 1, **kw)
        if errors_only:
            assert got.error == ref.error, f"split {[len(c) for c in chunks][:3]}: {got}"
        else:
            assert got == ref, f"split {[len(c) for c in chunks][:3]}: {got} != {ref}"
    return ref
