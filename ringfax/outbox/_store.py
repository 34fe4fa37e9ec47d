"""The outbox store: one broadcast job, its recipients' states, the credentials' send budgets
and an audit log, behind one SQL implementation shared by SQLite and PostgreSQL.

Every state change is one transaction that checks the state it expects (and, for a claimed
recipient, the claim's owner), writes the new state and appends the audit row; a change whose
precondition no longer holds does nothing and returns False. The dialects differ only in how
a transaction starts and how a recipient is claimed (:mod:`._sqlite`, :mod:`._postgres`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import RingFaxError
from ._pacing import Budget, learn, plan_send
from ._states import FINAL_STATES, Event, State, transition

__all__ = ["JobMismatch", "JobSpec", "RecipientState", "SqlStore", "StoreError"]

SCHEMA_VERSION = "1"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS outbox_job (
        job_id TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, spec TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbox_recipient (
        job_id TEXT NOT NULL, line INTEGER NOT NULL, number TEXT NOT NULL, name TEXT,
        state TEXT NOT NULL, message_id TEXT, fax_error_code TEXT,
        attempts INTEGER NOT NULL DEFAULT 0, next_try_at DOUBLE PRECISION,
        attempt_started_at DOUBLE PRECISION, credential TEXT, lease_owner TEXT,
        lease_until DOUBLE PRECISION, prior_ids TEXT NOT NULL DEFAULT '',
        updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (job_id, number))""",
    "CREATE INDEX IF NOT EXISTS outbox_recipient_state ON outbox_recipient (job_id, state, line)",
    """CREATE TABLE IF NOT EXISTS outbox_credential (
        key TEXT PRIMARY KEY, slots TEXT NOT NULL, lim INTEGER NOT NULL,
        win DOUBLE PRECISION NOT NULL)""",
)

CLAIMABLE = (
    "FROM outbox_recipient WHERE job_id = ? AND ("
    "(state = 'pending' AND (message_id IS NULL OR credential = ?)) "
    "OR (state = 'retry_wait' AND credential = ? AND next_try_at <= ?)) ORDER BY line LIMIT 1"
)
"""What a credential's worker may claim: a first send, or a resend of a fax its own
credential sent (another user's message id means nothing to this credential)."""

AUDIT_COLUMNS = "at, job_id, actor, event, state, number_ref, message_id, detail"


class StoreError(RingFaxError):
    """The outbox store cannot be used (wrong schema version, unreadable, ...)."""


class JobMismatch(StoreError):
    """The store holds another broadcast (other documents, recipients or cover text)."""


@dataclass(frozen=True)
class JobSpec:
    """What identifies a broadcast: document hashes, recipients file hash, cover text."""

    job_id: str
    documents: tuple[tuple[str, str], ...]  # (file name, sha256)
    recipients_sha256: str
    cover_text: str | None
    salt: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "documents": [list(d) for d in self.documents],
                "recipients_sha256": self.recipients_sha256,
                "cover_text_set": self.cover_text is not None,
                "salt": self.salt,
            },
            sort_keys=True,
        )

    def describe(self) -> str:
        names = ", ".join(f"{n} (sha256 {h[:12]}…)" for n, h in self.documents)
        return f"job {self.job_id[:16]}: {names}; recipients sha256 {self.recipients_sha256[:12]}…"


@dataclass(frozen=True)
class RecipientState:
    """One recipient row as stored."""

    line: int
    number: str
    name: str | None
    state: State
    message_id: str | None
    fax_error_code: str | None
    attempts: int
    next_try_at: float | None
    attempt_started_at: float | None
    credential: str | None
    lease_owner: str | None
    lease_until: float | None
    prior_ids: tuple[str, ...]

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


_COLUMNS = (
    "line, number, name, state, message_id, fax_error_code, attempts, next_try_at, "
    "attempt_started_at, credential, lease_owner, lease_until, prior_ids"
)


