"""RFC 2231 continuations decoded with the charset named in section 0.

RFC 2231 §4.1: only the first section (``name*0*=charset'lang'...``) names the charset, and it
applies to every encoded section after it; the sections are joined as bytes before decoding,
so a character may be split across sections. UTF-8 and us-ascii alone cannot tell "the
section-0 charset" from "always UTF-8", so these cases use single-byte Cyrillic charsets.
"""

from __future__ import annotations

import io

import pytest

from mimewire import MalformedInput, parse, parse_header_params

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


# --------------------------------------------------------------------------- decodable or not
# A decodable extended value (or set of continuations) wins over the plain ``filename``
# (RFC 6266 §4.3); an undecodable one leaves the plain value in place.

PLAIN_VS_EXTENDED = [
    ("attachment; filename=\"p.txt\"; filename*0*=x-bogus''%41; filename*1=b", "p.txt"),
    ("attachment; filename=\"p.txt\"; filename*0*=windows-1251''%EF; filename*1=.txt", "п.txt"),
    ("attachment; filename=\"p.txt\"; filename*=x-bogus''%41", "p.txt"),
    ('attachment; filename="p.txt"; filename*=%41', "p.txt"),  # no charset'lang' prefix
    ('attachment; filename="p.txt"; filename*=UTF-8\'%41', "p.txt"),  # one quote only
    # section 0 not encoded: no charset named, the bytes are UTF-8
    ('attachment; filename="p.txt"; filename*0=abc; filename*1*=%41', "abcA"),
]


@pytest.mark.parametrize(("value", "filename"), PLAIN_VS_EXTENDED)
@pytest.mark.parametrize("lenient", [False, True])
def test_plain_filename_is_the_fallback_for_an_undecodable_extended_one(
    value: str, filename: str, lenient: bool
) -> None:
    assert parse_header_params(value, lenient=lenient)[1] == {"filename": filename}


@pytest.mark.parametrize(
    ("value", "filename"),
    [
        # the language ends at the second quote; later quotes are data
        ("attachment; filename*=UTF-8'en'%41'b", "A'b"),
        ("attachment; filename*0*=UTF-8'en'%41'b; filename*1=c", "A'bc"),
        # without charset'lang' the value is percent-decoded as it stands
        ("attachment; filename*=UTF-8'%41", "UTF-8'A"),
        ("attachment; filename*0*=UTF-8'%41; filename*1=b", "UTF-8'Ab"),
        # continuations without a section 0 give nothing (lenient keeps the key, empty)
        ("attachment; filename*1=x", ""),
        ('attachment; filename="p"; filename*1=x', "p"),
        # six digits are a section number, seven are not
        ("attachment; filename*000000=a", "a"),
    ],
)
def test_extended_value_shapes_in_lenient_mode(value: str, filename: str) -> None:
    assert parse_header_params(value, lenient=True)[1] == {"filename": filename}


def test_seven_digit_section_number_is_an_ordinary_parameter() -> None:
    assert parse_header_params("attachment; filename*0000000=a", lenient=True)[1] == {
        "filename*0000000": "a"
    }


@pytest.mark.parametrize("charset", ["windows-1251", "x-bogus"])
def test_plain_section_outside_the_section_0_charset_never_raises(charset: str) -> None:
    value = f"attachment; filename*0*={charset}''%EF; filename*1=\"中\""
    for lenient in (False, True):
        main, params = parse_header_params(value, lenient=lenient)
        assert main == "attachment" and isinstance(params["filename"], str)
        assert len(params["filename"]) >= 2


