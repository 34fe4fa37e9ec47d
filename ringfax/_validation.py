"""Pre-flight checks: everything RingCentral would refuse is refused before a byte is sent.

Rules (from RingCentral's fax documentation and API spec):

* at least one recipient; numbers in E.164 (``+`` country code, 7–15 digits in total). National
  numbers are normalised with ``default_country`` — with the optional ``phonenumbers`` package
  when installed (``pip install mimewire[phone]``, full numbering-plan knowledge, checks the
  number is *possible*), otherwise with a built-in rule: strip spaces, ``-``, ``.``, ``()``,
  ``/``; ``00`` becomes ``+``; a national number gets the country calling code of
  ``default_country`` (NANP countries: 10 digits, or 11 starting with ``1``; elsewhere the
  trunk ``0`` is dropped, except for Italy) — see :data:`CALLING_CODES` — and an E.164 number
  must start with an assigned country calling code (:data:`E164_COUNTRY_CODES`) followed by
  10 digits for ``+1`` and at least :data:`MIN_SUBSCRIBER_DIGITS` elsewhere;
* ``default_country`` must be a known ISO 3166-1 code (a key of :data:`CALLING_CODES`) on
  both paths, also when every number is already in E.164;
* attachment types by file extension (:data:`SUPPORTED_EXTENSIONS`, RingCentral's list);
* no empty attachment; at most 50 MiB per attachment and in total. Sizes come from the source
  (bytes, a path's ``stat``, a seekable file's remaining bytes, or ``Attachment.size``). An
  iterable without a declared size cannot be checked up front: mimewire streams it and the
  server enforces the limit;
* ``coverPageText`` at most 1024 characters; ``coverIndex`` 0 (no cover page), 1–13 (en-US
  cover pages) or 15–28 (other languages); 14 is not a cover page;
* a path attachment must be a readable regular file (opened once before sending, so a missing,
  unreadable or directory "attachment" is a :class:`~ringfax.ValidationError`, never a fax
  that "may have been sent");
* ``sendTime`` must not lie in the past (more than :data:`SEND_TIME_GRACE` seconds ago);
* ``faxResolution`` ``High`` or ``Low``; ``isoCode`` two ASCII letters;
* filenames: ``& @ # $ % ^ *`` are replaced by ``_`` on the wire (the original is kept for
  display on :class:`~ringfax.Attachment`).
"""

from __future__ import annotations

import importlib
import io
import os
import re
import stat
from collections.abc import Sequence
from datetime import datetime
from types import ModuleType
from typing import Any

from ._errors import ValidationError
from ._models import Attachment, FaxResolution, Recipient, format_datetime

__all__ = [
    "CALLING_CODES",
    "E164_COUNTRY_CODES",
    "MAX_ATTACHMENT_SIZE",
    "MAX_COVER_PAGE_TEXT",
    "MAX_TOTAL_SIZE",
    "MIN_SUBSCRIBER_DIGITS",
    "NON_GEOGRAPHIC_CODES",
    "SEND_TIME_GRACE",
    "SUPPORTED_EXTENSIONS",
    "VALID_COVER_INDEXES",
    "attachment_size",
    "check_attachments",
    "check_cover_index",
    "check_cover_page_text",
    "check_iso_code",
    "check_readable_file",
    "check_resolution",
    "check_send_time",
    "normalize_number",
    "normalize_recipients",
]

MAX_ATTACHMENT_SIZE = 50 * 1024 * 1024
"""50 MiB: RingCentral's limit per attachment ("50Mb")."""
MAX_TOTAL_SIZE = 50 * 1024 * 1024
"""50 MiB: RingCentral's limit for all attachments together."""
MAX_COVER_PAGE_TEXT = 1024
SEND_TIME_GRACE = 60.0
"""Seconds a ``send_time`` may lie in the past (clock skew, "now" computed a moment ago)."""
VALID_COVER_INDEXES = frozenset([*range(0, 14), *range(15, 29)])

SUPPORTED_EXTENSIONS = frozenset(
    {
        ".pdf", ".psd", ".doc", ".docx", ".dot", ".mcw", ".xls", ".xlsx", ".xlsb", ".ppt", ".pptx",
        ".vsd", ".vdx", ".pub", ".wps", ".wri", ".awd", ".tif", ".tiff", ".gif", ".jpg", ".jpeg",
        ".bmp", ".png", ".pcx", ".tga", ".rtf", ".txt", ".log", ".h", ".cpp", ".c", ".err", ".hpp",
        ".wk1", ".wk3", ".wk4", ".wq1", ".xml", ".html", ".htm", ".csv",
    }
)  # fmt: skip
"""File extensions RingCentral accepts for fax attachments (its "Supported file types")."""

