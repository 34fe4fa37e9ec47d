"""The worker loop of a broadcast: reconcile, poll statuses, claim, pace, send.

One :class:`Worker` per credential (a thread, in one or many processes). The loop never
sends to a recipient whose last attempt may have reached the server without first looking
for that fax in the message store (:meth:`Worker.reconcile`), so a crash at any instant
never produces a second fax; see docs/broadcast.md for every crash point.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .._client import FaxClient
from .._errors import (
    APIError,
    FaxMaybeSentError,
    Forbidden,
    NotFound,
    RateLimited,
    RingFaxError,
    TransportError,
    ValidationError,
)
from .._models import FaxMessage, MessageStatus, Recipient
from ._recipients import number_digest
from ._states import Event
from ._store import RecipientState, SqlStore

__all__ = [
    "BroadcastAborted",
    "Credential",
    "JobContext",
    "Settings",
    "Worker",
    "new_actor",
    "retire_actor",
    "run_workers",
]

log = logging.getLogger("ringfax.outbox")

MAX_GROUP = 50
"""Numbers per POST at most (RingCentral documents no limit; ours keeps a POST's fate and a
crash's reconciliation to a bounded set)."""

TRANSIENT_PAUSE = 5.0
"""Seconds to wait after a transient failure (a network error, a 5xx) before going on."""

_LIVE_ACTORS: set[str] = set()
_LIVE_LOCK = threading.Lock()


def new_actor(label: str) -> str:
    """A claim owner id: ``host/pid/nonce/label`` (no secret, no recipient data)."""
    actor = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}/{label}"
    with _LIVE_LOCK:
        _LIVE_ACTORS.add(actor)
    return actor


def retire_actor(actor: str) -> None:
    with _LIVE_LOCK:
        _LIVE_ACTORS.discard(actor)


def owner_is_dead(owner: str | None) -> bool:
    """True when ``owner`` is provably gone: a process on this host that no longer exists,
    or an actor of this process that has stopped. Owners on other hosts: never (their
    lease has to expire)."""
    if not owner:
        return True
    parts = owner.split("/")
    if len(parts) < 3 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        with _LIVE_LOCK:
            return owner not in _LIVE_ACTORS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class BroadcastAborted(Exception):
    """A server answer that no other recipient will get past (auth, document refused)."""


@dataclass(frozen=True)
class Settings:
    """How a broadcast behaves. Times in seconds."""

    max_attempts: int = 3  # faxes sent to one number at most (first send + resends)
    retry_delay: float = 300.0  # wait before the first resend; doubles for each further one
    poll_interval: float = 30.0  # message-sync poll of each credential
    lease: float = 120.0  # a claim's lease; renewed while its worker lives
    reconcile_grace: float = 10.0  # wait after a claim's last sign of life before reconciling
    clock_skew: float = 300.0  # tolerated difference between our clock and the server's
    pace_margin: float = 1.0  # added to the rate window between reserving and counting
    full_sync_every: int = 20  # polls between two full message-syncs
    group_size: int = 1  # numbers per first-send POST (resends always go one by one)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError(f"max_attempts {self.max_attempts} must be at least 1")
        for name in ("retry_delay", "poll_interval", "lease", "reconcile_grace", "clock_skew"):
            if getattr(self, name) < 0:
                raise ValidationError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.lease <= 0:
            raise ValidationError("lease must be > 0")
        if not 1 <= self.group_size <= MAX_GROUP:
            raise ValidationError(f"group_size {self.group_size} must be within 1..{MAX_GROUP}")


@dataclass(frozen=True)
class Credential:
    """One account to send from: its client and the key its budget is stored under."""

    key: str
    client: FaxClient
    label: str


@dataclass(frozen=True)
class JobContext:
    """What every worker of a job needs to send."""

    documents: tuple[Path, ...]
    cover_text: str | None
    created_at: float
    salt: str


