"""Pre-flight validation: numbers, attachments, sizes, cover page, resolution, send time."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ringfax import Attachment, Recipient, ValidationError, normalize_number
from ringfax._filenames import sanitize_filename
from ringfax._models import FaxResolution
from ringfax._validation import (
    MAX_ATTACHMENT_SIZE,
    SUPPORTED_EXTENSIONS,
    attachment_size,
    check_attachments,
    check_cover_index,
    check_cover_page_text,
    check_iso_code,
    check_resolution,
    check_send_time,
    normalize_recipients,
)


@pytest.fixture(params=["phonenumbers", "builtin"])
def numbers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "builtin":
        monkeypatch.setattr("ringfax._validation._load_phonenumbers", lambda: None)
    else:
        pytest.importorskip("phonenumbers")
    return str(request.param)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+16505550123", None, "+16505550123"),
        ("+1 (650) 555-0123", None, "+16505550123"),
        ("0016505550123", None, "+16505550123"),
        ("(650) 555-0123", "US", "+16505550123"),
        ("1-650-555-0123", "us", "+16505550123"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("020 7946 0018", "UK", "+442079460018"),
        ("030 901820", "DE", "+4930901820"),
        ("06 12345678", "IT", "+390612345678"),
    ],
)
def test_normalize_number(numbers: str, raw: str, country: str | None, expected: str) -> None:
    assert normalize_number(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "message"),
    [
        ("6505550123", None, "default_country"),
        ("", None, "empty"),
        ("+1", None, ".+"),
        ("+1 650 555 0123 4567 89", None, ".+"),
        ("555-0123", "US", ".+"),
        ("12345", "XX1", "two-letter"),
    ],
)
def test_bad_numbers(numbers: str, raw: str, country: str | None, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        normalize_recipients(["+16505550123", "+16505550124", "+16505550125", raw], country)
    if info.value.param == "to":  # a bad default_country is about that argument, not recipient
        assert (info.value.index, info.value.subject) == (3, "recipient #3")
        assert str(info.value).startswith("recipient #3: ")


def test_error_names_the_recipient(numbers: str) -> None:
    with pytest.raises(ValidationError, match=r"^recipient #1: '12' "):
        normalize_recipients(["+16505550123", "12"], "US")


def test_builtin_rule_knows_every_country(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ringfax._validation._load_phonenumbers", lambda: None)
    with pytest.raises(ValidationError, match=r"not in E\.164 format"):
        normalize_number("+1650abc0123")  # (phonenumbers reads letters as vanity digits)
    assert normalize_number("04 123456", "ZW") == "+2634123456"
    with pytest.raises(ValidationError, match=r"not a valid \+1 \(NANP\) .*\(area code 050 "):
        normalize_number("+10505550123")  # area code 050 (phonenumbers checks length only)
    assert normalize_number("+263 4 123456", "ZW") == "+2634123456"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("+1650555", "NANP|possible"),  # 6 digits after +1
        ("+16505550123999", "NANP|possible"),
        ("+2800123456", "assigned country calling code|not a valid phone number"),
        ("+4412", "E.164|too short|possible"),
    ],
)
def test_e164_number_needs_an_assigned_code_and_length(
    numbers: str, raw: str, message: str
) -> None:
    with pytest.raises(
        ValidationError, match=rf"^recipient #0: {re.escape(repr(raw))} .*({message})"
    ):
        normalize_recipients([raw])
    with pytest.raises(ValidationError, match=rf"^{re.escape(repr(raw))} .*({message})"):
        normalize_number(raw)


@pytest.mark.parametrize("country", ["XX", "QQ", "ZZ"])
def test_unknown_country_is_refused_even_for_e164_numbers(numbers: str, country: str) -> None:
    with pytest.raises(ValidationError, match=rf"default_country '{country}' is not an ISO 3166-1"):
        normalize_number("+16505550123", country)


def test_calling_codes_have_one_home() -> None:
    from ringfax._validation import CALLING_CODES, E164_COUNTRY_CODES

    assert {"1", "7", "44", "49", "263", "800"} <= E164_COUNTRY_CODES
    assert set(CALLING_CODES.values()) <= E164_COUNTRY_CODES
    for code in E164_COUNTRY_CODES:  # prefix-free, as ITU-T assigns them
        assert not any(other != code and other.startswith(code) for other in E164_COUNTRY_CODES)
    phonenumbers = pytest.importorskip("phonenumbers")
    for region, code in CALLING_CODES.items():
        if region in phonenumbers.SUPPORTED_REGIONS:
            assert str(phonenumbers.country_code_for_region(region)) == code, region


def test_normalize_recipients_shapes() -> None:
    assert normalize_recipients("+16505550123") == [Recipient("+16505550123")]
    assert normalize_recipients([Recipient("650 555 0123", "Jo")], "US") == [
        Recipient("+16505550123", "Jo")
    ]
    with pytest.raises(ValidationError, match="at least one recipient"):
        normalize_recipients([])
    with pytest.raises(ValidationError, match=r"recipient #0: expected an E\.164 string"):
        normalize_recipients([16505550123])  # type: ignore[list-item]


def test_sanitize_filename() -> None:
    assert sanitize_filename("a&b@c#d$e%f^g*h.pdf") == "a_b_c_d_e_f_g_h.pdf"
    assert sanitize_filename("C:\\scans\\x.pdf") == "x.pdf"
    assert sanitize_filename("dir/ok name (1).pdf") == "ok name (1).pdf"
    assert sanitize_filename("résumé.pdf") == "résumé.pdf"


def test_supported_extensions_match_reference() -> None:
    assert len(SUPPORTED_EXTENSIONS) == 42
    assert {
        ".pdf",
        ".tif",
        ".tiff",
        ".docx",
        ".txt",
        ".htm",
        ".wq1",
        ".awd",
    } <= SUPPORTED_EXTENSIONS


def test_attachment_checks(tmp_path: Path) -> None:
    good = tmp_path / "a.PDF"
    good.write_bytes(b"%PDF")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    assert check_attachments([Attachment(good), Attachment(b"xy", filename="b.txt")]) == [4, 2]
    with pytest.raises(ValidationError, match=r"attachment #1 \('empty.pdf'\): .*empty"):
        check_attachments([Attachment(good), Attachment(empty)])
    with pytest.raises(
        ValidationError, match=r"attachment #0 \('x.zip'\): unsupported file type .zip"
    ):
        check_attachments([Attachment(b"PK", filename="x.zip")])
    with pytest.raises(ValidationError, match=r"unsupported file type \(none\)"):
        check_attachments([Attachment(b"PK", filename="README")])
    with pytest.raises(ValidationError, match="no filename"):
        check_attachments([Attachment(b"data")])
    with pytest.raises(ValidationError, match=r"cannot read .*missing.pdf.*No such file"):
        check_attachments([Attachment(tmp_path / "missing.pdf")])
    with pytest.raises(ValidationError, match="at least one attachment"):
        check_attachments([])
    with pytest.raises(ValidationError, match="size=3 given but the source has 2 bytes"):
        check_attachments([Attachment(b"xy", filename="b.txt", size=3)])


def test_size_limits_use_the_source_size(tmp_path: Path) -> None:
    big = tmp_path / "big.tif"
    with open(big, "wb") as fh:
        fh.truncate(MAX_ATTACHMENT_SIZE + 1)  # sparse: costs no disk or memory
    with pytest.raises(ValidationError, match=r"attachment #0 \('big.tif'\): 52428801 bytes"):
        check_attachments([Attachment(big)])
    half = tmp_path / "half.tif"
    with open(half, "wb") as fh:
        fh.truncate(MAX_ATTACHMENT_SIZE // 2 + 1)
    with pytest.raises(
        ValidationError, match=r"attachment #1 .* brings the total to 52428802 bytes"
    ):
        check_attachments([Attachment(half), Attachment(half)])
    # a declared size counts for iterables; an undeclared one cannot be checked up front
    with pytest.raises(ValidationError, match="per attachment"):
        check_attachments(
            [Attachment(iter([b"x"]), filename="i.txt", size=MAX_ATTACHMENT_SIZE + 1)]
        )
    assert check_attachments([Attachment(iter([b"x"]), filename="i.txt")]) == [None]


def test_attachment_size_sources(tmp_path: Path) -> None:
    buf = io.BytesIO(b"0123456789")
    buf.seek(4)
    assert attachment_size(buf) == 6 and buf.tell() == 4
    assert attachment_size(memoryview(b"abc")) == 3
    assert attachment_size(bytearray(b"ab")) == 2
    assert attachment_size(iter([b"a"])) is None

    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    assert attachment_size(Pipe()) is None


def test_cover_page_checks() -> None:
    assert check_cover_page_text("x" * 1024) == "x" * 1024
    with pytest.raises(ValidationError, match="1025 characters; the limit is 1024"):
        check_cover_page_text("x" * 1025)
    for ok in (None, 0, 1, 13, 15, 28):
        assert check_cover_index(ok) == ok
    for bad in (-1, 14, 29):
        with pytest.raises(ValidationError, match=f"cover_index {bad} is out of range"):
            check_cover_index(bad)
    with pytest.raises(ValidationError, match="must be an int"):
        check_cover_index(True)


def test_resolution_iso_and_send_time() -> None:
    assert check_resolution("high") is FaxResolution.HIGH
    assert check_resolution(FaxResolution.LOW) is FaxResolution.LOW
    with pytest.raises(ValidationError, match="'Medium' is invalid"):
        check_resolution("Medium")
    assert check_iso_code("gb") == "GB"
    with pytest.raises(ValidationError, match="two-letter"):
        check_iso_code("GBR")
    assert check_send_time(datetime(2030, 1, 1, tzinfo=timezone.utc)) == "2030-01-01T00:00:00.000Z"
    with pytest.raises(ValidationError, match="naive datetime"):
        check_send_time(datetime(2030, 1, 1))
    with pytest.raises(ValidationError, match="must be a datetime"):
        check_send_time("2030-01-01")  # type: ignore[arg-type]
