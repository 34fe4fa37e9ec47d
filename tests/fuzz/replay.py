"""Replay a corpus through a target, optionally under coverage.py.

``python -m tests.fuzz.replay TARGET DIR [--coverage-json FILE]``: every file in ``DIR`` is
fed to the target; exits 1 (printing the file) on the first crash. With
``--coverage-json`` the line/branch coverage of the mimewire package is measured (coverage
is started before mimewire is imported) and a summary is written as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.replay")
    ap.add_argument("target")
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--coverage-json", type=Path)
    args = ap.parse_args(argv)

    cov = None
    if args.coverage_json:
        import coverage

        cov = coverage.Coverage(source=["mimewire"], branch=True, data_file=None)
        cov.start()

    from .targets import TARGETS, guarded

    fn = guarded(TARGETS[args.target])
    files = sorted(p for p in args.corpus.iterdir() if p.is_file())
    status = 0
    for path in files:
        try:
            fn(path.read_bytes())
        except Exception:
            print(f"CRASH on {path}", file=sys.stderr)
            traceback.print_exc()
            status = 1
            break

    if cov is not None:
        cov.stop()
        import io

        buf = io.StringIO()
        total = cov.report(file=buf, show_missing=False)
        per_file = {}
        data = cov.get_data()
        for fname in data.measured_files():
            _, statements, _, missing, _ = cov.analysis2(fname)
            if statements:
                per_file[Path(fname).name] = round(100 * (1 - len(missing) / len(statements)), 1)
        args.coverage_json.write_text(
            json.dumps({"inputs": len(files), "total_percent": round(total, 1), "files": per_file})
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
