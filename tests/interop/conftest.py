"""Interop matrix bookkeeping: every interop test records one cell; the matrix is printed
in the pytest terminal summary (``client/server x case -> pass / FAIL / skip``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

# (table, row, column) -> (status, detail)
MATRIX: dict[tuple[str, str, str], tuple[str, str]] = {}
TABLE_TITLES = {
    "servers": "mimewire-encoded bodies -> parsed by (rows) x case (columns)",
    "clients": "bodies sent by (rows) x case (columns) -> decoded by mimewire",
}


@pytest.fixture(scope="session")
def record() -> Callable[[str, str, str, str, str], None]:
    def _record(table: str, row: str, col: str, status: str, detail: str = "") -> None:
        MATRIX[(table, row, col)] = (status, detail)

    return _record


def _table(table: str) -> list[str]:
    cells = {(r, c): v for (t, r, c), v in MATRIX.items() if t == table}
    if not cells:
        return []
    rows = list(dict.fromkeys(r for r, _ in cells))
    cols = list(dict.fromkeys(c for _, c in cells))
    w0 = max(len(r) for r in [*rows, "case"]) + 1
    widths = [
        max(len(c), 6, *(len(cells.get((r, c), ("n/a",))[0]) for r in rows)) + 1 for c in cols
    ]
    lines = [TABLE_TITLES.get(table, table)]
    lines.append("".ljust(w0) + "".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    notes: list[str] = []
    for r in rows:
        line = r.ljust(w0)
        for c, w in zip(cols, widths, strict=True):
            status, detail = cells.get((r, c), ("n/a", ""))
            if detail and status != "pass":
                notes.append(f"  {r} x {c}: {status}: {detail}")
            line += status.ljust(w)
        lines.append(line)
    return lines + notes


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MATRIX:
        return
    terminalreporter.section("interop matrix")
    for table in ("servers", "clients"):
        for line in _table(table):
            terminalreporter.write_line(line)
        terminalreporter.write_line("")
