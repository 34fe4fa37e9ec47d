"""The PostgreSQL outbox store: any number of workers on any number of machines.

Workers claim recipients with ``SELECT … FOR UPDATE SKIP LOCKED`` (no two workers take the
same row, none waits for another), and serialise each credential's send budget with a row
lock on its ``outbox_credential`` row. Needs psycopg 3 (``pip install 'psycopg[binary]'``),
imported only when a ``postgresql://`` URL is used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ._store import SqlStore, StoreError

__all__ = ["PostgresStore"]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "a postgresql:// outbox store needs psycopg 3: pip install 'psycopg[binary]>=3.1'"
        ) from None
    return psycopg


class PostgresStore(SqlStore):
    """A store in a PostgreSQL database (``postgresql://user@host:port/dbname``)."""

    placeholder = "%s"
    claim_lock = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, actor: str) -> None:
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the outbox store: {exc}") from None
        super().__init__(conn, actor=actor)
        self._errors = psycopg.Error

    def audit_schema(self) -> str:
        return (
            "CREATE TABLE IF NOT EXISTS outbox_audit (id BIGSERIAL PRIMARY KEY, "
            "at DOUBLE PRECISION NOT NULL, job_id TEXT, actor TEXT NOT NULL, event TEXT NOT NULL, "
            "state TEXT, number_ref TEXT, message_id TEXT, detail TEXT)"
        )

    def lock_setup(self, cur: Any) -> None:
        # concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog: serialise setup
        cur.execute("SELECT pg_advisory_xact_lock(7236911)")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        try:
            with self.conn.transaction():
                cur = self.conn.cursor()
                yield cur
        except self._errors as exc:
            raise StoreError(f"outbox store: {exc}") from None

    def lock_credential(self, cur: Any, key: str) -> None:
        cur.execute("SELECT 1 FROM outbox_credential WHERE key = %s FOR UPDATE", (key,))
