"""Durable storage: SQLite (WAL) for records, files under ``attachments/`` for documents.

Layout of a data directory::

    emulator.lock              held by the running emulator (see ``_files``), holder's pid
    emulator.sqlite3           faxes, recipients, attachments, tokens, id counter
    attachments/<fax id>/<attachment id>
    incoming/<uuid>/...        uploads in progress (removed on start)

A fax becomes visible only when its rows are committed, and its files are moved into
``attachments/<fax id>/`` *before* that commit; on start, ``incoming/`` and any
``attachments/<fax id>`` directory without a committed fax row are removed. So a crash
mid-upload leaves no half-stored fax. Availability changes (delete, purge, restore) are
single transactions that check the current availability; a purge removes the files after its
commit, so only a ``Purged`` row can lack its files.

Change tracking (for message-sync): every write to a fax (creation, ``readStatus``,
``availability``) takes the next value of the ``change_seq`` counter in ``meta`` and
stores it in the fax row, with the time of the write in ``modified``. Data directories
made by older versions are upgraded in place on open (missing columns are added; their
faxes count as changed at sequence 0).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ._files import DataDirLock, Opener, StorageFull, is_storage_full, open_new_file, write_file
from ._rows import (
    ADDED_FAX_COLUMNS,
    FIRST_ID,
    SCHEMA,
    AttachmentRow,
    FaxRow,
    RecipientRow,
    TokenRow,
)

__all__ = ["AttachmentRow", "FaxRow", "RecipientRow", "Store", "TokenRow"]


class Store:
    """Thread-safe durable store on one SQLite connection (WAL) guarded by a lock."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.attachments_dir = self.data_dir / "attachments"
        self.incoming_dir = self.data_dir / "incoming"
        self.opener: Opener = open_new_file
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._dir_lock = DataDirLock(self.data_dir)  # before touching anything in it
        try:
            self.attachments_dir.mkdir(exist_ok=True)
            shutil.rmtree(self.incoming_dir, ignore_errors=True)
            self.incoming_dir.mkdir()
            self._lock = threading.RLock()
            self._db = sqlite3.connect(
                self.data_dir / "emulator.sqlite3", check_same_thread=False, isolation_level=None
            )
        except BaseException:
            self._dir_lock.release()
            raise
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        try:
            self._db.executescript(SCHEMA)
            with self._tx() as db:
                self._upgrade(db)
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('next_id', ?)",
                    (str(FIRST_ID),),
                )
                db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('change_seq', '0')")
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('sync_secret', ?)",
                    (secrets.token_hex(32),),
                )
                (secret,) = db.execute(
                    "SELECT value FROM meta WHERE key = 'sync_secret'"
                ).fetchone()
            self.sync_secret = bytes.fromhex(str(secret))
            self._remove_orphans()
        except BaseException:
            self._db.close()
            self._dir_lock.release()
            raise

    @staticmethod
    def _upgrade(db: sqlite3.Connection) -> None:
        have = {row[1] for row in db.execute("PRAGMA table_info(faxes)")}
        for name, decl in ADDED_FAX_COLUMNS:
            if name not in have:
                db.execute(f"ALTER TABLE faxes ADD COLUMN {name} {decl}")
        db.execute("CREATE INDEX IF NOT EXISTS faxes_change ON faxes (change_seq)")
        db.execute("CREATE INDEX IF NOT EXISTS recipients_done ON recipients (done_at)")
        db.execute("CREATE INDEX IF NOT EXISTS recipients_delivered ON recipients (delivered_at)")

    # -- plumbing ---------------------------------------------------------------------------

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction on the store's database, for the emulator's other tables
        (subscriptions); a full disk raises :class:`StorageFull` (rolled back)."""
        return self._tx()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a full disk raises :class:`StorageFull` (rolled back)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if is_storage_full(exc):
                    raise StorageFull("writing the database") from exc
                raise

    def close(self) -> None:
        """Close the database connection and release the data directory."""
        with self._lock:
            self._db.close()
            self._dir_lock.release()

    def write_file(self, path: Path, chunks: Iterable[bytes]) -> int:
        """Write a document file through :attr:`opener` (see :func:`write_file`)."""
        return write_file(path, chunks, self.opener)

    def _remove_orphans(self) -> None:
        with self._lock:
            known = {row[0] for row in self._db.execute("SELECT id FROM faxes")}
        for entry in self.attachments_dir.iterdir():
            if not entry.name.isdigit() or int(entry.name) not in known:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def new_incoming_dir(self) -> Path:
        """A fresh directory for one upload in progress (under ``incoming/``)."""
        path = self.incoming_dir / uuid.uuid4().hex
        path.mkdir()
        return path

    @staticmethod
    def _next_change(db: sqlite3.Connection) -> int:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'change_seq'")
        (value,) = db.execute("SELECT value FROM meta WHERE key = 'change_seq'").fetchone()
        return int(value)

    def change_seq(self) -> int:
        """The sequence number of the latest fax change (0 before any)."""
        with self._lock:
            (value,) = self._db.execute(
                "SELECT value FROM meta WHERE key = 'change_seq'"
            ).fetchone()
            return int(value)

    def allocate_ids(self, count: int) -> list[int]:
        """Reserve ``count`` new, ever-increasing ids (committed immediately)."""
        with self._tx() as db:
            (value,) = db.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()
            first = int(value)
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_id'", (str(first + count),))
        return list(range(first, first + count))

    def path_of(self, attachment: AttachmentRow) -> Path:
        """Absolute path of a stored attachment."""
        return self.data_dir / attachment.path

    # -- faxes ------------------------------------------------------------------------------

    def insert_fax(self, fax: FaxRow, files: Sequence[Path]) -> None:
        """Store ``fax``: move ``files`` (one per attachment, same order) into place, then
        commit the rows. If anything fails before the commit, nothing is visible."""
        if len(files) != len(fax.attachments):
            raise ValueError("one file per attachment expected")
        target = self.attachments_dir / str(fax.id)
        target.mkdir(parents=True, exist_ok=False)
        try:
            for src, att in zip(files, fax.attachments, strict=False):
                os.replace(src, self.data_dir / att.path)
            with self._tx() as db:
                seq = self._next_change(db)
                db.execute(
                    "INSERT INTO faxes (id, creation, direction, read_status, availability,"
                    " fax_resolution, cover_index, cover_page_text, iso_code, send_time,"
                    " page_count, original_id, deleted_at, wire_format, from_number, subject,"
                    " change_seq, modified)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fax.id,
                        fax.creation,
                        fax.direction,
                        fax.read_status,
                        fax.availability,
                        fax.fax_resolution,
                        fax.cover_index,
                        fax.cover_page_text,
                        fax.iso_code,
                        fax.send_time,
                        fax.page_count,
                        fax.original_id,
                        fax.deleted_at,
                        fax.wire_format,
                        fax.from_number,
                        fax.subject,
                        seq,
                        fax.creation,
                    ),
                )
                for pos, r in enumerate(fax.recipients):
                    db.execute(
                        "INSERT INTO recipients (id, fax_id, position, phone_number, name,"
                        " ready_at, done_at, outcome, error_code, delivered_at, attempt)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            r.id,
                            fax.id,
                            pos,
                            r.phone_number,
                            r.name,
                            r.ready_at,
                            r.done_at,
                            r.outcome,
                            r.error_code,
                            r.delivered_at,
                            r.attempt,
                        ),
                    )
                for pos, a in enumerate(fax.attachments):
                    db.execute(
                        "INSERT INTO attachments (id, fax_id, position, filename, content_type,"
                        " size, pages, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (a.id, fax.id, pos, a.filename, a.content_type, a.size, a.pages, a.path),
                    )
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise

    def _load(self, db: sqlite3.Connection, row: tuple[object, ...]) -> FaxRow:
        fax_id = int(row[0])  # type: ignore[call-overload]
        recips = tuple(
            RecipientRow(*r)
            for r in db.execute(
                "SELECT id, phone_number, name, ready_at, done_at, outcome, error_code,"
                " delivered_at, attempt FROM recipients WHERE fax_id = ? ORDER BY position",
                (fax_id,),
            )
        )
        atts = tuple(
            AttachmentRow(*a)
            for a in db.execute(
                "SELECT id, filename, content_type, size, pages, path FROM attachments"
                " WHERE fax_id = ? ORDER BY position",
                (fax_id,),
            )
        )
        return FaxRow(*row[:14], recips, atts, *row[14:])  # type: ignore[arg-type, call-arg]

    _COLUMNS = (
        "id, creation, direction, read_status, availability, fax_resolution, cover_index,"
        " cover_page_text, iso_code, send_time, page_count, original_id, deleted_at, wire_format,"
        " from_number, subject, change_seq, modified"
    )

    def get_fax(self, fax_id: int) -> FaxRow | None:
        """The fax with this id (also deleted ones), or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM faxes WHERE id = ?", (fax_id,)
            ).fetchone()
            return None if row is None else self._load(self._db, row)

    def list_faxes(
        self,
        *,
        date_from: float,
        date_to: float,
        direction: str | None = None,
        availability: Sequence[str] = ("Alive", "Deleted"),
        read_status: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[FaxRow]]:
        """``(total, page)`` of faxes created in ``[date_from, date_to)``, newest first
        (``limit`` -1: no limit)."""
        where = ["creation >= ?", "creation < ?"]
        args: list[object] = [date_from, date_to]
        if direction is not None:
            where.append("direction = ?")
            args.append(direction)
        if read_status is not None:
            where.append("read_status = ?")
            args.append(read_status)
        where.append(f"availability IN ({', '.join('?' for _ in availability)})")
        args.extend(availability)
        cond = " AND ".join(where)
        with self._lock:
            (total,) = self._db.execute(f"SELECT COUNT(*) FROM faxes WHERE {cond}", args).fetchone()
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM faxes WHERE {cond}"
                " ORDER BY creation DESC, id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            return int(total), [self._load(self._db, r) for r in rows]

    def changed_faxes(self, since_seq: int, since_time: float, until_time: float) -> list[FaxRow]:
        """Faxes written after change ``since_seq``, or with a recipient whose precomputed
        status change (``done_at``/``delivered_at``) falls in ``(since_time, until_time]``;
        newest first. Includes purged faxes."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM faxes WHERE change_seq > ? OR id IN"
                " (SELECT fax_id FROM recipients WHERE (done_at > ? AND done_at <= ?)"
                " OR (delivered_at > ? AND delivered_at <= ?))"
                " ORDER BY creation DESC, id DESC",
                (since_seq, since_time, until_time, since_time, until_time),
            ).fetchall()
            return [self._load(self._db, r) for r in rows]

    def all_faxes(self) -> list[FaxRow]:
        """Every stored fax, oldest first (for tests and inspection)."""
        with self._lock:
            rows = self._db.execute(f"SELECT {self._COLUMNS} FROM faxes ORDER BY id").fetchall()
            return [self._load(self._db, r) for r in rows]

    def count_faxes(self) -> int:
        """Number of stored faxes (any availability)."""
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM faxes").fetchone()
            return int(n)

    def delete_fax(self, fax_id: int, *, purge: bool, now: float) -> str | None:
        """DELETE in one transaction: ``Alive`` -> ``Deleted``, ``Deleted`` (or ``purge``) ->
        ``Purged``; the new availability, or None when missing or already purged. Files go
        after the commit: only a ``Purged`` row can lack its files."""
        with self._tx() as db:
            found = db.execute("SELECT availability FROM faxes WHERE id = ?", (fax_id,)).fetchone()
            if found is None or found[0] == "Purged":
                return None
            target = "Purged" if purge or found[0] == "Deleted" else "Deleted"
            seq = self._next_change(db)
            db.execute(
                "UPDATE faxes SET availability = ?, deleted_at = COALESCE(deleted_at, ?),"
                " change_seq = ?, modified = ? WHERE id = ?",
                (target, now, seq, now, fax_id),
            )
        if target == "Purged":
            shutil.rmtree(self.attachments_dir / str(fax_id), ignore_errors=True)
        return target

    def update_fax(
        self,
        fax_id: int,
        *,
        read_status: str | None = None,
        restore: bool = False,
        now: float | None = None,
    ) -> bool:
        """Change ``readStatus`` and/or restore a ``Deleted`` fax (PUT/PATCH) in one
        transaction; False when the fax is missing or ``Purged`` by then (a purge racing a
        restore never brings back a fax without files). Only an actual change takes a change
        sequence number and sets ``modified``."""
        with self._tx() as db:
            found = db.execute("SELECT availability FROM faxes WHERE id = ?", (fax_id,)).fetchone()
            if found is None or found[0] == "Purged":
                return False
            changed = 0
            if read_status is not None:
                changed += db.execute(
                    "UPDATE faxes SET read_status = ? WHERE id = ? AND read_status != ?",
                    (read_status, fax_id, read_status),
                ).rowcount
            if restore:
                changed += db.execute(
                    "UPDATE faxes SET availability = 'Alive', deleted_at = NULL"
                    " WHERE id = ? AND availability = 'Deleted'",
                    (fax_id,),
                ).rowcount
            if changed:
                seq = self._next_change(db)
                db.execute(
                    "UPDATE faxes SET change_seq = ?, modified = COALESCE(?, modified)"
                    " WHERE id = ?",
                    (seq, now, fax_id),
                )
        return True

    # -- tokens -----------------------------------------------------------------------------

    _TOKEN_COLUMNS = (
        "access_token, refresh_token, session_id, client_id, issued_at, access_expires,"
        " refresh_expires, access_valid, refresh_valid, refreshed_at, successor"
    )

    def _token(self, row: tuple[object, ...] | None) -> TokenRow | None:
        if row is None:
            return None
        values = list(row)
        values[7] = bool(values[7])
        values[8] = bool(values[8])
        return TokenRow(*values)  # type: ignore[arg-type]

    def _insert_token(self, db: sqlite3.Connection, token: TokenRow) -> None:
        values = (*dataclasses.astuple(token)[:7], int(token.access_valid))
        values += (int(token.refresh_valid), token.refreshed_at, token.successor)
        db.execute(
            f"INSERT INTO tokens ({self._TOKEN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", values
        )

    def insert_token(self, token: TokenRow) -> None:
        """Store a newly issued token pair."""
        with self._tx() as db:
            self._insert_token(db, token)

    def token_by_access(self, access_token: str) -> TokenRow | None:
        """Look a token pair up by its access token."""
        with self._lock:
            return self._token(
                self._db.execute(
                    f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE access_token = ?",
                    (access_token,),
                ).fetchone()
            )

    def token_by_refresh(self, refresh_token: str) -> TokenRow | None:
        """Look a token pair up by its refresh token."""
        with self._lock:
            return self._token(
                self._db.execute(
                    f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE refresh_token = ?",
                    (refresh_token,),
                ).fetchone()
            )

    def rotate_token(self, old: TokenRow, new: TokenRow, now: float) -> None:
        """Record that ``old`` was refreshed into ``new``: the old access token dies at once."""
        with self._tx() as db:
            db.execute(
                "UPDATE tokens SET access_valid = 0, refreshed_at = ?, successor = ?"
                " WHERE access_token = ?",
                (now, new.access_token, old.access_token),
            )
            fresh = dataclasses.replace(
                new, access_valid=True, refresh_valid=True, refreshed_at=None, successor=None
            )
            self._insert_token(db, fresh)

    def revoke_session(self, session_id: str) -> None:
        """Kill every token of a session."""
        with self._tx() as db:
            db.execute(
                "UPDATE tokens SET access_valid = 0, refresh_valid = 0, successor = NULL"
                " WHERE session_id = ?",
                (session_id,),
            )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store lock (to make a read-modify-write sequence atomic)."""
        with self._lock:
            yield
