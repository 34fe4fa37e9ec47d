"""One measurement in its own process: ``python -m benchmarks._child`` reads a JSON spec on
stdin, prepares the operation (imports, data), runs it (repeated while it is fast) under a
time limit and prints one ``BENCH-RESULT {json}`` line with the fastest time and its own
peak RSS."""

from __future__ import annotations

import gc
import importlib
import json
import math
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any

from ._common import Unavailable

MARK = "BENCH-RESULT "


class _Timeout(BaseException):
    """Raised from SIGALRM; a BaseException so library ``except Exception`` cannot eat it."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _maxrss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    module = importlib.import_module(spec["module"])
    try:
        op = module.prepare(spec["lib"], spec.get("variant", ""), spec["params"])
    except (Unavailable, ImportError) as exc:
        return {"status": "skipped", "reason": str(exc)}
    gc.collect()
    rss_before = _maxrss_kib()
    limit = float(spec["time_limit"])
    min_time = float(spec.get("min_time", 0.5))
    signal.signal(signal.SIGALRM, _alarm)
    best = math.inf
    units = 0
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        # Repeat fast operations (up to ``inner`` times, while under ``min_time`` in total)
        # and keep the fastest: a 5 ms run timed once is mostly noise.
        spent = 0.0
        runs = 0
        while runs < max(1, int(spec.get("inner", 1))) and (runs == 0 or spent < min_time):
            t0 = time.perf_counter()
            units = op()
            took = time.perf_counter() - t0
            best = min(best, took)
            spent += took
            runs += 1
    except _Timeout:
        return {"status": "timeout", "limit": limit, "rss_peak_kib": _maxrss_kib()}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {
        "status": "ok",
        "seconds": best,
        "units": units,
        "runs": runs,
        "rss_before_kib": rss_before,
        "rss_peak_kib": _maxrss_kib(),
    }


class _Blocker:
    """Meta-path finder that makes the named top-level modules unimportable
    (``MIMEWIRE_BENCH_BLOCK=httpx,aiohttp``) -- lets tests check that a missing peer is
    reported as skipped."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".", 1)[0] in self.names:
            raise ImportError(f"No module named {fullname!r} (blocked by MIMEWIRE_BENCH_BLOCK)")


def main() -> None:
    blocked = {n for n in os.environ.get("MIMEWIRE_BENCH_BLOCK", "").split(",") if n}
    if blocked:
        sys.meta_path.insert(0, _Blocker(blocked))
    spec = json.loads(sys.stdin.read())
    try:
        result = measure(spec)
    except Exception as exc:  # reported, never crashes the run
        tb = traceback.format_exc(limit=-3)
        sys.stderr.write(tb)
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        result = {"status": "error", "reason": reason[:300]}
    sys.stdout.write("\n" + MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
