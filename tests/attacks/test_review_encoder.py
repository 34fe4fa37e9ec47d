"""The encoder checks argument types where the mistake is made.

A ``bytes`` name would otherwise go out as ``name="b'abc'"`` (a silently wrong field name),
and int names/filenames, lone surrogates, non-UTF-8 file names and other wrongly typed
arguments would escape as ``TypeError`` / ``AttributeError`` / ``UnicodeEncodeError`` at
send time, far from the line that made the mistake. So :class:`Part` (and
:class:`MultipartBody`, :class:`Encoder`) check their arguments when they are made and raise
:class:`UsageError` naming the parameter and the problem.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mimewire import Encoder, MultipartBody, Part, PartData, PartStart, UsageError


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": b"abc"}, r"name must be a str, not bytes \(b'abc'\); decode it first"),
        ({"name": bytearray(b"abc")}, r"name must be a str, not bytearray"),
        ({"name": 5}, r"name must be a str, not int \(5\)"),
        ({"name": "n", "filename": 7}, r"filename must be a str, not int \(7\)"),
        ({"name": "n", "filename": b"a.pdf"}, r"filename must be a str, not bytes"),
        ({"name": "a\ud800b"}, r"name contains U\+D800 at index 1, a lone surrogate"),
        ({"name": "n", "filename": "caf\udce9.pdf"}, r"filename contains U\+DCE9 at index 3"),
        ({"name": "n", "content_type": 5}, r"content_type must be a str, not int"),
        ({"name": "n", "content_type": "text/\udfff"}, r"content_type contains U\+DFFF"),
        ({"name": "n", "charset": 8}, r"charset must be a str, not int"),
        ({"name": "n", "disposition": 1}, r"disposition must be a str, not int"),
        ({"name": "n", "disposition": "in line"}, r"disposition type 'in line' contains SPACE"),
        ({"name": "n", "transfer_encoding": 64}, r"transfer_encoding must be a str, not int"),
        ({"name": "n", "length": True}, r"length must be a non-negative int, not True"),
        ({"name": "n", "length": 1.0}, r"length must be a non-negative int, not 1.0"),
        ({"name": "n", "filename_star": "yes"}, r"filename_star must be a bool, not str"),
        ({"name": "n", "headers": [("X-A", "1", "2")]}, r"headers must be \(name, value\) pairs"),
        ({"name": "n", "headers": "X-A: 1"}, r"headers must be a mapping or \(name, value\) pairs"),
        ({"name": "n", "headers": {"X-A": b"1"}}, r"header name and value must be str"),
        ({"name": "n", "headers": {"X-A": "\ud800"}}, r"header 'X-A' value contains U\+D800"),
    ],
)
def test_part_arguments_are_checked_when_the_part_is_made(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        Part(b"x", **kwargs)


def test_bytes_name_is_never_sent_as_its_repr() -> None:
    makers: list[Callable[[], Part]] = [
        lambda: Part(b"v", name=b"abc"),  # type: ignore[arg-type]
        lambda: Part("v", name=b"abc"),  # type: ignore[arg-type]
        lambda: Part.field(b"abc", "v"),  # type: ignore[arg-type]
        lambda: Part.field(b"abc", b"v"),  # type: ignore[arg-type]
    ]
    for make in makers:
        with pytest.raises(UsageError, match="name must be a str, not bytes"):
            make()


@pytest.mark.parametrize("name", [5, 2.5, None, object()])
def test_field_name_types(name: object) -> None:
    if name is None:  # a nameless form-data field: refused when the body is built
        with pytest.raises(UsageError, match="part 0: a multipart/form-data part needs a name"):
            MultipartBody([Part.field(name, "v")])  # type: ignore[arg-type]
        return
    with pytest.raises(UsageError, match=f"name must be a str, not {type(name).__name__}"):
        Part.field(name, "v")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["a\ud800", "\udc80"])
def test_lone_surrogate_in_a_str_body(value: str) -> None:
    makers: list[Callable[[], Part]] = [
        lambda: Part.field("n", value),
        lambda: Part(value, name="n", filename="f"),
    ]
    for make in makers:
        with pytest.raises(UsageError, match=r"str body contains U\+D[8C]"):
            make()


def test_str_subclass_name_is_sent_as_its_value() -> None:
    class Name(str):
        def __str__(self) -> str:
            return "wrong"

    body = MultipartBody([Part(b"v", name=Name("right"))], boundary="b").to_bytes()
    assert b'name="right"' in body
    assert b"wrong" not in body


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_non_utf8_file_name(tmp_path: Path) -> None:
    path = os.path.join(os.fsencode(tmp_path), b"caf\xe9.pdf")
    with open(path, "wb") as f:
        f.write(b"%PDF")
    with pytest.raises(UsageError, match=r"not valid UTF-8 .*pass filename="):
        Part.file("doc", Path(os.fsdecode(path)))
    with pytest.raises(UsageError, match=r"not valid UTF-8 .*pass filename="):
        Part.file("doc", os.fsdecode(path))
    with open(path, "rb") as f, pytest.raises(UsageError, match=r"not valid UTF-8"):
        Part.file("doc", f)
    part = Part.file("doc", os.fsdecode(path), filename="cafe.pdf")
    assert b'filename="cafe.pdf"' in MultipartBody([part], boundary="b").to_bytes()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subtype": 5}, "subtype must be a str, not int"),
        ({"preamble": "text"}, "preamble must be bytes, not str"),
        ({"preamble": 5}, "preamble must be bytes, not int"),  # was: 5 NUL bytes
        ({"epilogue": "x"}, "epilogue must be bytes, not str"),
        ({"chunk_size": True}, "chunk_size must be a positive int"),
        ({"on_progress": 5}, "on_progress must be callable"),
        ({"boundary": b"abc"}, "boundary must be a str, not bytes"),
    ],
)
def test_body_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        MultipartBody([Part(b"x", name="n")], **kwargs)


def test_parts_must_be_parts() -> None:
    with pytest.raises(UsageError, match="parts must be an iterable of Part, not bytes"):
        MultipartBody(b"abc")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="part 1 is a tuple, not a Part"):
        MultipartBody([Part(b"x", name="n"), ("n", "v")])  # type: ignore[list-item]


def test_encoder_header_with_lone_surrogate() -> None:
    enc = Encoder("b")
    with pytest.raises(UsageError, match=r"header 'X-A' value contains U\+D800 at index 2"):
        enc.send(PartStart([("X-A", "ab\ud800")]))
    # the refused event left the encoder usable
    assert enc.send(PartStart([("X-A", "ok")])) == b"--b\r\nX-A: ok\r\n\r\n"


def test_encoder_part_data_must_be_bytes() -> None:
    enc = Encoder("b")
    enc.send(PartStart([("X-A", "1")]))
    with pytest.raises(UsageError, match=r"PartData\.data must be bytes, not str"):
        enc.send(PartData("text"))  # type: ignore[arg-type]
    assert enc.send(PartData(b"ok")) == b"ok"


def test_ambiguous_headers_are_never_produced() -> None:
    """A part with two Content-Type (or -Disposition, -Transfer-Encoding) headers is read
    differently by different servers; the decoders reject it, so the encoder refuses it."""
    with pytest.raises(UsageError, match="a second content-type header in one part"):
        Part(b"x", name="n", headers=[("Content-Type", "a/b"), ("content-type", "c/d")])
    enc = Encoder("b")
    for header in ("Content-Disposition", "Content-Type", "Content-Transfer-Encoding"):
        with pytest.raises(UsageError, match=f"a second {header} header in one part"):
            enc.send(PartStart([(header, "binary"), ("X-A", "1"), (header, "binary")]))
    # a header that replaces the auto header of the same name is not a duplicate
    part = Part(b"x", name="n", content_type="a/b", headers={"Content-Type": "c/d"})
    assert part.headers_for("form-data") == [
        ("Content-Disposition", 'form-data; name="n"'),
        ("Content-Type", "c/d"),
    ]


def test_header_pairs_may_be_any_two_item_sequence() -> None:
    part = Part(b"x", name="n", headers=[["X-A", "1"], ("X-B", "2")])  # type: ignore[list-item]
    assert part.headers_for("form-data")[1:] == [("X-A", "1"), ("X-B", "2")]
    with pytest.raises(UsageError, match=r"headers must be \(name, value\) pairs, got 'ab'"):
        Part(b"x", name="n", headers=["ab"])  # type: ignore[list-item]
