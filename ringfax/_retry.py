"""Retry decisions as pure functions (no sleeping, no clock: callers inject those).

The table (``attempt`` counts from 1; nothing is retried once ``max_attempts`` is reached or
the wait would push the total past ``max_total_wait``):

=====================================  ======================  ==========================
outcome                                idempotent (GET/DELETE/  fax POST (not idempotent)
                                       token)
=====================================  ======================  ==========================
429                                    wait Retry-After (the   same
                                       client passes the
                                       window when absent;
                                       else 60 s)
503                                    wait Retry-After, else  same
                                       backoff
500, 502, 504                          backoff                 never: FaxMaybeSentError
other 4xx                              never                   never
401 with an expired/invalid token      refresh once, re-send   same (the 401 proves it
                                                               was not processed)
connect error (``sent=False``)         backoff                 backoff
read timeout / dropped (``sent=True``) backoff                 never: FaxMaybeSentError
=====================================  ======================  ==========================

Backoff: ``min(backoff_max, backoff_base * backoff_factor ** (attempt - 1))`` scaled by a
random factor in ``[1 - jitter, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Decision",
    "RetryPolicy",
    "backoff_delay",
    "decide_after_status",
    "decide_after_transport_error",
    "fax_post_maybe_sent",
]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry.

    ``max_attempts``: total attempts including the first (1 disables retries).
    ``max_total_wait``: upper bound, in seconds, on the sum of all waits for one call —
    backoff, ``Retry-After`` and the rate-limit pacing wait before each attempt; a wait beyond
    it is not waited for (:class:`~ringfax.RateLimited` is raised with its ``retry_after``).
    Server-supplied waits are also cut to ``MAX_SERVER_WAIT`` (docs/ringfax-limits.md).
    ``rate_limit_default``: wait after a 429 without
    ``Retry-After`` nor ``X-Rate-Limit-Window`` (RingCentral penalises for 60 s; its docs say
    "at least 30 seconds", its JS SDK waits 60).
    """

    max_attempts: int = 4
    max_total_wait: float = 180.0
    backoff_base: float = 1.0
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    jitter: float = 0.5
    rate_limit_default: float = 60.0
    retry_statuses: frozenset[int] = field(default=frozenset({500, 502, 503, 504}))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")
        if self.max_total_wait < 0 or self.backoff_base < 0 or self.rate_limit_default < 0:
            raise ValueError("waits must be >= 0")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)


@dataclass(frozen=True)
class Decision:
    """Whether to retry, after how many seconds, and why (``reason``, for logs: ``cause`` and
    the verdict; ``cause``: what failed)."""

    retry: bool
    delay: float
    reason: str
    cause: str = ""


def backoff_delay(policy: RetryPolicy, attempt: int, rand: float) -> float:
    """Exponential backoff for the wait after attempt ``attempt`` (1-based); ``rand`` in [0,1)."""
    raw = min(policy.backoff_max, policy.backoff_base * policy.backoff_factor ** (attempt - 1))
    return raw * (1.0 - policy.jitter * rand)


def _bounded(policy: RetryPolicy, attempt: int, waited: float, delay: float, why: str) -> Decision:
    if attempt >= policy.max_attempts:
        return Decision(False, 0.0, f"{why}; giving up after {attempt} attempt(s)", why)
    if waited + delay > policy.max_total_wait:
        return Decision(
            False,
            0.0,
            f"{why}; waiting {delay:g} s more would exceed max_total_wait="
            f"{policy.max_total_wait:g} s",
            why,
        )
    return Decision(True, max(0.0, delay), f"{why}; retrying in {delay:.3g} s", why)


def fax_post_maybe_sent(status: int) -> bool:
    """True when a fax POST answered with ``status`` may still have queued the fax (5xx ≠ 503)."""
    return status >= 500 and status != 503


def decide_after_status(
    policy: RetryPolicy,
    *,
    status: int,
    attempt: int,
    waited: float,
    idempotent: bool,
    retry_after: float | None,
    rand: float,
) -> Decision:
    """Decide after an error status. ``waited``: seconds already slept for this call."""
    if status == 429:
        delay = policy.rate_limit_default if retry_after is None else retry_after
        return _bounded(policy, attempt, waited, delay, "HTTP 429 rate limited")
    if status == 503 and 503 in policy.retry_statuses:
        delay = backoff_delay(policy, attempt, rand) if retry_after is None else retry_after
        return _bounded(policy, attempt, waited, delay, "HTTP 503 unavailable")
    if status in policy.retry_statuses and idempotent:
        delay = backoff_delay(policy, attempt, rand)
        return _bounded(policy, attempt, waited, delay, f"HTTP {status}")
    return Decision(False, 0.0, f"HTTP {status} is not retried")


def decide_after_transport_error(
    policy: RetryPolicy,
    *,
    sent: bool,
    attempt: int,
    waited: float,
    idempotent: bool,
    rand: float,
) -> Decision:
    """Decide after a transport failure; ``sent``: may the request have reached the server?"""
    if sent and not idempotent:
        return Decision(False, 0.0, "the request may have been processed; not idempotent")
    why = "transport error (request may have been sent)" if sent else "connection failed"
    return _bounded(policy, attempt, waited, backoff_delay(policy, attempt, rand), why)
