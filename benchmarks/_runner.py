"""Plans the cases, runs every measurement in a child process (interleaved rounds) and writes
the report."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import (
    _report,
    decode_adversarial,
    decode_byte_chunks,
    decode_large,
    decode_many,
    encode_codecs,
    encode_large,
    encode_many,
    ringfax_e2e,
)
from ._cases import MIB, Case, Row, Run, Sizes
from ._child import MARK
from ._common import write_file

ROOT = Path(__file__).resolve().parent.parent
MODULES = (
    encode_large,
    encode_many,
    encode_codecs,
    decode_large,
    decode_many,
    decode_adversarial,
    decode_byte_chunks,
    ringfax_e2e,
)

FULL = Sizes(
    mode="full",
    large=(64 * MIB, 1024 * MIB),
    n_fields=10_000,
    n_files=100,
    file_size=10 * 1024,
    codec_size=32 * MIB,
    adversarial=64 * MIB,
    fax=50_000_000,
    time_limit=60.0,
)
QUICK = Sizes(
    mode="quick",
    large=(16 * MIB,),
    n_fields=2_000,
    n_files=20,
    file_size=10 * 1024,
    codec_size=4 * MIB,
    adversarial=8 * MIB,
    fax=5_000_000,
    time_limit=10.0,
    min_time=0.1,
    byte_chunks=64 * 1024,
)
TINY = Sizes(
    mode="tiny",
    large=(1 * MIB,),
    n_fields=200,
    n_files=5,
    file_size=1024,
    codec_size=256 * 1024,
    adversarial=1 * MIB,
    fax=200_000,
    time_limit=10.0,
    min_time=0.0,
    byte_chunks=8 * 1024,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Measure mimewire and ringfax against their peers (each measurement in its own "
            "child process, libraries interleaved round by round) and write latest.md, "
            "latest.json and latest.png (other modes and --only runs: latest-<mode>[-partial]"
            ".*). Full mode: 64 MiB and 1 GiB bodies (~10-15 min)."
        ),
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a couple of minutes)")
    p.add_argument(
        "--tiny",
        action="store_true",
        help="tiny sizes, 1 round (for the unit test); also MIMEWIRE_BENCH_TINY=1",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        help=(
            "run only cases whose id contains this (repeatable or comma-separated): "
            "encode-large, encode-many, encode-codecs, decode-large, decode-many, "
            "decode-adversarial, decode-1byte-chunks, ringfax-send, or a size such as 1GiB"
        ),
    )
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="report dir")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per peer run")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="children run at once (default 1; >1 only for smoke tests: it skews the numbers)",
    )
    p.add_argument("--no-chart", action="store_true", help="skip the PNG")
    return p.parse_args(argv)


def plan(sizes: Sizes, only: list[str]) -> list[Case]:
    cases: list[Case] = []
    for module in MODULES:
        cases.extend(module.cases(sizes))  # type: ignore[attr-defined]
    if only:
        wanted = [w for o in only for w in o.split(",") if w]
        cases = [c for c in cases if any(w in c.id for w in wanted)]
    return cases


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_child(case: Case, sizes: Sizes, lib: str, variant: str, params: dict[str, Any]) -> Run:
    spec = {
        "module": case.module,
        "lib": lib,
        "variant": variant,
        "params": params,
        "inner": case.inner,
        "min_time": min(case.min_time, sizes.min_time),
        "time_limit": case.time_limit,
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._child"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_child_env(),
            timeout=case.time_limit * case.inner + 180,
        )
    except subprocess.TimeoutExpired:
        return Run("timeout", reason="hard timeout")
    line = next(
        (ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(MARK)),
        None,
    )
    if line is None:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return Run("error", reason=f"child died: {tail[0][:200]}")
    res = json.loads(line[len(MARK) :])
    return Run(
        status=res["status"],
        seconds=float(res.get("seconds", 0.0)),
        rss_peak_mib=res.get("rss_peak_kib", 0) / 1024,
        rss_before_mib=res.get("rss_before_kib", 0) / 1024,
        reason=res.get("reason", ""),
    )


@contextlib.contextmanager
def case_resources(case: Case, tmp: str) -> Iterator[dict[str, Any]]:
    """Creates the case's temp file / emulator; yields the params for the children."""
    params = dict(case.params)
    path = None
    emulator = None
    try:
        if case.needs_file is not None:
            path = os.path.join(tmp, f"{case.id}.bin")
            write_file(path, case.needs_file)
            with open(path, "rb") as f:  # warm the page cache
                while f.read(1 << 20):
                    pass
            params["file"] = path
        if case.needs_emulator:
            emulator = ringfax_e2e.start_emulator(tmp)
            params.update(emulator.params)
            params["dir"] = tmp
            params["fax_file"] = ringfax_e2e.fax_file(tmp, int(params["size"]))
        yield params
    finally:
        if emulator is not None:
            emulator.stop()
        if path is not None:
            with contextlib.suppress(OSError):
                os.remove(path)