CALLING_CODES: dict[str, str] = {
    "AD": "376", "AE": "971", "AF": "93", "AG": "1", "AI": "1", "AL": "355", "AM": "374",
    "AO": "244", "AQ": "672", "AR": "54", "AS": "1", "AT": "43", "AU": "61", "AW": "297",
    "AX": "358", "AZ": "994", "BA": "387", "BB": "1", "BD": "880", "BE": "32", "BF": "226",
    "BG": "359", "BH": "973", "BI": "257", "BJ": "229", "BL": "590", "BM": "1", "BN": "673",
    "BO": "591", "BQ": "599", "BR": "55", "BS": "1", "BT": "975", "BV": "47", "BW": "267",
    "BY": "375", "BZ": "501", "CA": "1", "CC": "61", "CD": "243", "CF": "236", "CG": "242",
    "CH": "41", "CI": "225", "CK": "682", "CL": "56", "CM": "237", "CN": "86", "CO": "57",
    "CR": "506", "CU": "53", "CV": "238", "CW": "599", "CX": "61", "CY": "357", "CZ": "420",
    "DE": "49", "DJ": "253", "DK": "45", "DM": "1", "DO": "1", "DZ": "213", "EC": "593",
    "EE": "372", "EG": "20", "EH": "212", "ER": "291", "ES": "34", "ET": "251", "FI": "358",
    "FJ": "679", "FK": "500", "FM": "691", "FO": "298", "FR": "33", "GA": "241", "GB": "44",
    "GD": "1", "GE": "995", "GF": "594", "GG": "44", "GH": "233", "GI": "350", "GL": "299",
    "GM": "220", "GN": "224", "GP": "590", "GQ": "240", "GR": "30", "GS": "500", "GT": "502",
    "GU": "1", "GW": "245", "GY": "592", "HK": "852", "HM": "672", "HN": "504", "HR": "385",
    "HT": "509", "HU": "36", "ID": "62", "IE": "353", "IL": "972", "IM": "44", "IN": "91",
    "IO": "246", "IQ": "964", "IR": "98", "IS": "354", "IT": "39", "JE": "44", "JM": "1",
    "JO": "962", "JP": "81", "KE": "254", "KG": "996", "KH": "855", "KI": "686", "KM": "269",
    "KN": "1", "KP": "850", "KR": "82", "KW": "965", "KY": "1", "KZ": "7", "LA": "856",
    "LB": "961", "LC": "1", "LI": "423", "LK": "94", "LR": "231", "LS": "266", "LT": "370",
    "LU": "352", "LV": "371", "LY": "218", "MA": "212", "MC": "377", "MD": "373", "ME": "382",
    "MF": "590", "MG": "261", "MH": "692", "MK": "389", "ML": "223", "MM": "95", "MN": "976",
    "MO": "853", "MP": "1", "MQ": "596", "MR": "222", "MS": "1", "MT": "356", "MU": "230",
    "MV": "960", "MW": "265", "MX": "52", "MY": "60", "MZ": "258", "NA": "264", "NC": "687",
    "NE": "227", "NF": "672", "NG": "234", "NI": "505", "NL": "31", "NO": "47", "NP": "977",
    "NR": "674", "NU": "683", "NZ": "64", "OM": "968", "PA": "507", "PE": "51", "PF": "689",
    "PG": "675", "PH": "63", "PK": "92", "PL": "48", "PM": "508", "PN": "64", "PR": "1",
    "PS": "970", "PT": "351", "PW": "680", "PY": "595", "QA": "974", "RE": "262", "RO": "40",
    "RS": "381", "RU": "7", "RW": "250", "SA": "966", "SB": "677", "SC": "248", "SD": "249",
    "SE": "46", "SG": "65", "SH": "290", "SI": "386", "SJ": "47", "SK": "421", "SL": "232",
    "SM": "378", "SN": "221", "SO": "252", "SR": "597", "SS": "211", "ST": "239", "SV": "503",
    "SX": "1", "SY": "963", "SZ": "268", "TC": "1", "TD": "235", "TF": "262", "TG": "228",
    "TH": "66", "TJ": "992", "TK": "690", "TL": "670", "TM": "993", "TN": "216", "TO": "676",
    "TR": "90", "TT": "1", "TV": "688", "TW": "886", "TZ": "255", "UA": "380", "UG": "256",
    "UM": "1", "US": "1", "UY": "598", "UZ": "998", "VA": "39", "VC": "1", "VE": "58",
    "VG": "1", "VI": "1", "VN": "84", "VU": "678", "WF": "681", "WS": "685", "XK": "383",
    "YE": "967", "YT": "262", "ZA": "27", "ZM": "260", "ZW": "263",
    "AC": "247", "TA": "290",  # Ascension, Tristan da Cunha: ISO "exceptionally reserved"
    "UK": "44",  # not ISO 3166-1 (that is GB), but what people type
}  # fmt: skip
"""ISO 3166-1 alpha-2 country (plus ``UK``, and ``XK`` for Kosovo) -> ITU-T E.164 country
calling code. ``default_country`` must be one of these keys (with or without
``phonenumbers``); the built-in rule uses the code to normalise national numbers."""

