"""Rate-limit pacing: wait out an exhausted group instead of provoking a 429, wait
the window after a 429 without Retry-After, and tell on_wait about every long wait."""

from __future__ import annotations

import hashlib
import io
import json
import stat
from pathlib import Path

import pytest
from _scripted_server import FakeClock, fax_json, json_response

from ringfax import (
    Attachment,
    FaxClient,
    FileTokenCache,
    FunctionTransport,
    RateLimited,
    Request,
    Response,
    RetryPolicy,
)
from ringfax._progress import UploadProgress

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
    if "jwt" not in kw:
        kw["access_token"] = "t"
    return FaxClient(
        SERVER,
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


# ------------------------------------------------------- pacing shared between processes


def test_a_new_client_paces_by_the_state_an_earlier_one_left_in_the_cache(tmp_path: Path) -> None:
    """``ringfax send`` in a shell loop: each send is a new process (here: a new client on
    the same cache file). The eleventh waits out the window instead of provoking a 429."""
    clock = FakeClock()
    cache = tmp_path / "cache" / "tokens.json"
    sent: list[float] = []

    def server(request: Request) -> Response:
        request.read_body()
        if request.url.endswith("/oauth/token"):
            return json_response({"access_token": "at", "expires_in": 3600})
        sent.append(clock.now)
        recent = [t for t in sent if t > clock.now - 60]
        if len(recent) > 10:
            return json_response({"errorCode": "CMN-301"}, 429, limits("Heavy", 0))
        return json_response(fax_json(len(sent)), headers=limits("Heavy", 10 - len(recent)))

    def one_send() -> list[float]:
        waits: list[tuple[float, str]] = []
        client = FaxClient(
            SERVER,
            client_id="app",
            client_secret="secret",
            jwt="user-jwt",
            transport=FunctionTransport(server),
            clock=clock,
            sleep=clock.sleep,
            rand=lambda: 0.0,
            token_cache=FileTokenCache(cache, clock=clock),
            on_wait=lambda s, why: waits.append((s, why)),
            retry=RetryPolicy.disabled(),
        )
        client.send_fax("+16505550100", [Attachment(b"%PDF", filename="a.pdf")])
        clock.now += 1.0  # the shell starts the next process
        return [s for s, _ in waits]

    assert [one_send() for _ in range(10)] == [[]] * 10
    assert one_send() == [59.0]  # 60 s after the tenth send, not a 429 and its penalty
    assert one_send() == []
    state = json.loads(cache.with_name("tokens.pacing.json").read_text())
    assert list(state["pacing"]) == [f"{SERVER} app jwt:" + hashlib.sha256(b"user-jwt").hexdigest()]
    assert stat.S_IMODE(cache.with_name("tokens.pacing.json").stat().st_mode) == 0o600


def test_a_429_block_is_shared_and_a_hostile_state_file_is_bounded(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = tmp_path / "tokens.json"
    waits: list[tuple[float, str]] = []
    first = Server(clock, json_response({"errorCode": "CMN-301"}, 429, {"Retry-After": "90"}))
    jwt = {"client_id": "app", "client_secret": "secret", "jwt": "user-jwt"}
    store = {"token_cache": FileTokenCache(cache, clock=clock), **jwt}
    token = json_response({"access_token": "at", "expires_in": 3600})
    first.answers.insert(0, token)
    with pytest.raises(RateLimited):
        make(server=first, waits=waits, retry=RetryPolicy(max_total_wait=10), **store).get_fax(1)
    second = Server(clock, json_response(fax_json(1)))
    store = {"token_cache": FileTokenCache(cache, clock=clock), **jwt}
    make(server=second, waits=waits, **store).get_fax(1)
    assert clock.sleeps == [90.0]
    # a state file claiming a block for ten thousand years is cut to MAX_SERVER_WAIT
    pacing = cache.with_name("tokens.pacing.json")
    data = json.loads(pacing.read_text() if pacing.exists() else '{"version": 1, "pacing": {}}')
    key = f"{SERVER} app jwt:" + hashlib.sha256(b"user-jwt").hexdigest()
    data["pacing"][key] = {
        "light": {"remaining": 0, "window": 1e300, "observed_at": clock.now, "blocked_until": 1e18}
    }
    pacing.write_text(json.dumps(data))
    third = Server(clock, json_response(fax_json(1)))
    store = {"token_cache": FileTokenCache(cache, clock=clock), **jwt}
    with pytest.raises(RateLimited, match="3600 s"):
        make(server=third, waits=waits, **store).get_fax(1)
    assert clock.sleeps == [90.0] and third.log == []


@pytest.mark.network
def test_separate_sends_against_the_emulator_never_hit_its_penalty(tmp_path: Path) -> None:
    """Twelve sends, each from a new client (a new ``ringfax send`` process) sharing one cache
    directory, against the emulator's Heavy limit (10 per 60 s, then a 60 s penalty that
    every early request restarts): the eleventh waits for the window, none is refused."""
    from ringfax import Urllib3Transport
    from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

    clock = ManualClock()
    statuses: list[int] = []
    config = EmulatorConfig(send_delay=1.0)
    with Emulator(tmp_path / "emu", config=config, clock=clock) as emu:
        inner = Urllib3Transport()

        def transport(request: Request) -> Response:
            response = inner.send(request)
            statuses.append(response.status)
            return response

        waited: list[float] = []
        for _ in range(12):
            with FaxClient(
                emu.url,
                client_id=emu.client_id,
                client_secret=emu.client_secret,
                jwt=emu.jwt,
                transport=FunctionTransport(transport),
                clock=clock.now,
                sleep=clock.sleep,
                token_cache=FileTokenCache(tmp_path / "cache" / "tokens.json", clock=clock.now),
                on_wait=lambda s, _why: waited.append(s),
                retry=RetryPolicy.disabled(),
            ) as client:
                client.send_fax("+16505550100", [Attachment(b"%PDF-1.4\n", filename="a.pdf")])
            clock.advance(0.5)
        inner.close()
    assert 429 not in statuses
    assert statuses.count(200) == 13  # one login, twelve faxes
    assert waited == [59.5]  # the window from the tenth send's report, less the 0.5 s since


# ----------------------------------------------------- waits are not upload time (progress)


def test_a_wait_before_the_upload_does_not_count_as_upload_time() -> None:
    clock = FakeClock(0.0)
    out = io.StringIO()
    bar = UploadProgress(out, tty=False, interval=5.0, clock=clock)
    clock.now += 163.0  # the rate-limit wait before the POST
    bar(0, 10_000)  # the transport starts reading the body
    for second in range(1, 7):
        clock.now += 1.0
        bar(second * 1000, 10_000)
    assert out.getvalue().splitlines() == ["Uploading 5.0 kB of 10.0 kB (50%), 1.0 kB/s, 5 s left"]
    assert bar.describe() == "Uploading 6.0 kB of 10.0 kB (60%), 1.0 kB/s, 4 s left"


def test_a_wait_between_attempts_restarts_the_clock() -> None:
    clock = FakeClock(0.0)
    bar = UploadProgress(io.StringIO(), tty=True, clock=clock)
    for second in range(1, 4):
        clock.now += 1.0
        bar(second * 1000, 10_000)
    bar.waiting()  # on_wait: a 429 answered the first attempt
    assert bar.out.getvalue().endswith("\n")  # the notice gets a line of its own
    clock.now += 60.0
    bar(500, 10_000)  # the rebuilt body of the next attempt
    clock.now += 1.0
    bar(2500, 10_000)
    assert bar.describe() == "Uploading 2.5 kB of 10.0 kB (25%), 2.0 kB/s, 4 s left"
    clock.now += 4.0
    bar(10_000, 10_000)
    bar.done(True)
