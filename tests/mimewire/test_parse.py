"""parse() / aparse(): sources, spooling, temporary-file cleanup, nesting, body access."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

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

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    from strategies import MultipartSpec, chunkings, multipart_spec  # type: ignore[import-not-found,unused-ignore]
except ModuleNotFoundError:  # pragma: no cover
    from tests.strategies import MultipartSpec, chunkings, multipart_spec

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
    # form-data: Content-Transfer-Encoding is not decoded unless asked (RFC 7578 §4.7)
    assert parts[3].transfer_encoding == "base64" and parts[3].read() == b"AAFiaW5hcnk="
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
    files = [p._body.file for p in parts if p._body is not None and p._body.file is not None]
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
    with pytest.raises(MalformedInput, match=r"charset 'x-nope' .*\(part 1") as info:
        unknown.text()
    assert info.value.part == 1
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


def _cte_body(subtype: str) -> tuple[bytes, str]:
    body = MultipartBody(
        [
            Part(b"\x00\x01binary", name="b64", transfer_encoding="base64"),
            Part(b"caf\xc3\xa9 = 1", name="qp", transfer_encoding="quoted-printable"),
        ],
        subtype=subtype,
        boundary="cte",
    )
    return b"".join(body), body.content_type


@pytest.mark.parametrize("subtype", ["form-data", "mixed", "related"])
def test_decode_transfer_default_depends_on_the_subtype(subtype: str) -> None:
    raw, ctype = _cte_body(subtype)
    wire = [p.read() for p in parse(raw, ctype, decode_transfer=False)]
    decoded = [p.read() for p in parse(raw, ctype, decode_transfer=True)]
    assert decoded == [b"\x00\x01binary", b"caf\xc3\xa9 = 1"] and wire != decoded
    default = [p.read() for p in parse(raw, ctype)]
    assert default == (wire if subtype == "form-data" else decoded)
    with pytest.raises(UsageError, match="decode_transfer"):
        parse(raw, ctype, decode_transfer="yes")  # type: ignore[arg-type]


def test_decode_transfer_default_applies_per_nested_body() -> None:
    inner = MultipartBody(
        [Part(b"\x00\x01binary", transfer_encoding="base64")], subtype="mixed", boundary="in"
    )
    outer = MultipartBody(
        [Part(inner, name="files"), Part(b"\x00", name="f", transfer_encoding="base64")],
        boundary="out",
    )
    assert outer.content_type.startswith("multipart/form-data")
    files, f = parse(b"".join(outer), outer.content_type, nested=True)
    assert files.parts is not None and files.parts[0].read() == b"\x00\x01binary"
    assert f.read() == b"AA=="


def test_nested_multipart_part_keeps_no_body() -> None:
    inner = MultipartBody(
        [Part(b"leaf", content_type="text/plain")], subtype="mixed", boundary="in"
    )
    outer = MultipartBody([Part(inner, name="n")], subtype="mixed", boundary="out")
    raw = b"".join(outer)
    [part] = parse(raw, outer.content_type, nested=True)
    assert part.parts is not None and part.size == len(b"".join(inner))
    assert not part.in_memory
    with pytest.raises(UsageError, match="part 0 is a nested multipart"):
        part.read()
    [leaf] = part.parts
    assert leaf.offset == raw.index(b"leaf") and leaf.start.body_offset == leaf.offset
    part.close()
    assert leaf.closed


def test_text_arguments_are_checked() -> None:
    raw = b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok\r\n--b--"
    [part] = parse(raw, "multipart/mixed; boundary=b")
    assert part.text() == "ok" and part.text(encoding="latin-1") == "ok"
    with pytest.raises(UsageError, match=r"text\(encoding='punycode'\)"):
        part.text(encoding="punycode")
    with pytest.raises(UsageError, match="error handler"):
        part.text(errors="no-such-handler")


def test_stream_keyword_is_gone() -> None:
    with pytest.raises(TypeError):
        parse(b"", "multipart/mixed; boundary=b", stream=True)  # type: ignore[call-arg]


def test_nested_leaf_in_memory_once() -> None:
    leaf = os.urandom(1 << 20)
    level2 = b"--b\r\n\r\n" + leaf + b"\r\n--b--\r\n"
    raw = b"--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + level2 + b"\r\n--a--"
    chunks = [raw[i : i + 65536] for i in range(0, len(raw), 65536)]
    tracemalloc.start()
    try:
        parts = list(
            parse(chunks, "multipart/mixed; boundary=a", nested=True, spool_threshold=8 << 20)
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parts[0].parts is not None and parts[0].parts[0].read() == leaf
    assert peak < len(leaf) // 2, peak  # leaf chunks are passed through, not copied per level


def test_nested_error_closes_every_spooled_leaf(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    made: list[object] = []
    real = tempfile.TemporaryFile

    def spy(*args: object, **kwargs: object) -> object:
        f = real(*args, **kwargs)  # type: ignore[call-overload]
        made.append(f)
        return f

    monkeypatch.setattr(tempfile, "TemporaryFile", spy)
    good = b"--i\r\n\r\nleaf one\r\n--i\r\n\r\nleaf two\r\n--i--"
    bad = b"--j\r\n\r\nleaf three\r\n--j\r\nno colon\r\n\r\nx\r\n--j--"
    raw = (
        b"--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n" + good + b"\r\n"
        b"--o\r\nContent-Type: multipart/mixed; boundary=j\r\n\r\n" + bad + b"\r\n--o--"
    )
    cut = raw.index(b"--o", 10) + 5  # the first outer part is complete in the first chunk
    seen = []
    with pytest.raises(MalformedInput, match=r"in the multipart nested in part 1, its part 1"):
        for part in parse(
            [raw[:cut], raw[cut:]], "multipart/mixed; boundary=o", nested=True, spool_threshold=0
        ):
            seen.append(part)
    assert len(seen) == 1 and len(made) == 3  # two leaves handed out, one dropped
    assert made[2].closed and not made[0].closed  # type: ignore[attr-defined]
    seen[0].close()
    assert all(f.closed for f in made)  # type: ignore[attr-defined]


def test_nested_error_inside_a_transfer_decoded_body() -> None:
    import base64

    inner = b"--i\r\nno colon\r\n\r\nx\r\n--i--"
    raw = (
        b"--o\r\nContent-Type: multipart/mixed; boundary=i\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(inner) + b"\r\n--o--"
    )
    with pytest.raises(MalformedInput, match="transfer-decoded, at its byte 5") as info:
        list(parse(raw, "multipart/mixed; boundary=o", nested=True))
    assert info.value.offset is None


Tree = list[tuple[tuple[tuple[str, str], ...], object]]


def _tree(parts: list[ParsedPart]) -> Tree:
    out: Tree = []
    for part in parts:
        body: object = _tree(part.parts) if part.parts is not None else part.read()
        out.append((part.headers, body))
        part.close()
    return out


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spec=multipart_spec(max_depth=3, max_parts=3), data=st.data())
def test_nested_parse_does_not_depend_on_chunking_or_spooling(
    spec: MultipartSpec, data: st.DataObject
) -> None:
    try:
        body = spec.build()
        raw = b"".join(body)
    except UsageError:
        reject()
    ctype = body.content_type
    whole = _tree(list(parse(raw, ctype, nested=True)))
    chunks = data.draw(chunkings(raw))
    spool = data.draw(st.sampled_from([0, 7, 1 << 20]))
    assert _tree(list(parse(chunks, ctype, nested=True, spool_threshold=spool))) == whole

    async def agen() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def run() -> Tree:
        return _tree([p async for p in aparse(agen(), ctype, nested=True)])

    assert asyncio.run(run()) == whole
