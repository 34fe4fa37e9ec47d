"""Part / MultipartBody / BodyReader: sources, lengths, adapters, headers, boundaries, errors."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mimewire._plan as plan_mod
from mimewire import BodyReader, MultipartBody, Part, UsageError

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    from strategies import MultipartSpec, multipart_spec
except ModuleNotFoundError:  # pragma: no cover - run as the `tests` package
    from tests.strategies import MultipartSpec, multipart_spec

from test_encoder import build_or_reject, buildable


def collect(body: MultipartBody) -> bytes:
    return b"".join(body)


async def acollect(body: MultipartBody) -> bytes:
    return b"".join([chunk async for chunk in body])


def read_random(body: MultipartBody, seed: int) -> bytes:
    rnd = random.Random(seed)
    reader = body.reader()
    out = []
    while True:
        chunk = reader.read(rnd.choice([1, 2, 3, 7, 64, 1000, 70000]))
        if not chunk:
            break
        out.append(chunk)
    return b"".join(out)


def readinto_all(body: MultipartBody, size: int) -> bytes:
    reader = body.reader()
    buf = bytearray(size)
    out = bytearray()
    while n := reader.readinto(buf):
        out += buf[:n]
    return bytes(out)


# --------------------------------------------------------------------------- properties


@given(multipart_spec(max_depth=2).filter(buildable), st.integers(0, 2**32))
def test_every_adapter_gives_the_same_bytes(spec: MultipartSpec, seed: int) -> None:
    body = build_or_reject(spec)
    data = collect(body)
    if body.content_length is not None:
        assert body.content_length == len(data)
        assert body.headers["Content-Length"] == str(len(data))
    assert collect(body) == data  # replay
    assert asyncio.run(acollect(body)) == data
    assert read_random(body, seed) == data
    assert readinto_all(body, 1 + seed % 5000) == data
    assert body.reader().read() == data
    assert body.boundary in body.content_type


@given(
    st.lists(st.binary(max_size=3000), max_size=6),
    st.sampled_from([None, "base64", "quoted-printable", "8bit", "binary"]),
    st.integers(1, 5000),
)
def test_streamed_equals_in_memory(chunks: list[bytes], cte: str | None, size: int) -> None:
    """Incremental (iterable source, tiny chunk_size) == one-shot (bytes source)."""
    raw = b"".join(chunks)
    kw = {"name": "f", "transfer_encoding": cte}
    mem = MultipartBody([Part(raw, **kw)], boundary="bnd", chunk_size=size)  # type: ignore[arg-type]
    it = MultipartBody(
        [Part(list(chunks), length=len(raw), **kw)],  # type: ignore[arg-type]
        boundary="bnd",
        chunk_size=size,
    )
    gen = MultipartBody([Part(iter(chunks), **kw)], boundary="bnd")  # type: ignore[arg-type]
    assert collect(mem) == collect(it) == collect(gen)
    assert it.content_length == mem.content_length == len(collect(mem)) or cte == (
        "quoted-printable"
    )


# --------------------------------------------------------------------------- sources


def test_bytearray_and_memoryview_are_snapshotted() -> None:
    buf = bytearray(b"abc")
    part = Part(buf, name="a")
    view_src = bytearray(b"xyz")
    vpart = Part(memoryview(view_src), name="v")
    buf[:] = b"changed and longer"
    view_src[:] = b"QQQ"
    data = collect(MultipartBody([part, vpart], boundary="b"))
    assert b"\r\n\r\nabc\r\n" in data
    assert b"\r\n\r\nxyz\r\n" in data


def test_str_with_charset() -> None:
    body = MultipartBody(
        [Part("café", name="a"), Part("café", name="b", charset="iso-8859-1")], boundary="b"
    )
    data = collect(body)
    assert b'name="a"\r\n\r\ncaf\xc3\xa9\r\n' in data
    assert b'name="b"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n' in data
    with pytest.raises(UsageError, match="cannot be encoded with charset 'ascii'"):
        Part("café", charset="ascii")
    with pytest.raises(UsageError, match="unknown charset 'nope'"):
        Part("x", charset="nope")


def test_path_source(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4 fake" * 1000)
    part = Part.file("attachment", path)
    assert part.filename == "report.pdf"
    assert part.content_type == "application/pdf"
    body = MultipartBody([part], boundary="b", chunk_size=1000)
    data = collect(body)
    assert body.content_length == len(data)
    assert data.count(b"%PDF") == 1000
    assert collect(body) == data  # the file is reopened
    # str source in Part.file is a path
    assert Part.file("x", str(path)).length == path.stat().st_size


def test_path_file_closed_even_when_abandoned(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 10_000)
    before = len(os.listdir("/proc/self/fd"))
    it = iter(MultipartBody([Part.file("f", path)], chunk_size=100))
    next(it)
    next(it)
    assert len(os.listdir("/proc/self/fd")) == before + 1
    it.close()  # type: ignore[attr-defined]
    assert len(os.listdir("/proc/self/fd")) == before


def test_path_changed_size(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 100)
    body = MultipartBody([Part.file("f", path)])
    path.write_bytes(b"x" * 150)
    with pytest.raises(UsageError, match=r"file .*a\.bin' changed size from 100 to 150 bytes"):
        collect(body)


def test_path_not_regular(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a regular file"):
        Part(tmp_path)


def test_seekable_file_rewound_from_its_start_position() -> None:
    f = io.BytesIO(b"HEADERpayload bytes")
    f.seek(6)
    part = Part(f, name="f")
    assert part.length == 13
    body = MultipartBody([part], boundary="b")
    first = collect(body)
    assert b"\r\n\r\npayload bytes\r\n" in first
    assert collect(body) == first
    assert not f.closed  # caller's file: not ours to close


def test_real_file_object(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"line\n" * 100)
    with open(path, "rb") as f:
        part = Part.file("f", f)
        assert part.filename == "x.txt"
        assert part.content_type == "text/plain"
        body = MultipartBody([part])
        assert body.content_length == len(collect(body)) == len(collect(body))


def test_text_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("hi")
    with open(path) as f, pytest.raises(UsageError, match="opened in text mode"):
        Part(f)


def test_non_seekable_file_is_one_shot() -> None:
    r, w = os.pipe()
    os.write(w, b"piped data")
    os.close(w)
    with open(r, "rb", buffering=0) as f:
        body = MultipartBody([Part(f, name="p")], boundary="b")
        assert body.content_length is None
        assert "Content-Length" not in body.headers
        assert b"piped data" in collect(body)
        with pytest.raises(
            UsageError, match=r"part 0 \(name='p'\) has a one-shot source that was already"
        ):
            iter(body)


def test_reiterable_iterable_replays_and_generator_is_one_shot() -> None:
    listed = MultipartBody([Part([b"a", b"b"], name="l")], boundary="b")
    assert collect(listed) == collect(listed)

    def gen() -> Iterator[bytes]:
        yield b"once"

    body = MultipartBody([Part(b"x", name="first"), Part(gen(), name="g")], boundary="b")
    assert b"once" in collect(body)
    with pytest.raises(UsageError, match=r"part 1 \(name='g'\) has a one-shot source"):
        collect(body)
    with pytest.raises(UsageError, match="one-shot source"):
        body.reader()


def test_iterable_chunk_types() -> None:
    body = MultipartBody([Part([bytearray(b"ab"), memoryview(b"cd")], name="x")], boundary="b")
    assert b"abcd" in collect(body)
    bad = MultipartBody([Part(["text"], name="x")], boundary="b")  # type: ignore[list-item]
    with pytest.raises(UsageError, match=r"part 0 \(name='x'\): source yielded str, expected"):
        collect(bad)


@pytest.mark.parametrize(
    ("chunks", "declared", "message"),
    [
        (
            [b"abc", b"def"],
            4,
            r"part 0 \(name='x'\): source yielded more than the declared 4 bytes \(6 so far\)",
        ),
        ([b"abc"], 5, r"part 0 \(name='x'\): source yielded 3 bytes but 5 were declared"),
    ],
)
def test_length_mismatch(chunks: list[bytes], declared: int, message: str) -> None:
    body = MultipartBody([Part(chunks, name="x", length=declared)], boundary="b")
    assert body.content_length is not None
    sent = []
    with pytest.raises(UsageError, match=message):
        for chunk in body:
            sent.append(chunk)
    # never more payload bytes than declared went out
    assert b"abcdef" not in b"".join(sent)


def test_length_must_agree_when_known(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="length=3 but the body has 5 bytes"):
        Part(b"12345", length=3)
    with pytest.raises(UsageError, match="length must be a non-negative int"):
        Part([b"x"], length=-1)
    path = tmp_path / "f"
    path.write_bytes(b"1234")
    with pytest.raises(UsageError, match="length=9 but the body has 4 bytes"):
        Part(path, length=9)


def test_async_source() -> None:
    async def agen() -> AsyncIterator[bytes]:
        yield b"async "
        yield b"bytes"

    body = MultipartBody([Part(agen(), name="a", length=11)], boundary="b")
    assert body.content_length is not None
    with pytest.raises(
        UsageError, match=r"part 0 \(name='a'\) has an async source; iterate the body with"
    ):
        iter(body)
    data = asyncio.run(acollect(body))
    assert b"\r\n\r\nasync bytes\r\n" in data
    assert body.content_length == len(data)
    with pytest.raises(UsageError, match="one-shot"):
        asyncio.run(acollect(body))


def test_async_reiterable_source_and_length_check() -> None:
    class Source:
        def __aiter__(self) -> AsyncIterator[bytes]:
            return self._gen()

        async def _gen(self) -> AsyncIterator[bytes]:
            yield b"abc"

    body = MultipartBody([Part(Source(), name="a")], boundary="b")
    assert asyncio.run(acollect(body)) == asyncio.run(acollect(body))
    short = MultipartBody([Part(Source(), name="a", length=4)], boundary="b")
    with pytest.raises(UsageError, match="source yielded 3 bytes but 4 were declared"):
        asyncio.run(acollect(short))


def test_nested_body() -> None:
    inner = MultipartBody(
        [Part(b"inner text", content_type="text/plain"), Part(b"\x00\x01", filename="a.bin")],
        subtype="mixed",
        boundary="inner-b",
    )
    outer = MultipartBody([Part("v", name="field"), Part(inner, name="files")], boundary="outer")
    data = collect(outer)
    assert outer.content_length == len(data)
    assert (
        b'Content-Disposition: form-data; name="files"\r\n'
        b"Content-Type: multipart/mixed; boundary=inner-b\r\n\r\n--inner-b\r\n"
    ) in data
    assert data.endswith(b"--inner-b--\r\n\r\n--outer--\r\n")
    with pytest.raises(UsageError, match="content_type cannot be set for a nested"):
        Part(inner, content_type="text/plain")
    with pytest.raises(UsageError, match="cannot use transfer encoding 'base64'"):
        Part(inner, transfer_encoding="base64")


def test_nested_one_shot_and_async_propagate() -> None:
    async def agen() -> AsyncIterator[bytes]:
        yield b"x"

    inner = MultipartBody([Part(agen(), name="a")], boundary="in")
    outer = MultipartBody([Part(inner, name="n")], boundary="out")
    with pytest.raises(UsageError, match=r"part 0 \(name='n'\): part 0 \(name='a'\) has an async"):
        iter(outer)
    assert b"\r\n\r\nx\r\n--in--" in asyncio.run(acollect(outer))
    with pytest.raises(UsageError, match="one-shot"):
        asyncio.run(acollect(outer))


def test_unsupported_body_type() -> None:
    with pytest.raises(UsageError, match="unsupported body type int"):
        Part(42)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="part 1 is a str, not a Part"):
        MultipartBody([Part(b"", name="a"), "x"])  # type: ignore[list-item]


# --------------------------------------------------------------------------- lengths & codecs


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 100, 1000, 10_000])
def test_base64_length_exact_for_streams(size: int) -> None:
    raw = bytes(range(256)) * (size // 256 + 1)
    raw = raw[:size]
    body = MultipartBody(
        [Part(io.BytesIO(raw), name="f", transfer_encoding="base64")],
        boundary="b",
        chunk_size=100,
    )
    data = collect(body)
    assert body.content_length == len(data)
    encoded = data.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--b--", 1)[0]
    assert base64.b64decode(encoded.replace(b"\r\n", b"")) == raw


def test_quoted_printable_length_memory_known_stream_unknown() -> None:
    raw = b"caf\xe9 = 100%\r\n" * 20
    mem = MultipartBody([Part(raw, name="q", transfer_encoding="quoted-printable")], boundary="b")
    assert mem.content_length == len(collect(mem))
    stream = MultipartBody(
        [Part([raw], name="q", transfer_encoding="quoted-printable")], boundary="b"
    )
    assert stream.content_length is None
    assert collect(stream) == collect(mem)


def test_seven_bit_validated() -> None:
    with pytest.raises(UsageError, match=r"0x[eE]9"):
        Part(b"caf\xe9", name="x", transfer_encoding="7bit")
    body = MultipartBody([Part([b"ok", b"caf\xe9"], name="x", transfer_encoding="7bit")])
    with pytest.raises(UsageError, match=r"part 0 \(name='x'\): .*0x[eE]9"):
        collect(body)


def test_transfer_encoding_header_and_argument_must_agree() -> None:
    with pytest.raises(UsageError, match="contradicts the Content-Transfer-Encoding header"):
        Part(b"x", transfer_encoding="base64", headers={"Content-Transfer-Encoding": "8bit"})
    part = Part(b"xyz", name="a", headers={"Content-Transfer-Encoding": "base64"})
    assert b"\r\n\r\neHl6\r\n" in collect(MultipartBody([part], boundary="b"))


# --------------------------------------------------------------------------- headers


def test_form_data_names_are_escaped_not_rejected() -> None:
    evil = 'a"\r\nContent-Type: text/html\r\n\r\n<script>'
    body = MultipartBody([Part(b"v", name=evil, filename='x"\ny.txt')], boundary="b")
    data = collect(body)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head == (
        b"--b\r\nContent-Disposition: form-data; "
        b'name="a%22%0D%0AContent-Type: text/html%0D%0A%0D%0A<script>"; filename="x%22%0Ay.txt"'
    )
    assert data.count(b"\r\nContent-Type") == 0


def test_form_data_non_ascii_is_utf8() -> None:
    data = collect(MultipartBody([Part(b"", name="名前", filename="résumé.pdf")], boundary="b"))
    assert 'name="名前"; filename="résumé.pdf"'.encode() in data


def test_fast_path_renders_like_core() -> None:
    """The plain form-data head must be exactly the general header list, rendered."""
    from mimewire._headers import render_form_data_disposition
    from mimewire._render import form_data_head, header_text, part_headers

    for name, filename in [("a", None), ("x y", "f.txt"), ("ü", ""), ("a_b", "a;b")]:
        for ctype in (None, "text/plain"):
            fast = form_data_head(name, filename, ctype)
            slow = header_text(
                part_headers("form-data", name=name, filename=filename, content_type=ctype)
            )
            assert fast == slow
            disp = render_form_data_disposition(name, filename)
            assert fast.startswith(f"Content-Disposition: {disp}\r\n")
            part = Part(b"", name=name, filename=filename, content_type=ctype)
            body = MultipartBody([part], boundary="b").to_bytes()
            assert body == b"--b\r\n" + fast.encode() + b"\r\n--b--\r\n"


@given(
    st.text(max_size=10),
    st.none() | st.text(max_size=10),
    st.sampled_from([None, "text/plain", "application/pdf"]),
)
def test_fast_head_is_the_general_head(name: str, filename: str | None, ctype: str | None) -> None:
    """Property: wherever the planner may take the fast path (plain name and filename), its
    text is the general header list rendered."""
    from mimewire._render import form_data_head, header_text, is_plain, part_headers

    if not (is_plain(name) and (filename is None or is_plain(filename))):
        return
    general = part_headers("form-data", name=name, filename=filename, content_type=ctype)
    assert form_data_head(name, filename, ctype) == header_text(general)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "a\0b"}, "form-data name contains NUL at index 1"),
        ({"name": "a", "filename": "x\0"}, "filename contains NUL at index 1"),
        ({"name": "a", "content_type": "text/plain\r\nX: y"}, "'Content-Type' value contains CR"),
        ({"name": "a", "headers": {"X-A": "1\n2"}}, "header 'X-A' value contains LF at index 1"),
        ({"name": "a", "headers": [("X A", "1")]}, "header name 'X A' contains SPACE"),
        ({"name": "a", "filename_star": True}, "filename_star is not allowed in form-data"),
    ],
)
def test_header_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        MultipartBody([Part(b"x", **kwargs)])  # type: ignore[arg-type]


def test_form_data_part_needs_a_name() -> None:
    with pytest.raises(UsageError, match=r"part 1: a multipart/form-data part needs a name"):
        MultipartBody([Part(b"", name="ok"), Part(b"")])
    with pytest.raises(UsageError, match=r"part 0 \(filename='f'\): a multipart/form-data"):
        MultipartBody([Part(b"", filename="f")])
    # an explicit Content-Disposition is enough
    part = Part(b"", headers={"Content-Disposition": 'form-data; name="x"'})
    assert b'name="x"' in collect(MultipartBody([part]))


def test_mixed_disposition_rules() -> None:
    parts = [
        Part(b"1", filename="fax.txt"),
        Part(b"2", name="json", content_type="application/json"),
        Part(b"3", filename="résumé.pdf"),
        Part(b"4", filename="a.pdf", filename_star=True),
        Part(b"5", filename="i.png", disposition="inline"),
        Part(b"6", name="f", filename="x.txt", disposition="form-data"),
        Part(b"7"),
    ]
    data = collect(MultipartBody(parts, subtype="mixed", boundary="b"))
    heads = [
        b"" if chunk.startswith(b"\r\n") else chunk.split(b"\r\n\r\n")[0]
        for chunk in data.split(b"--b\r\n")[1:]
    ]
    assert heads == [
        b'Content-Disposition: attachment; filename="fax.txt"',
        b'Content-Disposition: attachment; name="json"\r\nContent-Type: application/json',
        # RFC 8187 form: the ASCII fallback is rendered by _headers.render_disposition
        b"Content-Disposition: attachment; filename=resume.pdf;"
        b" filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        b"Content-Disposition: attachment; filename=a.pdf; filename*=UTF-8''a.pdf",
        b'Content-Disposition: inline; filename="i.png"',
        b'Content-Disposition: form-data; name="f"; filename="x.txt"',
        b"",
    ]


def test_mixed_controls_in_filename_refused() -> None:
    with pytest.raises(UsageError, match=r"part 0 \(filename='a\\rb'\): filename contains CR"):
        MultipartBody([Part(b"", filename="a\rb")], subtype="mixed")


def test_header_order_auto_then_explicit_with_override() -> None:
    part = Part(
        b"x",
        name="n",
        content_type="text/plain",
        transfer_encoding="8bit",
        headers=[("X-First", "1"), ("Content-Type", "application/json")],
    )
    assert part.headers_for("form-data") == [
        ("Content-Disposition", 'form-data; name="n"'),
        ("Content-Transfer-Encoding", "8bit"),
        ("X-First", "1"),
        ("Content-Type", "application/json"),
    ]


def test_charset_appended_to_content_type() -> None:
    part = Part("é", name="n", content_type="text/csv", charset="utf-8")
    assert ("Content-Type", "text/csv; charset=utf-8") in part.headers_for("form-data")
    kept = Part("é", name="n", content_type="text/csv; charset=latin-1", charset="latin-1")
    assert ("Content-Type", "text/csv; charset=latin-1") in kept.headers_for("form-data")


def test_guessed_content_types(tmp_path: Path) -> None:
    assert Part.file("a", io.BytesIO(b"")).content_type == "application/octet-stream"
    assert Part.file("a", io.BytesIO(b""), filename="x.tiff").content_type == "image/tiff"
    assert Part.file("a", b"data", filename="n.json").content_type == "application/json"
    assert Part.field("a", "v").content_type is None


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize(
    ("boundary", "message"),
    [
        ("", "boundary is empty"),
        ("x" * 71, "boundary is 71 characters long"),
        ("abc ", "boundary ends with a SPACE"),
        ("a\r\nb", "boundary contains CR at index 1"),
        ("a;b", "boundary contains ';'"),
    ],
)
def test_invalid_boundary(boundary: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        MultipartBody([Part(b"", name="a")], boundary=boundary)


def test_boundary_needing_quotes() -> None:
    body = MultipartBody([Part(b"", name="a")], boundary="a:b=c d")
    assert body.content_type == 'multipart/form-data; boundary="a:b=c d"'
    assert collect(body).startswith(b"--a:b=c d\r\n")


def test_caller_boundary_collision_names_the_part() -> None:
    parts = [Part(b"fine", name="a"), Part(b"xx\r\n--sep\r\nyy", name="b", filename="c.txt")]
    with pytest.raises(
        UsageError,
        match=r"boundary 'sep' occurs in part 1 \(name='b', filename='c.txt'\) at body offset 4",
    ):
        MultipartBody(parts, boundary="sep")
    with pytest.raises(UsageError, match="boundary 'sep' occurs in the preamble"):
        MultipartBody([Part(b"", name="a")], boundary="sep", preamble=b"--sep")


def test_collision_in_encoded_bytes_only() -> None:
    # "--sep" in raw bytes; quoted-printable keeps it literal -> collision
    with pytest.raises(UsageError, match="occurs in part 0"):
        MultipartBody(
            [Part(b"--sep", name="a", transfer_encoding="quoted-printable")], boundary="sep"
        )
    # base64 never contains '-' -> no collision
    body = MultipartBody([Part(b"--sep", name="a", transfer_encoding="base64")], boundary="sep")
    assert b"LS1zZXA=" in collect(body)


def test_nested_collision_spanning_and_prefix() -> None:
    inner = MultipartBody([Part(b"x")], subtype="mixed", boundary="outer-and-more")
    with pytest.raises(UsageError, match=r"part 0 \(name='n'\) \(nested body\) at offset 0"):
        MultipartBody([Part(inner, name="n")], boundary="outer")
    inner2 = MultipartBody([Part(b"zz--out")], subtype="mixed", boundary="in")
    with pytest.raises(UsageError, match="nested body"):
        MultipartBody([Part(inner2, name="n")], boundary="out")


def test_generated_boundary_is_regenerated(monkeypatch: pytest.MonkeyPatch) -> None:
    candidates = iter(["taken", "free"])
    monkeypatch.setattr(plan_mod, "make_boundary", lambda: next(candidates))
    body = MultipartBody([Part(b"a--taken", name="x")])
    assert body.boundary == "free"


# --------------------------------------------------------------------------- progress, reader


def test_progress_callback(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"z" * 5000)
    calls: list[tuple[int, int | None]] = []
    body = MultipartBody(
        [Part.file("f", path)], chunk_size=1000, on_progress=lambda s, t: calls.append((s, t))
    )
    total = len(collect(body))
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert [s for s, _ in calls] == sorted(s for s, _ in calls)
    calls.clear()
    asyncio.run(acollect(body))
    assert calls[-1] == (total, total)
    unknown = MultipartBody(
        [Part(iter([b"a"]), name="x")], on_progress=lambda s, t: calls.append((s, t))
    )
    collect(unknown)
    assert calls[-1][1] is None


def test_reader_file_protocol() -> None:
    body = MultipartBody([Part(b"x" * 100_000, name="big")], boundary="b")
    reader = body.reader()
    assert isinstance(reader, io.RawIOBase)
    assert isinstance(reader, BodyReader)
    assert reader.readable() and not reader.seekable() and not reader.writable()
    assert reader.len == body.content_length
    assert reader.read(0) == b""
    first = reader.read(10)
    assert first == b"--b\r\nConte"
    assert reader.tell() == 10
    rest = reader.read()
    assert reader.tell() == body.content_length
    assert first + rest == collect(body)
    assert reader.read(5) == b""
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)
    # a BufferedReader on top works too
    assert io.BufferedReader(body.reader()).read() == collect(body)


def test_reader_large_chunk_returned_without_copy() -> None:
    payload = b"y" * 200_000
    reader = MultipartBody([Part(payload, name="big")], boundary="b").reader()
    reader.read(10_000)  # the framing chunk
    assert reader.read(1 << 20) is payload


def test_requests_super_len() -> None:
    requests_utils = pytest.importorskip("requests.utils")
    body = MultipartBody([Part(b"abc", name="a")])
    reader = body.reader()
    assert requests_utils.super_len(reader) == body.content_length
    reader.read(5)
    assert requests_utils.super_len(reader) == body.content_length - 5  # type: ignore[operator]
    unknown = MultipartBody([Part(iter([b"a"]), name="a")]).reader()
    assert requests_utils.super_len(unknown) == 0  # -> requests uses chunked encoding


def test_chunk_size_validated() -> None:
    with pytest.raises(UsageError, match="chunk_size must be a positive int"):
        MultipartBody([], chunk_size=0)
    with pytest.raises(UsageError, match="invalid multipart subtype 'a b'"):
        MultipartBody([], subtype="a b")


def test_empty_body_and_repr() -> None:
    body = MultipartBody([], subtype="mixed", boundary="e")
    assert collect(body) == b"--e--\r\n"
    assert "0 parts" in repr(body)
    assert "name='x'" in repr(Part(b"", name="x"))


def test_join_limit_keeps_large_payload_separate() -> None:
    small = [Part(b"s" * 10, name=f"f{i}") for i in range(3)]
    big = b"B" * (plan_mod.JOIN_LIMIT + 1)
    chunks = list(MultipartBody([*small, Part(big, name="big"), *small], boundary="b"))
    assert any(c is big for c in chunks)
    assert len(chunks) == 3  # framing+small, big, framing+small+close


def test_async_path_changed_size_and_file_closed(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 100)
    body = MultipartBody([Part.file("f", path)])
    path.write_bytes(b"x" * 50)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(UsageError, match="changed size from 100 to 50 bytes"):
        asyncio.run(acollect(body))
    assert len(os.listdir("/proc/self/fd")) == before


def test_source_error_mid_stream_closes_file(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    body = MultipartBody([Part.file("f", path), Part([b"abc"], name="x", length=2)], chunk_size=100)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(UsageError, match="more than the declared 2 bytes"):
        collect(body)
    assert len(os.listdir("/proc/self/fd")) == before


# --------------------------------------------------------------------------- reader fast path


def _file_body(tmp_path: Path, size: int, **kw: object) -> tuple[MultipartBody, Path]:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * (size // 256) + b"z" * (size % 256))
    parts = [Part.field("a", "1"), Part.file("f", path), Part(b"tail" * 10, name="t")]
    return MultipartBody(parts, **kw), path  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(8))
def test_reader_mixed_read_and_readinto_sizes(tmp_path: Path, seed: int) -> None:
    body, _ = _file_body(tmp_path, 200_003)
    expected = collect(body)
    rnd = random.Random(seed)
    reader = body.reader()
    out = bytearray()
    while True:
        size = rnd.choice([0, 1, 5, 4096, 65536, 100_000])
        if rnd.random() < 0.5:
            buf = bytearray(size)
            n = reader.readinto(buf)
            out += buf[:n]
        else:
            data = reader.read(size)
            n = len(data)
            out += data
            assert n <= size
        assert reader.tell() == len(out)
        if size and not n:
            break
    assert bytes(out) == expected
    assert reader.read(10) == b"" and reader.readinto(bytearray(10)) == 0


def test_reader_file_reads_are_the_callers_size(tmp_path: Path) -> None:
    """A plain file part is read with one file read per call, of the caller's size (not
    in chunk_size pieces copied out of a buffer): readinto fills a 200 KB buffer whole."""
    body, _ = _file_body(tmp_path, 500_000)
    reader = body.reader()
    sizes = []
    buf = bytearray(200_000)
    while n := reader.readinto(buf):
        sizes.append(n)
    assert sizes.count(200_000) == 2
    assert reader.tell() == body.content_length
    reader = body.reader()
    assert reader.read(10_000)  # the framing
    assert len(reader.read(300_000)) == 300_000


def test_reader_file_grown_or_shrunk_while_reading(tmp_path: Path) -> None:
    body, path = _file_body(tmp_path, 100_000)
    reader = body.reader()
    reader.read(10_000)  # the framing, whole
    reader.read(1000)  # the file is open now
    with open(path, "ab") as f:
        f.write(b"!" * 70_000)
    with pytest.raises(UsageError, match=r"part 1 \(name='f'.*more than the declared 100000"):
        while reader.readinto(bytearray(65536)):
            pass
    body, path = _file_body(tmp_path, 100_000)
    reader = body.reader()
    reader.read(10_000)
    reader.read(1000)
    os.truncate(path, 50_000)
    with pytest.raises(UsageError, match=r"yielded 50000 bytes but 100000 were declared"):
        while reader.read(65536):
            pass


def test_reader_close_closes_the_open_file(tmp_path: Path) -> None:
    body, _ = _file_body(tmp_path, 100_000)
    before = len(os.listdir("/proc/self/fd"))
    reader = body.reader()
    reader.read(10_000)
    reader.read(1000)
    assert len(os.listdir("/proc/self/fd")) == before + 1
    reader.close()
    assert len(os.listdir("/proc/self/fd")) == before
    with pytest.raises(ValueError, match="closed"):
        reader.readinto(bytearray(1))
    with pytest.raises(ValueError, match="closed"):
        reader.read(0)


def test_reader_with_progress_or_caller_boundary(tmp_path: Path) -> None:
    """Progress callbacks and the boundary scan apply to reads as to iteration."""
    calls: list[tuple[int, int | None]] = []
    body, _ = _file_body(tmp_path, 100_000, on_progress=lambda s, t: calls.append((s, t)))
    data = body.reader().read()
    assert calls[-1] == (len(data), len(data))
    path = tmp_path / "clash.bin"
    path.write_bytes(b"x" * 70_000 + b"\r\n--clash" + b"y" * 10)
    clash = MultipartBody([Part.file("f", path)], boundary="clash")
    reader = clash.reader()
    with pytest.raises(UsageError, match="boundary 'clash' occurs in the streamed body"):
        while reader.read(65536):
            pass


# --------------------------------------------------------------------------- runs of fields


def _field_mix(seed: int) -> list[tuple[str, str]]:
    """Thousands of fields (several rendered blobs), a few needing the per-part path: a
    quote, backslash or newline in the name, a value holding the boundary or one large
    enough never to be joined, non-ASCII text, empty values."""
    rnd = random.Random(seed)
    out = []
    for i in range(rnd.choice([1, 7, 900, 3000])):
        name, value = f"f{i}", "v" * rnd.choice([0, 1, 5, 40])
        roll = rnd.random()
        if roll < 0.01:
            name = rnd.choice(['q"uote', "back\\slash", "new\nline", "ü名"])
        elif roll < 0.015:
            value = rnd.choice(["x\r\n--mixb\r\ny", "--mixb", "tail--mix"])
        elif roll < 0.02:
            value = "L" * rnd.choice([plan_mod.JOIN_LIMIT // 4 - 1, plan_mod.JOIN_LIMIT + 3])
        elif roll < 0.03:
            value = "é—\u2028"
        out.append((name, value))
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("others", ["none", "between"])
def test_field_runs_render_like_single_parts(seed: int, others: str) -> None:
    """Plain fields are rendered in blobs of many; the bytes (or the error) must be those
    of the same fields sent one part at a time (as bytes bodies, which never batch)."""
    fields = _field_mix(seed)
    fast: list[Part] = [Part.field(n, v) for n, v in fields]
    slow: list[Part] = [Part(v.encode(), name=n) for n, v in fields]
    if others == "between":
        for k in range(0, len(fast) + 1, max(1, len(fast) // 3)):
            fast.insert(k, Part(b"file\r\n", name="f", filename="a.bin"))
            slow.insert(k, Part(b"file\r\n", name="f", filename="a.bin"))
    for boundary, preamble in (("mixb", None), ("mixb", b"pre"), ("other", None)):
        try:
            expected = MultipartBody(slow, boundary=boundary, preamble=preamble).to_bytes()
        except UsageError as exc:
            with pytest.raises(UsageError) as got:
                MultipartBody(fast, boundary=boundary, preamble=preamble)
            assert got.value.message == exc.message
            continue
        body = MultipartBody(fast, boundary=boundary, preamble=preamble)
        chunks = list(body)
        assert b"".join(chunks) == expected
        assert body.content_length == len(expected)
        # a value of JOIN_LIMIT bytes or more is a chunk of its own, never joined
        big = {v.encode() for _, v in fields if len(v) >= plan_mod.JOIN_LIMIT}
        assert big <= set(chunks)
        assert max(map(len, chunks)) < 2 * plan_mod.JOIN_LIMIT or big


# --------------------------------------------------------------------------- async lengths


def _agen(chunks: list[bytes]) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return gen()


@pytest.mark.parametrize("cte", [None, "base64"])
def test_async_source_with_length_has_exact_content_length(cte: str | None) -> None:
    chunks = [b"\x00\xffab" * 30, b"", b"tail" * 7]
    size = sum(map(len, chunks))
    parts = [
        Part.field("a", "1"),
        Part(_agen(chunks), name="s", length=size, transfer_encoding=cte),
    ]
    body = MultipartBody(parts, boundary="b")
    assert body.content_length is not None
    assert body.headers["Content-Length"] == str(body.content_length)
    data = asyncio.run(acollect(body))
    assert len(data) == body.content_length
    same = MultipartBody(
        [Part.field("a", "1"), Part(b"".join(chunks), name="s", transfer_encoding=cte)],
        boundary="b",
    )
    assert data == collect(same)


@pytest.mark.parametrize(
    ("chunks", "declared", "message"),
    [
        (
            [b"abc", b"def"],
            4,
            r"part 1 \(name='s'\): source yielded more than the declared 4 bytes \(6 so far\)",
        ),
        ([b"abc"], 5, r"part 1 \(name='s'\): source yielded 3 bytes but 5 were declared"),
    ],
)
def test_async_source_length_mismatch_is_refused(
    chunks: list[bytes], declared: int, message: str
) -> None:
    body = MultipartBody(
        [Part.field("a", "1"), Part(_agen(chunks), name="s", length=declared)], boundary="b"
    )
    sent: list[bytes] = []

    async def drain() -> None:
        async for chunk in body:
            sent.append(chunk)

    with pytest.raises(UsageError, match=message):
        asyncio.run(drain())
    assert b"def" not in b"".join(sent)  # never more payload than declared went out


def test_async_progress_matches_sync_progress(tmp_path: Path) -> None:
    """on_progress sees the same (sent, total) calls whether the body is iterated or
    async-iterated."""
    path = tmp_path / "p.bin"
    path.write_bytes(b"p" * 150_000)
    calls: list[tuple[int, int | None]] = []

    def make() -> MultipartBody:
        return MultipartBody(
            [Part.field("a", "1"), Part.file("f", path), Part([b"x" * 10], name="i", length=10)],
            on_progress=lambda sent, total: calls.append((sent, total)),
            chunk_size=50_000,
            boundary="b",
        )

    collect(make())
    sync_calls = list(calls)
    calls.clear()
    asyncio.run(acollect(make()))
    assert calls == sync_calls
    total = sync_calls[-1][0]
    assert sync_calls[0] == (0, total) and sync_calls[-1] == (total, total)
    assert len(sync_calls) > 4


def test_field_on_part_and_on_a_subclass() -> None:
    """Part.field makes a Part; on a subclass it makes that subclass (same bytes)."""

    class Tagged(Part):
        pass

    plain, tagged = Part.field("a", "1"), Tagged.field("a", "1")
    assert type(plain) is Part and type(tagged) is Tagged
    assert type(Tagged.field("b", b"x", filename="f")) is Tagged
    assert collect(MultipartBody([plain], boundary="b")) == collect(
        MultipartBody([tagged], boundary="b")
    )
    with pytest.raises(UsageError, match="name must be a str"):
        Part.field(b"a", "1")  # type: ignore[arg-type]


def test_in_memory_bodies_from_pass_through_size_are_not_copied() -> None:
    """A bytes body of PASS_THROUGH bytes or more is handed out as the caller's object;
    smaller ones are joined with the framing around them."""
    at = b"A" * plan_mod.PASS_THROUGH
    below = b"B" * (plan_mod.PASS_THROUGH - 1)
    parts = [Part(at, name="at", filename="a.bin"), Part(below, name="below", filename="b.bin")]
    chunks = list(MultipartBody([*parts, Part.field("f", "v")], boundary="b"))
    assert any(c is at for c in chunks)
    assert not any(c is below for c in chunks)
    assert any(below in c and len(c) > len(below) for c in chunks)


class _DuckReader:
    """A readable that is not an io class: read through the chunk iterator."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._f.read(size)


