"""Pure retry decisions (no clock, no sleep)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringfax import RetryPolicy
from ringfax._retry import (
    Decision,
    backoff_delay,
    decide_after_status,
    decide_after_transport_error,
    fax_post_maybe_sent,
)

P = RetryPolicy()


def status(
    code: int,
    *,
    attempt: int = 1,
    waited: float = 0.0,
    idem: bool = True,
    ra: float | None = None,
    policy: RetryPolicy = P,
) -> Decision:
    return decide_after_status(
        policy,
        status=code,
        attempt=attempt,
        waited=waited,
        idempotent=idem,
        retry_after=ra,
        rand=0.0,
    )


def test_429_honours_retry_after_else_60s_for_any_method() -> None:
    assert (status(429, ra=12).retry, status(429, ra=12).delay) == (True, 12)
    assert status(429, idem=False, ra=3).delay == 3
    assert status(429).delay == 60.0
    assert status(429, policy=RetryPolicy(rate_limit_default=60)).delay == 60


def test_503_retry_after_or_backoff_for_any_method() -> None:
    assert status(503, idem=False, ra=4).delay == 4
    assert status(503, attempt=2).delay == 2.0


@pytest.mark.parametrize("code", [500, 502, 504])
def test_other_5xx_only_for_idempotent(code: int) -> None:
    assert status(code).retry
    assert not status(code, idem=False).retry
    assert fax_post_maybe_sent(code)


def test_fax_post_maybe_sent_statuses() -> None:
    assert not fax_post_maybe_sent(503)
    assert not fax_post_maybe_sent(429)
    assert not fax_post_maybe_sent(400)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 406, 409, 413, 415])
def test_4xx_never_retried(code: int) -> None:
    decision = status(code)
    assert not decision.retry and "not retried" in decision.reason


def test_limits() -> None:
    assert not status(429, attempt=4).retry  # max_attempts=4 reached
    assert "giving up after 4" in status(429, attempt=4).reason
    late = status(429, waited=170, ra=20)
    assert not late.retry and "max_total_wait" in late.reason
    assert status(429, waited=160, ra=20).retry
    assert not status(500, policy=RetryPolicy.disabled()).retry


def test_transport_errors() -> None:
    def t(sent: bool, idem: bool, attempt: int = 1) -> Decision:
        return decide_after_transport_error(
            P, sent=sent, attempt=attempt, waited=0, idempotent=idem, rand=0.0
        )

    assert t(sent=False, idem=False).retry  # provably never left: safe even for a fax POST
    assert t(sent=True, idem=True).retry
    assert not t(sent=True, idem=False).retry
    assert [t(False, True, a).delay for a in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert not t(False, True, 4).retry


def test_backoff_caps_and_jitter() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_factor=2, backoff_max=30, jitter=0.5)
    assert backoff_delay(policy, 10, 0.0) == 30
    assert backoff_delay(policy, 10, 1.0) == 15
    assert backoff_delay(RetryPolicy(jitter=0), 3, 0.9) == 4


@given(st.integers(1, 50), st.floats(0, 1, exclude_max=True), st.floats(0, 1))
def test_backoff_within_bounds(attempt: int, rand: float, jitter: float) -> None:
    policy = RetryPolicy(jitter=jitter)
    delay = backoff_delay(policy, attempt, rand)
    full = min(policy.backoff_max, policy.backoff_base * policy.backoff_factor ** (attempt - 1))
    assert full * (1 - jitter) - 1e-9 <= delay <= full + 1e-9


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)
    with pytest.raises(ValueError, match="waits"):
        RetryPolicy(max_total_wait=-1)