def _row(values: Sequence[Any]) -> RecipientState:
    prior = str(values[12] or "")
    return RecipientState(
        line=int(values[0]),
        number=str(values[1]),
        name=values[2],
        state=State(values[3]),
        message_id=values[4],
        fax_error_code=values[5],
        attempts=int(values[6]),
        next_try_at=values[7],
        attempt_started_at=values[8],
        credential=values[9],
        lease_owner=values[10],
        lease_until=values[11],
        prior_ids=tuple(p for p in prior.split(",") if p),
    )


class SqlStore:
    """The store over a DB-API connection; subclasses supply the dialect hooks."""

    placeholder = "?"
    claim_lock = ""  # appended to the claim's SELECT (PostgreSQL: FOR UPDATE SKIP LOCKED)

    def __init__(self, conn: Any, *, actor: str) -> None:
        self.conn = conn
        self.actor = actor
        self.job_id: str | None = None

    # -- dialect hooks ------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        raise NotImplementedError

    def lock_setup(self, cur: Any) -> None:
        """Serialise schema creation between workers starting at once (where needed)."""

    def lock_credential(self, cur: Any, key: str) -> None:
        """Serialise budget changes of one credential (a row lock where possible)."""

    def close(self) -> None:
        self.conn.close()

    # -- helpers ------------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _exec(self, cur: Any, text: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._sql(text), tuple(params))
        return cur

    def _audit(
        self,
        cur: Any,
        now: float,
        event: str,
        state: str | None,
        number_ref: str | None,
        message_id: str | None,
        detail: str | None = None,
    ) -> None:
        self._exec(
            cur,
            f"INSERT INTO outbox_audit ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now, self.job_id, self.actor, event, state, number_ref, message_id, detail),
        )

    def audit_schema(self) -> str:
        raise NotImplementedError

    # -- schema and job -----------------------------------------------------------------------

    def setup(self) -> None:
        """Create the tables (idempotent) and check the schema version."""
        with self.transaction() as cur:
            self.lock_setup(cur)
            for statement in (*SCHEMA, self.audit_schema()):
                self._exec(cur, statement)
            self._exec(cur, "SELECT v FROM outbox_meta WHERE k = 'schema'")
            found = cur.fetchone()
            if found is None:
                self._exec(
                    cur, "INSERT INTO outbox_meta (k, v) VALUES ('schema', ?)", (SCHEMA_VERSION,)
                )
            elif found[0] != SCHEMA_VERSION:
                raise StoreError(
                    f"the outbox store has schema version {found[0]}, this ringfax uses "
                    f"{SCHEMA_VERSION}: use a new --db"
                )

    def stored_job(self) -> tuple[str, float, dict[str, Any]] | None:
        """(job id, created at, spec) of the job in the store, or None."""
        with self.transaction() as cur:
            self._exec(cur, "SELECT job_id, created_at, spec FROM outbox_job")
            rows = cur.fetchall()
        if not rows:
            return None
        job_id, created, spec = rows[0]
        self.job_id = str(job_id)
        return str(job_id), float(created), json.loads(spec)

    def start_job(
        self,
        spec: JobSpec,
        recipients: Sequence[tuple[int, str, str | None]],
        excluded: frozenset[str],
        now: float,
        number_ref: Any,
    ) -> tuple[float, bool]:
        """Create the job with every recipient ``pending`` (``excluded`` on the do-not-fax
        list), or resume the same job. Returns (created at, resumed). Raises
        :class:`JobMismatch` when the store holds another job."""
        with self.transaction() as cur:
            self.lock_setup(cur)  # workers starting at once: one creates, the others resume
            self._exec(cur, "SELECT job_id, created_at, spec FROM outbox_job")
            rows = cur.fetchall()
            if rows:
                job_id, created, stored = rows[0]
                if job_id != spec.job_id:
                    described = json.loads(stored)
                    docs = ", ".join(
                        f"{d[0]} (sha256 {d[1][:12]}…)" for d in described["documents"]
                    )
                    raise JobMismatch(
                        f"the outbox store already holds another broadcast (job "
                        f"{str(job_id)[:16]}: {docs}; recipients sha256 "
                        f"{described['recipients_sha256'][:12]}…), not this one "
                        f"({spec.describe()}): the documents, the recipients file or the "
                        f"cover text differ. Use another --db for a new broadcast."
                    )
                self.job_id = spec.job_id
                for number in excluded:  # a do-not-fax list may grow between runs
                    self._exclude(cur, number, now, number_ref(number))
                return float(created), True
            self.job_id = spec.job_id
            self._exec(
                cur,
                "INSERT INTO outbox_job (job_id, created_at, spec) VALUES (?, ?, ?)",
                (spec.job_id, now, spec.to_json()),
            )
            for line, number, name in recipients:
                state = State.EXCLUDED if number in excluded else State.PENDING
                self._exec(
                    cur,
                    "INSERT INTO outbox_recipient (job_id, line, number, name, state, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (spec.job_id, line, number, name, state.value, now),
                )
            self._audit(cur, now, "job_created", None, None, None, spec.to_json())
            return now, False

    def _exclude(self, cur: Any, number: str, now: float, ref: str) -> None:
        self._exec(
            cur,
            "UPDATE outbox_recipient SET state = ?, updated_at = ? "
            "WHERE job_id = ? AND number = ? AND state IN (?, ?)",
            (State.EXCLUDED.value, now, self.job_id, number, "pending", "retry_wait"),
        )
        if cur.rowcount:
            self._audit(cur, now, str(Event.DO_NOT_FAX), State.EXCLUDED.value, ref, None)

    def note(self, event: str, now: float, detail: str) -> None:
        """An audit row that is not a recipient's state change (a run starting, ...)."""
        with self.transaction() as cur:
            self._audit(cur, now, event, None, None, None, detail)

    # -- reading ------------------------------------------------------------------------------

    def recipients(self) -> list[RecipientState]:
        with self.transaction() as cur:
            self._exec(
                cur,
                f"SELECT {_COLUMNS} FROM outbox_recipient WHERE job_id = ? ORDER BY line",
                (self.job_id,),
            )
            return [_row(r) for r in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        with self.transaction() as cur:
            self._exec(
                cur,
                "SELECT state, COUNT(*) FROM outbox_recipient WHERE job_id = ? GROUP BY state",
                (self.job_id,),
            )
            return {str(s): int(n) for s, n in cur.fetchall()}

    def open_submitted(self, credential: str) -> dict[str, list[RecipientState]]:
        """Submitted rows by message id (several when one POST went to several numbers)."""
        with self.transaction() as cur:
            self._exec(
                cur,
                f"SELECT {_COLUMNS} FROM outbox_recipient WHERE job_id = ? AND credential = ? "
                "AND state = 'submitted'",
                (self.job_id, credential),
            )
            rows = [_row(r) for r in cur.fetchall()]
        by_id: dict[str, list[RecipientState]] = {}
        for r in rows:
            if r.message_id:
                by_id.setdefault(r.message_id, []).append(r)
        return by_id

    def submitting(self) -> list[RecipientState]:
        with self.transaction() as cur:
            self._exec(
                cur,
                f"SELECT {_COLUMNS} FROM outbox_recipient "
                "WHERE job_id = ? AND state = 'submitting'",
                (self.job_id,),
            )
            return [_row(r) for r in cur.fetchall()]

    def open_for(self, credentials: Sequence[str]) -> int:
        """Recipients not final that the given credentials can still take to the end."""
        marks = ", ".join("?" for _ in credentials)
        with self.transaction() as cur:
            self._exec(
                cur,
                "SELECT COUNT(*) FROM outbox_recipient WHERE job_id = ? AND state NOT IN "
                "('sent', 'delivered', 'failed', 'excluded') AND ((state = 'pending' AND "
                f"message_id IS NULL) OR credential IN ({marks}))",
                (self.job_id, *credentials),
            )
            found = cur.fetchone()
        return int(found[0]) if found else 0

    def next_retry_at(self) -> float | None:
        with self.transaction() as cur:
            self._exec(
                cur,
                "SELECT MIN(next_try_at) FROM outbox_recipient "
                "WHERE job_id = ? AND state = 'retry_wait'",
                (self.job_id,),
            )
            found = cur.fetchone()
        return None if found is None or found[0] is None else float(found[0])

    def audit_rows(self) -> list[tuple[Any, ...]]:
        with self.transaction() as cur:
            self._exec(cur, f"SELECT {AUDIT_COLUMNS} FROM outbox_audit ORDER BY id")
            return [tuple(r) for r in cur.fetchall()]

    # -- claims and leases --------------------------------------------------------------------

    def claim(
        self, credential: str, now: float, lease: float, number_ref: Any, *, group: int = 1
    ) -> list[RecipientState]:
        """Move one pending (or due retry_wait) recipient to ``submitting`` for this actor --
        and, when it is a first send and ``group`` > 1, up to ``group - 1`` more first sends
        (one POST to several numbers). Empty when nothing is claimable."""
        with self.transaction() as cur:
            self._exec(
                cur,
                f"SELECT {_COLUMNS} {CLAIMABLE}{self.claim_lock}",
                (self.job_id, credential, credential, now),
            )
            found = cur.fetchone()
            if found is None:
                return []
            rows = [_row(found)]
            if group > 1 and rows[0].state is State.PENDING and rows[0].message_id is None:
                self._exec(
                    cur,
                    f"SELECT {_COLUMNS} FROM outbox_recipient WHERE job_id = ? AND "
                    "state = 'pending' AND message_id IS NULL AND number <> ? "
                    f"ORDER BY line LIMIT ?{self.claim_lock}",
                    (self.job_id, rows[0].number, group - 1),
                )
                rows += [_row(r) for r in cur.fetchall()]
            claimed = []
            for row in rows:
                target = transition(row.state, Event.CLAIM)
                self._exec(
                    cur,
                    "UPDATE outbox_recipient SET state = ?, attempt_started_at = ?, "
                    "credential = ?, lease_owner = ?, lease_until = ?, updated_at = ? "
                    "WHERE job_id = ? AND number = ?",
                    (
                        target.value,
                        now,
                        credential,
                        self.actor,
                        now + lease,
                        now,
                        self.job_id,
                        row.number,
                    ),
                )
                self._audit(
                    cur, now, str(Event.CLAIM), target.value, number_ref(row.number), row.message_id
                )
                claimed.append(
                    RecipientState(
                        **{
                            **row.__dict__,
                            "state": target,
                            "attempt_started_at": now,
                            "credential": credential,
                            "lease_owner": self.actor,
                            "lease_until": now + lease,
                        }
                    )
                )
        return claimed

    def renew(self, now: float, lease: float) -> int:
        """Extend every claim of this actor (a worker's heartbeat)."""
        with self.transaction() as cur:
            self._exec(
                cur,
                "UPDATE outbox_recipient SET lease_until = ? WHERE job_id = ? AND lease_owner = ? "
                "AND state = 'submitting'",
                (now + lease, self.job_id, self.actor),
            )
            return int(cur.rowcount or 0)

    def holds(self, row: RecipientState, now: float, lease: float) -> bool:
        """Renew this actor's claim on ``row``; False when another worker took it over."""
        with self.transaction() as cur:
            self._exec(
                cur,
                "UPDATE outbox_recipient SET lease_until = ? WHERE job_id = ? AND number = ? "
                "AND state = 'submitting' AND lease_owner = ?",
                (now + lease, self.job_id, row.number, self.actor),
            )
            return bool(cur.rowcount)

    def take_over(self, row: RecipientState, now: float, lease: float) -> bool:
        """Make this actor the owner of another actor's ``submitting`` claim."""
        with self.transaction() as cur:
            self._exec(
                cur,
                "UPDATE outbox_recipient SET lease_owner = ?, lease_until = ? WHERE job_id = ? "
                "AND number = ? AND state = 'submitting' AND lease_owner = ?",
                (self.actor, now + lease, self.job_id, row.number, row.lease_owner),
            )
            return bool(cur.rowcount)

    # -- transitions --------------------------------------------------------------------------

    def apply(
        self,
        row: RecipientState,
        event: Event,
        now: float,
        number_ref: str,
        *,
        message_id: str | None = None,
        fax_error_code: str | None = None,
        next_try_at: float | None = None,
        count_attempt: bool = False,
        detail: str | None = None,
    ) -> bool:
        """Apply ``event`` to ``row`` if it is still in ``row.state`` (and, when
        ``submitting``, still claimed by this actor); one transaction with its audit row."""
        target = transition(row.state, event)
        sets = ["state = ?", "updated_at = ?"]
        params: list[Any] = [target.value, now]
        if message_id is not None and message_id != row.message_id:
            sets += ["message_id = ?", "prior_ids = ?"]
            params += [message_id, ",".join((*row.prior_ids, message_id))]
        if fax_error_code is not None or event in (Event.ACCEPTED, Event.FOUND):
            sets.append("fax_error_code = ?")
            params.append(fax_error_code)
        if count_attempt:
            sets.append("attempts = attempts + 1")
        if target is State.RETRY_WAIT:
            sets.append("next_try_at = ?")
            params.append(next_try_at)
        if target is not State.SUBMITTING:
            sets += ["lease_owner = NULL", "lease_until = NULL"]
        where = "job_id = ? AND number = ? AND state = ?"
        params += [self.job_id, row.number, row.state.value]
        if row.state is State.SUBMITTING:
            where += " AND lease_owner = ?"
            params.append(self.actor)
        with self.transaction() as cur:
            self._exec(cur, f"UPDATE outbox_recipient SET {', '.join(sets)} WHERE {where}", params)
            if not cur.rowcount:
                return False
            shown = message_id or row.message_id
            self._audit(cur, now, str(event), target.value, number_ref, shown, detail)
        return True

    # -- send budget --------------------------------------------------------------------------

    def _budget(self, cur: Any, key: str) -> Budget:
        default = Budget()
        self._exec(
            cur,
            "INSERT INTO outbox_credential (key, slots, lim, win) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, "[]", default.limit, default.window),
        )
        self.lock_credential(cur, key)
        self._exec(cur, "SELECT slots, lim, win FROM outbox_credential WHERE key = ?", (key,))
        found = cur.fetchone()
        return Budget(tuple(float(s) for s in json.loads(found[0])), int(found[1]), float(found[2]))

    def _save_budget(self, cur: Any, key: str, budget: Budget) -> None:
        self._exec(
            cur,
            "UPDATE outbox_credential SET slots = ?, lim = ?, win = ? WHERE key = ?",
            (json.dumps(list(budget.slots)), budget.limit, budget.window, key),
        )

    def reserve_send(self, key: str, now: float, margin: float) -> float:
        """Reserve the earliest allowed send time of credential ``key`` (see :mod:`._pacing`)."""
        with self.transaction() as cur:
            at, budget = plan_send(self._budget(cur, key), now, margin)
            self._save_budget(cur, key, budget)
        return at

    def learn_rate(self, key: str, limit: int | None, window: float | None) -> Budget:
        """Record the Heavy group's limit and window a server answer reported."""
        with self.transaction() as cur:
            old = self._budget(cur, key)
            budget = learn(old, limit, window)
            if budget != old:
                self._save_budget(cur, key, budget)
        return budget

    def budget(self, key: str) -> Budget:
        with self.transaction() as cur:
            return self._budget(cur, key)
