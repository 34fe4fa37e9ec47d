"""Per-(user/app, group) sliding-window rate limits with RingCentral's penalty rule."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from ._clock import Clock
from ._config import RateLimit

__all__ = ["Decision", "RateLimiter"]


@dataclass(frozen=True)
class Decision:
    """Outcome of one request: allowed or not, and the ``X-Rate-Limit-*`` header values."""

    allowed: bool
    group: str
    limit: int
    remaining: int
    window: float
    retry_after: int = 0

    def headers(self) -> dict[str, str]:
        """``X-Rate-Limit-*`` (and ``Retry-After`` when refused) headers."""
        out = {
            "X-Rate-Limit-Group": self.group.lower(),
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Window": str(int(self.window)),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimiter:
    """Counts requests per ``(key, group)`` in a sliding window.

    When a request would exceed the limit, the key enters a penalty of ``penalty`` seconds;
    every request made during the penalty is refused and *restarts* the penalty (the
    "429 trap" of RingCentral's docs). ``enabled=False`` counts nothing but still reports
    headers with the configured limit.
    """

    def __init__(self, limits: dict[str, RateLimit], clock: Clock, *, enabled: bool = True):
        self._limits = dict(limits)
        self._clock = clock
        self._enabled = enabled
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._penalty_until: dict[tuple[str, str], float] = {}
        self._refused: dict[str, int] = {}
        self._lock = threading.Lock()

    def refused(self) -> dict[str, int]:
        """429 answers given so far, by group (groups without one are left out)."""
        with self._lock:
            return dict(self._refused)

    def check(self, key: str, group: str) -> Decision:
        """Count one request by ``key`` in ``group`` and decide."""
        conf = self._limits.get(group) or RateLimit(limit=1000)
        now = self._clock.now()
        slot = (key, group)
        with self._lock:
            hits = self._hits.setdefault(slot, deque())
            while hits and hits[0] <= now - conf.window:
                hits.popleft()
            if not self._enabled:
                return Decision(
                    True, group, conf.limit, max(0, conf.limit - len(hits)), conf.window
                )
            until = self._penalty_until.get(slot, 0.0)
            if now < until or len(hits) >= conf.limit:
                self._penalty_until[slot] = now + conf.penalty
                hits.clear()
                self._refused[group] = self._refused.get(group, 0) + 1
                return Decision(False, group, conf.limit, 0, conf.window, math.ceil(conf.penalty))
            hits.append(now)
            return Decision(True, group, conf.limit, conf.limit - len(hits), conf.window)
