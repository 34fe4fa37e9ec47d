"""parse_stream() / aparse_stream(): lazy bodies pulled from the source."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimewire import (
    AsyncStreamedPart,
    LimitExceeded,
    Limits,
    MalformedInput,
    MultipartBody,
    ParsedPart,
    Part,
    StreamedPart,
    UsageError,
    aparse,
    aparse_stream,
    parse,
    parse_stream,
)

BIG = bytes(range(256)) * 1024  # 256 KiB
B64 = bytes(range(256)) * 40


def _body() -> MultipartBody:
    return MultipartBody(
        [
            Part.field("greeting", "héllo wörld"),
            Part(BIG, name="blob", filename="big.bin", content_type="application/octet-stream"),
            Part(b"", name="empty"),
            Part(
                "caf\xe9".encode("latin-1"),
                name="latin",
                content_type="text/plain; charset=iso-8859-1",
            ),
            Part(B64, name="b64", transfer_encoding="base64"),
            Part(b"qp = caf\xc3\xa9\r\nline two", name="qp", transfer_encoding="quoted-printable"),
        ],
        boundary="stream-boundary",
    )


RAW = b"".join(_body())
CT = _body().content_type
EXPECTED = [(p.name, p.read()) for p in parse(RAW, CT)]


class Recorder:
    """A chunked source that records how many bytes were handed out."""

    def __init__(self, raw: bytes, size: int) -> None:
        self.raw = raw
        self.size = size
        self.sent = 0
        self.chunks: list[bytes] = []

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.raw), self.size):
            chunk = self.raw[i : i + self.size]
            self.chunks.append(chunk)
            self.sent = i + len(chunk)
            yield chunk


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(raw)]:
        out.append(raw[prev:p])
        prev = p
    return out


def test_parts_are_yielded_before_the_source_is_exhausted() -> None:
    src = Recorder(RAW, 4096)
    parts = parse_stream(src, CT)
    first = next(parts)
    assert first.name == "greeting" and isinstance(first, StreamedPart)
    assert src.sent == 4096 < len(RAW)
    size_before = first.size
    assert size_before is None
    assert first.text() == "héllo wörld" and first.size == len("héllo wörld".encode())
    blob = next(parts)
    size_before = blob.size
    assert blob.filename == "big.bin" and size_before is None
    assert src.sent <= 8192  # headers of part 1 only: the body was not read yet
    got, sent_while_reading = [], []
    for chunk in blob:
        got.append(chunk)
        sent_while_reading.append(src.sent)
    assert b"".join(got) == BIG and blob.size == len(BIG)
    # the body was pulled progressively, not read in one go
    assert sent_while_reading[0] < len(BIG) // 4 and len(set(sent_while_reading)) > 10
    assert src.sent < len(RAW)
    rest = [(p.name, p.read()) for p in parts]
    assert rest == EXPECTED[2:]
    assert src.sent == len(RAW)


def test_chunks_are_passed_through_uncopied() -> None:
    src = Recorder(RAW, 8192)
    parts = parse_stream(src, CT)
    next(parts)
    blob = next(parts)
    chunks = list(blob)
    ids = {id(c) for c in src.chunks}
    # body chunks without a delimiter come out as the very source chunk objects
    assert sum(id(c) in ids for c in chunks) >= len(BIG) // 8192 - 3


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000, 65536, len(RAW)])
def test_every_chunk_size_gives_the_spooled_bodies(size: int) -> None:
    src = Recorder(RAW, size)
    got = [(p.name, p.read()) for p in parse_stream(src, CT)]
    assert got == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(RAW)), max_size=12), st.integers(0, 2))
def test_random_splits_and_read_styles(cuts: list[int], style: int) -> None:
    got = []
    for part in parse_stream(_split(RAW, cuts), CT):
        if style == 0:
            data = part.read()
        elif style == 1:
            data = b"".join(part)
        else:  # read a little, then the rest
            it = part.iter_bytes()
            head = next(it, b"")
            data = head + (part.read() if part.size is None else b"")
        assert part.size == len(data)
        got.append((part.name, data))
    assert got == EXPECTED


def test_bytes_and_file_sources(tmp_path: Path) -> None:
    path = tmp_path / "body"
    path.write_bytes(RAW)
    assert [(p.name, p.read()) for p in parse_stream(RAW, CT)] == EXPECTED
    with path.open("rb") as f:
        got = [(p.name, p.read()) for p in parse_stream(f, CT, chunk_size=1000)]
    assert got == EXPECTED


def test_save_and_text(tmp_path: Path) -> None:
    out = tmp_path / "big.bin"
    for part in parse_stream(Recorder(RAW, 5000), CT):
        if part.filename:
            assert part.save(out) == len(BIG)
        elif part.name == "latin":
            assert part.text() == "café"
    assert out.read_bytes() == BIG


def test_unread_bodies_are_drained_and_later_access_raises(tmp_path: Path) -> None:
    src = Recorder(RAW, 1000)
    parts = list(parse_stream(src, CT))  # advance without reading anything
    assert src.sent == len(RAW)
    assert [p.name for p in parts] == [n for n, _ in EXPECTED]
    # sizes are known: the bodies were consumed (discarded)
    assert [p.size for p in parts] == [len(b) for _, b in EXPECTED]
    with pytest.raises(UsageError, match=r"part 1 body was not read before advancing to part 2"):
        parts[1].read()
    with pytest.raises(UsageError, match=r"use parse\(\) to keep bodies"):
        list(parts[0])
    with pytest.raises(UsageError, match=r"part 5 .* advancing to the end of the multipart"):
        parts[5].text()
    with pytest.raises(UsageError, match="not read before advancing"):
        parts[1].save(tmp_path / "never-written")
    assert not (tmp_path / "never-written").exists()


def test_partially_read_body_is_drained() -> None:
    parts = parse_stream(Recorder(RAW, 1000), CT)
    next(parts)
    blob = next(parts)
    it = iter(blob)
    first = next(it)
    assert BIG.startswith(first) and len(first) < len(BIG)
    empty = next(parts)
    assert empty.name == "empty" and blob.size == len(BIG)
    with pytest.raises(UsageError, match="part 1 body was not read before advancing to part 2"):
        next(it)  # the suspended body iterator notices too
    assert empty.read() == b""
    assert [p.read() for p in parts] == [b for _, b in EXPECTED[3:]]


def test_body_read_once() -> None:
    part = next(parse_stream(RAW, CT))
    assert part.read() == "héllo wörld".encode()
    with pytest.raises(UsageError, match="part 0 body was already read"):
        part.read()


def test_closed_part_and_break_keeps_current_part_readable() -> None:
    parts = parse_stream(Recorder(RAW, 3000), CT)
    first = next(parts)
    first.close()
    with pytest.raises(UsageError, match="part 0 is closed"):
        first.read()
    for part in parts:
        if part.filename:
            break
    parts.close()
    assert part.read() == BIG  # stopping the parser early leaves the current part readable


def test_parse_stream_checks_its_arguments_eagerly() -> None:
    with pytest.raises(MalformedInput, match="not multipart"):
        parse_stream(RAW, "text/plain")
    with pytest.raises(UsageError, match="chunk_size"):
        parse_stream(RAW, CT, chunk_size=0)
    with pytest.raises(UsageError, match="async iterable"):
        list(parse_stream(_agen(RAW, 10, [0]), CT))  # type: ignore[arg-type]


def _b64_broken() -> bytes:
    good = b"".join(
        MultipartBody(
            [Part(bytes(range(256)) * 64, name="b", transfer_encoding="base64")],
            boundary="bb",
        )
    )
    mid = len(good) // 2
    return good[:mid] + b"!!!!" + good[mid + 4 :]


@pytest.mark.parametrize("size", [1, 97, 4096])
def test_malformed_body_error_surfaces_from_the_body_iteration(size: int) -> None:
    raw = _b64_broken()
    part = next(parse_stream(Recorder(raw, size), "multipart/mixed; boundary=bb"))
    got = []
    with pytest.raises(MalformedInput) as info:
        for chunk in part:
            got.append(chunk)
    assert info.value.offset is not None and info.value.offset >= len(raw) // 2 - 80
    assert len(b"".join(got)) > 0  # data before the error came out first
    with pytest.raises(MalformedInput):  # sticky, also for the next pull
        part.read()


def test_limit_error_surfaces_from_the_body_iteration() -> None:
    parts = parse_stream(Recorder(RAW, 4096), CT, limits=Limits(max_part_size=100_000))
    next(parts)
    blob = next(parts)
    total = 0
    with pytest.raises(LimitExceeded) as info:
        for chunk in blob:
            total += len(chunk)
    assert info.value.limit == "max_part_size" and 0 < total <= 100_000
    with pytest.raises(LimitExceeded):
        next(parts)


def test_error_while_draining_surfaces_from_the_generator() -> None:
    parts = parse_stream(Recorder(RAW, 4096), CT, limits=Limits(max_part_size=100_000))
    next(parts)
    next(parts)
    with pytest.raises(LimitExceeded, match="max_part_size"):
        next(parts)


@pytest.mark.parametrize("cut", [len(RAW) // 2, len(RAW) - 3, len(RAW) - 30])
def test_truncated_body_raises(cut: int) -> None:
    names = []
    with pytest.raises(MalformedInput):
        for part in parse_stream(Recorder(RAW[:cut], 1000), CT):
            names.append(part.name)
            part.read()
    assert names
    # also when the truncation is met from the body iteration
    parts = parse_stream(Recorder(RAW[: len(RAW) // 4], 1000), CT)
    next(parts)
    blob = next(parts)
    with pytest.raises(MalformedInput):
        blob.read()


def test_source_error_is_raised_and_sticky() -> None:
    def source() -> Iterator[bytes]:
        yield RAW[:5000]
        raise ConnectionError("client went away")

    parts = parse_stream(source(), CT)
    next(parts)
    blob = next(parts)
    with pytest.raises(ConnectionError):
        blob.read()
    with pytest.raises(ConnectionError):
        next(parts)


def test_default_mode_is_unchanged() -> None:
    parts = list(parse(Recorder(RAW, 1000), CT))
    assert all(type(p) is ParsedPart for p in parts)
    assert [p.size for p in parts] == [len(b) for _, b in EXPECTED]
    assert parts[1].read() == parts[1].read() == BIG
    for part in parts:
        part.close()


def test_memory_stays_bounded_for_a_large_streamed_part() -> None:
    size = 64 << 20
    block = bytes(range(256)) * 256  # 64 KiB, reused: the source allocates nothing
    head = b'--mb\r\nContent-Disposition: form-data; name="f"; filename="f"\r\n\r\n'

    def source() -> Iterator[bytes]:
        yield head
        for _ in range(size // len(block)):
            yield block
        yield b"\r\n--mb--\r\n"

    tracemalloc.start()
    try:
        total = 0
        for part in parse_stream(source(), "multipart/form-data; boundary=mb"):
            for chunk in part:
                total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size and part.size == size
    assert peak < 8 << 20, peak


async def _agen(raw: bytes, size: int, sent: list[int]) -> AsyncIterator[bytes]:
    for i in range(0, len(raw), size):
        await asyncio.sleep(0)
        sent[0] = i + size
        yield raw[i : i + size]


def test_aparse_stream() -> None:
    async def run() -> tuple[list[tuple[str | None, bytes]], list[int]]:
        sent = [0]
        got: list[tuple[str | None, bytes]] = []
        marks = []
        async for part in aparse_stream(_agen(RAW, 3000, sent), CT):
            assert isinstance(part, AsyncStreamedPart) and part.size is None
            marks.append(sent[0])
            if part.name == "latin":
                got.append((part.name, (await part.atext()).encode("latin-1")))
            elif part.name == "empty":
                got.append((part.name, b""))  # left unread: drained
            else:
                data = b"".join([c async for c in part.aiter_bytes()])
                got.append((part.name, data))
        return got, marks

    got, marks = asyncio.run(run())
    assert got == EXPECTED
    assert marks[1] < len(RAW) // 2  # the file part was yielded long before the end


def test_aparse_stream_sync_access_and_errors(tmp_path: Path) -> None:
    async def run() -> None:
        parts = aparse_stream(_agen(RAW, 1000, [0]), CT)
        first = await parts.__anext__()
        assert not hasattr(first, "read") and not hasattr(first, "__iter__")
        assert await first.aread() == "héllo wörld".encode()
        blob = await parts.__anext__()
        assert await blob.asave(tmp_path / "x") == len(BIG)
        empty = await parts.__anext__()
        await parts.__anext__()
        with pytest.raises(UsageError, match="part 2 body was not read before advancing"):
            await empty.aread()
        await parts.aclose()

        bad = aparse_stream(_agen(RAW[: len(RAW) // 3], 1000, [0]), CT)
        await bad.__anext__()
        blob = await bad.__anext__()
        with pytest.raises(MalformedInput):
            async for _ in blob.aiter_bytes():
                pass

    asyncio.run(run())
    assert (tmp_path / "x").read_bytes() == BIG


def test_aparse_stream_from_bytes_and_a_iter_on_sync_parts() -> None:
    async def run() -> list[tuple[str | None, bytes]]:
        got = [(p.name, await p.aread()) async for p in aparse_stream(RAW, CT)]
        spooled = [p async for p in aparse(RAW, CT)]
        bodies = []
        for p in spooled:
            bodies.append(b"".join([c async for c in p.aiter_bytes()]))
        assert bodies == [b for _, b in EXPECTED]
        return got

    assert asyncio.run(run()) == EXPECTED


def test_text_refuses_a_non_charset_before_consuming_the_body() -> None:
    raw = b"--b\r\nContent-Type: text/plain; charset=punycode\r\n\r\nabc-xyz\r\n--b--\r\n"
    [got] = [(p, p.read()) for p in parse(raw, "multipart/mixed; boundary=b")]
    parts = parse_stream(raw, "multipart/mixed; boundary=b")
    part = next(parts)
    with pytest.raises(MalformedInput, match="punycode") as info:
        part.text()
    assert info.value.part == 0
    assert part.read() == got[1] == b"abc-xyz"  # the body is still there

    async def run() -> None:
        async for apart in aparse_stream(raw, "multipart/mixed; boundary=b"):
            with pytest.raises(MalformedInput, match="punycode"):
                await apart.atext()
            assert await apart.atext(encoding="ascii") == "abc-xyz"

    asyncio.run(run())


def test_decode_transfer_default_in_stream_mode() -> None:
    form = [p.read() for p in parse_stream(RAW, CT)]
    assert form == [b for _, b in EXPECTED]
    decoded = [p.read() for p in parse_stream(RAW, CT, decode_transfer=True)]
    assert decoded[4] == B64 and form[4] != B64
