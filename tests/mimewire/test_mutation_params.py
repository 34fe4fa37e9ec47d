"""RFC 2231 continuations decoded with the charset named in section 0.

RFC 2231 §4.1: only the first section (``name*0*=charset'lang'...``) names the charset, and it
applies to every encoded section after it; the sections are joined as bytes before decoding,
so a character may be split across sections. UTF-8 and us-ascii alone cannot tell "the
section-0 charset" from "always UTF-8", so these cases use single-byte Cyrillic charsets.
"""

from __future__ import annotations

import io

import pytest

from mimewire import parse, parse_header_params

CASES = [
    # (header value, filename)
    ("attachment; filename*0*=windows-1251''%EF%F0%E8; filename*1=.txt", "при.txt"),
    ("attachment; filename*0*=koi8-r''%D0%D2%C9; filename*1=.txt", "при.txt"),
    ("attachment; filename*0*=windows-1251''%EF%F0; filename*1*=%E8.txt", "при.txt"),
    ("attachment; filename*0*=koi8-r''%D0; filename*1*=%D2%C9; filename*2=.txt", "при.txt"),
    # a plain (unencoded) later section is text in the same charset
    ("attachment; filename*0*=windows-1251''%EF%F0%E8; filename*1=\"ы.txt\"", "приы.txt"),
    ("attachment; filename*0*=KOI8-R'ru'%D0%D2%C9; filename*1=.txt", "при.txt"),
    # a UTF-8 character split across two encoded sections
    ("attachment; filename*0*=UTF-8''%E2%82; filename*1*=%AC.pdf", "€.pdf"),
]


@pytest.mark.parametrize(("value", "filename"), CASES)
@pytest.mark.parametrize("lenient", [False, True])
def test_continuations_use_the_section_0_charset(value: str, filename: str, lenient: bool) -> None:
    assert parse_header_params(value, lenient=lenient) == ("attachment", {"filename": filename})


@pytest.mark.parametrize(("value", "filename"), CASES[:4])
def test_continuations_through_parse(value: str, filename: str) -> None:
    body = (
        b"--B\r\nContent-Disposition: "
        + value.encode("utf-8")
        + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--\r\n"
    )
    [part] = list(parse(io.BytesIO(body), "multipart/mixed; boundary=B"))
    assert part.filename == filename
    assert part.read() == b"x"


def test_single_extended_value_uses_its_own_charset() -> None:
    value = "attachment; filename*=windows-1251''%EF%F0%E8.txt"
    assert parse_header_params(value)[1] == {"filename": "при.txt"}
    value = "attachment; filename*=koi8-r''%D0%D2%C9.txt"
    assert parse_header_params(value)[1] == {"filename": "при.txt"}
