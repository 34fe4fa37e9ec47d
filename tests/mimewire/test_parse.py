"""parse() / aparse(): sources, spooling, temporary-file cleanup, nesting, body access."""

from __future__ import annotations

import asyncio
import gc
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mimewire import (
    LimitExceeded,
    Limits,
    MalformedInput,
    MultipartBody,
    ParsedPart,
    Part,
    UsageError,
    aparse,
    parse,
)

BIG = bytes(range(256)) * 8192  # 2 MiB


def _body() -> MultipartBody:
    return MultipartBody(
        [
            Part.field("greeting", "héllo wörld"),
            Part(BIG, name="blob", filename="big.bin", content_type="application/octet-stream"),
            Part(
                "caf\xe9".encode("latin-1"),
                name="latin",
                content_type="text/plain; charset=iso-8859-1",
            ),
            Part(b"\x00\x01binary", name="b64", transfer_encoding="base64"),
        ],
        boundary="test-boundary",
    )


def _fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


@pytest.mark.parametrize("kind", ["bytes", "file", "iterable", "bytearray"])
def test_sources(kind: str) -> None:
    body = _body()
    raw = b"".join(body)
    source: object = {
        "bytes": raw,
        "file": io.BytesIO(raw),
        "iterable": (raw[i : i + 1000] for i in range(0, len(raw), 1000)),
        "bytearray": bytearray(raw),
    }[kind]
    parts = list(parse(source, body.content_type, spool_threshold=1 << 20))  # type: ignore[arg-type]
    assert [p.name for p in parts] == ["greeting", "blob", "latin", "b64"]
    assert parts[0].text() == "héllo wörld" and parts[0].in_memory
    assert parts[1].filename == "big.bin" and parts[1].content_type == "application/octet-stream"
    assert parts[1].size == len(BIG) and not parts[1].in_memory and parts[1].read() == BIG
    assert parts[2].charset == "iso-8859-1" and parts[2].text() == "café"
    assert parts[3].transfer_encoding == "base64" and parts[3].read() == b"\x00\x01binary"
    assert parts[0].headers == (("Content-Disposition", 'form-data; name="greeting"'),)
    for part in parts:
        part.close()


def test_iter_bytes_save_and_context_manager(tmp_path: Path) -> None:
    body = _body()
    parts = parse(b"".join(body), body.content_type, spool_threshold=1000)
    next(parts)
    with next(parts) as blob:
        assert b"".join(blob.iter_bytes(4096)) == BIG
        assert b"".join(blob) == BIG
        assert blob.save(tmp_path / "out.bin") == len(BIG)
        assert (tmp_path / "out.bin").read_bytes() == BIG
    assert blob.closed
    with pytest.raises(UsageError):
        blob.read()
    parts.close()


