"""Decoder rules against parser differentials and slow paths.

* a part with two Content-Disposition, Content-Type or Content-Transfer-Encoding
  headers is refused (MalformedInput naming the part and the offset of the second header),
  in both modes, at every chunking, through ``next_event()``, ``feed()`` and ``parse()``;
* the line ending is locked at the first delimiter: in a CRLF-framed body a bare-LF
  ``LF--boundary`` is body data (Go's mime/multipart does the same), so a WAF that reads the
  body RFC-style and the application see the same parts;
* a header line arriving in small chunks is not re-scanned: time stays linear (a re-scanning
  decoder takes ~50x a benign body for a 64 KiB header line in 16-byte chunks);
* the decoder's part offsets are public (``PartStart.index`` / ``PartStart.body_offset``) and
  ``Decoder.from_content_type`` takes the boundary from the header.
"""

from __future__ import annotations

import dataclasses

import pytest

from mimewire import Decoder, Limits, MalformedInput, PartData, PartStart, parse

from ._drive import BOUNDARY, benign_body, decode, one_part, ratio

CT = f"multipart/form-data; boundary={BOUNDARY}"
DELIM = f"--{BOUNDARY}".encode()
MAX_RATIO = 5.0
FLOOD_RATIO = 10.0  # a near-miss flood costs a few C-level searches per chunk


def _chunkings(body: bytes) -> list[int]:
    return [1, 2, 7, 64, len(body)]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('Content-Disposition: form-data; name="a"', 'Content-Disposition: form-data; name="b"'),
        ('Content-Disposition: form-data; name="a"', 'content-disposition: form-data; name="a"'),
        ("Content-Type: text/plain", "CONTENT-TYPE: application/x-php"),
        ("Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: 8bit"),
    ],
    ids=["cd", "cd-same-value-other-case", "ct", "cte"],
)
@pytest.mark.parametrize("strict", [False, True])
def test_duplicate_headers_are_refused(first: str, second: str, strict: bool) -> None:
    ok = one_part(b"x", headers=b'Content-Disposition: form-data; name="ok"\r\n')
    headers = f"{first}\r\nX-Between: 1\r\n{second}\r\n".encode()
    bad = one_part(b"x", headers=headers)
    # the duplicate in the *second* part: the first part is delivered, then the error
    body = ok[: -len(DELIM) - 4] + bad
    second_at = body.index(second.encode())
    for chunk in _chunkings(body):
        with pytest.raises(MalformedInput, match="duplicate") as info:
            decode(body, chunk=chunk, strict=strict)
        assert info.value.part == 1, info.value
        assert info.value.offset == second_at, (chunk, info.value)
        assert second.split(":")[0] in str(info.value)
    # feed() returns the first part's events before raising
    d = Decoder(BOUNDARY, strict=strict)
    events = d.feed(body)
    assert [type(e).__name__ for e in events][:1] == ["PartStart"]
    with pytest.raises(MalformedInput, match="duplicate"):
        d.feed(b"")
    with pytest.raises(MalformedInput, match="duplicate"):
        list(parse(body, CT, strict=strict))


def test_duplicate_found_through_folded_lines_too() -> None:
    headers = b"Content-Type: text/plain;\r\n charset=utf-8\r\nContent-Type: text/html\r\n"
    body = one_part(b"x", headers=headers)
    for chunk in _chunkings(body):
        with pytest.raises(MalformedInput, match="duplicate Content-Type") as info:
            decode(body, chunk=chunk)
        assert info.value.part == 0
        assert info.value.offset == body.index(b"Content-Type: text/html")


SMUGGLE = (
    DELIM
    + b'\r\nContent-Disposition: form-data; name="comment"\r\n\r\nhello\n'
    + DELIM
    + b'\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n'
    + DELIM
    + b"--\r\n"
)


@pytest.mark.parametrize("strict", [False, True])
def test_bare_lf_delimiter_in_a_crlf_body_is_data(strict: bool) -> None:
    """The WAF-bypass shape: a strict reader sees one field, a lenient one used to see two."""
    expected = b"hello\n" + DELIM + b'\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin'
    for chunk in _chunkings(SMUGGLE):
        out = decode(SMUGGLE, chunk=chunk, strict=strict)
        assert [data for _, data in out.parts] == [expected], chunk
    assert [(p.name, p.read()) for p in parse(SMUGGLE, CT)] == [("comment", expected)]


