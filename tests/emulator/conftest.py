"""Fixtures for the emulator tests: an emulator on a ManualClock, clients, raw HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ is on sys.path (rootdir conftest) and holds directories named mimewire/ and
# ringfax/ without __init__.py: PathFinder would take them for namespace packages before the
# editable install's finder runs. A regular package on sys.path wins, so add the repo root.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from emulator_helpers import Raw  # noqa: E402

from ringfax._client import FaxClient  # noqa: E402
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock  # noqa: E402
from ringfax.emulator._samples import make_pdf, make_tiff  # noqa: E402


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config() -> EmulatorConfig:
    """Default test config: rate limiting off (rate-limit tests build their own)."""
    return EmulatorConfig(rate_limiting=False, send_delay=30.0)


@pytest.fixture
def emulator(tmp_path: Path, clock: ManualClock, config: EmulatorConfig) -> Iterator[Emulator]:
    with Emulator(tmp_path / "data", config=config, clock=clock) as emu:
        yield emu


@pytest.fixture
def make_client(emulator: Emulator, clock: ManualClock) -> Iterator[Callable[..., FaxClient]]:
    made: list[FaxClient] = []

    def make(emu: Emulator | None = None, **kw: Any) -> FaxClient:
        target = emu or emulator
        kw.setdefault("clock", clock.now)
        kw.setdefault("sleep", clock.sleep)
        c = FaxClient(
            target.url,
            client_id=target.client_id,
            client_secret=target.client_secret,
            jwt=target.jwt,
            **kw,
        )
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(make_client: Callable[..., FaxClient]) -> FaxClient:
    return make_client()


@pytest.fixture
def raw(emulator: Emulator) -> Raw:
    return Raw(emulator)


@pytest.fixture
def docs(tmp_path: Path) -> dict[str, Path]:
    """Small real documents: a 2-page PDF, a 1-page TIFF, a text file."""
    d = tmp_path / "docs"
    d.mkdir()
    pdf = d / "letter.pdf"
    pdf.write_bytes(make_pdf(["page one", "page two"]))
    tiff = d / "scan.tiff"
    tiff.write_bytes(make_tiff())
    txt = d / "note.txt"
    txt.write_text("hello fax\n")
    return {"pdf": pdf, "tiff": tiff, "txt": txt}
