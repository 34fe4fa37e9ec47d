"""Tokens (expiry, refresh, revoke) and rate limits (429, Retry-After, penalty)."""

from __future__ import annotations

from pathlib import Path

import pytest
from emulator_helpers import STORE_PATH, Raw

from ringfax._client import FaxClient
from ringfax._errors import APIError
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock, RateLimit

pytestmark = pytest.mark.network


def test_client_refreshes_expired_token(
    emulator: Emulator, clock: ManualClock, docs: dict[str, Path], raw: Raw
) -> None:
    frozen = clock.now()
    # A client whose own clock never moves cannot refresh proactively: it gets 401
    # TokenExpired from the emulator, refreshes, and retries.
    with FaxClient(
        emulator.url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        jwt=emulator.jwt,
        clock=lambda: frozen,
        sleep=lambda s: None,
    ) as client:
        msg = client.send_fax(["+16505550123"], [str(docs["txt"])])
        old = client.auth.access_token()
        clock.advance(3700)
        assert client.get_fax(msg.id).id == msg.id
        new = client.auth.access_token()
        assert new != old
        dead = raw.request("GET", STORE_PATH, headers={"Authorization": f"Bearer {old}"})
        assert dead.status == 401
        client.revoke()
        revoked = raw.request("GET", STORE_PATH, headers={"Authorization": f"Bearer {new}"})
        assert revoked.status == 401
        assert revoked.json()["errors"][0]["errorCode"] == "OAU-149"


def test_refresh_token_single_use_with_grace(raw: Raw, clock: ManualClock) -> None:
    first = raw.login()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = raw.token_reply(form).json()
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3600 and second["token_type"] == "bearer"
    clock.advance(5)
    again = raw.token_reply(form).json()  # within the grace window: the same new pair
    assert again["access_token"] == second["access_token"]
    clock.advance(6)
    late = raw.token_reply(form)
    assert late.status == 400 and late.json()["error"] == "invalid_grant"
    old = raw.request(
        "GET", STORE_PATH, headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert old.status == 401
    fresh = raw.request(
        "GET", STORE_PATH, headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert fresh.status == 200


def _limited(tmp_path: Path, clock: ManualClock, **limits: RateLimit) -> Emulator:
    config = EmulatorConfig(
        rate_limits={
            "Light": RateLimit(50),
            "Medium": RateLimit(40),
            "Heavy": RateLimit(10),
            "Auth": RateLimit(5),
            **limits,
        },
        send_delay=1,
    )
    return Emulator(tmp_path, config=config, clock=clock)


def test_client_recovers_from_429(tmp_path: Path, docs: dict[str, Path]) -> None:
    clock = ManualClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    with _limited(tmp_path, clock, Heavy=RateLimit(2, window=60, penalty=30)) as emu:
        with FaxClient(
            emu.url,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            jwt=emu.jwt,
            clock=clock.now,
            sleep=sleep,
        ) as client:
            for i in range(3):
                client.send_fax([f"+1650555012{i}"], [str(docs["txt"])])
            # waited: Retry-After (30 s) after a 429, or the window (60 s) when the client
            # paces itself on X-Rate-Limit-Remaining: 0 and never provokes the 429
            assert any(s >= 30 for s in slept)
            assert emu.count_faxes() == 3  # the refused POST was not stored
            heavy = client.rate_limits.get("heavy")
            assert heavy is not None and heavy.limit == 2


def test_penalty_resets_on_each_request(tmp_path: Path) -> None:
    clock = ManualClock()
    with _limited(tmp_path, clock, Light=RateLimit(2, window=60, penalty=60)) as emu:
        raw = Raw(emu)
        raw.token()
        first = raw.request("GET", STORE_PATH)
        assert first.status == 200
        assert first.headers["x-rate-limit-remaining"] == "1"
        assert raw.request("GET", STORE_PATH).status == 200
        refused = raw.request("GET", STORE_PATH)
        assert refused.status == 429
        assert refused.headers["retry-after"] == "60"
        assert refused.headers["x-rate-limit-remaining"] == "0"
        body = refused.json()
        assert body["errorCode"] == "CMN-301" and body["message"] == "Request rate exceeded"
        clock.advance(59)
        assert raw.request("GET", STORE_PATH).status == 429  # restarts the penalty
        clock.advance(59)
        assert raw.request("GET", STORE_PATH).status == 429
        clock.advance(61)
        assert raw.request("GET", STORE_PATH).status == 200
        # other groups are counted separately
        pages = raw.request("GET", STORE_PATH + "/1/content/2")
        assert pages.headers["x-rate-limit-group"] == "medium"


def test_auth_group_limit(tmp_path: Path) -> None:
    clock = ManualClock()
    with _limited(tmp_path, clock, Auth=RateLimit(2, window=60, penalty=60)) as emu:
        raw = Raw(emu)
        raw.login()
        raw.login()
        with pytest.raises(AssertionError):
            raw.login()
        clock.advance(61)
        raw.login()


def test_disabled_rate_limits_still_send_headers(raw: Raw) -> None:
    for _ in range(60):
        reply = raw.request("GET", STORE_PATH)
        assert reply.status == 200
    assert reply.headers["x-rate-limit-group"] == "light"


def test_error_mapping_in_client(client: FaxClient) -> None:
    with pytest.raises(APIError) as info:
        client.get_fax("424242")
    assert info.value.request_id