NON_GEOGRAPHIC_CODES = frozenset({"800", "808", "870", "878", "881", "882", "883", "888", "979"})
"""ITU-T E.164 codes for global services (freephone, satellite, international networks)."""

E164_COUNTRY_CODES = frozenset(CALLING_CODES.values()) | NON_GEOGRAPHIC_CODES
"""Every assigned country calling code this library accepts at the start of an E.164 number
(E.164 codes are prefix-free: at most one of ``+d``, ``+dd``, ``+ddd`` is assigned)."""

MIN_SUBSCRIBER_DIGITS = 4
"""Fewest digits after the country code of a dialable number (e.g. Niue: ``+683 4002``)."""

_NANP = "1"
_KEEP_TRUNK_ZERO = {"IT", "VA"}
_E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")
_SEPARATORS_RE = re.compile(r"[\s\-.()/]")


def _load_phonenumbers() -> ModuleType | None:
    """The ``phonenumbers`` module when installed, else None (imported lazily)."""
    try:
        return importlib.import_module("phonenumbers")
    except ImportError:
        return None


def _country(default_country: str | None) -> str | None:
    if default_country is None:
        return None
    code = default_country.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise ValidationError(
            f"default_country {default_country!r} is not a two-letter ISO 3166-1 code",
            param="default_country",
        )
    if code not in CALLING_CODES:
        raise ValidationError(
            f"default_country {default_country!r} is not an ISO 3166-1 country code "
            f"(e.g. 'US', 'GB', 'DE')",
            param="default_country",
        )
    return code


_At = tuple["str | None", "int | None"]
"""(param, index) of the number being checked, for :class:`ValidationError`."""


def _bad(reason: str, at: _At, **extra: str) -> ValidationError:
    """The error about item ``at`` (its subject, e.g. ``recipient #0: ``, leads the reason)."""
    param, index = at
    lead = f"{ValidationError(reason, param=param, index=index).subject}: " if param else ""
    return ValidationError(lead + reason, param=param, index=index, **extra)


def _check_e164(number: str, compact: str, at: _At) -> str:
    """``compact`` (``+`` and digits) with an assigned country code and a plausible length."""
    if not _E164_RE.fullmatch(compact):
        raise _bad(f"{number!r} is not in E.164 format (+ country code and 7-15 digits)", at)
    digits = compact[1:]
    code = next((digits[:n] for n in (1, 2, 3) if digits[:n] in E164_COUNTRY_CODES), None)
    if code is None:
        raise _bad(
            f"{number!r} does not start with an assigned country calling code "
            f"(+{digits[:3]}... is none)",
            at,
        )
    national = digits[len(code) :]
    if code == _NANP:
        if len(national) != 10 or national[0] in "01":
            problem = (
                f"got {len(national)} digits"
                if len(national) != 10
                else f"area code {national[:3]} starts with {national[0]}"
            )
            raise _bad(
                f"{number!r} is not a valid +1 (NANP) number: expected 10 digits after "
                f"+1, area code not starting with 0 or 1 ({problem})",
                at,
            )
    elif len(national) < MIN_SUBSCRIBER_DIGITS:
        raise _bad(f"{number!r} is too short: {len(national)} digits after +{code}", at)
    return compact


_NEEDS_COUNTRY = "pass default_country='US' (for example) to normalise national numbers"


def normalize_number(number: str, default_country: str | None = None) -> str:
    """``number`` in E.164 (``+16505550100``), or :class:`ValidationError`."""
    return _normalize(number, default_country, (None, None))


