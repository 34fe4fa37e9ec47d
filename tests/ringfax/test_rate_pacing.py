"""Rate-limit pacing (issue 12): wait out an exhausted group instead of provoking a 429, wait
the window after a 429 without Retry-After, and tell on_wait about every long wait."""

from __future__ import annotations

from pathlib import Path

import pytest
from _scripted_server import FakeClock, fax_json, json_response

from ringfax import (
    Attachment,
    FaxClient,
    FunctionTransport,
    RateLimited,
    Request,
    Response,
    RetryPolicy,
)

SERVER = "https://platform.example.test"


def limits(group: str, remaining: int, window: int = 60, limit: int = 10) -> dict[str, str]:
    return {
        "X-Rate-Limit-Group": group,
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Window": str(window),
    }


class Server:
    """Answers from a list and records (time, method, url) for every request."""

    def __init__(self, clock: FakeClock, *answers: Response) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.log: list[tuple[float, str, str]] = []

    def __call__(self, request: Request) -> Response:
        request.read_body()
        self.log.append((self.clock.now, request.method, request.url))
        return self.answers.pop(0)


def make(server: Server, waits: list[tuple[float, str]], **kw: object) -> FaxClient:
    clock = server.clock
    return FaxClient(
        SERVER,
        access_token="t",
        transport=FunctionTransport(server),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.0,
        on_wait=lambda s, why: waits.append((s, why)),
        **kw,  # type: ignore[arg-type]
    )


def test_exhausted_group_waits_out_the_window_instead_of_a_429() -> None:
    clock = FakeClock()
    doc = Attachment(b"%PDF", filename="a.pdf")
    server = Server(
        clock,
        json_response(fax_json(1), headers=limits("heavy", 1)),
        json_response(fax_json(2), headers=limits("heavy", 0)),
        json_response(fax_json(3), headers=limits("heavy", 9)),
    )
    waits: list[tuple[float, str]] = []
    client = make(server, waits)
    client.send_fax("+16505550100", [doc])
    client.send_fax("+16505550100", [doc])
    start = clock.now
    client.send_fax("+16505550100", [doc])  # the group is exhausted: wait, then send
    assert clock.sleeps == [60.0]
    assert server.log[2][0] == start + 60.0
    assert waits == [(60.0, "rate limit (Heavy group): waiting 60 s")]


def test_other_groups_are_not_held_up() -> None:
    clock = FakeClock()
    server = Server(
        clock,
        json_response(fax_json(1), headers=limits("heavy", 0)),
        json_response(fax_json(1), headers=limits("light", 49, limit=50)),
    )
    waits: list[tuple[float, str]] = []
    client = make(server, waits)
    client.send_fax("+16505550100", [Attachment(b"%PDF", filename="a.pdf")])
    client.get_fax(1)  # Light group: no wait
    assert clock.sleeps == [] and waits == []


def test_pacing_uses_the_reported_window_and_time_already_passed() -> None:
    clock = FakeClock()
    server = Server(
        clock,
        json_response(fax_json(1), headers=limits("light", 0, window=30)),
        json_response(fax_json(1), headers=limits("light", 49)),
    )
    waits: list[tuple[float, str]] = []
    client = make(server, waits)
    client.get_fax(1)
    clock.now += 20  # 20 of the 30 s already passed
    client.get_fax(1)
    assert clock.sleeps == [10.0]
    assert waits == [(10.0, "rate limit (Light group): waiting 10 s")]


def test_429_without_retry_after_waits_the_window_not_30s() -> None:
    clock = FakeClock()
    body = {"errorCode": "CMN-301", "message": "Request rate exceeded"}
    server = Server(
        clock,
        json_response(body, 429, limits("medium", 0, window=45)),
        json_response(fax_json(1), headers=limits("medium", 39)),
    )
    waits: list[tuple[float, str]] = []
    client = make(server, waits)
    client.mark_read(1)
    assert clock.sleeps == [45.0]
    assert waits == [(45.0, "rate limit (Medium group): waiting 45 s")]


def test_429_without_any_hint_waits_60s() -> None:
    clock = FakeClock()
    server = Server(clock, json_response({"message": "slow down"}, 429), json_response(fax_json(1)))
    waits: list[tuple[float, str]] = []
    make(server, waits).get_fax(1)
    assert clock.sleeps == [60.0]
    assert waits[0][0] == 60.0 and "rate limit" in waits[0][1]


def test_429_beyond_the_budget_still_paces_the_next_call() -> None:
    clock = FakeClock()
    headers = {"Retry-After": "600", **limits("heavy", 0)}
    server = Server(
        clock, json_response({"message": "x"}, 429, headers), json_response(fax_json(1))
    )
    waits: list[tuple[float, str]] = []
    client = make(server, waits, retry=RetryPolicy(max_total_wait=100))
    try:
        client.send_fax("+16505550100", [Attachment(b"%PDF", filename="a.pdf")])
    except RateLimited as exc:
        assert exc.retry_after == 600
    else:  # pragma: no cover
        raise AssertionError("expected RateLimited")
    assert clock.sleeps == []
    # the penalty is never reset by a new request: beyond the budget nothing is sent ...
    with pytest.raises(RateLimited, match="no request was sent") as paced:
        client.send_fax("+16505550100", [Attachment(b"%PDF", filename="a.pdf")])
    assert paced.value.retry_after == 600 and len(server.log) == 1 and clock.sleeps == []
    # ... and within it the rest of the penalty is waited out first
    clock.now += 100
    client.retry = RetryPolicy(max_total_wait=600)
    client.send_fax("+16505550100", [Attachment(b"%PDF", filename="a.pdf")])
    assert clock.sleeps == [500.0]
    assert waits == [(500.0, "rate limit (Heavy group): waiting 500 s")]


def test_retry_backoff_over_a_second_is_reported_short_ones_are_not() -> None:
    clock = FakeClock()
    server = Server(
        clock,
        json_response({"message": "x"}, 503),
        json_response({"message": "x"}, 503),
        json_response(fax_json(1)),
    )
    waits: list[tuple[float, str]] = []
    client = make(server, waits, retry=RetryPolicy(backoff_base=1.0, jitter=0.0))
    client.get_fax(1)
    assert clock.sleeps == [1.0, 2.0]
    assert len(waits) == 1 and waits[0][0] == 2.0 and "503" in waits[0][1]


def test_group_name_learned_from_the_server(tmp_path: Path) -> None:
    clock = FakeClock()
    server = Server(
        clock,
        json_response(fax_json(1), headers=limits("CustomPlan", 0, window=5)),
        json_response(fax_json(1)),
    )
    waits: list[tuple[float, str]] = []
    client = make(server, waits)
    client.get_fax(1)
    client.get_fax(1)
    assert clock.sleeps == [5.0]
    assert waits == [(5.0, "rate limit (Customplan group): waiting 5 s")]
