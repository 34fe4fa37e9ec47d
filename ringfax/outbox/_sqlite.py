"""The SQLite outbox store: WAL, ``synchronous=FULL`` (each committed state change is on
disk before the next request), one ``BEGIN IMMEDIATE`` transaction per change."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._store import SqlStore, StoreError

__all__ = ["SqliteStore"]

BUSY_TIMEOUT_MS = 30_000


class SqliteStore(SqlStore):
    """A store in one SQLite file. One connection per thread (SQLite's rule)."""

    placeholder = "?"

    def __init__(self, path: Path, *, actor: str) -> None:
        _create_private(path)
        try:
            conn = sqlite3.connect(
                str(path),
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,  # made by one thread, then used by one other
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the outbox store {path}: {exc}") from None
        if mode is None or str(mode[0]).lower() != "wal":
            raise StoreError(f"the outbox store {path} cannot use WAL journaling (got {mode})")
        super().__init__(conn, actor=actor)
        self.path = path

    def audit_schema(self) -> str:
        return (
            "CREATE TABLE IF NOT EXISTS outbox_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "at DOUBLE PRECISION NOT NULL, job_id TEXT, actor TEXT NOT NULL, event TEXT NOT NULL, "
            "state TEXT, number_ref TEXT, message_id TEXT, detail TEXT)"
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"outbox store {self.path}: {exc}") from None
        try:
            yield cur
        except BaseException:
            self.conn.rollback()
            raise
        else:
            try:
                self.conn.commit()
            except sqlite3.Error as exc:
                raise StoreError(f"outbox store {self.path}: commit failed: {exc}") from None
        finally:
            cur.close()


def _create_private(path: Path) -> None:
    """Create the store readable by its owner only (it holds numbers and names; SQLite gives
    its -wal and -shm files the same mode). An existing file is left as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create the outbox store {path}: {exc.strerror or exc}") from None
    os.close(fd)
