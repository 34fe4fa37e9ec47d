"""Human upload progress for the ``ringfax`` command: MB, rate and ETA on stderr.

On a terminal one line is redrawn in place (``\\r``) at most a few times a second; anywhere
else (a log file, CI, a pipe) a plain line is written every ``interval`` seconds and once at
the end, so logs never fill with carriage-return frames.

Rate and time left count only the time bytes flow, so a rate-limit wait or a retry backoff
(reported on its own through the client's ``on_wait``) never reads as a slow upload: the clock
(re)starts with a report of 0 bytes (the body is about to be read), with a report of fewer
bytes than the last one (a new attempt: the body is rebuilt for each), and after
:meth:`UploadProgress.waiting`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["UploadProgress", "format_bytes", "format_duration"]

_MB = 1_000_000


def format_bytes(count: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, as file managers show them)."""
    if count < 1000:
        return f"{int(count)} B"
    if count < _MB:
        return f"{count / 1000:.1f} kB"
    return f"{count / _MB:.1f} MB"


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1 min 15 s"``; ``4.2`` -> ``"4 s"``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class UploadProgress:
    """An ``on_progress(sent, total)`` callback that reports to ``out``.

    ``tty``: redraw one line in place (default: ``out.isatty()``). ``interval``: seconds
    between plain lines when not a terminal. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        label: str = "Uploading",
    ) -> None:
        self.out = out
        self.tty = _isatty(out) if tty is None else tty
        self.interval = interval
        self.clock = clock
        self.label = label
        self.started: float | None = clock()  # when this attempt's bytes began to flow
        self._base = 0  # bytes already reported at that moment
        self.sent = 0
        self.total: int | None = None
        self._last_draw = float("-inf")
        self._drawn = False
        self._width = 0

    def __call__(self, sent: int, total: int | None) -> None:
        now = self.clock()
        started = self.started
        if started is None or sent == 0 or sent < self.sent:  # bytes start (again)
            started = self.started = now
            self._base = sent
        self.sent, self.total = sent, total
        finished = total is not None and sent >= total
        if self.tty:
            if finished or now - self._last_draw >= 0.2:
                self._last_draw = now
                self._redraw(self.describe(now))
        elif (
            not finished
            and now - started >= self.interval
            and now - self._last_draw >= self.interval
        ):
            self._last_draw = now
            self.out.write(self.describe(now) + "\n")
            self.out.flush()

    def waiting(self) -> None:
        """Before the client waits (``on_wait``): end a drawn line so the notice gets a line
        of its own; the next bytes restart the clock."""
        if self.tty and self._drawn:
            self.out.write("\n")
            self.out.flush()
            self._drawn = False
            self._width = 0
        self.started = None

    def _rate(self, now: float) -> tuple[float, float]:
        """(seconds the bytes have flowed, bytes per second) of the current attempt."""
        if self.started is None:
            return 0.0, 0.0
        elapsed = max(1e-6, now - self.started)
        return elapsed, (self.sent - self._base) / elapsed

    def describe(self, now: float | None = None) -> str:
        """The current state, e.g. ``Uploading 3.2 MB of 10.0 MB (32%), 1.1 MB/s, 6 s left``."""
        elapsed, rate = self._rate(self.clock() if now is None else now)
        text = f"{self.label} {format_bytes(self.sent)}"
        if self.total:
            pct = min(100, self.sent * 100 // self.total)
            text += f" of {format_bytes(self.total)} ({pct}%)"
        if elapsed >= 0.5 and self.sent > self._base:
            text += f", {format_bytes(rate)}/s"
            if self.total and self.sent < self.total and rate > 0:
                text += f", {format_duration(math.ceil((self.total - self.sent) / rate))} left"
        return text

    def _redraw(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.out.write("\r" + text + " " * pad)
        self.out.flush()
        self._width = len(text)
        self._drawn = True

    def done(self, ok: bool = True) -> None:
        """Finish the line (terminal) or write the summary line (``ok``: the upload ended)."""
        if self.tty:
            if self._drawn:
                self.out.write("\n")
                self.out.flush()
            return
        if ok and self.sent:
            elapsed, per_second = self._rate(self.clock())
            rate = f" ({format_bytes(per_second)}/s)" if elapsed >= 0.5 else ""
            self.out.write(f"uploaded {format_bytes(self.sent)} in {elapsed:.1f} s{rate}\n")
            self.out.flush()


def _isatty(out: TextIO) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError, OSError):
        return False
