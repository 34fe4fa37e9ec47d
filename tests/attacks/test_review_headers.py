"""Header/codec layer rules against parser differentials and codec slow paths.

* parser differentials: a duplicate ``boundary`` / ``boundary*``, duplicate
  ``name``, ``name*`` and a disagreeing ``filename*`` in form-data were resolved by a
  private precedence rule ("first wins", "``filename*`` wins") that other parsers do not
  share. They are refused (MalformedInput, HTTP 400, naming the part and offset).
* ``check_charset`` refuses every codec that is not a text charset; the header
  parser and ``text()`` refuse the same set.
* codec slow paths: base64 ``AA==`` floods and quoted-printable ``=Z`` floods (45x and 79x
  on a naive codec) decode within MAX_RATIO of a benign body of the same size.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import pytest

from mimewire import (
    Limits,
    MalformedInput,
    boundary_from_content_type,
    parse,
    parse_header_params,
    parse_stream,
)

from ._drive import BOUNDARY, benign_encoded, decode, one_part, ratio

MAX_RATIO = 5.0
SIZE = 1 << 20
CT = f"multipart/form-data; boundary={BOUNDARY}"
LIMITS = dataclasses.replace(
    Limits(), max_part_size=None, max_total_size=64 * SIZE, max_preamble=SIZE, max_epilogue=SIZE
)


def _with_disposition(disposition: str) -> bytes:
    return one_part(b"data", headers=f"Content-Disposition: {disposition}\r\n".encode())


# --------------------------------------------------------------------------- item 5


@pytest.mark.parametrize(
    "content_type",
    [
        f"multipart/form-data; boundary={BOUNDARY}; boundary=other",
        f"multipart/form-data; boundary=other; boundary={BOUNDARY}",
        f"multipart/form-data; boundary={BOUNDARY}; Boundary={BOUNDARY}",
        f"multipart/form-data; boundary={BOUNDARY}; boundary*=UTF-8''other",
        f"multipart/form-data; boundary*=UTF-8''{BOUNDARY}",
    ],
)
def test_ambiguous_boundary_is_refused(content_type: str) -> None:
    body = one_part(b"x")
    with pytest.raises(MalformedInput) as info:
        boundary_from_content_type(content_type)
    assert info.value.http_status == 400
    with pytest.raises(MalformedInput):
        list(parse(body, content_type))
    with pytest.raises(MalformedInput):
        list(parse_stream([body], content_type))


@pytest.mark.parametrize(
    ("disposition", "message"),
    [
        ('form-data; name="a"; name="b"', "duplicate parameter 'name'"),
        ('form-data; name="a"; NAME="a"', "duplicate parameter 'name'"),
        ("form-data; name=\"safe\"; name*=UTF-8''evil", "'name*' in form-data"),
        ("form-data; name*=UTF-8''evil", "'name*' in form-data"),
        (
            'form-data; name="f"; filename="safe.txt"; filename*=UTF-8\'\'evil%2Ephp',
            "'filename*' ('evil.php') disagrees with 'filename' ('safe.txt')",
        ),
        (
            'form-data; name="f"; filename*=UTF-8\'\'evil%2Ephp; filename="safe.txt"',
            "disagrees",
        ),
        ('form-data; name="f"; filename="a.txt"; filename="b.php"', "duplicate parameter"),
        # RFC 2231 continuations that are not 0, 1, 2, ... in wire order: werkzeug joins
        # them in wire order ("photo.jpg.php", ".phpphoto.jpg"), multipart and
        # python-multipart see no file name, the email package sorts them
        (
            'form-data; name="f"; filename*0="photo.jpg"; filename*2=".php"',
            "continuations [0, 2] skip section 1",
        ),
        (
            'form-data; name="f"; filename*1=".php"; filename*0="photo.jpg"',
            "continuations [1, 0] are out of order",
        ),
        (
            'form-data; name="f"; filename*1="photo.jpg"; filename*2=".php"',
            "continuations [1, 2] have no section 0",
        ),
        (
            "attachment; filename*0*=UTF-8''photo.jpg; filename*2=.php",
            "continuations [0, 2] skip section 1",
        ),
    ],
)
def test_ambiguous_form_data_params_are_refused(disposition: str, message: str) -> None:
    body = _with_disposition(disposition)
    out = decode(body)
    with pytest.raises(MalformedInput) as info:
        _ = (out.starts[0].name, out.starts[0].filename)
    assert message in str(info.value)
    assert info.value.part == 0
    assert info.value.offset == body.index(b"\r\n\r\n") + 4  # the first body byte
    with pytest.raises(MalformedInput, match="part 0"):
        [(p.name, p.filename) for p in parse(body, CT)]


def test_continuation_gaps_stay_readable_with_lenient_params() -> None:
    gap = 'form-data; name="f"; filename*0="photo.jpg"; filename*2=".php"'
    assert parse_header_params(gap, form_data=True, lenient=True)[1]["filename"] == "photo.jpg"
    swapped = 'form-data; name="f"; filename*1=".php"; filename*0="photo.jpg"'
    assert parse_header_params(swapped, form_data=True, lenient=True)[1]["filename"] == (
        "photo.jpg.php"
    )


@pytest.mark.parametrize("disposition", ['form-data; name="f"', "attachment"])
def test_continuations_decode_with_the_charset_of_section_0(disposition: str) -> None:
    # windows-1251 is neither UTF-8 nor Latin-1: a decoder that ignores the charset (or
    # decodes each section on its own) cannot produce this name
    value = f"{disposition}; filename*0*=windows-1251''%EF%F0%E8; filename*1=.txt"
    assert parse_header_params(value, form_data=disposition != "attachment")[1]["filename"] == (
        "при.txt"
    )
    [part] = parse(_with_disposition(value), CT)
    assert part.filename == "при.txt"


def test_unambiguous_filename_star_still_works() -> None:
    same = 'form-data; name="f"; filename="a.pdf"; filename*=UTF-8\'\'a.pdf'
    alone = "form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC.pdf"
    fallback = "attachment; filename=\"EUR.pdf\"; filename*=UTF-8''%E2%82%AC.pdf"
    for disposition, filename in ((same, "a.pdf"), (alone, "€.pdf"), (fallback, "€.pdf")):
        assert decode(_with_disposition(disposition)).starts[0].filename == filename
        assert [p.filename for p in parse(_with_disposition(disposition), CT)] == [filename]


# --------------------------------------------------------------------------- item 7


@pytest.mark.parametrize("label", ["punycode", "rot13", "base64", "unicode_escape", "zlib"])
def test_non_charsets_are_refused_by_headers_and_text(label: str) -> None:
    value = f"attachment; filename=plain.txt; filename*={label}''%5Cx41"
    assert parse_header_params(value)[1]["filename"] == "plain.txt"  # never decoded with it
    headers = (
        f'Content-Disposition: form-data; name="t"\r\nContent-Type: text/plain; charset={label}\r\n'
    ).encode()
    [part] = parse(one_part(b"\\x41", headers=headers), CT)
    with pytest.raises(MalformedInput, match="not a known text charset"):
        part.text()


# --------------------------------------------------------------------------- item 8


def _cte_part(cte: str, payload: bytes) -> bytes:
    h = f'Content-Disposition: form-data; name="f"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return one_part(payload, headers=h.encode())


def _mixed_quanta(size: int) -> bytes:
    rnd = random.Random(10)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = bytearray()
    while len(out) < size:
        pads = rnd.choice((1, 2, 0, 1, 2))
        out += bytes(rnd.choice(alphabet) for _ in range(4 - pads)) + b"=" * pads
    return bytes(out[: size - size % 4])


FLOODS: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "b64-AA==": ("base64", lambda n: b"AA==" * (n // 4)),
    "b64-AAA=": ("base64", lambda n: b"AAA=" * (n // 4)),
    "b64-AA==-lines": ("base64", lambda n: b"AA==\r\n" * (n // 6)),
    "b64-mixed-quanta": ("base64", _mixed_quanta),
    "b64-char-then-spaces": ("base64", lambda n: (b"QUJD" * 3 + b"Q" + b" " * 4083) * (n // 4096)),
    "qp-=Z": ("quoted-printable", lambda n: b"=Z" * (n // 2)),
    "qp-==": ("quoted-printable", lambda n: b"=" * n),
    "qp-==CR": ("quoted-printable", lambda n: b"==\r" * (n // 3)),
    "qp-=4=": ("quoted-printable", lambda n: b"=4=" * (n // 3)),
    "qp-escapes-no-lf": ("quoted-printable", lambda n: b"=41=4" * (n // 5)),
}


@pytest.mark.timing
@pytest.mark.parametrize("kind", list(FLOODS))
def test_codec_floods_are_linear(kind: str) -> None:
    cte, make = FLOODS[kind]
    body = _cte_part(cte, make(SIZE))
    decode(body, limits=LIMITS, keep_data=False)  # decodes (lenient) without error
    good = benign_encoded(len(body), cte)
    r = ratio(
        lambda: decode(body, limits=LIMITS, keep_data=False),
        lambda: decode(good, limits=LIMITS, keep_data=False),
    )
    assert r <= MAX_RATIO, f"{kind}: {r:.1f}x the benign {cte} body (limit {MAX_RATIO}x)"


def test_base64_flood_output_is_right() -> None:
    out = decode(_cte_part("base64", b"AA==" * 1000 + b"AAA=" * 1000 + b"YWJj"))
    assert out.parts[0][1] == b"\0" * 1000 + b"\0\0" * 1000 + b"abc"
