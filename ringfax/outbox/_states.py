"""The per-recipient state machine of a broadcast, as one table.

Every write to a recipient's state goes through :func:`transition`, so a state change the
table does not list is a bug caught at once (:class:`BadTransition`), never a silent
corruption of the store.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = [
    "FINAL_STATES",
    "OPEN_STATES",
    "TRANSITIONS",
    "BadTransition",
    "Event",
    "State",
    "transition",
]


class State(str, enum.Enum):
    """Where one recipient stands."""

    PENDING = "pending"  # nothing sent yet (or a crashed attempt proved unsent)
    SUBMITTING = "submitting"  # a fax POST may be on its way: reconcile before resending
    SUBMITTED = "submitted"  # the server accepted it: message id known, status not final
    RETRY_WAIT = "retry_wait"  # failed with a retryable faxErrorCode, resend after next_try_at
    SENT = "sent"  # final: Sent
    DELIVERED = "delivered"  # final: Delivered
    FAILED = "failed"  # final: not retryable, or out of attempts, or refused by the server
    EXCLUDED = "excluded"  # final: on the do-not-fax list, never sent

    def __str__(self) -> str:
        return self.value


class Event(str, enum.Enum):
    """What happened to a recipient."""

    CLAIM = "claim"  # a worker takes it and is about to POST
    ACCEPTED = "accepted"  # the POST answered with a message id
    FOUND = "found"  # reconciliation found the fax of a crashed attempt
    NOT_SENT = "not_sent"  # the POST provably never reached the server / reconciled: absent
    REFUSED = "refused"  # the server refused the request for this recipient (4xx)
    STATUS_SENT = "status_sent"
    STATUS_DELIVERED = "status_delivered"
    STATUS_RETRYABLE = "status_retryable"  # failed, worth retrying, attempts left
    STATUS_FAILED = "status_failed"  # failed for good
    DO_NOT_FAX = "do_not_fax"

    def __str__(self) -> str:
        return self.value


S, E = State, Event

TRANSITIONS: Mapping[tuple[State, Event], State] = {
    (S.PENDING, E.CLAIM): S.SUBMITTING,
    (S.RETRY_WAIT, E.CLAIM): S.SUBMITTING,
    (S.SUBMITTING, E.ACCEPTED): S.SUBMITTED,
    (S.SUBMITTING, E.FOUND): S.SUBMITTED,
    (S.SUBMITTING, E.NOT_SENT): S.PENDING,
    (S.SUBMITTING, E.REFUSED): S.FAILED,
    (S.SUBMITTED, E.STATUS_SENT): S.SENT,
    (S.SUBMITTED, E.STATUS_DELIVERED): S.DELIVERED,
    (S.SENT, E.STATUS_DELIVERED): S.DELIVERED,
    (S.SUBMITTED, E.STATUS_RETRYABLE): S.RETRY_WAIT,
    (S.SUBMITTED, E.STATUS_FAILED): S.FAILED,
    (S.PENDING, E.DO_NOT_FAX): S.EXCLUDED,
    (S.RETRY_WAIT, E.DO_NOT_FAX): S.EXCLUDED,
}
"""(state, event) -> next state. Anything not listed is refused."""

FINAL_STATES = frozenset({S.SENT, S.DELIVERED, S.FAILED, S.EXCLUDED})
"""States a recipient never leaves (except Sent -> Delivered, which changes no outcome)."""

OPEN_STATES = frozenset(set(State) - FINAL_STATES)


class BadTransition(RuntimeError):
    """A state change the table does not allow (a bug, or a store edited by hand)."""


def transition(state: State | str, event: Event) -> State:
    """The state after ``event`` in ``state``, or :class:`BadTransition`."""
    current = State(state)
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise BadTransition(f"no transition from {current} on {event}") from None
