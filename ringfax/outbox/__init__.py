"""ringfax.outbox: a durable bulk outbox -- one document to many numbers, resumable after
any crash, never sending a number two faxes.

::

    from ringfax import FaxClient
    from ringfax.outbox import Outbox

    with FaxClient.from_env() as client, Outbox("broadcast.db", clients=[client]) as outbox:
        outbox.start(["letter.pdf"], Path("recipients.csv"))
        outbox.run()
        for row in outbox.report():
            print(row["number"], row["state"], row["fax_error_code"] or "")

``db``: a SQLite file (default) or a ``postgresql://`` URL (any number of worker processes
on any number of machines; needs ``psycopg``). Running ``start`` + ``run`` again with the
same db resumes. See docs/broadcast.md for the state machine and crash reconciliation.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._client import FaxClient
from .._errors import ValidationError
from .._models import Recipient
from .._validation import normalize_number
from ._engine import (
    BroadcastAborted,
    Credential,
    JobContext,
    Settings,
    Worker,
    new_actor,
    retire_actor,
    run_workers,
)
from ._pacing import Budget
from ._recipients import (
    BadRow,
    RecipientsFile,
    RecipientsRefused,
    number_digest,
    parse_recipients,
    read_number_list,
)
from ._report import report_csv, report_json, report_rows
from ._states import FINAL_STATES, State
from ._store import JobMismatch, JobSpec, SqlStore, StoreError

__all__ = [
    "BadRow",
    "BroadcastAborted",
    "JobMismatch",
    "Outbox",
    "RecipientsRefused",
    "Settings",
    "State",
    "StoreError",
    "check_recipients",
    "open_store",
    "parse_recipients",
    "read_number_list",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(db: str | Path, actor: str) -> SqlStore:
    """The store for ``db``: a ``postgresql://`` URL or a SQLite file path."""
    text = str(db)
    if text.startswith(_POSTGRES_SCHEMES):
        from ._postgres import PostgresStore

        return PostgresStore(text, actor=actor)
    from ._sqlite import SqliteStore

    return SqliteStore(Path(text), actor=actor)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        return "unknown"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def job_spec(documents: Sequence[Path], recipients_sha256: str, cover_text: str | None) -> JobSpec:
    """The job's identity: document hashes + recipients file hash + cover text."""
    docs = tuple((p.name, file_sha256(p)) for p in documents)
    ident = hashlib.sha256()
    for _name, sha in docs:
        ident.update(f"doc:{sha}\n".encode())
    ident.update(f"recipients:{recipients_sha256}\n".encode())
    ident.update(f"cover:{cover_text!r}\n".encode())
    job_id = ident.hexdigest()
    return JobSpec(job_id, docs, recipients_sha256, cover_text, salt=job_id[:32])


def check_recipients(
    recipients: Path | bytes, *, default_country: str | None = None
) -> RecipientsFile:
    """Parse a recipients file; :class:`RecipientsRefused` names every bad row."""
    source = str(recipients) if isinstance(recipients, Path) else "recipients"
    try:
        data = recipients.read_bytes() if isinstance(recipients, Path) else recipients
    except OSError as exc:
        raise ValidationError(f"recipients file {source}: {exc.strerror or exc}") from None
    parsed = parse_recipients(data, source=source, default_country=default_country)
    if parsed.bad:
        raise RecipientsRefused(source, parsed.bad)
    if not parsed.rows:
        raise ValidationError(f"{source}: no recipients")
    return parsed