def test_bare_lf_delimiter_after_crlf_framed_preamble_and_close() -> None:
    """The lock also holds for the close delimiter: ``LF--b--`` in a CRLF body is data."""
    body = (
        b"preamble\r\n"
        + DELIM
        + b"\r\nA: 1\r\n\r\nx\n"
        + DELIM
        + b"--\r\nstill data\r\n"
        + DELIM
        + b"--\r\n"
    )
    for chunk in _chunkings(body):
        out = decode(body, chunk=chunk)
        assert [data for _, data in out.parts] == [b"x\n" + DELIM + b"--\r\nstill data"]


@pytest.mark.timing
def test_long_header_line_in_small_chunks_is_linear() -> None:
    """A 64 KiB header line fed in 16-byte chunks costs about what a benign body does."""
    limits = dataclasses.replace(
        Limits(), max_parts=100_000, max_header_line=65536, max_header_bytes=70_000
    )
    part = DELIM + b"\r\nX-A: " + b"v" * 65000 + b"\r\n\r\nbody\r\n"
    size = 1 << 19
    body = part * (size // len(part)) + DELIM + b"--\r\n"
    good = benign_body(len(body))
    out = decode(body, limits=limits, chunk=16)
    assert len(out.parts) == size // len(part)
    r = ratio(
        lambda: decode(body, limits=limits, chunk=16, keep_data=False),
        lambda: decode(good, limits=limits, chunk=16, keep_data=False),
        3,
    )
    assert r <= MAX_RATIO, f"{r:.1f}x a benign body"


@pytest.mark.timing
@pytest.mark.parametrize("length", [1, 2, 8, 33, 70])
def test_near_delimiter_flood_is_one_part_data_per_chunk(length: int) -> None:
    """``CRLF--boundary`` followed by a byte no delimiter line has, over and over: body
    data, passed on coalesced (one PartData per chunk, not one per near miss; the old
    decoder made 333,000 events per MB and took 170-850x a benign body)."""
    boundary = ("bX7q" * 18)[:length]
    unit = f"\r\n--{boundary}x".encode()
    size = 1 << 20
    payload = (unit * (size // len(unit) + 1))[:size]
    body = one_part(payload, boundary)
    decoder = Decoder(boundary)
    data: list[bytes] = []
    for at in range(0, len(body), 65536):
        data += [e.data for e in decoder.feed(body[at : at + 65536]) if isinstance(e, PartData)]
    data += [e.data for e in decoder.feed(b"") if isinstance(e, PartData)]
    assert b"".join(data) == payload
    assert len(data) <= 2 * (len(body) // 65536 + 1)
    good = benign_body(len(body), boundary)
    r = ratio(
        lambda: decode(body, boundary, keep_data=False),
        lambda: decode(good, boundary, keep_data=False),
    )
    assert r <= FLOOD_RATIO, f"{r:.1f}x a benign body (limit {FLOOD_RATIO}x)"


def test_part_offsets_are_public() -> None:
    body = (
        b"pre\r\n"
        + DELIM
        + b"\r\nA: 1\r\n\r\nfirst\r\n"
        + DELIM
        + b"\r\n\r\n\r\n"
        + DELIM
        + b"\nB: 2\n\nthird\r\n"
        + DELIM
        + b"--"
    )
    for chunk in _chunkings(body):
        starts = decode(body, chunk=chunk).starts
        assert [s.index for s in starts] == [0, 1, 2]
        assert [s.body_offset for s in starts] == [
            body.index(b"first"),
            body.index(b"first") + 5 + 2 + len(DELIM) + 4,
            body.index(b"third"),
        ]
    assert PartStart([("A", "1")]) == starts[0]  # offsets take no part in ==


def test_decoder_from_content_type() -> None:
    d = Decoder.from_content_type(CT, strict=True)
    assert d.boundary == BOUNDARY.encode() and d.strict
    events = d.feed(one_part(b"v")) + d.feed(b"")
    assert isinstance(events[0], PartStart) and events[0].name == "f"
    with pytest.raises(MalformedInput):
        Decoder.from_content_type("text/plain")
    with pytest.raises(MalformedInput):
        Decoder.from_content_type("multipart/form-data")