def run_case(case: Case, sizes: Sizes, rounds: int, tmp: str, log: Any, jobs: int = 1) -> list[Row]:
    rows = [
        Row(lib.name, lib.role, variant, lib.baseline, note=lib.note)
        for lib in case.libs
        for variant in case.variants
    ]
    for row, lib in zip(rows, [lib for lib in case.libs for _ in case.variants], strict=True):
        if lib.max_work is not None and case.work > lib.max_work:
            row.runs.append(Run("skipped", reason=lib.note))
    log(f"== {case.id}: {case.title}")
    try:
        with case_resources(case, tmp) as params:
            for r in range(rounds):
                k = r % len(rows)
                order = [row for row in rows[k:] + rows[:k] if not row.done()]
                # rotate: each library runs early and late
                if jobs > 1:  # smoke tests only: concurrent children disturb each other
                    with ThreadPoolExecutor(jobs) as pool:
                        futures = [
                            pool.submit(run_child, case, sizes, row.lib, row.variant, params)
                            for row in order
                        ]
                        runs = [
                            (row, f.result(), 0.0) for row, f in zip(order, futures, strict=True)
                        ]
                else:
                    runs = []
                    for row in order:
                        t0 = time.monotonic()
                        run = run_child(case, sizes, row.lib, row.variant, params)
                        runs.append((row, run, time.monotonic() - t0))
                for row, run, took in runs:
                    row.runs.append(run)
                    what = f"{row.lib}{' [' + row.variant + ']' if row.variant else ''}"
                    if run.status == "ok":
                        rate = case.work / run.seconds
                        rate = rate / 1e6 if case.unit == "MB/s" else rate
                        detail = f"{rate:,.1f} {case.unit}  peak RSS {run.rss_peak_mib:.0f} MiB"
                    else:
                        detail = f"{run.status} {run.reason}"
                    log(f"  r{r + 1} {what}: {detail}  ({took:.1f}s)")
    except Exception as exc:  # a broken resource (e.g. emulator) fails the case, not the run
        log(f"  case failed: {type(exc).__name__}: {exc}")
        for row in rows:
            if not row.runs:
                row.runs.append(Run("error", reason=f"case setup failed: {exc}"[:300]))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tiny = args.tiny or os.environ.get("MIMEWIRE_BENCH_TINY") == "1"
    sizes = TINY if tiny else QUICK if args.quick else FULL
    if args.time_limit is not None:
        sizes = dataclasses.replace(sizes, time_limit=args.time_limit)
    rounds = args.rounds if args.rounds is not None else (1 if tiny else 3)
    cases = plan(sizes, args.only)
    if not cases:
        print(f"no case matches {args.only}", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.time()
    load_start = os.getloadavg()[0]
    results: list[tuple[Case, list[Row]]] = []
    tmp = tempfile.mkdtemp(prefix="mimewire-bench-")
    try:
        for case in cases:
            results.append((case, run_case(case, sizes, rounds, tmp, log, args.jobs)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.time() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = _report.build(
        results, sizes, rounds, elapsed, jobs=args.jobs, load=(load_start, os.getloadavg()[0])
    )
    md = _report.markdown(report)
    # Only a complete full run owns latest.*: quick/partial runs never clobber it.
    stem = "latest"
    if sizes.mode != "full" or args.only:
        stem = f"latest-{sizes.mode}" + ("-partial" if args.only else "")
    (out / f"{stem}.md").write_text(md, encoding="utf-8")
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.no_chart:
        try:
            _report.chart(report, out / f"{stem}.png")
        except ImportError as exc:
            log(f"chart skipped: {exc}")
    print(md)
    log(f"wrote {out / stem}.md/.json/.png ({elapsed:.0f} s)")
    return 0