class Outbox:
    """A broadcast job in a durable store, sent through one or more credentials.

    ``clients``: one :class:`~ringfax.FaxClient` per credential (several JWTs multiply the
    throughput; each has its own RingCentral rate budget). ``credential_ids`` name them
    stably across runs and machines (their send budgets and claims are stored under these
    names); default ``credential-1``, ``credential-2``, ... by position.
    """

    def __init__(
        self,
        db: str | Path,
        *,
        clients: Sequence[FaxClient] = (),
        credential_ids: Sequence[str] | None = None,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        ids = list(credential_ids or [f"credential-{i + 1}" for i in range(len(clients))])
        if len(ids) != len(clients) or len(set(ids)) != len(ids):
            raise ValidationError("credential_ids must name each client once")
        self.db = db
        self.settings = settings or Settings()
        self._clock = clock
        self._sleep = sleep
        self._credentials = [
            Credential(k, c, f"c{i + 1}") for i, (k, c) in enumerate(zip(ids, clients, strict=True))
        ]
        self._actor = new_actor("main")
        self.store = open_store(db, self._actor)
        self.store.setup()
        self._job: JobContext | None = None
        self.resumed = False
        self.stop_event = threading.Event()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop_event.set()
        self.store.close()
        retire_actor(self._actor)

    # -- the job ------------------------------------------------------------------------------

    def start(
        self,
        documents: Sequence[str | Path],
        recipients: Path | bytes,
        *,
        cover_text: str | None = None,
        do_not_fax: frozenset[str] | set[str] = frozenset(),
        default_country: str | None = None,
    ) -> dict[str, int]:
        """Create the job (every recipient ``pending``) or resume it; returns the counts.

        Checks everything first: documents readable, every recipients row valid (else
        :class:`RecipientsRefused` listing each bad line), the store free or holding this
        very job (else :class:`JobMismatch`). ``do_not_fax`` numbers are never sent to.
        """
        paths = tuple(Path(d) for d in documents)
        if not paths:
            raise ValidationError("no document to send")
        for path in paths:
            if not path.is_file():
                raise ValidationError(f"document {path}: not a readable file")
        if cover_text is not None and len(cover_text) > 1024:
            raise ValidationError(
                f"cover text: {len(cover_text)} characters, RingCentral allows 1024"
            )
        parsed = check_recipients(recipients, default_country=default_country)
        for cred in self._credentials[:1]:  # the client's own checks (types, sizes), no request
            cred.client.build_fax_body(
                [Recipient(parsed.rows[0].number)], list(paths), cover_page_text=cover_text
            )
        excluded = frozenset(normalize_number(n) for n in do_not_fax)
        spec = job_spec(paths, parsed.sha256, cover_text)
        created, self.resumed = self.store.start_job(
            spec,
            [(r.line, r.number, r.name) for r in parsed.rows],
            excluded,
            self._clock(),
            lambda n: number_digest(n, spec.salt),
        )
        self._job = JobContext(paths, cover_text, created, spec.salt)
        return self.store.counts()

    # -- sending ------------------------------------------------------------------------------

    def run(self, *, on_progress: Callable[[dict[str, int]], None] | None = None) -> dict[str, int]:
        """Send until every recipient is final; returns the counts per state.

        One worker thread per credential, plus a heartbeat that renews this process's
        claims. Raises :class:`BroadcastAborted` when the server refuses what no recipient
        will get past (auth, the document)."""
        if self._job is None:
            raise ValidationError("Outbox.run: call start() first")
        if not self._credentials:
            raise ValidationError("Outbox.run: no client to send with")
        stop = self.stop_event
        who = {"user": _user(), "credentials": [c.key for c in self._credentials]}
        self.store.note("run_started", self._clock(), json.dumps(who, sort_keys=True))
        workers: list[Worker] = []
        stores: list[SqlStore] = []
        try:
            for cred in self._credentials:
                store = open_store(self.db, new_actor(cred.label))
                store.job_id = self.store.job_id
                stores.append(store)
                workers.append(
                    Worker(
                        store,
                        cred,
                        self._job,
                        self.settings,
                        clock=self._clock,
                        sleep=self._sleep,
                        stop=stop,
                    )
                )
            for worker in workers:
                worker.pool = tuple(c.key for c in self._credentials)
            beat = threading.Thread(target=self._heartbeat, args=(workers,), daemon=True)
            beat.start()
            progress = threading.Thread(target=self._progress, args=(on_progress,), daemon=True)
            if on_progress is not None:
                progress.start()
            errors = run_workers(workers, stop)
            stop.set()
            beat.join(5)
        finally:
            for store in stores:
                retire_actor(store.actor)
                store.close()
        if errors:
            raise errors[0]
        return self.store.counts()

    def _heartbeat(self, workers: Sequence[Worker]) -> None:
        stores = [open_store(self.db, w.store.actor) for w in workers]
        try:
            for store in stores:
                store.job_id = self.store.job_id
            while not self.stop_event.wait(self.settings.lease / 4):
                for store in stores:
                    store.renew(self._clock(), self.settings.lease)
        finally:
            for store in stores:
                store.close()

    def _progress(self, on_progress: Callable[[dict[str, int]], None]) -> None:
        store = open_store(self.db, self._actor)
        store.job_id = self.store.job_id
        try:
            while not self.stop_event.wait(2.0):
                on_progress(store.counts())
        finally:
            store.close()

    # -- reading ------------------------------------------------------------------------------

    def attach(self) -> None:
        """Open the job already in the store (for reports), or :class:`StoreError`."""
        if self.store.stored_job() is None:
            raise StoreError(f"the outbox store {self.db} holds no broadcast")

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def report(self) -> list[dict[str, Any]]:
        """One dict per recipient: line, number, state, message_id, fax_error_code, attempts."""
        return report_rows(self.store.recipients())

    def report_csv(self) -> str:
        return report_csv(self.store.recipients())

    def report_json(self) -> str:
        return report_json(self.store.recipients(), self.store.counts())

    def eta(self) -> float:
        """Seconds until every open recipient had its next fax POSTed, from the credentials'
        rate budgets (limit per window each) and the group size; retries still to come are not
        counted."""
        counts = self.store.counts()
        to_send = counts.get(State.PENDING.value, 0) + counts.get(State.RETRY_WAIT.value, 0)
        rate = 0.0
        for cred in self._credentials:
            budget: Budget = self.store.budget(cred.key)
            rate += budget.limit / (budget.window + self.settings.pace_margin)
        rate *= self.settings.group_size
        return to_send / rate if rate else float("inf")

    def done(self) -> bool:
        finals = {s.value for s in FINAL_STATES}
        return all(state in finals for state in self.store.counts())
