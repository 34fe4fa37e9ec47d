"""A hostile or broken server cannot make the client sleep for centuries or crash it: every
server-supplied wait is cut to MAX_SERVER_WAIT and to the call's RetryPolicy.max_total_wait,
and unusable values count as absent. Function transport and fake clock: no real sleeps."""

from __future__ import annotations

import math

import pytest
from _scripted_server import FakeClock, Recorder, fax_json, json_response, scripted_client

from ringfax import RateLimited, RetryPolicy
from ringfax._errors import MAX_SERVER_WAIT, bounded_wait, parse_retry_after

LIMITED = {"errorCode": "CMN-301", "message": "Request rate exceeded"}
NOW = 1_780_000_000.0


def limits(remaining: str, window: str, group: str = "Light") -> dict[str, str]:
    return {
        "X-Rate-Limit-Group": group,
        "X-Rate-Limit-Limit": "50",
        "X-Rate-Limit-Remaining": remaining,
        "X-Rate-Limit-Window": window,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("99999999999", MAX_SERVER_WAIT),
        ("9" * 400, None),  # more digits than any real wait: unparsable
        ("9" * 30, MAX_SERVER_WAIT),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_SERVER_WAIT),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("120", 120.0),
        ("1.5", 1.5),
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("1e9", None),
        ("", None),
        ("x" * 5000, None),
    ],
)
def test_retry_after_is_bounded_or_absent(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_bounded_wait_drops_what_is_not_a_finite_non_negative_number() -> None:
    assert bounded_wait(10**400) == MAX_SERVER_WAIT
    assert bounded_wait(math.inf) is None and bounded_wait(math.nan) is None
    assert bounded_wait(-1) is None and bounded_wait(True) is None
    assert bounded_wait(30) == 30.0


@pytest.mark.parametrize("retry_after", ["99999999999", "Fri, 31 Dec 9999 23:59:59 GMT", "9" * 30])
def test_a_huge_retry_after_never_sleeps_past_the_budget(retry_after: str) -> None:
    clock = FakeClock(NOW)
    rec = Recorder(
        json_response(LIMITED, 429, {"Retry-After": retry_after}),
        json_response(fax_json(), headers=limits("49", "60")),
    )
    client = scripted_client(rec, clock)
    with pytest.raises(RateLimited) as caught:
        client.get_fax(1)
    assert caught.value.retry_after == MAX_SERVER_WAIT
    # the next call would have to wait an hour: more than max_total_wait (180 s) allows
    with pytest.raises(RateLimited, match="no request was sent") as paced:
        client.get_fax(1)
    assert paced.value.retry_after == MAX_SERVER_WAIT
    assert clock.sleeps == [] and len(rec.requests) == 1


def test_a_huge_retry_after_is_waited_only_up_to_the_cap() -> None:
    clock = FakeClock(NOW)
    rec = Recorder(
        json_response(LIMITED, 429, {"Retry-After": "99999999999"}),
        json_response(fax_json(), headers=limits("49", "60")),
    )
    client = scripted_client(rec, clock, retry=RetryPolicy(max_total_wait=2 * MAX_SERVER_WAIT))
    assert client.get_fax(1).id == str(fax_json()["id"])
    assert clock.sleeps == [MAX_SERVER_WAIT]


def test_a_400_digit_retry_after_falls_back_to_the_window() -> None:
    clock = FakeClock(NOW)
    rec = Recorder(
        json_response(LIMITED, 429, {"Retry-After": "9" * 400, **limits("0", "45")}),
        json_response(fax_json(), headers=limits("49", "60")),
    )
    client = scripted_client(rec, clock)
    client.get_fax(1)
    assert clock.sleeps == [45.0]


@pytest.mark.parametrize("window", ["9" * 400, "99999999999"])
def test_a_huge_window_on_a_200_is_cut_to_the_cap(window: str) -> None:
    clock = FakeClock(NOW)
    rec = Recorder(
        json_response(fax_json(), headers=limits("0", window)),
        json_response(fax_json(), headers=limits("49", "60")),
        json_response(fax_json(), headers=limits("49", "60")),
    )
    client = scripted_client(rec, clock)
    assert client.get_fax(1).id == str(fax_json()["id"])  # no OverflowError from the headers
    with pytest.raises(RateLimited, match="more than the 180 s left"):
        client.get_fax(1)
    assert clock.sleeps == []
    client.retry = RetryPolicy(max_total_wait=2 * MAX_SERVER_WAIT)
    client.get_fax(1)
    assert clock.sleeps == [MAX_SERVER_WAIT]


@pytest.mark.parametrize("window", ["-60", "nan", "inf", "1e400", "0", ""])
def test_an_unusable_window_counts_as_absent(window: str) -> None:
    clock = FakeClock(NOW)
    rec = Recorder(
        json_response(fax_json(), headers=limits("0", window)),
        json_response(LIMITED, 429, limits("0", window)),
        json_response(fax_json(), headers=limits("49", "60")),
    )
    client = scripted_client(rec, clock)
    client.get_fax(1)  # exhausted, but no usable window: nothing to pace by
    client.get_fax(1)  # the 429 then waits the policy default
    assert clock.sleeps == [60.0]


def test_a_negative_remaining_counts_as_absent() -> None:
    clock = FakeClock(NOW)
    rec = Recorder(
        json_response(fax_json(), headers=limits("-3", "60")),
        json_response(fax_json(), headers=limits("49", "60")),
    )
    client = scripted_client(rec, clock)
    client.get_fax(1)
    client.get_fax(1)
    assert clock.sleeps == []


def test_max_total_wait_covers_the_pacing_wait_of_a_call() -> None:
    clock = FakeClock(NOW)
    rec = Recorder(
        json_response(fax_json(), headers=limits("0", "100")),
        json_response(LIMITED, 429, {"Retry-After": "100"}),
        json_response(fax_json(), headers=limits("49", "60")),
    )
    client = scripted_client(rec, clock)
    client.get_fax(1)
    with pytest.raises(RateLimited):  # 100 s paced + 100 s more would exceed 180 s
        client.get_fax(1)
    assert clock.sleeps == [100.0]
