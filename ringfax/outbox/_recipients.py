"""The recipients file of a broadcast: a CSV with a number column, checked in full up front.

Every bad row (empty number, a number ringfax's own validation refuses, a duplicate) is
collected with its line number, so one run names all of them before anything is sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import ValidationError
from .._validation import normalize_number

__all__ = [
    "NUMBER_COLUMNS",
    "BadRow",
    "RecipientRow",
    "RecipientsFile",
    "RecipientsRefused",
    "number_digest",
    "parse_recipients",
    "read_number_list",
]

NUMBER_COLUMNS = ("number", "phone", "fax", "to")
"""Header names accepted for the phone number column (case-insensitive), in this order."""

NAME_COLUMN = "name"
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RecipientRow:
    """One accepted recipient: E.164 number, optional name and extra fields, CSV line."""

    line: int
    number: str
    name: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BadRow:
    """A refused row: its CSV line number and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class RecipientsFile:
    """The parsed file: accepted rows, refused rows, and the SHA-256 of the file's bytes."""

    rows: tuple[RecipientRow, ...]
    bad: tuple[BadRow, ...] = ()
    sha256: str = ""
    columns: tuple[str, ...] = field(default=())


class RecipientsRefused(ValidationError):
    """The recipients file has bad rows; ``bad`` lists every one (line number and reason)."""

    def __init__(self, source: str, bad: tuple[BadRow, ...]) -> None:
        shown = "; ".join(f"line {b.line}: {b.reason}" for b in bad[:50])
        more = f"; and {len(bad) - 50} more" if len(bad) > 50 else ""
        super().__init__(f"{source}: {len(bad)} bad row(s), nothing was sent: {shown}{more}")
        self.bad = bad


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{source}: not UTF-8 at byte offset {exc.start} (save the CSV as UTF-8)"
        ) from None


def parse_recipients(
    data: bytes, *, source: str = "recipients", default_country: str | None = None
) -> RecipientsFile:
    """Parse a recipients CSV.

    The first row is the header; the number column is the first of :data:`NUMBER_COLUMNS`
    present (case-insensitive), ``name`` is optional, other columns are kept as fields.
    Raises :class:`ValidationError` for a file without a usable header; bad rows are
    returned in ``bad`` (the caller decides to refuse them all, as the CLI does).
    """
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"{source}: {len(data)} bytes is over the {MAX_FILE_BYTES} limit")
    text = _decode(data, source)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError(f"{source}: the file is empty (expected a header row)") from None
    except csv.Error as exc:
        raise ValidationError(f"{source}: line 1: {exc}") from None
    columns = tuple(h.strip().lower() for h in header)
    number_at = next((columns.index(c) for c in NUMBER_COLUMNS if c in columns), None)
    if number_at is None:
        raise ValidationError(
            f"{source}: line 1: no number column (header names accepted: "
            f"{', '.join(NUMBER_COLUMNS)}; found: {', '.join(columns) or 'none'})"
        )
    name_at = columns.index(NAME_COLUMN) if NAME_COLUMN in columns else None
    rows: list[RecipientRow] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad.append(BadRow(line, f"unreadable CSV ({exc})"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank line
        raw = record[number_at].strip() if number_at < len(record) else ""
        if not raw:
            bad.append(BadRow(line, "the number is empty"))
            continue
        try:
            number = normalize_number(raw, default_country)
        except ValidationError as exc:
            bad.append(BadRow(line, str(exc)))
            continue
        if number in seen:
            bad.append(BadRow(line, f"duplicate of line {seen[number]} ({number})"))
            continue
        seen[number] = line
        name = record[name_at].strip() if name_at is not None and name_at < len(record) else ""
        extra = tuple(
            (columns[i], record[i])
            for i in range(min(len(columns), len(record)))
            if i not in (number_at, name_at) and columns[i]
        )
        rows.append(RecipientRow(line, number, name or None, extra))
    return RecipientsFile(tuple(rows), tuple(bad), hashlib.sha256(data).hexdigest(), columns)


def read_number_list(path: Path, *, default_country: str | None = None) -> frozenset[str]:
    """A do-not-fax file: one number per line (``#`` comments, blank lines and a CSV with a
    number column are accepted). A number that does not validate is refused with its line."""
    data = path.read_bytes()
    text = _decode(data, str(path))
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    if "," in first or first.strip().lower() in NUMBER_COLUMNS:
        parsed = parse_recipients(data, source=str(path), default_country=default_country)
        problems = tuple(b for b in parsed.bad if not b.reason.startswith("duplicate"))
        if problems:
            raise RecipientsRefused(str(path), problems)
        return frozenset(r.number for r in parsed.rows)
    numbers: set[str] = set()
    bad: list[BadRow] = []
    for index, line in enumerate(text.splitlines(), start=1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        try:
            numbers.add(normalize_number(item, default_country))
        except ValidationError as exc:
            bad.append(BadRow(index, str(exc)))
    if bad:
        raise RecipientsRefused(str(path), tuple(bad))
    return frozenset(numbers)


def number_digest(number: str, salt: str) -> str:
    """A number as it appears in the audit log: SHA-256 of job salt + number (16 hex)."""
    return hashlib.sha256(f"{salt}:{number}".encode()).hexdigest()[:16]
