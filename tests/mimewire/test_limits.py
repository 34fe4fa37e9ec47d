"""Each limit: an input just under it passes, just over it fails with LimitExceeded naming
it -- for every chunking of the input."""

from __future__ import annotations

import dataclasses

import pytest
from _decoding import same_for_every_split

from mimewire import Decoder, LimitExceeded, Limits, MultipartBody, Part, UsageError, parse


def _body(*parts: bytes, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    out = preamble + (b"\r\n" if preamble else b"")
    out += b"\r\n".join(b"--b\r\n" + part for part in parts)
    return out + b"\r\n--b--\r\n" + epilogue


def _ok(body: bytes, limits: Limits) -> None:
    out = same_for_every_split(body, limits=limits)
    assert out.error is None, out.error


def _over(body: bytes, limits: Limits, name: str, *, errors_only: bool = False) -> None:
    out = same_for_every_split(body, limits=limits, errors_only=errors_only)
    assert out.error is not None and out.error[0] is LimitExceeded, out
    assert out.exc is not None and out.exc.limit == name  # type: ignore[attr-defined]
    assert f"{name}=" in out.error[1]


def test_max_header_line() -> None:
    limits = Limits(max_header_line=20)
    line = b"X: " + b"v" * 17  # 20 bytes
    _ok(_body(line + b"\r\n\r\nbody"), limits)
    _over(_body(line + b"v\r\n\r\nbody"), limits, "max_header_line")
    # bare-LF lines (lenient) count the same way
    _ok(_body(line + b"\n\nbody"), limits)
    _over(_body(line + b"v\n\nbody"), limits, "max_header_line")


def test_max_header_line_bounds_transport_padding() -> None:
    limits = Limits(max_header_line=20)
    _ok(b"--b" + b" " * 20 + b"\r\n\r\nx\r\n--b--", limits)
    _over(b"--b" + b" " * 21 + b"\r\n\r\nx\r\n--b--", limits, "max_header_line")


def test_max_header_bytes() -> None:
    limits = Limits(max_header_bytes=30)
    block = b"A: 1234567890\r\nB: 1234567890\r\n"  # 15 + 15 = 30 bytes
    assert len(block) == 30
    _ok(_body(block + b"\r\nbody"), limits)
    _over(_body(block.replace(b"B: ", b"BB: ") + b"\r\nbody"), limits, "max_header_bytes")


def test_max_headers() -> None:
    limits = Limits(max_headers=3)
    _ok(_body(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\nx"), limits)
    _over(_body(b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\nx"), limits, "max_headers")


def test_max_parts() -> None:
    limits = Limits(max_parts=3)
    _ok(_body(b"\r\na", b"\r\nb", b"\r\nc"), limits)
    _over(_body(b"\r\na", b"\r\nb", b"\r\nc", b"\r\nd"), limits, "max_parts")


def test_max_parts_error_comes_after_the_earlier_parts() -> None:
    out = same_for_every_split(_body(b"\r\na", b"\r\nb"), limits=Limits(max_parts=1))
    assert out.parts == [((), b"a")]
    assert out.error is not None and "max_parts=1" in out.error[1]


def _nested_body(outer: int, inner: int) -> bytes:
    """``outer`` multipart/mixed parts of ``inner`` parts each: outer + outer * inner parts."""
    leaf = b"Content-Type: text/plain\r\n\r\nx"
    nested = b"--i\r\n" + b"\r\n--i\r\n".join([leaf] * inner) + b"\r\n--i--"
    part = b"Content-Type: multipart/mixed; boundary=i\r\n\r\n" + nested
    return b"--o\r\n" + b"\r\n--o\r\n".join([part] * outer) + b"\r\n--o--\r\n"


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_max_parts_across_nesting_levels_exactly_at_the_limit(chunk: int | None) -> None:
    body = _nested_body(outer=3, inner=4)  # 3 + 12 = 15 parts, at most 4 on one level
    source = [body] if chunk is None else [body[i : i + chunk] for i in range(0, len(body), chunk)]
    ct = "multipart/mixed; boundary=o"
    parts = list(parse(iter(source), ct, nested=True, limits=Limits(max_parts=15)))
    assert len(parts) == 3
    with pytest.raises(LimitExceeded) as info:
        list(parse(iter(source), ct, nested=True, limits=Limits(max_parts=14)))
    assert info.value.limit == "max_parts" and info.value.value == 14
    # the 15th part (the last leaf) is the one over: the offset is its first body byte
    assert info.value.offset == body.rindex(b"\r\n\r\nx") + 4


def test_max_part_size() -> None:
    limits = Limits(max_part_size=10)
    _ok(_body(b"\r\n" + b"x" * 10, b"\r\n" + b"y" * 10), limits)
    _over(_body(b"\r\n" + b"x" * 10, b"\r\n" + b"y" * 11), limits, "max_part_size")


def test_max_part_size_counts_encoded_bytes() -> None:
    limits = Limits(max_part_size=8)
    cte = b"Content-Transfer-Encoding: base64\r\n\r\n"
    _ok(_body(cte + b"aGVsbG8="), limits)  # 8 encoded bytes -> 5 decoded
    _over(_body(cte + b"aGVsbG8=\r\n"), limits, "max_part_size")


def test_max_total_size() -> None:
    body = _body(b"\r\nhello")
    _ok(body, Limits(max_total_size=len(body)))
    # raised by receive_data() as soon as a chunk crosses the limit, so how many events
    # came before it depends on the chunking
    _over(body, Limits(max_total_size=len(body) - 1), "max_total_size", errors_only=True)


def test_max_preamble() -> None:
    limits = Limits(max_preamble=10)
    _ok(_body(b"\r\nx", preamble=b"p" * 10), limits)
    _over(_body(b"\r\nx", preamble=b"p" * 11), limits, "max_preamble")
    # a preamble with no delimiter at all is cut off at the limit, not buffered
    _over(b"p" * 200, limits, "max_preamble")


def test_max_epilogue() -> None:
    limits = Limits(max_epilogue=10)
    _ok(_body(b"\r\nx", epilogue=b"e" * 10), limits)
    _over(_body(b"\r\nx", epilogue=b"e" * 11), limits, "max_epilogue")


def test_unlimited_preamble_and_epilogue() -> None:
    limits = Limits(max_preamble=None, max_epilogue=None)
    d = Decoder("b", limits=limits)
    d.receive_data(b"p" * 100_000 + b"\r\n--b\r\n\r\nx\r\n--b--\r\n")
    for _ in range(10):
        d.receive_data(b"e" * 100_000)
    d.close()
    assert d.preamble_size == 100_000 and d.epilogue_size == 1_000_000


def test_max_depth() -> None:
    def nest(levels: int) -> MultipartBody:
        body = MultipartBody([Part(b"leaf", name="x")], subtype="mixed")
        for _ in range(levels):
            body = MultipartBody([Part(body)], subtype="mixed")
        return body

    for levels, ok in ((2, True), (3, False)):
        body = nest(levels)
        raw = b"".join(body)
        it = parse(raw, body.content_type, nested=True, limits=Limits(max_depth=2))
        if ok:
            parts = list(it)
            depth, node = 0, parts
            while node and node[0].parts is not None:
                node = node[0].parts
                depth += 1
            assert depth == 2 and node[0].read() == b"leaf"
        else:
            with pytest.raises(LimitExceeded) as info:
                list(it)
            assert info.value.limit == "max_depth"
    Decoder("b", depth=2, limits=Limits(max_depth=2))
    with pytest.raises(LimitExceeded, match="max_depth=2"):
        Decoder("b", depth=3, limits=Limits(max_depth=2))


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Limits)])
def test_limits_validation(field: str) -> None:
    with pytest.raises(UsageError, match=field):
        Limits(**{field: -1})
    with pytest.raises(UsageError, match=field):
        Limits(**{field: True})
    with pytest.raises(UsageError, match=field):
        Limits(**{field: 1.5})  # type: ignore[arg-type]
    if field in {"max_part_size", "max_total_size", "max_preamble", "max_epilogue"}:
        Limits(**{field: None})  # type: ignore[arg-type]
    elif field not in {"max_depth"}:
        with pytest.raises(UsageError, match=field):
            Limits(**{field: 0})


def test_default_limits_are_safe() -> None:
    limits = Limits()
    assert limits.max_header_line == 8192
    assert limits.max_header_bytes == 16384
    assert limits.max_headers == 64
    assert limits.max_parts == 1000
    assert limits.max_preamble == 65536 and limits.max_epilogue == 65536
    assert limits.max_depth == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_parts = 5  # type: ignore[misc]


def test_memory_is_bounded_for_a_header_flood() -> None:
    """Endless header bytes with no line break fail at the line limit, not at EOF."""
    d = Decoder("b", limits=Limits(max_header_line=1000))
    d.receive_data(b"--b\r\n")
    with pytest.raises(LimitExceeded, match="max_header_line"):
        for _ in range(100):
            d.receive_data(b"X" * 100)
            d.next_event()
    # and the buffer never held much more than the limit
    assert d.offset < 2000


def test_header_count_limit_fires_before_the_byte_limit() -> None:
    """A flood of tiny headers is stopped by max_headers as soon as it is exceeded."""
    body = b"--b\r\n" + b"X-A: b\r\n" * 5000 + b"\r\nx\r\n--b--"
    out = same_for_every_split(body[:400], limits=Limits(max_headers=32), errors_only=True)
    assert out.exc is not None and out.exc.limit == "max_headers"  # type: ignore[attr-defined]
    assert out.exc.offset == 5 + 32 * 8  # type: ignore[attr-defined]


def test_padding_flood_fails_at_the_line_limit() -> None:
    d = Decoder("b", limits=Limits(max_header_line=100))
    d.receive_data(b"--b" + b" " * 100_000 + b"\r\n")
    with pytest.raises(LimitExceeded, match="max_header_line") as info:
        d.next_event()
    assert info.value.offset is not None and info.value.offset <= 3 + 101


def test_first_error_in_stream_order_whatever_the_chunking() -> None:
    """A bad base64 byte before the max_part_size limit is reported first, also when the
    part arrives in one chunk."""
    body = b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAA*A" + b"A" * 100 + b"\r\n--b--"
    out = same_for_every_split(body, limits=Limits(max_part_size=50))
    assert out.error is not None and "invalid byte" in out.error[1]


@pytest.mark.parametrize(
    "ctype", ["multipart/mixed; boundary=é", 'multipart/mixed; boundary="a\x00b"']
)
def test_unusable_boundary_from_content_type_is_malformed_input(ctype: str) -> None:
    from mimewire import MalformedInput

    with pytest.raises(MalformedInput, match="boundary"):
        list(parse(b"--x--", ctype))
