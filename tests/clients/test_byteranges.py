"""multipart/byteranges: Content-Range parsing (``part.content_range``), write_ranges()
reassembly with its refusals, a local server answering ``Range:`` with 206, and a
build->reassemble property."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mimewire
from mimewire import MultipartBody, Part, parse, parse_stream
from mimewire.http import parse_content_range, write_ranges
from tests.clients._servers import block, ranges_app, serve

RESOURCE = block(7)[:300_000]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 0-499/1234", (0, 499, 1234)),
        ("bytes 500-999/*", (500, 999, None)),
        ("BYTES 7-7/8", (7, 7, 8)),
        ("bytes 0-0/1", (0, 0, 1)),
        (" bytes  1-2/3 ", (1, 2, 3)),
        ("bytes 0-999999999999999999/*", (0, 10**18 - 1, None)),
    ],
)
def test_content_range_values(value: str, expected: tuple[int, int, int | None]) -> None:
    assert parse_content_range(value) == expected


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("bytes 9-5/10", "first byte 9 is after last byte 5"),
        ("bytes 0-10/10", "last byte 10 is past the complete length 10"),
        ("bytes a-5/10", "first 'a' is not a decimal byte position"),
        ("bytes 0-5/ten", "complete length 'ten' is not"),
        ("bytes -1-5/10", "first '' is not"),
        ("bytes 0-1000000000000000000/*", "last has 19 digits"),
        ("bytes 0-\u0665/10", "is not a decimal byte position"),  # Arabic-Indic digit five
        ("items 0-5/10", "is not in bytes"),
        ("bytes */10", "is not 'bytes first-last/complete'"),
        ("bytes 0-5", "is not 'bytes first-last/complete'"),
        ("", "is not in bytes"),
    ],
)
def test_malformed_content_range(value: str, pattern: str) -> None:
    with pytest.raises(mimewire.MalformedInput, match=pattern) as info:
        parse_content_range(value, part=3)
    assert info.value.part == 3


def _byteranges(spans: list[tuple[int, int, str]], data: bytes = RESOURCE) -> MultipartBody:
    return MultipartBody(
        [
            Part(
                data[first : last + 1],
                content_type="application/octet-stream",
                headers={"Content-Range": f"bytes {first}-{last}/{total}"},
            )
            for first, last, total in spans
        ],
        subtype="byteranges",
    )


def test_part_content_range_property_names_the_part() -> None:
    body = _byteranges([(0, 9, "300000"), (20, 29, "*")])
    wire = body.to_bytes()
    parts = list(parse(wire, body.content_type))
    assert [p.content_range for p in parts] == [(0, 9, 300000), (20, 29, None)]
    bad = wire.replace(b"bytes 20-29/*", b"bytes 29-20/*")
    part = list(parse(bad, body.content_type))[1]
    with pytest.raises(mimewire.MalformedInput, match=r"first byte 29 .*\(part 1, byte offset"):
        _ = part.content_range
    (plain,) = parse(b"--b\r\n\r\nx\r\n--b--", "multipart/mixed; boundary=b")
    assert plain.content_range is None


def test_write_ranges_with_overlap_and_gaps() -> None:
    spans = [(100, 199, "300000"), (0, 149, "300000"), (250_000, 299_999, "300000")]
    body = _byteranges(spans)
    out = io.BytesIO()
    result = write_ranges(parse_stream(body.to_bytes(), body.content_type), out)
    assert result.spans == ((0, 199), (250_000, 299_999))
    assert result.complete == 300_000 and not result.is_complete
    assert out.getvalue()[:200] == RESOURCE[:200]
    assert out.getvalue()[250_000:] == RESOURCE[250_000:]


@pytest.mark.parametrize(
    ("wire_edit", "spans", "pattern", "part"),
    [
        # the overlapping bytes 100-149 differ from the first part's
        (None, [(0, 149, "300000"), (100, 199, "X")], "bytes 100-149 differ from what part 0", 1),
        (None, [(0, 9, "300000"), (10, 19, "400000")], "complete length 400000 differs", 1),
        (None, [(0, 9, "*"), (299_990, 299_999, "*"), (5, 9, "299995")], "byte 299999 is past", 1),
        ((b"bytes 0-9/*\r\n\r\n", b"bytes 0-8/*\r\n\r\n"), [(0, 9, "*")], "body is longer", 0),
        ((b"bytes 0-9/*\r\n\r\n", b"bytes 0-10/*\r\n\r\n"), [(0, 9, "*")], "body has 10 bytes", 0),
        ((b"Content-Range: bytes 0-9/*\r\n", b""), [(0, 9, "*")], "has no Content-Range", 0),
    ],
)
def test_write_ranges_refusals(
    wire_edit: tuple[bytes, bytes] | None,
    spans: list[tuple[int, int, str]],
    pattern: str,
    part: int,
) -> None:
    data = RESOURCE
    if spans[-1][2] == "X":  # the second part carries other bytes for the overlap
        data2 = bytearray(RESOURCE)
        data2[100:150] = bytes(50)
        parts = [
            Part(RESOURCE[0:150], headers={"Content-Range": "bytes 0-149/300000"}),
            Part(bytes(data2[100:200]), headers={"Content-Range": "bytes 100-199/300000"}),
        ]
        body = MultipartBody(parts, subtype="byteranges")
    else:
        body = _byteranges(spans, data)
    wire = body.to_bytes()
    if wire_edit is not None:
        wire = wire.replace(*wire_edit)
    with pytest.raises(mimewire.MalformedInput, match=pattern) as info:
        write_ranges(parse_stream(wire, body.content_type), io.BytesIO())
    assert info.value.part == part


def test_overlap_needs_a_readable_file(tmp_path: Path) -> None:
    body = _byteranges([(0, 9, "*"), (5, 14, "*")])
    with open(tmp_path / "out", "wb") as out, pytest.raises(mimewire.UsageError, match="w\\+b"):
        write_ranges(parse_stream(body.to_bytes(), body.content_type), out)


@pytest.mark.network
@pytest.mark.parametrize(
    ("ranges", "spans", "complete"),
    [
        ("bytes=0-99,1000-1999,-500", ((0, 99), (1000, 1999), (299_500, 299_999)), True),
        ("bytes=0-149999,150000-", ((0, 299_999),), True),
        ("bytes=10-19,15-24", ((10, 24),), True),
    ],
)
def test_206_answer_from_a_local_server(
    ranges: str, spans: tuple[tuple[int, int], ...], complete: bool, tmp_path: Path
) -> None:
    import urllib3

    with serve(ranges_app(RESOURCE)) as base, urllib3.PoolManager() as pool:
        resp = pool.request(
            "GET", base, headers={"Range": ranges}, preload_content=False, timeout=20.0
        )
        with resp, open(tmp_path / "copy.bin", "w+b") as out:
            assert resp.status == 206
            result = write_ranges(
                parse_stream(
                    resp,
                    resp.headers["Content-Type"],
                    content_length=resp.headers.get("Content-Length"),
                ),
                out,
            )
    assert result.spans == spans and result.complete == len(RESOURCE)
    assert result.is_complete == (spans == ((0, len(RESOURCE) - 1),))
    copy = (tmp_path / "copy.bin").read_bytes()
    for first, last in spans:
        assert copy[first : last + 1] == RESOURCE[first : last + 1]
    assert complete


@pytest.mark.network
def test_async_206_answer_through_httpx(tmp_path: Path) -> None:
    import asyncio

    import httpx

    from mimewire import aparse_stream
    from mimewire.http import awrite_ranges

    async def main(url: str) -> tuple[tuple[tuple[int, int], ...], int | None]:
        async with httpx.AsyncClient(timeout=20.0) as client:
            async with client.stream("GET", url, headers={"Range": "bytes=5-9,-7"}) as resp:
                with open(tmp_path / "copy.bin", "w+b") as out:
                    result = await awrite_ranges(
                        aparse_stream(
                            resp.aiter_raw(),
                            resp.headers["Content-Type"],
                            content_length=resp.headers.get("Content-Length"),
                        ),
                        out,
                    )
        return result.spans, result.complete

    with serve(ranges_app(RESOURCE)) as base:
        spans, complete = asyncio.run(main(base))
    n = len(RESOURCE)
    assert (spans, complete) == (((5, 9), (n - 7, n - 1)), n)
    copy = (tmp_path / "copy.bin").read_bytes()
    assert copy[5:10] == RESOURCE[5:10] and copy[n - 7 :] == RESOURCE[n - 7 :]


@pytest.mark.network
def test_a_server_that_declares_a_shorter_complete_length_is_refused() -> None:
    import urllib3

    with serve(ranges_app(RESOURCE, complete="1000")) as base, urllib3.PoolManager() as pool:
        resp = pool.request(
            "GET", base, headers={"Range": "bytes=0-9,2000-2009"}, preload_content=False
        )
        with resp, pytest.raises(mimewire.MalformedInput, match="past the complete length 1000"):
            write_ranges(parse_stream(resp, resp.headers["Content-Type"]), io.BytesIO())


_span = st.tuples(st.integers(0, 4999), st.integers(0, 600))
_spans = st.lists(_span.map(lambda t: (t[0], min(t[0] + t[1], 4999))), min_size=1, max_size=6)


@given(_spans, st.booleans(), st.integers(1, 97))
def test_built_ranges_reassemble(spans: list[tuple[int, int]], star: bool, chunk: int) -> None:
    data = RESOURCE[:5000]
    body = _byteranges([(f, la, "*" if star else "5000") for f, la in spans], data)
    wire = body.to_bytes()
    out = io.BytesIO()
    result = write_ranges(
        parse_stream([wire[i : i + chunk] for i in range(0, len(wire), chunk)], body.content_type),
        out,
    )
    covered: set[int] = set()
    for first, last in spans:
        covered.update(range(first, last + 1))
    got = out.getvalue()
    assert all(got[i] == data[i] for i in covered)
    assert result.complete == (None if star else 5000)
    assert {i for f, la in result.spans for i in range(f, la + 1)} == covered
