"""Push subscriptions: event filters, the durable WebHook subscription table, and the
``SubscriptionInfo`` JSON (docs/push.md, docs/ringcentral.md §4.9 and §13).

Event filters the emulator knows (``~`` or the configured account/extension ids)::

    /restapi/v1.0/account/{a}/extension/{e}/fax?direction=Inbound        inbound faxes
    /restapi/v1.0/account/{a}/extension/{e}/message-store[?type=Fax][&direction=D]

Any other filter is refused with 400 ``CMN-101`` (``parameterName`` ``eventFilters``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._clock import format_time
from ._config import EmulatorConfig
from ._errors import ApiError, cmn101
from ._store import Store

__all__ = [
    "MAX_EXPIRES_IN",
    "EventFilter",
    "FaxEvent",
    "Subscription",
    "SubscriptionStore",
    "parse_filter",
]

MAX_EXPIRES_IN = 315_360_000
"""WebHook ``expiresIn`` maximum (10 years)."""
DEFAULT_EXPIRES_IN = 604_799
MAX_FILTERS = 1000
MAX_TEXT = 2048

_FILTER = re.compile(r"^/restapi/v1\.0/account/([^/]+)/extension/([^/]+)/(fax|message-store)/?$")

_SCHEMA = """CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    event_filters TEXT NOT NULL,
    address TEXT NOT NULL,
    verification_token TEXT,
    expires_in INTEGER NOT NULL,
    creation REAL NOT NULL,
    expiration REAL NOT NULL,
    status TEXT NOT NULL,
    blacklisted_at REAL,
    blacklist_reason TEXT
);
"""


@dataclass(frozen=True)
class FaxEvent:
    """Something that happened to one fax at ``at`` (emulator clock): ``kind`` is ``new``
    or ``updated``; ``record`` is the fax's message-store JSON (received faxes only)."""

    kind: str
    direction: str
    fax_id: int
    record: dict[str, Any]
    at: float


@dataclass(frozen=True)
class EventFilter:
    """A parsed event filter: ``resource`` ``fax`` or ``message-store``; ``direction``
    None for both; ``types`` None for all message types."""

    text: str
    resource: str
    direction: str | None
    types: frozenset[str] | None

    def matches(self, event: FaxEvent) -> bool:
        if self.direction is not None and self.direction != event.direction:
            return False
        if self.resource == "fax":
            return event.direction == "Inbound" and event.kind == "new"
        return self.types is None or "Fax" in self.types

    def event_name(self, config: EmulatorConfig) -> str:
        """The ``event`` field: the filter with the real account and extension ids."""
        query = self.text.partition("?")[2]
        path = (
            f"/restapi/v1.0/account/{config.account_id}/extension/{config.extension_id}/"
            f"{self.resource}"
        )
        return f"{path}?{query}" if query else path


def parse_filter(text: object, config: EmulatorConfig) -> EventFilter:
    """One event filter, or 400 ``CMN-101`` naming ``eventFilters``."""
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
        raise cmn101("eventFilters", str(text))
    url = urlsplit(text)
    match = _FILTER.match(url.path)
    if match is None:
        raise cmn101("eventFilters", text)
    account, extension, resource = match.groups()
    if account not in ("~", config.account_id) or extension not in ("~", config.extension_id):
        raise cmn101("eventFilters", text)
    query = parse_qs(url.query, keep_blank_values=True)
    direction = query.pop("direction", [None])[-1]
    if direction not in (None, "Inbound", "Outbound"):
        raise cmn101("eventFilters", text)
    types: frozenset[str] | None = None
    raw_types = query.pop("type", None)
    if raw_types is not None:
        types = frozenset(t for v in raw_types for t in v.split(",") if t)
    if query or (resource == "fax" and types is not None):
        raise cmn101("eventFilters", text)
    return EventFilter(text, resource, direction, types)


def parse_filters(value: object, config: EmulatorConfig) -> tuple[EventFilter, ...]:
    """The ``eventFilters`` list: non-empty, at most :data:`MAX_FILTERS` entries."""
    if not isinstance(value, list) or not value or len(value) > MAX_FILTERS:
        raise cmn101("eventFilters")
    return tuple(parse_filter(item, config) for item in value)


@dataclass(frozen=True)
class Subscription:
    """A subscription. ``transport`` ``WebHook`` (durable) or ``WebSocket`` (lives with
    its WebSocket session)."""

    id: str
    owner: str
    filters: tuple[EventFilter, ...]
    transport: str
    address: str | None
    verification_token: str | None
    expires_in: int
    creation: float
    expiration: float
    status: str = "Active"
    blacklisted_at: float | None = None
    blacklist_reason: str | None = None

    def info(self, base: str, now: float) -> dict[str, Any]:
        """``SubscriptionInfo`` (the verification token is write-only: never shown)."""
        delivery: dict[str, Any] = {"transportType": self.transport, "encryption": False}
        if self.address is not None:
            delivery["address"] = self.address
        out: dict[str, Any] = {
            "uri": f"{base}/restapi/v1.0/subscription/{self.id}",
            "id": self.id,
            "creationTime": format_time(self.creation),
            "status": self.status,
            "eventFilters": [f.text for f in self.filters],
            "disabledFilters": [],
            "expirationTime": format_time(self.expiration),
            "expiresIn": max(0, int(self.expiration - now)),
            "deliveryMode": delivery,
        }
        if self.status == "Blacklisted" and self.blacklisted_at is not None:
            out["blacklistedData"] = {
                "blacklistedAt": format_time(self.blacklisted_at),
                "reason": self.blacklist_reason or "",
            }
        return out

    def wants(self, event: FaxEvent) -> list[EventFilter]:
        return [f for f in self.filters if f.matches(event)]


