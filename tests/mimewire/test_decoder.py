"""The sans-I/O Decoder API: feeding, events, sticky errors, close(), zero-copy, memory."""

from __future__ import annotations

import time

import pytest
from _decoding import decode

from mimewire import (
    NEED_DATA,
    Decoder,
    Limits,
    MalformedInput,
    MultipartEnd,
    PartData,
    PartEnd,
    PartStart,
    UsageError,
)

BODY = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n--b--\r\n'


def _events(d: Decoder) -> list[object]:
    out: list[object] = []
    while (event := d.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def test_events_of_a_simple_body() -> None:
    d = Decoder("b")
    assert d.next_event() is NEED_DATA
    d.receive_data(BODY)
    events = _events(d)
    assert events == [
        PartStart([("Content-Disposition", 'form-data; name="a"')]),
        PartData(b"hello"),
        PartEnd(),
        MultipartEnd(),
    ]
    start = events[0]
    assert isinstance(start, PartStart) and start.name == "a" and start.filename is None
    d.receive_data(b"")
    assert d.next_event() is NEED_DATA
    d.close()
    assert d.offset == len(BODY) and d.epilogue_size == 0 and d.preamble_size == 0
    with pytest.raises(UsageError):
        d.next_event()


def test_bytes_boundary_and_bytearray_memoryview_chunks() -> None:
    d = Decoder(b"b")
    d.receive_data(bytearray(BODY[:10]))
    d.receive_data(memoryview(BODY[10:]))
    assert [type(e) for e in _events(d)] == [PartStart, PartData, PartEnd, MultipartEnd]


@pytest.mark.parametrize(
    ("boundary", "strict"),
    [
        ("", False),
        ("a\r\nb", False),
        ("x" * 300, False),
        ("é", False),
        ("a b ", True),
        ("a;b", True),
    ],
)
def test_bad_boundaries_are_usage_errors(boundary: str, strict: bool) -> None:
    with pytest.raises(UsageError):
        Decoder(boundary, strict=strict)


def test_receive_data_misuse() -> None:
    d = Decoder("b")
    with pytest.raises(UsageError):
        d.receive_data("text")  # type: ignore[arg-type]
    d.receive_data(b"")
    with pytest.raises(UsageError, match="after the end of input"):
        d.receive_data(b"more")


def test_missing_close_delimiter_is_an_error_at_close() -> None:
    d = Decoder("b")
    d.receive_data(BODY[:-9])  # cut inside "--b--"
    events = _events(d)
    assert events[:2] == [
        PartStart([("Content-Disposition", 'form-data; name="a"')]),
        PartData(b"hello"),
    ]
    with pytest.raises(MalformedInput, match="close delimiter") as info:
        d.close()
    assert info.value.offset == len(BODY) - 9
    with pytest.raises(MalformedInput):  # sticky
        d.next_event()
    with pytest.raises(MalformedInput):
        d.receive_data(b"x")


def test_errors_come_after_the_events_before_them() -> None:
    body = b"--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b\r\nbad header\r\n\r\n--b--"
    d = Decoder("b")
    d.receive_data(body)
    assert [type(e) for e in [d.next_event() for _ in range(6)]] == [
        PartStart,
        PartData,
        PartEnd,
        PartStart,
        PartData,
        PartEnd,
    ]
    with pytest.raises(MalformedInput, match="without a colon") as first:
        d.next_event()
    with pytest.raises(MalformedInput) as second:
        d.next_event()
    assert str(first.value) == str(second.value)
    assert first.value.http_status == 400


def test_large_chunk_without_delimiter_is_passed_through_uncopied() -> None:
    d = Decoder("boundary")
    d.receive_data(b"--boundary\r\n\r\n")
    assert isinstance(d.next_event(), PartStart)
    chunk = bytes(range(256)) * 256  # no CR at the end, no delimiter inside
    chunk = chunk.replace(b"\r", b"x").replace(b"\n", b"x")
    d.receive_data(chunk)
    event = d.next_event()
    assert isinstance(event, PartData) and event.data is chunk
    assert d.next_event() is NEED_DATA


@pytest.mark.parametrize("use_feed", [False, True])
def test_delimiter_at_any_offset_of_a_passed_through_chunk_is_found(use_feed: bool) -> None:
    """The pass-through test of a body chunk searches it in overlapping windows: a
    delimiter across a window edge (or anywhere else) must still end the part."""
    from mimewire._scanstate import WINDOW

    key = b"\r\n--boundary"
    size = 3 * WINDOW
    edges = [k * (WINDOW - len(key) + 1) for k in (1, 2, 3)]
    offsets = [0, 1, size - len(key)] + [e + d for e in edges for d in range(-len(key), 2)]
    for at in offsets:
        chunk = bytearray(b"x" * size)
        chunk[at : at + len(key) + 4] = key + b"--\r\n"
        d = Decoder("boundary", limits=Limits(max_epilogue=None))
        events = d.feed(b"--boundary\r\n\r\ny")  # then the chunk is passed through
        if use_feed:
            events += d.feed(bytes(chunk))
        else:
            d.receive_data(bytes(chunk))
            events += _events(d)
        data = b"".join(e.data for e in events if isinstance(e, PartData))
        assert data == b"y" + b"x" * at, at
        assert isinstance(events[-1], MultipartEnd), at


def test_a_chunk_ending_in_a_possible_delimiter_start_is_not_copied() -> None:
    """A chunk whose end may start a delimiter is held (referenced, not copied) until the
    next chunk decides; then it is passed on whole when it was not a delimiter."""
    boundary = "boundary"
    d = Decoder(boundary)
    d.receive_data(b"--boundary\r\n\r\n")
    _events(d)
    previous: bytes | None = None
    for tail in (b"\r", b"\r\n", b"\r\n-", b"\r\n--bound", b"\r\n--boundar"):
        chunk = b"x" * 1000 + tail
        d.receive_data(chunk)
        events = _events(d)
        if previous is not None:
            assert len(events) == 1 and isinstance(events[0], PartData)
            assert events[0].data is previous  # the previous chunk, whole and uncopied
        else:
            assert events == []
        assert d._buf is chunk  # held by reference
        previous = chunk
    d.receive_data(b"z\r\n--boundary--")
    rest = _events(d)
    data = b"".join(e.data for e in rest if isinstance(e, PartData))
    assert previous is not None and data == previous + b"z"
    assert isinstance(rest[-1], MultipartEnd)


def test_tail_that_is_a_delimiter_is_cut_off() -> None:
    d = Decoder("boundary")
    d.receive_data(b"--boundary\r\n\r\n" + b"x" * 100 + b"\r\n--bou")
    _events(d)
    d.receive_data(b"ndary--")
    events = _events(d)
    assert events == [PartData(b"x" * 100), PartEnd(), MultipartEnd()]


def test_epilogue_is_counted_not_buffered() -> None:
    d = Decoder("b", limits=Limits(max_epilogue=None))
    d.receive_data(b"--b\r\n\r\nx\r\n--b--\r\n")
    _events(d)
    unit = b"--b\r\nA: 1\r\n\r\nnot a part\r\n" * 100
    for _ in range(100):
        d.receive_data(unit)
    assert d.next_event() is NEED_DATA
    assert len(d._buf) == 0 and not d._pending
    d.close()
    assert d.epilogue_size == 100 * len(unit)


def test_decode_transfer_off_keeps_encoded_bytes() -> None:
    body = b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--"
    assert decode(body).parts[0][1] == b"hello"
    assert decode(body, decode_transfer=False).parts[0][1] == b"aGVsbG8="


def test_quoted_printable_and_7bit_passthrough() -> None:
    body = (
        b"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9=\r\n!\r\n"
        b"--b\r\nContent-Transfer-Encoding: 7bit\r\n\r\nplain=41\r\n--b--"
    )
    parts = decode(body).parts
    assert parts[0][1] == "café!".encode() and parts[1][1] == b"plain=41"


def test_base64_error_offset_is_absolute() -> None:
    body = b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs!G8=\r\n--b--"
    out = decode(body)
    assert out.error is not None and out.error[0] is MalformedInput
    assert out.exc is not None and out.exc.offset == body.index(b"!")  # type: ignore[attr-defined]


def test_preamble_and_epilogue_sizes() -> None:
    out = decode(b"preamble\r\n--b\r\n\r\nx\r\n--b--\r\nepilogue")
    assert out.preamble_size == 8 and out.epilogue_size == 8


def test_limit_errors_carry_http_413() -> None:
    out = decode(b"--b\r\n\r\n" + b"x" * 100 + b"\r\n--b--", limits=Limits(max_part_size=10))
    assert out.exc is not None and out.exc.http_status == 413


def _scan_time(body: bytes, boundary: str) -> float:
    best = float("inf")
    for _ in range(3):
        d = Decoder(boundary)
        t0 = time.perf_counter()
        for i in range(0, len(body), 65536):
            d.receive_data(body[i : i + 65536])
            while d.next_event() is not NEED_DATA:
                pass
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.timing
def test_adversarial_near_miss_delimiters_stay_linear() -> None:
    """A body dense with CRLF--boundary-prefixes costs a small multiple of a benign one
    (ratio only; generous bound)."""
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    head = f"--{boundary}\r\n\r\n".encode()
    size = 4 << 20
    unit = b"\r\n--" + boundary[:-2].encode() + b"\r\n-"
    adversarial = head + (unit * (size // len(unit))) + f"\r\n--{boundary}--".encode()
    benign = head + b"a" * len(adversarial) + f"\r\n--{boundary}--".encode()
    ratio = _scan_time(adversarial, boundary) / _scan_time(benign, boundary)
    assert ratio < 40, ratio


def test_feed_returns_held_data_before_a_following_error() -> None:
    """A chunk held back as a possible delimiter start is returned before an error found
    in the next chunk; the (sticky) error comes from the next call, as with next_event()."""
    from mimewire import Decoder, MalformedInput, PartData, PartStart

    d = Decoder("bnd", strict=True)
    assert d.feed(b"--bnd\r\n\r\nx\r\n--") == [PartStart(())]
    assert d.feed(b"\r\n--bnd:") == [PartData(b"x\r\n--")]
    with pytest.raises(MalformedInput):
        d.feed(b"")