def _normalize(number: str, default_country: str | None, at: _At) -> str:
    if not isinstance(number, str) or not number.strip():
        raise _bad("phone number is empty", at)
    country = _country(default_country)
    pn = _load_phonenumbers()
    if pn is not None:
        region = "GB" if country == "UK" else country
        text = number.strip()
        if region is None and _SEPARATORS_RE.sub("", text).startswith("00"):
            text = "+" + _SEPARATORS_RE.sub("", text)[2:]
        try:
            parsed = pn.parse(text, region)
        except pn.NumberParseException as exc:
            reason = f"{number!r} is not a valid phone number ({exc})"
            if country or number.strip().startswith("+"):
                raise _bad(reason, at) from None
            raise _bad(reason, at, hint=_NEEDS_COUNTRY, hint_param="default_country") from None
        possible = pn.is_possible_number_with_reason(parsed)
        if possible != pn.ValidationResult.IS_POSSIBLE:  # local-only numbers are not dialable
            raise _bad(
                f"{number!r} is not a possible phone number for its country "
                f"(wrong length for +{parsed.country_code})",
                at,
            )
        result: str = pn.format_number(parsed, pn.PhoneNumberFormat.E164)
        return result
    return _normalize_builtin(number, country, at)


def _normalize_builtin(number: str, country: str | None, at: _At) -> str:
    compact = _SEPARATORS_RE.sub("", number.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        return _check_e164(number, compact, at)
    if not compact.isdigit() or not compact.isascii():
        raise _bad(f"{number!r} contains characters that are not digits", at)
    if country is None:
        raise _bad(
            f"{number!r} is not in E.164 format (+<country code><number>)",
            at,
            hint=_NEEDS_COUNTRY,
            hint_param="default_country",
        )
    code = CALLING_CODES[country]
    if code == _NANP:
        if len(compact) == 11 and compact.startswith("1"):
            compact = compact[1:]
        if len(compact) != 10 or compact[0] in "01":
            raise _bad(
                f"{number!r} is not a valid {country} number (expected 10 digits, "
                f"area code not starting with 0 or 1)",
                at,
            )
        return "+1" + compact
    if country not in _KEEP_TRUNK_ZERO and compact.startswith("0"):
        compact = compact[1:]
    result = f"+{code}{compact}"
    if not _E164_RE.fullmatch(result) or len(compact) < MIN_SUBSCRIBER_DIGITS:
        raise _bad(f"{number!r} is not a valid {country} number", at)
    return result


def normalize_recipients(
    to: str | Recipient | Sequence[str | Recipient], default_country: str | None = None
) -> list[Recipient]:
    """Recipients as :class:`Recipient` objects with E.164 numbers (at least one)."""
    items: Sequence[str | Recipient] = [to] if isinstance(to, (str, Recipient)) else list(to)
    if not items:
        raise ValidationError("at least one recipient is required (to=[...] is empty)", param="to")
    out = []
    for index, item in enumerate(items):
        at: _At = ("to", index)
        if isinstance(item, Recipient):
            out.append(Recipient(_normalize(item.phone_number, default_country, at), item.name))
        elif isinstance(item, str):
            out.append(Recipient(_normalize(item, default_country, at)))
        else:
            raise _bad(f"expected an E.164 string or Recipient, got {type(item).__name__}", at)
    return out


def attachment_size(source: Any) -> int | None:
    """Bytes a source will produce, when knowable without consuming it; else None."""
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    if isinstance(source, memoryview):
        return source.nbytes
    if isinstance(source, (str, os.PathLike)):
        return os.stat(os.fspath(source)).st_size
    if hasattr(source, "read"):
        try:
            if hasattr(source, "seekable") and not source.seekable():
                return None
            position = source.tell()
            end = source.seek(0, io.SEEK_END)
            source.seek(position)
            return max(0, int(end) - int(position))
        except (OSError, ValueError, AttributeError):
            return None
    return None


def check_readable_file(
    path: str | os.PathLike[str], where: str = "", index: int | None = None
) -> int:
    """Open ``path`` for reading once and return its size; :class:`ValidationError` (naming the
    file and the OS reason, after ``where``; ``index``: the attachment's number) when it is
    missing, unreadable or not a regular file."""
    shown = os.fspath(path)
    lead = f"{where}: " if where else ""
    try:
        # O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file
        fd = os.open(shown, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValidationError(
            f"{lead}cannot read {shown!r}: {reason}", param="attachments", index=index
        ) from None
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ValidationError(
            f"{lead}cannot send {shown!r}: it is {kind}", param="attachments", index=index
        )
    return info.st_size


def check_attachments(attachments: Sequence[Attachment]) -> list[int | None]:
    """Validate attachments; return each one's size (None when unknown)."""
    if not attachments:
        raise ValidationError("at least one attachment is required", param="attachments")
    sizes: list[int | None] = []
    total = 0
    for index, att in enumerate(attachments):
        name = att.display_name
        at: _At = ("attachments", index)
        named = f" ({name!r})" if name else ""
        where = f"attachment #{index}{named}"
        if isinstance(att.source, str) and not att.source:
            raise _bad("empty path", at)
        if not name:
            raise _bad(
                "no filename",
                at,
                hint="pass Attachment(source, filename='scan.pdf') (the extension selects "
                "the document type)",
            )
        ext = os.path.splitext(name)[1].lower()
        if ext not in SUPPORTED_EXTENSIONS:
            shown = ext or "(none)"
            raise ValidationError(
                f"{where}: unsupported file type {shown}; RingCentral accepts "
                f"{', '.join(sorted(SUPPORTED_EXTENSIONS))}",
                param="attachments",
                index=index,
            )
        try:
            if isinstance(att.source, (str, os.PathLike)):
                size: int | None = check_readable_file(att.source, where, index)
            else:
                size = attachment_size(att.source)
        except OSError as exc:
            raise ValidationError(
                f"{where}: cannot read file: {exc.strerror or exc}",
                param="attachments",
                index=index,
            ) from None
        if size is None:
            size = att.size
        elif att.size is not None and att.size != size:
            raise ValidationError(
                f"{where}: size={att.size} given but the source has {size} bytes",
                param="attachments",
                index=index,
            )
        if size is not None:
            if size == 0:
                raise ValidationError(
                    f"{where}: the attachment is empty (0 bytes)",
                    param="attachments",
                    index=index,
                )
            if size > MAX_ATTACHMENT_SIZE:
                raise ValidationError(
                    f"{where}: {size} bytes exceeds the {MAX_ATTACHMENT_SIZE} byte (50 MiB) "
                    f"limit per attachment",
                    param="attachments",
                    index=index,
                )
            total += size
            if total > MAX_TOTAL_SIZE:
                raise ValidationError(
                    f"{where} brings the total to {total} bytes, over the {MAX_TOTAL_SIZE} "
                    f"byte (50 MiB) limit for all attachments",
                    param="attachments",
                    index=index,
                )
        sizes.append(size)
    return sizes


def check_cover_index(value: int | None) -> int | None:
    """``coverIndex``: None (account default), 0 (none), 1-13 or 15-28."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"cover_index must be an int, got {type(value).__name__}", param="cover_index"
        )
    if value not in VALID_COVER_INDEXES:
        raise ValidationError(
            f"cover_index {value} is out of range: 0 (no cover page), 1-13 (en-US) or 15-28 "
            f"(other languages)",
            param="cover_index",
        )
    return value


def check_cover_page_text(value: str | None) -> str | None:
    """``coverPageText``: at most 1024 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(
            f"cover_page_text must be a str, got {type(value).__name__}", param="cover_page_text"
        )
    if len(value) > MAX_COVER_PAGE_TEXT:
        raise ValidationError(
            f"cover_page_text has {len(value)} characters; the limit is {MAX_COVER_PAGE_TEXT}",
            param="cover_page_text",
        )
    return value


def check_resolution(value: str | FaxResolution | None) -> FaxResolution | None:
    """``faxResolution``: High or Low (case-insensitive)."""
    if value is None:
        return None
    if isinstance(value, FaxResolution):
        return value
    if isinstance(value, str):
        for member in FaxResolution:
            if member.value.lower() == value.strip().lower():
                return member
    raise ValidationError(
        f"resolution {value!r} is invalid: use 'High' (200 dpi) or 'Low' (100 dpi)",
        param="resolution",
    )


def check_iso_code(value: str | None) -> str | None:
    """``isoCode``: two ASCII letters, upper-cased."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValidationError(
            f"iso_code {value!r} must be a two-letter ISO 3166-1 code, e.g. 'US'", param="iso_code"
        )
    return value.upper()


def check_send_time(
    value: datetime | None, name: str = "send_time", *, now: float | None = None
) -> str | None:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS.sssZ`` (naive datetimes are refused).

    With ``now`` (epoch seconds) a time more than :data:`SEND_TIME_GRACE` seconds before it is
    refused too (a fax cannot be scheduled in the past).
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(f"{name} must be a datetime, got {type(value).__name__}", param=name)
    try:
        text = format_datetime(value)
    except ValueError:
        raise ValidationError(
            f"{name} {value.isoformat()} is a naive datetime",
            param=name,
            hint="pass a timezone-aware one (e.g. datetime(..., tzinfo=timezone.utc))",
        ) from None
    if now is not None and value.timestamp() < now - SEND_TIME_GRACE:
        current = format_datetime(datetime.fromtimestamp(now, value.tzinfo))
        raise ValidationError(
            f"{name} {text} is in the past (now is {current})",
            param=name,
            hint="omit it to send now, or pass a future time",
        )
    return text