class Worker:
    """Sends a job's recipients through one credential until every recipient is final."""

    def __init__(
        self,
        store: SqlStore,
        credential: Credential,
        job: JobContext,
        settings: Settings,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None,
        stop: threading.Event,
    ) -> None:
        self.store = store
        self.cred = credential
        self.job = job
        self.settings = settings
        self.clock = clock
        self.stop = stop
        self._sleep = sleep
        self.pool: tuple[str, ...] = (credential.key,)
        self.group = settings.group_size
        self._sync_token: str | None = None
        self._sync_usable = True  # False once message-sync answered 403/404 (not offered)
        self._polls = 0
        self._next_poll = 0.0
        self.sent = 0

    def ref(self, number: str) -> str:
        return number_digest(number, self.job.salt)

    def pause(self, seconds: float) -> None:
        """Wait (``sleep`` when injected, else until ``stop`` is set)."""
        if seconds > 0:
            if self._sleep is None:
                self.stop.wait(seconds)
            else:
                self._sleep(seconds)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        """Work until every recipient is final or ``stop`` is set."""
        while not self.stop.is_set():
            now = self.clock()
            self.reconcile(now)
            if now >= self._next_poll:
                self.poll(now)
                self._next_poll = self.clock() + self.settings.poll_interval
            rows = self.store.claim(
                self.cred.key, self.clock(), self.settings.lease, self.ref, group=self.group
            )
            if rows:
                self.submit(rows)
                continue
            if self.store.open_for(self.pool) == 0:
                return
            now = self.clock()
            wake = min(self._next_poll, now + 1.0)
            retry_at = self.store.next_retry_at()
            if retry_at is not None:
                wake = min(wake, retry_at)
            self.pause(max(0.02, wake - now))

    # -- sending ------------------------------------------------------------------------------

    def submit(self, claimed: list[RecipientState]) -> None:
        """Pace, POST, record. The rows are ``submitting`` (claimed by this worker); several
        rows are first sends of one POST to several numbers."""
        at = self.store.reserve_send(self.cred.key, self.clock(), self.settings.pace_margin)
        self.pause(at - self.clock())
        rows = [r for r in claimed if self.store.holds(r, self.clock(), self.settings.lease)]
        if len(rows) < len(claimed):
            log.warning(
                "%d claim(s) expired while pacing; left to their new owner",
                len(claimed) - len(rows),
            )
        if not rows:
            return
        client = self.cred.client
        try:
            if rows[0].message_id:  # a retry (always alone): resend the failed fax, no upload
                message = client.resend_fax(rows[0].message_id, to=[rows[0].number])
            else:
                message = client.send_fax(
                    [Recipient(r.number, r.name) for r in rows],
                    list(self.job.documents),
                    cover_page_text=self.job.cover_text,
                )
        except FaxMaybeSentError:
            log.warning(
                "%d recipient(s): the POST may have reached the server; reconciling", len(rows)
            )
            return  # stays submitting: reconcile() looks for it after the grace period
        except RateLimited as exc:
            self._back_all(rows, f"rate limited: {exc.error_code or 429}")
            self.pause(exc.retry_after or self.settings.pace_margin)
            return
        except TransportError as exc:
            if exc.sent:  # it may have arrived: look before sending again
                log.warning("transport error after sending; reconciling: %s", exc)
                return
            self._back_all(rows, "transport error before sending")
            log.warning("transport error (nothing sent): %s", exc)
            self.pause(TRANSIENT_PAUSE)
            return
        except ValidationError as exc:
            self._back_all(rows, "refused before sending")
            raise BroadcastAborted(f"the fax cannot be sent: {exc}") from exc
        except APIError as exc:
            if exc.status >= 500:  # an answer that says nothing was done, e.g. a lasting 503
                self._back_all(rows, f"HTTP {exc.status}")
                log.warning("server error, nothing sent; trying again: %s", exc)
                self.pause(TRANSIENT_PAUSE)
                return
            if _is_about_recipient(exc):
                if len(rows) > 1:  # which number? send one by one from now on to find out
                    self._back_all(rows, f"group refused: HTTP {exc.status}")
                    self.group = 1
                    return
                self.store.apply(
                    rows[0],
                    Event.REFUSED,
                    self.clock(),
                    self.ref(rows[0].number),
                    fax_error_code=exc.error_code or f"HTTP {exc.status}",
                    detail=f"HTTP {exc.status} {exc.error_code or ''}".strip(),
                )
                return
            self._back_all(rows, f"HTTP {exc.status} {exc.error_code or ''}".strip())
            raise BroadcastAborted(f"the server refused the fax: {exc}") from exc
        self._learn()
        self.sent += 1
        for row in rows:
            if not self.store.apply(
                row,
                Event.ACCEPTED,
                self.clock(),
                self.ref(row.number),
                message_id=message.id,
                count_attempt=True,
            ):
                log.error("message %s: a claim was taken over while sending", message.id)

    def _back_all(self, rows: list[RecipientState], why: str) -> None:
        for row in rows:
            self._back(row, why)

    def _back(self, row: RecipientState, why: str) -> None:
        self.store.apply(row, Event.NOT_SENT, self.clock(), self.ref(row.number), detail=why)

    def _learn(self) -> None:
        info = self.cred.client.rate_limits.get("heavy")
        if info is not None and info.limit is not None and info.window is not None:
            self.store.learn_rate(self.cred.key, info.limit, float(info.window))

    # -- crash recovery -----------------------------------------------------------------------

    def reconcile(self, now: float) -> None:
        """Settle every ``submitting`` claim of this credential whose owner is gone (or that
        this worker left after a "maybe sent"): found in the message store -> ``submitted``,
        absent -> ``pending`` (sent again later)."""
        grace, lease = self.settings.reconcile_grace, self.settings.lease
        for row in self.store.submitting():
            if row.credential != self.cred.key:
                continue
            alive_at = row.attempt_started_at or 0.0
            if row.lease_owner != self.store.actor:  # its heartbeat renewed the lease
                alive_at = max(alive_at, (row.lease_until or 0.0) - lease)
            if now - alive_at < grace:
                continue
            if row.lease_owner != self.store.actor:
                expired = row.lease_until is None or row.lease_until < now
                if not (expired or owner_is_dead(row.lease_owner)):
                    continue
                if not self.store.take_over(row, now, lease):
                    continue
            try:
                found = self.find_sent(row)
            except RingFaxError as exc:  # unknown is not "absent": keep the claim, look later
                log.warning("reconciliation lookup failed, trying again later: %s", exc)
                self.pause(TRANSIENT_PAUSE)
                return
            fresh = self.store.submitting()
            mine = next((r for r in fresh if r.number == row.number), None)
            if mine is None or mine.lease_owner != self.store.actor:
                continue
            if found is not None:
                self.store.apply(
                    mine,
                    Event.FOUND,
                    self.clock(),
                    self.ref(row.number),
                    message_id=found.id,
                    count_attempt=True,
                )
            else:
                self._back(mine, "reconciled: no fax in the message store")

    def find_sent(self, row: RecipientState) -> FaxMessage | None:
        """The outbound fax to ``row.number`` created since its attempt started, not one of
        its earlier attempts, or None."""
        since = (row.attempt_started_at or self.job.created_at) - self.settings.clock_skew
        date_from = datetime.fromtimestamp(since, timezone.utc)
        for message in self.cred.client.iter_faxes(
            direction="Outbound", date_from=date_from, per_page=1000
        ):
            if message.id in row.prior_ids:
                continue
            if any(r.phone_number == row.number for r in message.to):
                return message
        return None

    # -- status follow-up ---------------------------------------------------------------------

    def poll(self, now: float) -> None:
        """Read status changes; a failed read is logged and tried again at the next poll
        (with a full sync: the token may be what the server refused)."""
        try:
            self._poll()
        except RingFaxError as exc:
            log.warning("status follow-up failed, trying again later: %s", exc)
            self._sync_token = None

    def _poll(self) -> None:
        """Read status changes with message-sync (one request per poll, whatever the count);
        when message-sync is not offered or cut short, read the open faxes by id instead."""
        open_rows = self.store.open_submitted(self.cred.key)
        if not open_rows:
            return
        client = self.cred.client
        self._polls += 1
        records: Iterable[FaxMessage]
        if not self._sync_usable:
            records = self._read_open(open_rows)
        else:
            try:
                if self._sync_token is None or self._polls % self.settings.full_sync_every == 0:
                    since = datetime.fromtimestamp(
                        self.job.created_at - self.settings.clock_skew, timezone.utc
                    )
                    result = client.sync_faxes(direction="Outbound", date_from=since)
                else:
                    result = client.sync_faxes(self._sync_token, direction="Outbound")
            except (Forbidden, NotFound) as exc:
                log.warning("message-sync not offered (%s); reading the faxes by id", exc)
                self._sync_usable = False
                result = None
            if result is None:
                records = self._read_open(open_rows)
            else:
                self._sync_token = result.sync_token
                records = result.records
                if result.full and result.older_records_exist:  # the server cut it short
                    records = self._read_open(open_rows)
        for message in records:
            for row in open_rows.get(message.id, ()):
                self.settle(row, message)

    def _read_open(self, open_rows: Mapping[str, object]) -> list[FaxMessage]:
        """The open faxes read by id: bulk reads (``FaxClient.get_faxes``, up to 30 ids per
        Light request), never one GET per fax. An id the server reports missing stays open."""
        found = self.cred.client.get_faxes(open_rows)
        for ident, item in found.items():
            if not isinstance(item, FaxMessage):
                log.warning("status of message %s not readable: %s", ident, item)
        return [m for m in found.values() if isinstance(m, FaxMessage)]

    def settle(self, row: RecipientState, message: FaxMessage) -> None:
        """Apply a message's per-recipient status to its row."""
        mine = next((r for r in message.to if r.phone_number == row.number), None)
        status = mine.message_status if mine is not None else message.message_status
        ref, now = self.ref(row.number), self.clock()
        if status is MessageStatus.SENT:
            self.store.apply(row, Event.STATUS_SENT, now, ref)
        elif status is MessageStatus.DELIVERED:
            self.store.apply(row, Event.STATUS_DELIVERED, now, ref)
        elif status is not None and status.is_failure:
            code = (mine.fax_error_code if mine else None) or "Undefined"
            if mine is not None and mine.retryable and row.attempts < self.settings.max_attempts:
                delay = self.settings.retry_delay * 2 ** max(0, row.attempts - 1)
                self.store.apply(
                    row,
                    Event.STATUS_RETRYABLE,
                    now,
                    ref,
                    fax_error_code=code,
                    next_try_at=now + delay,
                )
            else:
                self.store.apply(row, Event.STATUS_FAILED, now, ref, fax_error_code=code)
        elif message.is_deleted:
            self.store.apply(row, Event.STATUS_FAILED, now, ref, fax_error_code="Deleted")


def _is_about_recipient(exc: APIError) -> bool:
    """A 4xx about this recipient alone: its number (``to``), or the fax a resend names
    (``originalMessageId`` gone, 404; not resendable, 406 MSG-343)."""
    if exc.status == 406 and exc.error_code == "MSG-343":
        return True
    if exc.status not in (400, 404):
        return False
    names = [(e.parameter_name or "").lower() for e in exc.errors]
    return any(n.startswith("to") or n == "originalmessageid" for n in names)


def run_workers(workers: Sequence[Worker], stop: threading.Event) -> list[BaseException]:
    """Run every worker in its own thread; the first failure stops the others."""
    errors: list[BaseException] = []

    def target(worker: Worker) -> None:
        try:
            worker.run()
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=target, args=(w,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    return errors
