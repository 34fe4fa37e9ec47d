"""Shared pytest configuration: hypothesis profiles (bounded on CI), one reported hypothesis
seed per local session, a private cache home."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

_SEED_OPTION = "hypothesis_seed"  # dest of hypothesis' own --hypothesis-seed option


def pytest_configure(config: pytest.Config) -> None:
    """A randomized profile still runs reproducibly: one seed for the whole session (from
    ``--hypothesis-seed``, else ``$HYPOTHESIS_SEED``, else drawn here), shown in the header and
    after a failure, so ``--hypothesis-seed=N`` replays the run. Runs before hypothesis' own
    pytest_configure (conftest hooks are called first), which applies the seed."""
    if settings.default.derandomize or not hasattr(config.option, _SEED_OPTION):
        return
    if getattr(config.option, _SEED_OPTION) is None:
        seed = os.environ.get("HYPOTHESIS_SEED") or str(random.SystemRandom().randrange(1 << 32))
        setattr(config.option, _SEED_OPTION, seed)


def _seed_line(config: pytest.Config) -> str | None:
    seed = getattr(config.option, _SEED_OPTION, None)
    if seed is None or settings.default.derandomize:
        return None
    return (
        f"hypothesis seed {seed}: rerun with --hypothesis-seed={seed} (or HYPOTHESIS_SEED={seed})"
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    return _seed_line(config)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    line = _seed_line(config)
    if line is not None and terminalreporter.stats.get("failed"):
        terminalreporter.write_line(line)


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI caches tokens under $XDG_CACHE_HOME: keep the tests' tokens out of the
    user's real cache (and the user's cached tokens out of the tests)."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache-home"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old