def test_temp_files_are_cleaned_up(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    body = _body()
    raw = b"".join(body)
    before = _fds()
    # 1. closed parts
    parts = list(parse(raw, body.content_type, spool_threshold=100, spool_dir=str(spool)))
    files = [p._file for p in parts if p._file is not None]
    assert files and not any(f.closed for f in files)
    for part in parts:
        part.close()
    assert all(f.closed for f in files)
    # 2. parts dropped without close, generator abandoned half way
    gen = parse(raw, body.content_type, spool_threshold=100, spool_dir=str(spool))
    next(gen)
    next(gen)
    del gen
    gc.collect()
    # 3. an error half way through a spooled part
    broken = raw[: raw.index(b"--test-boundary", 100) - 10]
    with pytest.raises(MalformedInput):
        for part in parse(broken, body.content_type, spool_threshold=100, spool_dir=str(spool)):
            part.close()
    gc.collect()
    assert os.listdir(spool) == []
    if before:
        assert _fds() <= before


def test_nested_parts() -> None:
    inner = MultipartBody(
        [
            Part(b"plain text", content_type="text/plain"),
            Part(b"<p>html</p>", content_type="text/html"),
        ],
        subtype="alternative",
    )
    outer = MultipartBody([Part.field("a", "1"), Part(inner, name="alt")], subtype="mixed")
    raw = b"".join(outer)
    flat = list(parse(raw, outer.content_type))
    assert flat[1].parts is None and flat[1].content_type == "multipart/alternative"
    nested = list(parse(raw, outer.content_type, nested=True))
    assert nested[0].parts is None
    kids = nested[1].parts
    assert kids is not None and [k.read() for k in kids] == [b"plain text", b"<p>html</p>"]
    assert [k.content_type for k in kids] == ["text/plain", "text/html"]
    nested[1].close()
    assert all(k.closed for k in kids)


def test_nested_errors_have_absolute_offsets() -> None:
    inner = b"--in\r\n\r\nx\r\n--in\r\nno colon\r\n\r\n--in--"
    raw = b"--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n" + inner + b"\r\n--out--"
    with pytest.raises(MalformedInput, match="without a colon") as info:
        list(parse(raw, "multipart/mixed; boundary=out", nested=True))
    assert info.value.offset == raw.index(b"no colon")


@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        "multipart/form-data",
        "multipart/mixed; boundary=",
        "application/json; boundary=x",
    ],
)
def test_bad_content_type(ctype: str) -> None:
    with pytest.raises(MalformedInput):
        parse(b"--x--", ctype)


def test_bad_sources_and_options() -> None:
    with pytest.raises(UsageError):
        list(parse("text", "multipart/mixed; boundary=b"))  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        list(parse(["text"], "multipart/mixed; boundary=b"))  # type: ignore[list-item]
    with pytest.raises(UsageError):
        parse(b"", "multipart/mixed; boundary=b", spool_threshold=-1)
    with pytest.raises(MalformedInput, match="empty multipart body"):
        list(parse(b"", "multipart/mixed; boundary=b"))


def test_limits_and_strict_pass_through() -> None:
    raw = b"--b\r\n\r\n" + b"x" * 100 + b"\r\n--b--junk"
    with pytest.raises(LimitExceeded, match="max_part_size"):
        list(parse(raw, "multipart/mixed; boundary=b", limits=Limits(max_part_size=50)))
    assert [p.read() for p in parse(raw, "multipart/mixed; boundary=b")] == [b"x" * 100]
    with pytest.raises(MalformedInput, match="after the close delimiter"):
        list(parse(raw, "multipart/mixed; boundary=b", strict=True))


def test_text_errors() -> None:
    raw = b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe\r\n--b\r\nContent-Type: text/plain; charset=x-nope\r\n\r\nq\r\n--b--"  # noqa: E501
    bad, unknown = parse(raw, "multipart/mixed; boundary=b")
    with pytest.raises(MalformedInput, match="not valid utf-8"):
        bad.text()
    assert bad.text(errors="replace") == "\ufffd\ufffd"
    with pytest.raises(MalformedInput, match="unknown charset"):
        unknown.text()
    assert unknown.text(encoding="ascii") == "q"


def test_aparse() -> None:
    body = _body()
    raw = b"".join(body)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 7000):
            yield raw[i : i + 7000]

    async def run() -> list[ParsedPart]:
        return [p async for p in aparse(chunks(), body.content_type, spool_threshold=1000)]

    parts = asyncio.run(run())
    assert [p.name for p in parts] == ["greeting", "blob", "latin", "b64"]
    assert parts[1].read() == BIG
    for part in parts:
        part.close()

    async def truncated() -> AsyncIterator[bytes]:
        yield raw[:5000]

    async def run_bad() -> None:
        async for _ in aparse(truncated(), body.content_type):
            pass

    with pytest.raises(MalformedInput, match="close delimiter"):
        asyncio.run(run_bad())


def test_aparse_of_encoder_async_iteration() -> None:
    body = _body()

    async def run() -> list[bytes]:
        return [p.read() async for p in aparse(body.__aiter__(), body.content_type)]

    assert asyncio.run(run())[1] == BIG
