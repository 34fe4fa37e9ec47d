"""Per-credential send budget: a copy of the server's sliding window, kept in the store.

RingCentral counts fax POSTs per (user, app) in the Heavy group: ``limit`` per ``window``
seconds, sliding, and a request over the limit starts a penalty that every later request
restarts (docs/ringcentral.md §6.3). The outbox reserves a send time for every POST from a
record of the last ``limit`` reserved times of that credential, held in the store and changed
in one transaction, so any number of workers sharing a credential never exceed it together.
The limit and window are learned from the ``X-Rate-Limit-*`` headers of the answers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMIT", "DEFAULT_WINDOW", "Budget", "learn", "plan_send"]

DEFAULT_LIMIT = 10
DEFAULT_WINDOW = 60.0
"""RingCentral's Heavy group (docs/ringcentral.md §6.3), used until a server answer says
otherwise."""


@dataclass(frozen=True)
class Budget:
    """A credential's window as stored: reserved send times (ascending), limit, window."""

    slots: tuple[float, ...] = ()
    limit: int = DEFAULT_LIMIT
    window: float = DEFAULT_WINDOW


def plan_send(budget: Budget, now: float, margin: float) -> tuple[float, Budget]:
    """The earliest time a POST may start, and the budget with that time reserved.

    A send is allowed when fewer than ``limit`` reserved sends lie within ``window +
    margin`` before it; ``margin`` covers the delay between reserving a time and the server
    counting the request, and clock differences between workers.
    """
    limit = max(1, budget.limit)
    span = budget.window + margin
    slots = sorted(budget.slots)
    at = now
    if len(slots) >= limit:
        at = max(now, slots[-limit] + span)
    kept = tuple(s for s in slots if s > at - span)[-(limit - 1) :] if limit > 1 else ()
    return at, Budget((*kept, at), limit, budget.window)


def learn(budget: Budget, limit: int | None, window: float | None) -> Budget:
    """The budget with the limit and window a server answer reported (None: unchanged)."""
    if limit is None or window is None or limit < 1 or window <= 0:
        return budget
    return Budget(budget.slots, limit, float(window))