@pytest.mark.parametrize("source", ["bytesio", "open-file", "pipe", "duck"])
def test_reader_reads_callers_file_objects_in_place(tmp_path: Path, source: str) -> None:
    data = bytes(range(256)) * 1000 + b"end"
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    if source == "bytesio":
        f: Any = io.BytesIO(b"skip" + data)
        f.seek(4)  # replayed from where it was when the part was made
    elif source == "open-file":
        f = open(path, "rb")  # noqa: SIM115 - closed below
    elif source == "pipe":
        import threading

        rfd, wfd = os.pipe()
        f = open(rfd, "rb")  # noqa: SIM115 - closed below

        def feed() -> None:  # more than a pipe holds: written while the reader reads
            with open(wfd, "wb") as w:
                w.write(data)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
    else:
        f = _DuckReader(data)
    try:
        part = Part(f, name="f", filename="src.bin")
        body = MultipartBody([Part.field("a", "1"), part, Part.field("z", "9")])
        expected = MultipartBody(  # (a caller's boundary would make the reader scan chunks)
            [Part.field("a", "1"), Part(data, name="f", filename="src.bin"), Part.field("z", "9")],
            boundary=body.boundary,
        ).to_bytes()
        if source == "pipe":
            assert body.content_length is None
        reader = body.reader()
        out = bytearray()
        buf = bytearray(100_000)
        sizes = []
        while n := reader.readinto(buf):
            out += buf[:n]
            sizes.append(n)
            assert reader.tell() == len(out)
        assert bytes(out) == expected
        if source in ("bytesio", "open-file"):  # whole buffers: read in place, not in chunks
            assert sizes.count(100_000) == 2
            assert body.reader().read() == expected  # replayed from the same position
        if source == "pipe":
            feeder.join(10)
        assert not getattr(f, "closed", False)  # the caller's file stays open
    finally:
        if hasattr(f, "close"):
            f.close()


def test_reader_callers_file_grown_since_the_part_was_made(tmp_path: Path) -> None:
    path = tmp_path / "g.bin"
    path.write_bytes(b"x" * 1000)
    with open(path, "rb") as f:
        body = MultipartBody([Part(f, name="g")])
        with open(path, "ab") as grow:
            grow.write(b"y" * 100)
        reader = body.reader()
        with pytest.raises(UsageError, match=r"part 0 \(name='g'\): source yielded more than"):
            while reader.read(4096):
                pass
        assert not f.closed
