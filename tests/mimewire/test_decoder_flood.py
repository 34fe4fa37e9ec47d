"""Near-delimiter floods: body data made of ``[CR]LF--boundary`` followed by bytes that do not
make a delimiter line. They are body data, passed on coalesced, and each chunk is searched a
bounded number of times however many near misses or delimiter candidates it holds."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimewire import (
    Decoder,
    LimitExceeded,
    Limits,
    MalformedInput,
    MultipartEnd,
    PartData,
    PartEnd,
    PartStart,
)

BOUNDARIES = [("bX7q" * 18)[:length] for length in (1, 2, 8, 33, 70)]
CHUNK = 65536


def _body(boundary: str, payload: bytes, nl: bytes) -> bytes:
    head = f"--{boundary}".encode() + nl + b'Content-Disposition: form-data; name="f"' + nl + nl
    return head + payload + nl + f"--{boundary}--".encode() + nl


def _flood(boundary: str, miss: bytes, nl: bytes, size: int) -> bytes:
    unit = nl + b"--" + boundary.encode() + miss
    return unit * (size // len(unit))  # whole units: a cut key would meet the close delimiter


def _decode(body: bytes, boundary: str, chunk: int) -> list[object]:
    decoder = Decoder(boundary)
    events: list[object] = []
    for at in range(0, len(body), chunk):
        events += decoder.feed(body[at : at + chunk])
    events += decoder.feed(b"")
    return events


def _parts(events: Sequence[object]) -> list[bytes]:
    parts: list[bytes] = []
    data: list[bytes] = []
    for event in events:
        if isinstance(event, PartStart):
            data = []
        elif isinstance(event, PartData):
            data.append(bytes(event.data))
        elif isinstance(event, PartEnd):
            parts.append(b"".join(data))
    assert isinstance(events[-1], MultipartEnd)
    return parts


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=len)
@pytest.mark.parametrize("miss", [b"x", b"-x", b"\rx"], ids=repr)
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_near_miss_flood_is_one_part_data_per_chunk(boundary: str, miss: bytes, nl: bytes) -> None:
    """Key + a byte no delimiter line has next (or ``-``/CR not followed by ``-``/LF):
    data, one PartData per chunk (two where a chunk ends inside a near miss)."""
    payload = _flood(boundary, miss, nl, 1 << 19)
    body = _body(boundary, payload, nl)
    events = _decode(body, boundary, CHUNK)
    assert _parts(events) == [payload]
    ndata = sum(isinstance(e, PartData) for e in events)
    assert ndata <= 2 * (len(body) // CHUNK + 1)


def test_candidates_among_near_misses_search_each_chunk_a_bounded_number_of_times() -> None:
    """Candidates that turn out to be data (the key, padding, then other bytes) between near
    misses: the rest of the chunk is not searched again for every candidate. ``rfind`` scans
    to the end of the buffer, so it runs a bounded number of times per chunk; ``find`` stops
    at the next hit, so it runs a few times per candidate."""
    boundary = "bX7q"
    unit = f"\r\n--{boundary}x\r\n--{boundary}x\r\n--{boundary} y".encode()
    payload = unit * (CHUNK // len(unit))
    body = _body(boundary, payload, b"\r\n")
    candidates = payload.count(b" y")
    calls = {"find": 0, "rfind": 0}

    def count(frame: FrameType, event: str, arg: object) -> None:
        name = getattr(arg, "__name__", "")
        if event == "c_call" and name in calls and getattr(arg, "__self__", None) is body:
            calls[name] += 1

    decoder = Decoder(boundary)
    sys.setprofile(count)
    try:
        events = decoder.feed(body)
    finally:
        sys.setprofile(None)
    events += decoder.feed(b"")
    assert _parts(events) == [payload]
    assert calls["rfind"] <= 10, calls
    assert calls["find"] <= 3 * candidates, (calls, candidates)


@pytest.mark.parametrize("b", ["bX7q", "bX7q" * 8], ids=len)
@pytest.mark.parametrize("chunk", [1, 5, 64, 4096, CHUNK])
def test_floods_between_parts_decode_the_same_in_every_chunking(chunk: int, b: str) -> None:
    """Near misses, padded candidates that are data, real delimiters with padding and an
    empty part, cut at every chunk size: the same parts as one whole chunk."""
    d = b"\r\n--" + b.encode()
    flood = (d + b"x" + d + b"-x" + d + b"\rx" + d + b" \ty" + d + b"\t-") * 40
    plain = (d + b"x") * 300
    body = (
        f"--{b}\r\nA: 1\r\n\r\n".encode()
        + flood
        + d
        + b" \t\r\nA: 2\r\n\r\n"
        + flood[::-1]
        + d
        + b"\r\nA: 3\r\n\r\n"
        + d
        + b"\nA: 4\r\n\r\n"
        + flood
        + d
        + b"\r\nA: 5\r\n\r\n"
        + plain
        + d
        + b"\r\nA: 6\r\n\r\n"
        + plain
        + d
        + b"--\r\n"
    )
    expected = _parts(_decode(body, b, len(body)))
    assert expected == [flood, flood[::-1], b"", flood, plain, plain]
    assert _parts(_decode(body, b, chunk)) == expected


PADDINGS = [b" ", b"\t", b" \t" * 50]


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=len)
@pytest.mark.parametrize("padding", PADDINGS, ids=len)
@pytest.mark.parametrize("after", [b"x", b"-", b"\rx"], ids=repr)
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_padded_near_miss_flood_is_one_part_data_per_chunk(
    boundary: str, padding: bytes, after: bytes, nl: bytes
) -> None:
    """Key, transport padding, then a byte that cannot end a delimiter line: data, passed on
    per chunk like the unpadded near misses (not one delimiter decision per occurrence)."""
    payload = _flood(boundary, padding + after, nl, 1 << 19)
    body = _body(boundary, payload, nl)
    events = _decode(body, boundary, CHUNK)
    assert _parts(events) == [payload]
    ndata = sum(isinstance(e, PartData) for e in events)
    assert ndata <= 2 * (len(body) // CHUNK + 1)


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=len)
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("chunk", [1, 5, 64, 4096, CHUNK])
def test_padded_near_misses_decode_the_same_in_every_chunking(
    boundary: str, nl: bytes, chunk: int
) -> None:
    """Padded near misses around padded real delimiters, cut at every chunk size (a padding
    run split across chunks included): exactly the parts of the whole body."""
    d = nl + b"--" + boundary.encode()
    flood = b"".join(d + pad + after for pad in PADDINGS for after in (b"x", b"-", b"\rx")) * 3
    body = (
        f"--{boundary}".encode()
        + nl
        + b"A: 1"
        + nl
        + nl
        + flood
        + d
        + b" \t "
        + nl
        + b"A: 2"
        + nl
        + nl
        + flood[::-1]
        + d
        + b" " * 100
        + nl
        + b"A: 3"
        + nl
        + nl
        + flood
        + d
        + b"--"
        + nl
    )
    assert _parts(_decode(body, boundary, chunk)) == [flood, flood[::-1], flood]


def test_strict_mode_refuses_the_first_padded_near_miss() -> None:
    boundary = "bX7q"
    payload = _flood(boundary, b" \tx", b"\r\n", 4096)
    body = _body(boundary, payload, b"\r\n")
    decoder = Decoder(boundary, strict=True)
    with pytest.raises(MalformedInput, match="not followed by CRLF"):
        decoder.feed(body)
        decoder.feed(b"")


@pytest.mark.parametrize("chunk", [7, CHUNK])
def test_padding_longer_than_a_line_is_refused_among_padded_near_misses(chunk: int) -> None:
    """The delimiter line's padding bound (``max_header_line``) holds in a padded flood."""
    boundary = "bX7q"
    payload = _flood(boundary, b" x", b"\r\n", 4096) + b"\r\n--bX7q" + b" " * 101 + b"x"
    body = _body(boundary, payload, b"\r\n")
    decoder = Decoder(boundary, limits=Limits(max_header_line=100))
    with pytest.raises(LimitExceeded, match="max_header_line"):
        for at in range(0, len(body), chunk):
            decoder.feed(body[at : at + chunk])
        decoder.feed(b"")


