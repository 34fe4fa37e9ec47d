"""Rate-limit pacing: wait out an exhausted RingCentral usage-plan group instead of provoking
a 429 (and the penalty that every request during it resets).

RingCentral counts requests per (user, app) and *group* (Light, Medium, Heavy, Auth) in a
sliding window and reports ``X-Rate-Limit-Group/-Limit/-Remaining/-Window`` on every answer.
:class:`RateLimitPacer` remembers the last report per group; when ``remaining`` reached 0 the
next request of that group waits until ``window`` seconds after that report. A 429 blocks its
group for the wait the client decided (``Retry-After``, else the window, else 60 s).

Which group a request belongs to is known only from answers, so requests are classified by
the documented table (:func:`request_group`) and a group name the server reports for a class
replaces the documented one from then on.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from ._models import RateLimitInfo

__all__ = ["RateLimitPacer", "describe_wait", "request_group"]


def request_group(method: str, url: str) -> str:
    """The documented usage-plan group (lower case) of a request to ``url``."""
    path = urllib.parse.urlsplit(url).path
    method = method.upper()
    if path.startswith("/restapi/oauth/"):
        return "auth"
    if method == "POST" and path.rstrip("/").endswith("/fax"):
        return "heavy"
    if "/content/" in path:
        return "medium"
    if "/message-store" in path and method in ("PUT", "PATCH", "DELETE"):
        return "medium"
    return "light"


@dataclass
class _GroupState:
    remaining: int | None = None
    window: float | None = None
    observed_at: float = 0.0
    blocked_until: float = 0.0


class RateLimitPacer:
    """Per-group rate-limit state; thread-safe. ``clock`` returns epoch seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, _GroupState] = {}
        self._names: dict[str, str] = {}  # documented class -> group name the server reports

    def group_of(self, method: str, url: str) -> str:
        """The group (lower case) a request counts against, as far as known."""
        documented = request_group(method, url)
        with self._lock:
            return self._names.get(documented, documented)

    def observe(self, method: str, url: str, info: RateLimitInfo | None) -> None:
        """Remember the ``X-Rate-Limit-*`` report of an answer to ``method url``."""
        if info is None:
            return
        documented = request_group(method, url)
        now = self._clock()
        with self._lock:
            group = (info.group or "").strip().lower() or self._names.get(documented, documented)
            self._names[documented] = group
            state = self._groups.setdefault(group, _GroupState())
            state.remaining = info.remaining
            if info.window is not None and info.window > 0:
                state.window = float(info.window)
            state.observed_at = now

    def block(self, group: str, seconds: float) -> None:
        """After a 429: no request of ``group`` before ``seconds`` from now."""
        now = self._clock()
        with self._lock:
            state = self._groups.setdefault(group.lower(), _GroupState())
            state.blocked_until = max(state.blocked_until, now + seconds)

    def window_of(self, group: str) -> float | None:
        """The last window (seconds) the server reported for ``group``."""
        with self._lock:
            state = self._groups.get(group.lower())
            return state.window if state is not None else None

    def delay(self, group: str) -> float:
        """Seconds to wait before the next request of ``group`` (0 when it may go now)."""
        now = self._clock()
        with self._lock:
            state = self._groups.get(group.lower())
            if state is None:
                return 0.0
            until = state.blocked_until
            if state.remaining is not None and state.remaining <= 0 and state.window:
                until = max(until, state.observed_at + state.window)
            return max(0.0, until - now)


def describe_wait(group: str, seconds: float) -> str:
    """The human reason handed to ``on_wait``: ``rate limit (Heavy group): waiting 42 s``."""
    name = group[:1].upper() + group[1:] if group else "unknown"
    return f"rate limit ({name} group): waiting {seconds:.0f} s"
