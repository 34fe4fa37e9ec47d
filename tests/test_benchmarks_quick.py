"""The benchmark harness runs end to end on tiny sizes and writes its report.

Checks that the report is produced with the expected cases, rows and columns -- never speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_CASES = {
    "encode-large-1MiB",
    "encode-many",
    "encode-codecs",
    "decode-large-1MiB",
    "decode-many",
    "decode-adversarial-1MiB",
    "decode-1byte-chunks",
    "ringfax-send-200000B",
}
COLUMNS = "| library | MB/s median [min–max] | time s | × baseline | × best peer | peak RSS MiB |"


def _run(
    out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--jobs", "2", "--out", str(out), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_tiny_run_writes_report(tmp_path: Path) -> None:
    chart = _has_matplotlib()
    proc = _run(tmp_path, *([] if chart else ["--no-chart"]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "latest-tiny.md").read_text(encoding="utf-8")
    report = json.loads((tmp_path / "latest-tiny.json").read_text(encoding="utf-8"))

    assert report["mode"] == "tiny"
    machine = report["machine"]
    assert machine["cores"] and machine["cpu"] and machine["python"]
    assert f"{machine['cores']} cores" in md and machine["python"] in md
    assert "mode `tiny`" in md
    assert proc.stdout.strip().startswith("# mimewire / ringfax benchmarks")

    ids = {c["id"] for c in report["cases"]}
    assert ids == EXPECTED_CASES
    for case in report["cases"]:
        assert f"`{case['id']}`" in md
        assert case["rule"] and f"**Rule:** {case['rule']}" in md  # stated under its table
        assert case["unit"] in ("MB/s", "parts/s")
        assert case["rows"], case["id"]
        for row in case["rows"]:
            assert row["status"] in ("ok", "skipped", "error", "timeout"), row
            if row["status"] == "ok":
                assert row["median"] > 0 and row["min"] <= row["median"] <= row["max"]
                assert row["rss_peak_mib"] > 0
            else:
                assert row["reason"] or row["status"] == "timeout"
            name = row["lib"] + (f" [{row['variant']}]" if row["variant"] else "")
            assert name in md
        # baselines are measured with the standard library only: they must always work
        for row in case["rows"]:
            if row["role"] == "baseline":
                assert row["status"] == "ok", row
    assert COLUMNS in md
    assert COLUMNS.replace("MB/s", "parts/s") in md

    adv = next(c for c in report["cases"] if c["id"].startswith("decode-adversarial"))
    assert {r["variant"] for r in adv["rows"]} == {"benign", "adversarial", "flood-1b"}
    assert "baseline: bytes.find(delimiter)" in adv["slowdown"]
    assert "baseline: bytes.find(delimiter) [flood-1b]" in adv["slowdown"]
    assert "Hostile / benign time" in md
    rules = {c["id"]: c["rule"] for c in report["cases"]}
    assert "building the parts" in rules["encode-many"] and "every library" in rules["encode-many"]
    assert "separate 64 KiB bytes objects" in rules["decode-large-1MiB"]
    assert "1-byte" not in rules["decode-large-1MiB"] and "8KiB" in rules["decode-1byte-chunks"]

    verdicts = {t["target"]: t["verdict"] for t in report["targets"]}
    assert len(verdicts) == 13
    assert set(verdicts.values()) <= {"MET", "MISSED", "N/A"}
    assert "## Targets" in md
    if chart:
        png = (tmp_path / "latest-tiny.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_missing_peer_is_skipped_not_fatal(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        "--only",
        "encode-many",
        "--no-chart",
        env={"MIMEWIRE_BENCH_BLOCK": "httpx,requests_toolbelt"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "latest-tiny-partial.json").read_text(encoding="utf-8"))
    [case] = report["cases"]
    rows = {r["lib"]: r for r in case["rows"]}
    for lib in ("httpx MultipartStream", "requests-toolbelt MultipartEncoder"):
        assert rows[lib]["status"] == "skipped"
        assert "blocked" in rows[lib]["reason"]
    assert rows["baseline: bare framing loop"]["status"] == "ok"
    assert "skipped: " in (tmp_path / "latest-tiny-partial.md").read_text(encoding="utf-8")
    assert not list(tmp_path.glob("*.png"))
    assert not (tmp_path / "latest.md").exists()


def test_unknown_case_is_an_error(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--only", "no-such-case")
    assert proc.returncode == 2
    assert "no case matches" in proc.stderr


def test_bad_arguments(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--rounds=x")
    assert proc.returncode == 2
    assert "--rounds" in proc.stderr


def test_decode_large_chunks_are_distinct_objects() -> None:
    """decode-large feeds what a socket delivers: a new bytes object per 64 KiB chunk,
    over different data -- never one payload object referenced over and over."""
    from benchmarks._common import BOUNDARY_B, CHUNK, distinct_part_chunks

    chunks = distinct_part_chunks(5 * CHUNK + 7)
    payload = chunks[1:-1]
    assert [len(c) for c in payload] == [CHUNK] * 5 + [7]
    assert len({id(c) for c in payload}) == len(payload)
    assert len(set(payload)) == len(payload)
    assert b"-" not in b"".join(payload)
    assert chunks[-1] == b"\r\n--" + BOUNDARY_B + b"--\r\n"


def test_near_delimiter_flood_is_crlf_dash_dash_b() -> None:
    from benchmarks._common import BOUNDARY_B, near_delimiter_flood

    flood = near_delimiter_flood(1000)
    assert len(flood) == 1000 and flood.startswith(b"\r\n--b\r\n--b")
    assert BOUNDARY_B.startswith(b"b") and b"\r\n--" + BOUNDARY_B[:2] not in flood


def test_benchmark_modules_import_without_a_cycle() -> None:
    """Every relative import counts, in functions and under TYPE_CHECKING too: the report
    and the runner share their row types through _cases, never through each other."""
    import ast

    graph: dict[str, set[str]] = {}
    for path in (ROOT / "benchmarks").glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(alias.name for alias in node.names)
        graph[path.stem] = deps

    def below(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, "import cycle: " + " -> ".join((*trail, name))
        for dep in sorted(graph.get(name, ())):
            below(dep, (*trail, name))

    for name in sorted(graph):
        below(name, ())