# --------------------------------------------------------------------------- scanner edges


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # a value starting with ';' has an empty main value and still its parameters
        (';name="a"; name="b"', ("", {"name": "a"})),
        (";name=a;name=b", ("", {"name": "a"})),
        # text between a closing quote and the next ';' is ignored, even after an escape
        (
            'attachment; filename="x\\"y;" junk=1; size=2',
            ("attachment", {"filename": 'x"y;', "size": "2"}),
        ),
        # a backslash just before the end of an unterminated quoted string escapes the last char
        ('attachment; filename="ab\\c', ("attachment", {"filename": "abc"})),
        ('attachment; filename="ab\\', ("attachment", {"filename": "ab\\"})),
    ],
)
def test_general_scanner_edges(value: str, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_header_params(value, lenient=True) == expected


def test_main_value_containing_equals_is_not_a_parameter() -> None:
    assert parse_header_params("a=b; c=d") == ("a=b", {"c": "d"})


def test_error_messages_show_at_most_200_characters_of_the_value() -> None:
    head = 'attachment; name="a"; name="b"; x='
    for size, shown in ((200, None), (201, 200)):
        value = head + "v" * (size - len(head))
        assert len(value) == size
        with pytest.raises(MalformedInput) as info:
            parse_header_params(value)
        want = repr(value if shown is None else value[:shown] + "...")
        assert want in str(info.value)


@pytest.mark.parametrize(
    ("value", "params"),
    [
        # a bare word before a parameter (the general scanner, not the fast lane)
        ('x; foo;name="a\\b"', {"name": "ab"}),
        # blanks between '=' and a quoted value, one or several
        ('x; name= "a\\b c"; z=1', {"name": "ab c", "z": "1"}),
        ('x; name=   "a\\b"', {"name": "ab"}),
        # an unquoted value starting with the letter X, next to an escaped quote
        ('x; a=Xyz; b="q\\"r"', {"a": "Xyz", "b": 'q"r'}),
        # a parameter right after the ';' that ends a quoted one
        ('x; a="p\\q";b=c', {"a": "pq", "b": "c"}),
        # nameless parameters are skipped, the ones after them still count
        ('x; =1; a="b\\c"', {"a": "bc"}),
        ('x; *=1; a="b\\c"', {"a": "bc"}),
        # the section number is what follows the last '*'
        ('x; a*b*0=v; c="d\\e"', {"a*b": "v", "c": "de"}),
    ],
)
def test_general_scanner_positions(value: str, params: dict[str, str]) -> None:
    assert parse_header_params(value, lenient=True) == ("x", params)
    assert parse_header_params(value) == ("x", params)


def test_content_type_boundary_uses_rfc_quoted_pairs() -> None:
    """A Content-Type is not form-data: a backslash in its quoted boundary escapes the next
    character (the boundary here is ``ab``)."""
    [part] = list(parse(b"--ab\r\n\r\nx\r\n--ab--\r\n", 'multipart/mixed; boundary="a\\b"'))
    assert part.read() == b"x"


@pytest.mark.parametrize(
    ("sections", "shown"),
    [(8, "[1, 0, 2, 3, 4, 5, 6, 7]"), (9, "[1, 0, 2, 3, 4, 5, 6, 7, ...]")],
)
def test_continuation_error_lists_at_most_8_section_numbers(sections: int, shown: str) -> None:
    order = [1, 0, *range(2, sections)]
    value = "attachment; " + "; ".join(f"filename*{k}=v" for k in order)
    with pytest.raises(MalformedInput) as info:
        parse_header_params(value)
    assert f"continuations {shown} are out of order in" in str(info.value)


@pytest.mark.parametrize(
    ("value", "kw", "params"),
    [
        # form-data unescapes %22 in filename on the general path too (the name has an escape)
        (
            'form-data; name="a\\\\b"; filename="q%22.txt"',
            {"form_data": True},
            {"name": "a\\b", "filename": 'q".txt'},
        ),
        # every extended parameter is decoded, not only the first
        ("attachment; filename*=UTF-8''a; title*=UTF-8''b", {}, {"filename": "a", "title": "b"}),
        (
            "attachment; filename=\"p\"; filename*=UTF-8''q; title=\"t\"; title*=UTF-8''u",
            {"lenient": True},
            {"filename": "q", "title": "u"},
        ),
        (
            "attachment; filename=\"p\"; filename*=UTF-8''q; title*=UTF-8''u",
            {},
            {"filename": "q", "title": "u"},
        ),
    ],
)
def test_every_extended_parameter_is_applied(
    value: str, kw: dict[str, bool], params: dict[str, str]
) -> None:
    assert parse_header_params(value, **kw)[1] == params


LONG_P, LONG_Q = "p" * 70, "q" * 70
LONG_VALUE = f"a; t=\"{LONG_P}\"; t*=UTF-8''{LONG_Q}"
ERRORS = [
    (
        "a; x=1; x=2",
        {},
        "duplicate parameter 'x' in 'a; x=1; x=2': ambiguous (parsers disagree on which one "
        "counts)",
    ),
    (
        "a; t*=UTF-8''x; t*0=y",
        {},
        "parameter 't*' given both whole and as continuations in \"a; t*=UTF-8''x; t*0=y\": "
        "ambiguous",
    ),
    (
        "form-data; name*=UTF-8''x",
        {"form_data": True},
        "'name*' in form-data \"form-data; name*=UTF-8''x\": RFC 7578 §4.2 forbids it and "
        "parsers disagree on it",
    ),
    (
        "a; t*1=x",
        {},
        "parameter 't*' continuations [1] have no section 0 in 'a; t*1=x': ambiguous (parsers "
        "join such sections differently or drop them)",
    ),
    (
        LONG_VALUE,
        {},
        f"'t*' ({LONG_Q[:60] + '...'!r}) disagrees with 't' ({LONG_P[:60] + '...'!r}) in "
        f"{LONG_VALUE!r}: ambiguous",
    ),
]


@pytest.mark.parametrize(("value", "kw", "message"), ERRORS)
def test_ambiguity_messages_in_full(value: str, kw: dict[str, bool], message: str) -> None:
    with pytest.raises(MalformedInput) as info:
        parse_header_params(value, **kw)
    assert info.value.message == message