_PAD = st.text(alphabet=" \t", min_size=1, max_size=12).map(str.encode)
_MISS = st.tuples(_PAD, st.sampled_from([b"x", b"-", b"\rx", b"--", b"\r-"])).map(b"".join)
_PLAIN = st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"n").replace(b"\r", b"r"))


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(
        st.lists(
            st.one_of(_MISS.map(lambda m: (True, m)), _PLAIN.map(lambda p: (False, p))), max_size=12
        ),
        min_size=1,
        max_size=4,
    ),
    pads=st.lists(st.text(alphabet=" \t", max_size=6).map(str.encode), min_size=4, max_size=4),
    boundary=st.sampled_from(BOUNDARIES),
    lf=st.booleans(),
    chunk=st.integers(min_value=1, max_value=70),
)
def test_padded_near_misses_and_padded_delimiters_round_trip(
    parts: list[list[tuple[bool, bytes]]],
    pads: list[bytes],
    boundary: str,
    lf: bool,
    chunk: int,
) -> None:
    """Bodies of plain data and padded near misses, between delimiters with padding: every
    part comes back exactly, in any chunking."""
    nl = b"\n" if lf else b"\r\n"
    d = nl + b"--" + boundary.encode()
    payloads = [b"".join(d + s if miss else s for miss, s in part) for part in parts]
    body = b"--" + boundary.encode()
    for at, payload in enumerate(payloads):
        body += pads[at] + nl + b"A: 1" + nl + nl + payload + d
    body += b"--" + nl
    assert _parts(_decode(body, boundary, chunk)) == payloads
