"""Request-wide limits at their exact edges: nested ``max_parts`` (parse and the inspect tool)
and the total-size bound of the spooler that parse() writes part bodies to.

``max_parts`` counts the parts of every nesting level together; a test far over the limit
cannot tell ``>`` from ``>=`` or a count that forgets one level, so each case here is built
with exactly the limit and one more.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mimewire import LimitExceeded, Limits, parse
from mimewire._inspect import main
from mimewire._spool import SpooledBody, Spooler

LEAF = b"--o\r\nContent-Type: text/plain\r\n\r\ny\r\n"


def nested_body(outer: int, inner: int, *, leaves_after: int = 0) -> bytes:
    """``outer`` multipart/mixed parts of ``inner`` leaves each, then ``leaves_after`` outer
    leaves: ``outer * (1 + inner) + leaves_after`` parts in all."""
    parts = b"".join(b"--i\r\n\r\nx\r\n" for _ in range(inner)) + b"--i--\r\n"
    multipart = b"--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n" + parts + b"\r\n"
    return multipart * outer + LEAF * leaves_after + b"--o--\r\n"


def count(parts: list[object]) -> int:
    return sum(1 + count(list(p.parts or [])) for p in parts)  # type: ignore[attr-defined]


@pytest.mark.parametrize("chunk", [None, 5])
def test_nested_max_parts_reached_by_an_outer_part(chunk: int | None) -> None:
    body = nested_body(2, 3, leaves_after=2)  # 2 * 4 + 2 = 10 parts
    source = [body] if chunk is None else [body[i : i + chunk] for i in range(0, len(body), chunk)]
    ct = "multipart/mixed; boundary=o"
    parts = list(parse(iter(source), ct, nested=True, limits=Limits(max_parts=10)))
    assert count(parts) == 10
    with pytest.raises(LimitExceeded) as info:
        list(parse(iter(source), ct, nested=True, limits=Limits(max_parts=9)))
    assert (info.value.limit, info.value.value) == ("max_parts", 9)
    assert info.value.offset == body.rindex(b"\r\n\r\ny") + 4  # the last outer leaf's body


def test_nested_max_parts_over_three_levels() -> None:
    deepest = b"--k\r\n\r\nz\r\n--k\r\n\r\nz\r\n--k--\r\n"  # 2 parts
    middle = (
        b"--i\r\nContent-Type: multipart/mixed; boundary=k\r\n\r\n" + deepest + b"\r\n--i--\r\n"
    )
    body = b"--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n" + middle + b"\r\n--o--\r\n"
    ct = "multipart/mixed; boundary=o"
    assert count(list(parse(body, ct, nested=True, limits=Limits(max_parts=4)))) == 4
    with pytest.raises(LimitExceeded, match="max_parts=3"):
        list(parse(body, ct, nested=True, limits=Limits(max_parts=3)))
    # each level alone stays far below the limit: without nesting there is one part
    assert len(list(parse(body, ct, limits=Limits(max_parts=1)))) == 1


INSPECT_MAX_PARTS = 100_000


def test_inspect_max_parts_exactly_at_the_limit_and_one_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at_limit = nested_body(400, 249)  # 400 * 250 = 100,000 parts, at most 400 on one level
    path = tmp_path / "at.bin"
    path.write_bytes(at_limit)
    assert main(["inspect", "--content-type", "multipart/mixed; boundary=o", str(path)]) == 0
    capsys.readouterr()
    path.write_bytes(nested_body(400, 249, leaves_after=1))
    assert main(["inspect", "--content-type", "multipart/mixed; boundary=o", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"limit max_parts={INSPECT_MAX_PARTS} exceeded" in err


# --------------------------------------------------------------------------- spooler


def test_spooler_bounds_the_bytes_of_all_bodies_together() -> None:
    spooler = Spooler(threshold=4, spool_dir=None, max_total=10)
    first, second = SpooledBody(spooler), SpooledBody(spooler)
    first.write(b"abc")
    second.write(b"defghij")  # 10 bytes spooled: exactly the bound
    assert (first.read(), second.read()) == (b"abc", b"defghij")
    with pytest.raises(LimitExceeded) as info:
        first.write(b"k")
    assert (info.value.limit, info.value.value) == ("max_total_size", 10)
    assert "all nesting levels together" in str(info.value)
    for body in (first, second):
        body.close()


def test_spooler_without_a_bound_accepts_any_total() -> None:
    body = SpooledBody(Spooler(threshold=0, spool_dir=None, max_total=None))
    body.write(b"x" * 100_000)
    assert body.size == 100_000 and not body.in_memory
    body.close()


def test_spooler_keeps_bodies_in_memory_up_to_the_shared_threshold(tmp_path: Path) -> None:
    spooler = Spooler(threshold=5, spool_dir=str(tmp_path), max_total=None)
    small, big = SpooledBody(spooler), SpooledBody(spooler)
    small.write(b"ab")  # 2 of 5 bytes of memory used
    big.write(b"cde")  # 5 of 5: still in memory
    assert small.in_memory and big.in_memory
    big.write(b"f")  # over the shared threshold: big moves to a file, its memory is returned
    assert not big.in_memory and spooler.memory == 3
    assert big.read() == b"cdef" and b"".join(big.iter_bytes(3)) == b"cdef"
    small.write(b"xyz")  # the returned memory is usable again
    assert small.in_memory and small.read() == b"abxyz"
    for body in (small, big):
        body.close()


def test_parse_spooled_total_at_the_limit() -> None:
    """The decoder bounds the input by the same ``max_total_size``, so through parse() the
    spooled bytes (a subset of the input) reach the bound only when the input does."""
    body = b"--B\r\n\r\n" + b"x" * 30 + b"\r\n--B--\r\n"
    [part] = list(
        parse(
            io.BytesIO(body), "multipart/mixed; boundary=B", limits=Limits(max_total_size=len(body))
        )
    )
    assert part.read() == b"x" * 30
    with pytest.raises(LimitExceeded, match="max_total_size"):
        list(
            parse(
                io.BytesIO(body),
                "multipart/mixed; boundary=B",
                limits=Limits(max_total_size=len(body) - 1),
            )
        )