def new_id() -> str:
    return str(uuid.uuid4())


class SubscriptionStore:
    """WebHook subscriptions in the store's database: they survive a restart. Expired
    ones are deleted when next looked at (RingCentral answers 404 for them)."""

    def __init__(self, store: Store, config: EmulatorConfig) -> None:
        self._store = store
        self._config = config
        self._parsed: dict[str, EventFilter] = {}  # stored filters are valid and few
        with store.transaction() as db:
            db.execute(_SCHEMA)

    def _filter(self, text: str) -> EventFilter:
        found = self._parsed.get(text)
        if found is None:
            found = self._parsed[text] = parse_filter(text, self._config)
        return found

    def _row(self, row: tuple[Any, ...]) -> Subscription:
        filters = tuple(self._filter(t) for t in json.loads(row[2]))
        return Subscription(
            id=row[0],
            owner=row[1],
            filters=filters,
            transport="WebHook",
            address=row[3],
            verification_token=row[4],
            expires_in=int(row[5]),
            creation=float(row[6]),
            expiration=float(row[7]),
            status=row[8],
            blacklisted_at=row[9],
            blacklist_reason=row[10],
        )

    def _purge_expired(self, db: sqlite3.Connection, now: float) -> None:
        db.execute("DELETE FROM subscriptions WHERE expiration <= ?", (now,))

    def count(self, owner: str, now: float) -> int:
        with self._store.transaction() as db:
            self._purge_expired(db, now)
            (n,) = db.execute(
                "SELECT COUNT(*) FROM subscriptions WHERE owner = ?", (owner,)
            ).fetchone()
        return int(n)

    def insert(self, sub: Subscription, limit: int) -> bool:
        """Insert unless the owner already has ``limit`` subscriptions (checked in the same
        transaction); False when over the limit."""
        with self._store.transaction() as db:
            self._purge_expired(db, sub.creation)
            (n,) = db.execute(
                "SELECT COUNT(*) FROM subscriptions WHERE owner = ?", (sub.owner,)
            ).fetchone()
            if n >= limit:
                return False
            self._write(db, sub)
        return True

    @staticmethod
    def _write(db: sqlite3.Connection, sub: Subscription) -> None:
        db.execute(
            "INSERT OR REPLACE INTO subscriptions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                sub.id,
                sub.owner,
                json.dumps([f.text for f in sub.filters]),
                sub.address,
                sub.verification_token,
                sub.expires_in,
                sub.creation,
                sub.expiration,
                sub.status,
                sub.blacklisted_at,
                sub.blacklist_reason,
            ),
        )

    def save(self, sub: Subscription) -> bool:
        """Update an existing subscription; False when it is gone."""
        with self._store.transaction() as db:
            found = db.execute("SELECT 1 FROM subscriptions WHERE id = ?", (sub.id,)).fetchone()
            if found is None:
                return False
            self._write(db, sub)
        return True

    def get(self, sub_id: str, now: float) -> Subscription | None:
        with self._store.transaction() as db:
            self._purge_expired(db, now)
            row = db.execute("SELECT * FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
        return None if row is None else self._row(row)

    def select(self, owner: str | None, now: float) -> list[Subscription]:
        with self._store.transaction() as db:
            self._purge_expired(db, now)
            if owner is None:
                rows = db.execute("SELECT * FROM subscriptions ORDER BY creation, id").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM subscriptions WHERE owner = ? ORDER BY creation, id", (owner,)
                ).fetchall()
        return [self._row(r) for r in rows]

    def delete(self, sub_id: str) -> bool:
        with self._store.transaction() as db:
            cursor = db.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
        return cursor.rowcount > 0

    def blacklist(self, sub_id: str, now: float, reason: str) -> Subscription | None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE subscriptions SET status = 'Blacklisted', blacklisted_at = ?, "
                "blacklist_reason = ? WHERE id = ? AND status = 'Active'",
                (now, reason[:MAX_TEXT], sub_id),
            )
            row = db.execute("SELECT * FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
        return None if row is None else self._row(row)


def renewed(sub: Subscription, now: float) -> Subscription:
    """The subscription renewed for its own ``expiresIn``."""
    return replace(sub, expiration=now + sub.expires_in)


def expires_in_of(value: object) -> int:
    """``expiresIn``: an integer in 1..:data:`MAX_EXPIRES_IN`, default 604,799."""
    if value is None:
        return DEFAULT_EXPIRES_IN
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRES_IN:
        raise cmn101("expiresIn", str(value))
    return value


def limit_reached(limit: int) -> ApiError:
    """The answer for one subscription too many (docs/push.md: RingCentral documents the
    limit but no code; CMN-101 with 403 is its closest documented error)."""
    return ApiError(
        403,
        "CMN-101",
        f"Parameter [eventFilters] value is invalid: at most {limit} subscriptions per "
        f"extension and application",
        parameter_name="eventFilters",
    )
