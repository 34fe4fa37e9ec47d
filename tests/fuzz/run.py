"""Fuzz runner: ``python -m tests.fuzz.run --seconds N [--target decoder|headers|codecs]``.

For each target it writes the seed corpus into ``<workdir>/<target>/`` (default workdir
``.fuzz/``, which is not committed), runs atheris (libFuzzer) for ``N`` seconds in a
subprocess with a 10 s per-input timeout (a hang or super-linear input is a crash), then
replays the grown corpus under coverage.py (if installed) and prints one line per target:
executions, libFuzzer edge coverage, mimewire line+branch coverage, crashes. Crash inputs
are saved under ``<workdir>/crashes/<target>/``.

Without atheris (``--engine mutate`` or atheris not importable) a built-in mutational
fuzzer (byte flips, inserts, deletes, splices of seeds and boundary fragments) runs the same
targets in-process for the same time.

Exit status: 0 if no target crashed, 1 otherwise. ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
TARGET_NAMES = ("decoder", "headers", "codecs")
MODULES = {
    "decoder": ("_decoder.py", "_parse.py", "_events.py"),
    "headers": ("_headers.py",),
    "codecs": ("_codecs.py",),
}


def _atheris_run(target: str, seconds: int, work: Path) -> dict[str, Any]:
    from .seeds import write_corpus

    corpus = work / target
    crashes = work / "crashes" / target
    crashes.mkdir(parents=True, exist_ok=True)
    seeds = write_corpus(target, corpus)
    before = set(crashes.iterdir())
    cmd = [
        sys.executable,
        "-m",
        "tests.fuzz.atheris_main",
        target,
        f"-max_total_time={seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=16384",
        "-print_final_stats=1",
        f"-artifact_prefix={crashes}/",
        str(corpus),
    ]
    t0 = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    elapsed = time.monotonic() - t0
    log = proc.stderr
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    if not execs:
        execs = re.findall(r"#(\d+)\s", log)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    new_crashes = sorted(str(p) for p in set(crashes.iterdir()) - before)
    result: dict[str, Any] = {
        "target": target,
        "engine": "atheris",
        "seconds": round(elapsed, 1),
        "seed_inputs": seeds,
        "executions": int(execs[-1]) if execs else 0,
        "edges": int(cov[-1][0]) if cov else None,
        "features": int(cov[-1][1]) if cov else None,
        "corpus_size": sum(1 for p in corpus.iterdir() if p.is_file()),
        "returncode": proc.returncode,
        "crashes": new_crashes,
    }
    if proc.returncode != 0:
        tail = "\n".join(log.splitlines()[-60:])
        result["log_tail"] = tail
    return result


def _mutate(seed: bytes, pool: list[bytes], rng: random.Random) -> bytes:
    from .targets import FUZZ_BOUNDARY

    data = bytearray(seed)
    tokens = [b"\r\n", b"\n", b"--", b"--" + FUZZ_BOUNDARY.encode(), b"=", b";", b'"', b"\x00"]
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(6)
        pos = rng.randint(0, len(data))
        if op == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[pos:pos] = rng.choice(tokens)
        elif op == 2 and data:
            del data[pos : pos + rng.randint(1, 16)]
        elif op == 3:
            other = rng.choice(pool)
            a = rng.randint(0, len(other))
            data[pos:pos] = other[a : a + rng.randint(1, 64)]
        elif op == 4:
            data[pos:pos] = bytes([rng.randrange(256)]) * rng.randint(1, 300)
        elif data:
            data = data[: rng.randint(0, len(data))]
    return bytes(data[:16384])


def _mutate_run(target: str, seconds: int, work: Path) -> dict[str, Any]:
    from .seeds import SEEDS
    from .targets import TARGETS, guarded

    fn = guarded(TARGETS[target])
    pool = SEEDS[target]()
    crashes = work / "crashes" / target
    crashes.mkdir(parents=True, exist_ok=True)
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "1234")))
    deadline = time.monotonic() + seconds
    execs = 0
    found: list[str] = []
    t0 = time.monotonic()
    while time.monotonic() < deadline and not found:
        data = _mutate(rng.choice(pool), pool, rng)
        try:
            fn(data)
        except Exception:
            path = crashes / f"crash-{execs}"
            path.write_bytes(data)
            found.append(str(path))
            traceback.print_exc()
        execs += 1
        if execs % 50 == 0:
            pool.append(data)
    return {
        "target": target,
        "engine": "mutate",
        "seconds": round(time.monotonic() - t0, 1),
        "seed_inputs": len(SEEDS[target]()),
        "executions": execs,
        "edges": None,
        "features": None,
        "corpus_size": len(pool),
        "returncode": 1 if found else 0,
        "crashes": found,
    }


def _coverage(target: str, work: Path) -> dict[str, Any] | None:
    if importlib.util.find_spec("coverage") is None:
        return None
    corpus = work / target
    if not corpus.is_dir():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cov.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.fuzz.replay",
                target,
                str(corpus),
                "--coverage-json",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if not out.exists():
            return {"error": proc.stderr[-2000:]}
        data: dict[str, Any] = json.loads(out.read_text())
        return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__)
    ap.add_argument("--seconds", type=int, default=60, help="time per target")
    ap.add_argument("--target", choices=[*TARGET_NAMES, "all"], default="all")
    ap.add_argument("--workdir", type=Path, default=ROOT / ".fuzz")
    ap.add_argument("--engine", choices=["auto", "atheris", "mutate"], default="auto")
    ap.add_argument("--no-coverage", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    args = ap.parse_args(argv)

    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") else "mutate"
    targets = TARGET_NAMES if args.target == "all" else (args.target,)
    results = []
    for target in targets:
        run = _atheris_run if engine == "atheris" else _mutate_run
        res = run(target, args.seconds, args.workdir)
        if not args.no_coverage:
            res["coverage"] = _coverage(target, args.workdir)
        results.append(res)
        cov = res.get("coverage") or {}
        files = cov.get("files", {})
        mods = ", ".join(f"{m} {files[m]}%" for m in MODULES[target] if m in files)
        print(
            f"{target:8s} engine={res['engine']} execs={res['executions']} "
            f"in {res['seconds']}s edges={res['edges']} corpus={res['corpus_size']} "
            f"crashes={len(res['crashes'])} coverage: mimewire {cov.get('total_percent')}%"
            f" ({mods})",
            flush=True,
        )
        if res["returncode"] != 0:
            print(res.get("log_tail", ""), file=sys.stderr)
            for c in res["crashes"]:
                print(f"  crash input: {c}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["returncode"] == 0 and not r["crashes"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
