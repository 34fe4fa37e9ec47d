"""Fixtures for the push receiver tests: a running emulator on real time with fast push
timers, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from push_env import client_for, push_config

from ringfax import FaxClient
from ringfax.emulator import Emulator


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emu", config=push_config()) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[FaxClient]:
    with client_for(emulator) as c:
        yield c
