"""The emulator's own accounting of 429 answers, and its several users (one extension, fax
number, message store and rate-limit budget per JWT)."""

from __future__ import annotations

from pathlib import Path

from emulator_helpers import STORE_PATH, Raw

from ringfax.emulator import Emulator, EmulatorConfig, ManualClock, RateLimit


def test_every_429_is_counted_by_group_and_kept_after_stop(tmp_path: Path) -> None:
    clock = ManualClock()
    limits = {"Light": RateLimit(2, window=60, penalty=60), "Auth": RateLimit(5)}
    emu = Emulator(tmp_path, config=EmulatorConfig(rate_limits=limits), clock=clock)
    with emu:
        raw = Raw(emu)
        raw.token()
        assert emu.rate_limited_count == 0 and emu.rate_limited_by_group() == {}
        assert [raw.request("GET", STORE_PATH).status for _ in range(4)] == [200, 200, 429, 429]
        assert emu.rate_limited_by_group() == {"Light": 2}
    assert emu.rate_limited_count == 2  # still known once stopped
    with emu:  # a restart adds to the count
        raw = Raw(emu)
        raw.token()
        assert [raw.request("GET", STORE_PATH).status for _ in range(3)] == [200, 200, 429]
        assert emu.rate_limited_by_group() == {"Light": 3}
