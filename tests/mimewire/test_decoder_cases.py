"""A table of malformed and edge-case bodies, each decoded whole, split in two at every
offset and fed byte by byte, in lenient and strict mode: the outcome must be the expected
one and identical for every chunking."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from _decoding import decode, same_for_every_split

from mimewire import LimitExceeded, MalformedInput, MimeWireError, PartStart

CD = "Content-Disposition"


@dataclass
class Err:
    """An expected error: its type, a substring of its message, its offset."""

    kind: type[MimeWireError]
    text: str
    offset: int | None = None


Expected = list[tuple[tuple[tuple[str, str], ...], bytes]] | Err


@dataclass
class Case:
    id: str
    body: bytes
    lenient: Expected
    strict: Expected | None = None  # None: same as lenient
    boundary: str = "b"
    preamble: int | None = None
    epilogue: int | None = None


def fd(name: str, extra: str = "") -> tuple[str, str]:
    return (CD, f'form-data; name="{name}"{extra}')


B64 = base64.encodebytes(b"\x00\xffbinary\r\n--b data" * 7).replace(b"\n", b"\r\n")

CASES = [
    Case(
        "simple",
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--',
        [((fd("a"),), b"x")],
    ),
    Case(
        "two parts + trailing CRLF",
        b"--b\r\nA: 1\r\n\r\nfirst\r\n--b\r\nA: 2\r\n\r\nsecond\r\n--b--\r\n",
        [((("A", "1"),), b"first"), ((("A", "2"),), b"second")],
        epilogue=0,
    ),
    Case(
        "preamble and epilogue",
        b"This is the preamble.\r\n--b\r\n\r\nbody\r\n--b--\r\nThe epilogue\r\n",
        [((), b"body")],
        preamble=21,
        epilogue=14,
    ),
    Case(
        "preamble with a near-miss delimiter line",
        b"pre\r\n--bx\r\n--b\r\n\r\nbody\r\n--b--",
        [((), b"body")],
        Err(MalformedInput, "not followed by CRLF", 3),
        preamble=9,
    ),
    Case(
        "transport padding after delimiters",
        b"--b \t \r\nA: 1\r\n\r\nx\r\n--b\t\r\n\r\ny\r\n--b-- \t\r\nepi",
        [((("A", "1"),), b"x"), ((), b"y")],
        epilogue=3,
    ),
    Case(
        "padding before close delimiter dashes is not a close",
        b"--b\r\n\r\nx\r\n--b --\r\n--b--",
        [((), b"x\r\n--b --")],
        Err(MalformedInput, "not followed by CRLF", 8),
    ),
    Case(
        "near-miss delimiters are body data",
        b"--abc\r\n\r\nx\r\n--ab\r\n--abcd\r\n-abc\r\n--abc-\r\n--abc--",
        [((), b"x\r\n--ab\r\n--abcd\r\n-abc\r\n--abc-")],
        Err(MalformedInput, "not followed by CRLF", 16),
        boundary="abc",
    ),
    Case("boundary text without the CRLF is data", b"--b\r\n\r\nx--b\r\n--b--", [((), b"x--b")]),
    Case(
        "a delimiter line right after a delimiter line is a header line",
        b"--b\r\n--b\r\n\r\nx\r\n--b--",
        Err(MalformedInput, "without a colon", 5),
    ),
    Case(
        "LF-only line endings",
        b'--b\nContent-Disposition: form-data; name="a"\n\nx\n--b\nA: 2\n\ny\n--b--\n',
        [((fd("a"),), b"x"), ((("A", "2"),), b"y")],
        Err(MalformedInput, "bare LF", 3),
    ),
    Case(
        "header line ending in a bare LF inside a CRLF-framed block",
        b"--b\r\nA: 1\nB: 2\r\n\r\nx\r\n--b--",
        [((("A", "1"), ("B", "2")), b"x")],
        Err(MalformedInput, "header line ends with a bare LF", 9),
    ),
    Case(
        "last header line and blank line ending in bare LFs",
        b"--b\r\nA: 1\r\nB: 2\n\nx\r\n--b--",
        [((("A", "1"), ("B", "2")), b"x")],
        Err(MalformedInput, "header line ends with a bare LF", 15),
    ),
    Case(
        "LF-only delimiter inside a CRLF body is data (framing locked at the first delimiter)",
        b"--b\r\nA: 1\r\n\r\nx\n--b\r\n\r\ny\r\n--b--",
        [((("A", "1"),), b"x\n--b\r\n\r\ny")],
    ),
    Case(
        "LF-framed body: CRLF delimiters still work",
        b"--b\nA: 1\n\nx\r\n--b\n\ny\n--b--",
        [((("A", "1"),), b"x"), ((), b"y")],
        Err(MalformedInput, "bare LF", 3),
    ),
    Case(
        "framing follows the end of the first delimiter line, not the preamble",
        b"pre\n--b\r\n\r\nx\n--b--\r\n--b--",
        [((), b"x\n--b--")],
        Err(MalformedInput, "close delimiter before the first part", 18),
        preamble=3,
    ),
    Case(
        "CR before an LF-only delimiter belongs to it",
        b"--b\r\n\r\nx\r\r\n--b--",
        [((), b"x\r")],
    ),
    Case(
        "obsolete header folding",
        b'--b\r\nContent-Disposition: form-data;\r\n\tname="a"\r\n\r\nx\r\n--b--',
        [(((CD, 'form-data; name="a"'),), b"x")],
        Err(MalformedInput, "obsolete header folding", 38),
    ),
    Case(
        "continuation line first",
        b"--b\r\n folded\r\n\r\nx\r\n--b--",
        Err(MalformedInput, "continuation line before any header", 5),
        Err(MalformedInput, "obsolete header folding", 5),
    ),
    Case(
        "header without colon",
        b"--b\r\nNoColonHere\r\n\r\nx\r\n--b--",
        Err(MalformedInput, "without a colon", 5),
    ),
    Case(
        "empty header name",
        b"--b\r\n: value\r\n\r\nx\r\n--b--",
        Err(MalformedInput, "empty header name", 5),
    ),
    Case(
        "whitespace before the colon",
        b"--b\r\nA : 1\r\n\r\nx\r\n--b--",
        [((("A", "1"),), b"x")],
        Err(MalformedInput, "invalid header name", 5),
    ),
    Case(
        "non-token header name",
        b"--b\r\nA(b): 1\r\n\r\nx\r\n--b--",
        [((("A(b)", "1"),), b"x")],
        Err(MalformedInput, "invalid header name", 5),
    ),
    Case(
        "space inside header name",
        b"--b\r\nA b: 1\r\n\r\nx\r\n--b--",
        Err(MalformedInput, "invalid header name", 5),
    ),
    Case(
        "CR inside a header",
        b"--b\r\nA: 1\r2\r\n\r\nx\r\n--b--",
        Err(MalformedInput, "CR inside", 9),
    ),
    Case(
        "NUL inside a header",
        b"--b\r\nA: 1\x002\r\n\r\nx\r\n--b--",
        Err(MalformedInput, "NUL inside", 9),
    ),
    Case(
        "non-UTF-8 header value decodes as Latin-1",
        b"--b\r\nX: caf\xe9\r\n\r\nx\r\n--b--",
        [((("X", "caf\xe9"),), b"x")],
    ),
    Case(
        "UTF-8 header value",
        '--b\r\nContent-Disposition: form-data; name="f"; filename="Übersicht €.pdf"\r\n\r\nx\r\n--b--'.encode(),  # noqa: E501
        [(((CD, 'form-data; name="f"; filename="Übersicht €.pdf"'),), b"x")],
    ),
    Case(
        "empty parts",
        b"--b\r\n\r\n\r\n--b\r\n\r\n--b\r\nA: 1\r\n\r\n--b--",
        [((), b""), ((), b""), ((("A", "1"),), b"")],
    ),
    Case("body is only CRLF", b"--b\r\n\r\n\r\n\r\n--b--", [((), b"\r\n")]),
    Case(
        "body ending in CRLF", b"--b\r\n\r\nline\r\n\r\n--b--\r\n", [((), b"line\r\n")], epilogue=0
    ),
    Case("empty input", b"", Err(MalformedInput, "empty multipart body", 0)),
    Case(
        "no delimiter at all",
        b"just some text\r\n",
        Err(MalformedInput, "no multipart delimiter", 16),
    ),
    Case(
        "close delimiter only",
        b"--b--\r\n",
        [],
        Err(MalformedInput, "close delimiter before the first part", 0),
        epilogue=0,
    ),
    Case(
        "missing close delimiter",
        b"--b\r\n\r\nx\r\n",
        Err(MalformedInput, "without a close delimiter", 10),
    ),
    Case(
        "delimiter without dashes at the end",
        b"--b\r\n\r\nx\r\n--b",
        Err(MalformedInput, "without a close delimiter", 13),
    ),
    Case(
        "delimiter line truncated in padding",
        b"--b\r\n\r\nx\r\n--b  ",
        Err(MalformedInput, "without a close delimiter", 15),
    ),
    Case(
        "truncated inside headers",
        b"--b\r\nA: 1\r\n",
        Err(MalformedInput, "inside part headers", 11),
    ),
    Case(
        "garbage after close delimiter",
        b"--b\r\n\r\nx\r\n--b--garbage",
        [((), b"x")],
        Err(MalformedInput, "after the close delimiter", 15),
        epilogue=7,
    ),
    Case(
        "a fake part after the close delimiter is never parsed",
        b"--b\r\n\r\nx\r\n--b--\r\n--b\r\nA: evil\r\n\r\nsmuggled\r\n--b--\r\n",
        [((), b"x")],
        epilogue=33,
    ),
    Case(
        "bare LF after close delimiter",
        b"--b\r\n\r\nx\r\n--b--\nepi",
        [((), b"x")],
        Err(MalformedInput, "bare LF", 15),
        epilogue=3,
    ),
    Case(
        "CR not followed by LF after close delimiter",
        b"--b\r\n\r\nx\r\n--b--\rX",
        [((), b"x")],
        Err(MalformedInput, "after the close delimiter", 15),
        epilogue=2,
    ),
    Case(
        "filename* RFC 8187 wins over filename",
        b"--b\r\nContent-Disposition: attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\nx\r\n--b--",  # noqa: E501
        [
            (
                (
                    (
                        CD,
                        "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt",  # noqa: E501
                    ),
                ),
                b"x",
            )
        ],
    ),
    Case(
        "WHATWG escapes in form-data names",
        b'--b\r\nContent-Disposition: form-data; name="a%22b%0D%0Ac"; filename="q%22.txt"\r\n\r\nx\r\n--b--',  # noqa: E501
        [(((CD, 'form-data; name="a%22b%0D%0Ac"; filename="q%22.txt"'),), b"x")],
    ),
    Case(
        "base64 body with CRLF line wrapping",
        b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\n" + B64 + b"--b--",
        [((("Content-Transfer-Encoding", "base64"),), b"\x00\xffbinary\r\n--b data" * 7)],
    ),
    Case(
        "invalid base64",
        b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAA*\r\n--b--",
        Err(MalformedInput, "invalid byte", 45),
    ),
    Case(
        "quoted-printable body",
        b"--b\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\na=3Db=\r\nc\r\n--b--",
        [((("Content-Transfer-Encoding", "Quoted-Printable"),), b"a=bc")],
    ),
    Case(
        "delimiter right after the headers means an empty body",
        b"--b\r\nA: 1\r\n\r\n--b\r\nA: 2\r\n\r\n--b--",
        [((("A", "1"),), b""), ((("A", "2"),), b"")],
    ),
    Case(
        "near-miss right after the headers is data",
        b"--b\r\nA: 1\r\n\r\n--bx\r\n--b--",
        [((("A", "1"),), b"--bx")],
        Err(MalformedInput, "not followed by CRLF", 11),
    ),
    Case(
        "near-miss after the headers with a longer boundary",
        b"--abc\r\nA: 1\r\n\r\n--abcd\r\nmore\r\n--abc--",
        [((("A", "1"),), b"--abcd\r\nmore")],
        Err(MalformedInput, "not followed by CRLF", 13),
        boundary="abc",
    ),
    Case(
        "first delimiter not at line start is preamble",
        b"x--b\r\n--b\r\n\r\ny\r\n--b--",
        [((), b"y")],
        preamble=4,
    ),
    Case(
        "long header block over the header limit",
        b"--b\r\n" + b"X: " + b"v" * 9000 + b"\r\n\r\nx\r\n--b--",
        Err(LimitExceeded, "max_header_line=8192", 5),
    ),
]


def _check(case: Case, strict: bool) -> None:
    expected = case.lenient if not strict or case.strict is None else case.strict
    out = same_for_every_split(case.body, case.boundary, strict=strict)
    if isinstance(expected, Err):
        assert out.error is not None, f"expected {expected}, got {out.parts}"
        kind, text = out.error
        assert kind is expected.kind, out.error
        assert expected.text in text, out.error
        if expected.offset is not None:
            assert out.exc is not None and out.exc.offset == expected.offset, out.error  # type: ignore[attr-defined]
        return
    assert out.error is None, out.error
    assert out.parts == expected
    if case.preamble is not None:
        assert out.preamble_size == case.preamble
    if case.epilogue is not None:
        assert out.epilogue_size == case.epilogue


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_lenient(case: Case) -> None:
    _check(case, strict=False)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_strict(case: Case) -> None:
    _check(case, strict=True)


VALID = [
    b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue\r\n--b\r\nA: 1\r\n\r\n\r\n--b--',
    b"pre\r\n--b \r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n--b--\r\n",
    b"--b\nA: 1\n\nx\n--b--",
]


@pytest.mark.parametrize("body", VALID)
@pytest.mark.parametrize("strict", [False, True])
def test_truncated_at_every_offset(body: bytes, strict: bool) -> None:
    """Every prefix that ends before the close delimiter is complete is an error."""
    full = decode(body, strict=strict)
    if full.error is not None:
        assert strict  # the LF-only body is strict-invalid
        return
    close_end = body.rindex(b"--b--") + len(b"--b--")
    for k in range(len(body)):
        out = same_for_every_split(body[:k], strict=strict)
        if k < close_end:
            assert out.error is not None and out.error[0] is MalformedInput, (k, out)
            assert (out.exc is not None and out.exc.offset == k) or k == 0, (k, out.error)  # type: ignore[attr-defined]
            # every part completed before the cut is still reported, in order
            assert out.parts == full.parts[: len(out.parts)] or (
                out.parts[:-1] == full.parts[: len(out.parts) - 1]
            )
        elif strict and body[:k].endswith(b"\r"):  # a lone CR after the close delimiter
            assert out.error is not None and "after the close delimiter" in out.error[1]
        else:
            assert out.error is None and out.parts == full.parts


def test_base64_split_at_every_offset() -> None:
    payload = bytes(range(256)) * 2
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    body = b"--b\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" + encoded + b"--b--"
    out = same_for_every_split(body)
    assert out.parts == [((("Content-Transfer-Encoding", "BASE64"),), payload)]
    raw = same_for_every_split(body, decode_transfer=False)
    assert raw.parts[0][1] == encoded[:-2]


def test_parsed_header_views_of_table_cases() -> None:
    ev = PartStart(
        [(CD, "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt")]
    )
    assert ev.filename == "€ rates.txt"
    ev = PartStart([(CD, 'form-data; name="a%22b%0D%0Ac"; filename="q%22.txt"')])
    assert ev.name == 'a"b\r\nc' and ev.filename == 'q".txt'
