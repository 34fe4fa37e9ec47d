"""Rate-limit pacing: wait out an exhausted RingCentral usage-plan group instead of provoking
a 429 (and the penalty that every request during it resets).

RingCentral counts requests per (user, app) and *group* (Light, Medium, Heavy, Auth) in a
sliding window and reports ``X-Rate-Limit-Group/-Limit/-Remaining/-Window`` on every answer.
:class:`RateLimitPacer` remembers the last report per group; when ``remaining`` reached 0 the
next request of that group waits until ``window`` seconds after that report. A 429 blocks its
group for the wait the client decided (``Retry-After``, else the window, else 60 s).

Every call names its documented group (:data:`GROUPS`: token and revoke calls are Auth, a
fax POST Heavy, downloads and message-store changes Medium, reads Light); a group name the
server reports for the answers of that class replaces the documented one from then on.

No wait derived from a server is longer than ``MAX_SERVER_WAIT``, and the state of exhausted
or blocked groups can be shared with later processes through a :class:`PacingStore` (the
token cache's); docs/ringfax-limits.md has the rules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._errors import MAX_SERVER_WAIT, RateLimited, bounded_wait
from ._models import RateLimitInfo

__all__ = ["GROUPS", "PacingStore", "RateLimitPacer", "describe_wait"]


class PacingStore(Protocol):
    """Where a pacer keeps its state between processes (see ``FileTokenCache.pacing``)."""

    def load(self) -> Mapping[str, Any]:
        """The persisted groups: ``{group: {"remaining", "window", "observed_at",
        "blocked_until"}}`` (anything malformed is ignored by the pacer)."""
        ...

    def save(self, groups: Mapping[str, Mapping[str, float | None]]) -> None:
        """Merge these groups into the persisted state (failures are logged, not raised)."""
        ...


GROUPS = ("light", "medium", "heavy", "auth")
"""RingCentral's documented usage-plan groups; each call names its group
(:class:`ringfax._pipeline.Call`), and a name the server reports for it replaces it."""


@dataclass
class _GroupState:
    remaining: int | None = None
    window: float | None = None
    observed_at: float = 0.0
    blocked_until: float = 0.0

    def until(self) -> float:
        """When the next request of this group may go (epoch seconds)."""
        until = self.blocked_until
        if self.remaining is not None and self.remaining <= 0 and self.window:
            until = max(until, self.observed_at + self.window)
        return until

    def to_json(self) -> dict[str, float | None]:
        return {
            "remaining": self.remaining,
            "window": self.window,
            "observed_at": self.observed_at,
            "blocked_until": self.blocked_until,
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def _state_from_json(data: Any, now: float) -> _GroupState | None:
    """A persisted group state, clamped so that it never asks for more than
    :data:`MAX_SERVER_WAIT` from ``now``; None when malformed."""
    if not isinstance(data, Mapping):
        return None
    remaining = data.get("remaining")
    if remaining is not None and (isinstance(remaining, bool) or not isinstance(remaining, int)):
        return None
    observed = _number(data.get("observed_at"))
    blocked = _number(data.get("blocked_until"))
    if observed is None or blocked is None:
        return None
    window = bounded_wait(_number(data.get("window")))
    return _GroupState(
        remaining=remaining if remaining is None or remaining >= 0 else None,
        window=window or None,
        observed_at=min(observed, now),
        blocked_until=min(blocked, now + MAX_SERVER_WAIT),
    )


class RateLimitPacer:
    """Per-group rate-limit state; thread-safe. ``clock`` returns epoch seconds.

    Every wait it asks for is at most :data:`~ringfax._errors.MAX_SERVER_WAIT`. With a
    :class:`PacingStore` (:meth:`attach`) the state of exhausted or blocked groups is shared
    with later processes, so a new process paces as the previous one would have.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, _GroupState] = {}
        self._names: dict[str, str] = {}  # documented class -> group name the server reports
        self._store: PacingStore | None = None
        self._shared: set[str] = set()  # groups whose exhaustion the store holds
        self.attached = False

    def attach_for(self, auth: object) -> None:
        """:meth:`attach` the pacing store of ``auth`` (``auth.pacing_store()``, e.g. a
        :class:`~ringfax.JWTAuth` with a file token cache), or none; only the first call counts."""
        if self.attached:
            return
        factory = getattr(auth, "pacing_store", None)
        store: PacingStore | None = None
        if callable(factory):
            try:
                store = factory()
            except Exception:  # a broken store must never break a call
                store = None
        self.attach(store)

    def attach(self, store: PacingStore | None) -> None:
        """Load the persisted state of ``store`` (once) and save to it from then on."""
        with self._lock:
            if self.attached:
                return
            self.attached = True
            self._store = store
        if store is None:
            return
        try:
            persisted = store.load()
        except Exception:  # a broken store must never break a call
            return
        now = self._clock()
        with self._lock:
            for name, data in persisted.items():
                state = _state_from_json(data, now) if isinstance(name, str) else None
                if state is None or state.until() <= now:
                    continue
                group = name.lower()
                mine = self._groups.get(group)
                if mine is None or mine.observed_at < state.observed_at:
                    self._groups[group] = state
                    self._shared.add(group)

    def group_of(self, documented: str) -> str:
        """The group (lower case) a call of the ``documented`` group counts against, as far
        as the server's answers tell."""
        with self._lock:
            return self._names.get(documented, documented)

    def observe(self, documented: str, info: RateLimitInfo | None) -> None:
        """Remember the ``X-Rate-Limit-*`` report of an answer to a call of the ``documented``
        group.

        A window that is not a positive number is ignored and a longer one is cut to
        :data:`MAX_SERVER_WAIT`; a negative ``remaining`` counts as absent."""
        if info is None:
            return
        now = self._clock()
        with self._lock:
            group = (info.group or "").strip().lower() or self._names.get(documented, documented)
            self._names[documented] = group
            state = self._groups.setdefault(group, _GroupState())
            remaining = info.remaining
            state.remaining = remaining if remaining is None or remaining >= 0 else None
            window = bounded_wait(info.window)
            if window:
                state.window = window
            state.observed_at = now
            changed = self._share(group, state, now)
        self._save(changed)

    def block(self, group: str, seconds: float) -> None:
        """After a 429: no request of ``group`` before ``seconds`` (at most
        :data:`MAX_SERVER_WAIT`) from now."""
        now = self._clock()
        wait = bounded_wait(seconds) or 0.0
        with self._lock:
            key = group.lower()
            state = self._groups.setdefault(key, _GroupState())
            state.blocked_until = max(state.blocked_until, now + wait)
            changed = self._share(key, state, now)
        self._save(changed)

    def window_of(self, group: str) -> float | None:
        """The last window (seconds) the server reported for ``group``."""
        with self._lock:
            state = self._groups.get(group.lower())
            return state.window if state is not None else None

    def delay(self, group: str) -> float:
        """Seconds to wait before the next request of ``group`` (0 when it may go now)."""
        now = self._clock()
        with self._lock:
            state = self._groups.get(group.lower())
            if state is None:
                return 0.0
            return min(MAX_SERVER_WAIT, max(0.0, state.until() - now))

    def over_budget(self, group: str, delay: float, budget: float) -> RateLimited:
        """The error for a pacing wait of ``delay`` s that a call's remaining wait budget
        (``RetryPolicy.max_total_wait`` minus what it waited already) cannot cover."""
        name = group[:1].upper() + group[1:] if group else "unknown"
        return RateLimited(
            429,
            f"rate limit ({name} group) exhausted: the next request may go in {delay:.0f} s, "
            f"more than the {max(0.0, budget):.0f} s left of RetryPolicy.max_total_wait; no "
            f"request was sent",
            retry_after=delay,
        )

    def _share(
        self, group: str, state: _GroupState, now: float
    ) -> dict[str, dict[str, float | None]] | None:
        """The update to persist for ``group`` (lock held): its state when it must wait, or
        when the store still holds an exhaustion that this report ended; else None."""
        if self._store is None:
            return None
        if state.until() > now:
            self._shared.add(group)
        elif group in self._shared:
            self._shared.discard(group)
        else:
            return None
        return {group: state.to_json()}

    def _save(self, update: dict[str, dict[str, float | None]] | None) -> None:
        store = self._store
        if update is None or store is None:
            return
        try:
            store.save(update)
        except Exception:  # a broken store must never break a call
            return


def describe_wait(group: str, seconds: float) -> str:
    """The human reason handed to ``on_wait``: ``rate limit (Heavy group): waiting 42 s``."""
    name = group[:1].upper() + group[1:] if group else "unknown"
    return f"rate limit ({name} group): waiting {seconds:.0f} s"
