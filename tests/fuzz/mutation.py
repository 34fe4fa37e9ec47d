"""Mutation run: ``python -m tests.fuzz.mutation [--module PATH ...] [--workdir DIR]``.

For each module (default: all of :data:`SELECTIONS`) mutmut 3 mutates that one file and runs
only the test files listed for it: the fast test files that exercise it (the long
hypothesis and attack suites are left out, so a module takes minutes, not hours; per mutant,
mutmut runs only the selected tests that reach the mutated function).

Each module gets its own scratch copy of the project under ``--workdir``, taken from the
``HEAD`` commit of the moment the module starts (``git archive``): production code and tests
from the same commit, printed in the module's row, whatever else changes in the working tree
meanwhile (commit a new test before scoring it).

Hypothesis runs with the derandomized ``ci`` profile, so a mutant's verdict does not depend
on the run. Prints one Markdown table row per module and writes the survivors of each module
to ``<workdir>/<module>/survivors.txt`` (``mutmut show NAME`` inside ``<workdir>/<module>``
prints a survivor's diff).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

_DECODER_TESTS = (
    "tests/mimewire/test_decoder.py",
    "tests/mimewire/test_decoder_cases.py",
    "tests/mimewire/test_decoder_camera.py",
    "tests/mimewire/test_events.py",
    "tests/mimewire/test_limits.py",
    "tests/mimewire/test_parse.py",
    "tests/mimewire/test_parse_stream.py",
    "tests/mimewire/test_part_headers.py",
    "tests/mimewire/test_inspect.py",
    "tests/attacks/test_review_decoder.py",
    "tests/attacks/test_review_parse.py",
    "tests/mimewire/test_mutation_decoder.py",
)
SELECTIONS: dict[str, tuple[str, ...]] = {
    "mimewire/_codecs.py": (
        "tests/mimewire/test_codecs.py",
        "tests/mimewire/test_body.py",
        "tests/mimewire/test_mutation_codecs.py",
    ),
    "mimewire/_params.py": (
        "tests/mimewire/test_headers.py",
        "tests/mimewire/test_encoded_word.py",
        "tests/mimewire/test_part_headers.py",
        "tests/attacks/test_review_headers.py",
        "tests/mimewire/test_parse.py",
        "tests/mimewire/test_mutation_params.py",
    ),
    "mimewire/_framing.py": _DECODER_TESTS,
    "mimewire/_headerblock.py": (*_DECODER_TESTS, "tests/attacks/test_review_headers.py"),
    "mimewire/_scan.py": _DECODER_TESTS,
    "mimewire/_plan.py": (
        "tests/mimewire/test_body.py",
        "tests/mimewire/test_encoder.py",
        "tests/test_encoder_safety.py",
        "tests/mimewire/test_mutation_codecs.py",
    ),
    "ringfax/_inbox.py": (
        "tests/ringfax/test_inbox.py",
        "tests/ringfax/test_inbox_edges.py",
    ),
}


# Tests that compare running times (linear-time checks): run niced, beside other work and
# under mutmut's tracing, their ratios mean nothing, so mutation runs leave them out.
_NOT_TIMING = "not linear and not refused_fast"


def _head() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _scratch(module: str, work: Path, commit: str, resume: bool) -> Path:
    """A copy of the project at ``commit`` (production code and tests alike). With
    ``resume``, an earlier copy of the same commit is kept, and mutmut carries on where it
    stopped (verdicts already reached are kept)."""
    target = work / module.replace("/", "_")
    stamp = target / ".mutation-commit"
    if not (resume and stamp.is_file() and stamp.read_text() == commit):
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        stamp.write_text(commit)
    tests = [t for t in SELECTIONS[module] if (target / t).exists()]
    (target / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths =\n    mimewire\n    ringfax\n"
        f"only_mutate = {module}\n"
        # a wall-clock timeout of 6x the tests' time (mutmut's default is 15x): the loop
        # mutants that never end are most of the timeouts, and they cost the full timeout
        "timeout_multiplier = 6\n"
        "also_copy =\n    docs\n    README.md\n"  # tests read documented facts from docs/
        "pytest_add_cli_args =\n"  # one argument per line: mutmut passes each line as one
        + "".join(f"    {a}\n" for a in ("-p", "no:randomly", "-p", "no:cacheprovider"))
        + f"    -k\n    {_NOT_TIMING}\n"
        "pytest_add_cli_args_test_selection =\n" + "".join(f"    {t}\n" for t in tests)
    )
    return target


def _run(module: str, work: Path, children: int, commit: str, resume: bool) -> dict[str, object]:
    where = _scratch(module, work, commit, resume)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "ci"}
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    with open(where / "run.log", "wb") as log:
        subprocess.run(
            [mutmut, "run", "--max-children", str(children)],
            cwd=where,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    subprocess.run([mutmut, "export-cicd-stats"], cwd=where, env=env, capture_output=True)
    stats: dict[str, object] = json.loads((where / "mutants/mutmut-cicd-stats.json").read_text())
    listing = subprocess.run(
        [mutmut, "results"], cwd=where, env=env, capture_output=True, text=True
    ).stdout
    survivors = [
        line.strip().split(":")[0]
        for line in listing.splitlines()
        if line.strip().endswith((": survived", ": no tests", ": suspicious"))
    ]
    (where / "survivors.txt").write_text("".join(f"{s}\n" for s in survivors))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(SELECTIONS))
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mimewire-mutation"
    )
    parser.add_argument("--children", type=int, default=1, help="parallel mutant runs")
    parser.add_argument(
        "--commit", help="score this commit instead of HEAD (e.g. to resume an earlier run)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep a scratch copy of the same commit"
    )
    args = parser.parse_args(argv)
    print(f"scratch copies under {args.workdir}")
    print("| module | commit | mutants | killed | timeout | survived | no tests |")
    print("|---|---|---|---|---|---|---|")
    for module in args.module or list(SELECTIONS):
        commit = args.commit or _head()  # each module is scored at the commit it was copied from
        s = _run(module, args.workdir, args.children, commit, args.resume)
        print(
            f"| {module} | {commit[:9]} | {s['total']} | {s['killed']} | {s['timeout']} "
            f"| {s['survived']} | {s['no_tests']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
