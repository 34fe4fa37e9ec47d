"""The emulator's database schema and the row values the store reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ADDED_FAX_COLUMNS",
    "FIRST_ID",
    "SCHEMA",
    "AttachmentRow",
    "FaxRow",
    "RecipientRow",
    "TokenRow",
]

FIRST_ID = 3_000_000_000_001

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS faxes (
    id INTEGER PRIMARY KEY,
    creation REAL NOT NULL,
    direction TEXT NOT NULL,
    read_status TEXT NOT NULL,
    availability TEXT NOT NULL,
    fax_resolution TEXT NOT NULL,
    cover_index INTEGER,
    cover_page_text TEXT,
    iso_code TEXT,
    send_time REAL,
    page_count INTEGER NOT NULL,
    original_id INTEGER,
    deleted_at REAL,
    wire_format TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faxes_creation ON faxes (creation, id);
CREATE TABLE IF NOT EXISTS recipients (
    id INTEGER PRIMARY KEY,
    fax_id INTEGER NOT NULL REFERENCES faxes (id),
    position INTEGER NOT NULL,
    phone_number TEXT NOT NULL,
    name TEXT,
    ready_at REAL NOT NULL,
    done_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT,
    delivered_at REAL,
    attempt INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recipients_fax ON recipients (fax_id, position);
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY,
    fax_id INTEGER NOT NULL REFERENCES faxes (id),
    position INTEGER NOT NULL,
    filename TEXT,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_fax ON attachments (fax_id, position);
CREATE TABLE IF NOT EXISTS tokens (
    access_token TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    issued_at REAL NOT NULL,
    access_expires REAL NOT NULL,
    refresh_expires REAL NOT NULL,
    access_valid INTEGER NOT NULL,
    refresh_valid INTEGER NOT NULL,
    refreshed_at REAL,
    successor TEXT
);
"""

# Columns added after the first release: (name, declaration). Appended in this order, so
# fresh and upgraded databases have the same column order.
ADDED_FAX_COLUMNS = (
    ("from_number", "TEXT"),
    ("subject", "TEXT"),
    ("change_seq", "INTEGER NOT NULL DEFAULT 0"),
    ("modified", "REAL"),
)


@dataclass(frozen=True)
class RecipientRow:
    """One recipient of a fax and its precomputed fate (see ``_faxes.recipient_status``)."""

    id: int
    phone_number: str
    name: str | None
    ready_at: float
    done_at: float
    outcome: str  # "Sent" or "SendingFailed" (outbound), "Received" (inbound)
    error_code: str | None
    delivered_at: float | None
    attempt: int


@dataclass(frozen=True)
class AttachmentRow:
    """One stored document of a fax."""

    id: int
    filename: str | None
    content_type: str
    size: int
    pages: int
    path: str  # relative to the data directory


@dataclass(frozen=True)
class FaxRow:
    """A stored fax message."""

    id: int
    creation: float
    direction: str
    read_status: str
    availability: str
    fax_resolution: str
    cover_index: int | None
    cover_page_text: str | None
    iso_code: str | None
    send_time: float | None
    page_count: int
    original_id: int | None
    deleted_at: float | None
    wire_format: str
    recipients: tuple[RecipientRow, ...] = field(default=())
    attachments: tuple[AttachmentRow, ...] = field(default=())
    from_number: str | None = None  # inbound: the sender; outbound: None (the config's)
    subject: str | None = None
    change_seq: int = 0
    modified: float | None = None


@dataclass(frozen=True)
class TokenRow:
    """An issued access/refresh token pair."""

    access_token: str
    refresh_token: str
    session_id: str
    client_id: str
    issued_at: float
    access_expires: float
    refresh_expires: float
    access_valid: bool
    refresh_valid: bool
    refreshed_at: float | None
    successor: str | None
