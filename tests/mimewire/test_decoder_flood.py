"""Near-delimiter floods: body data made of ``[CR]LF--boundary`` followed by bytes that do not
make a delimiter line. They are body data, passed on coalesced, and each chunk is searched a
bounded number of times however many near misses or delimiter candidates it holds."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import FrameType

import pytest

from mimewire import Decoder, MultipartEnd, PartData, PartEnd, PartStart

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
