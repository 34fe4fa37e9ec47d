"""Fixtures for the outbox tests: an emulator on real time with a scaled Heavy limit, a
document, recipients CSVs, a spy counting 429 answers, and the broadcast command as a
subprocess (so SIGKILL is real)."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
for _name in ("ringfax", "mimewire"):
    if _name in sys.modules and getattr(sys.modules[_name], "__file__", None) is None:
        del sys.modules[_name]

import os  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from ringfax.emulator import Emulator, EmulatorConfig  # noqa: E402
from ringfax.emulator._config import RateLimit  # noqa: E402
from ringfax.emulator._samples import make_pdf  # noqa: E402

HEAVY_LIMIT = 20
HEAVY_WINDOW = 1.0


def scaled_config(send_delay: float = 0.3) -> EmulatorConfig:
    return EmulatorConfig(
        send_delay=send_delay,
        rate_limits={
            "Light": RateLimit(200, 1.0, 5.0),
            "Medium": RateLimit(100, 1.0, 5.0),
            "Heavy": RateLimit(HEAVY_LIMIT, HEAVY_WINDOW, 5.0),
            "Auth": RateLimit(100, 1.0, 5.0),
        },
    )


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emu", config=scaled_config()) as emu:
        yield emu


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "letter.pdf"
    path.write_bytes(make_pdf(["broadcast page"]))
    return path


def number(i: int, suffix: str | None = None) -> str:
    """A valid US number; ``suffix`` picks an emulator scenario (last four digits)."""
    return f"+1650{555 + i // 9000:03d}{suffix or f'{1000 + i % 9000:04d}'}"


def cli_env(emu: Emulator) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RC_SERVER_URL=emu.url,
        RC_APP_CLIENT_ID=emu.client_id,
        RC_APP_CLIENT_SECRET=emu.client_secret,
        RC_USER_JWT=emu.jwt,
        PYTHONPATH=_ROOT,
    )
    return env


FAST_FLAGS = (
    "--retry-delay", "0.2", "--poll-interval", "0.3", "--reconcile-grace", "0.5",
    "--no-token-cache", "-q",
)  # fmt: skip


def broadcast(emu: Emulator, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ringfax.outbox", *FAST_FLAGS, *args],
        env=cli_env(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
