"""Clocks for the emulator: real time, or a manual clock tests advance by hand."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Protocol

__all__ = ["Clock", "ManualClock", "RealClock", "format_time", "parse_time"]


class Clock(Protocol):
    """Anything with ``now() -> float`` (seconds since the Unix epoch)."""

    def now(self) -> float: ...


class RealClock:
    """Wall-clock time (``time.time()``)."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to: ``advance(seconds)`` or ``set(epoch)``.

    Starts at ``start`` (default 2026-01-15T12:00:00Z) so tests are deterministic.
    Thread-safe.
    """

    DEFAULT_START = 1768478400.0  # 2026-01-15T12:00:00Z

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (must be >= 0); return the new time."""
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, epoch: float) -> None:
        """Jump to ``epoch`` (seconds since the Unix epoch), forwards or backwards."""
        with self._lock:
            self._now = float(epoch)

    def sleep(self, seconds: float) -> None:
        """A ``sleep`` replacement for clients under test: advances the clock instead."""
        self.advance(max(0.0, seconds))


def format_time(epoch: float) -> str:
    """RingCentral's timestamp format: ``2026-08-20T17:02:11.519Z`` (UTC, milliseconds)."""
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float:
    """Parse an ISO 8601 date-time (``Z`` or an offset; naive = UTC) to epoch seconds.

    Raises ``ValueError`` for anything else.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty date-time")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
