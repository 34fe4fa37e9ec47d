"""One row per recipient: number, state, message id, faxErrorCode, attempts (CSV or JSON)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from ._store import RecipientState

__all__ = ["REPORT_COLUMNS", "report_csv", "report_json", "report_rows"]

REPORT_COLUMNS = ("line", "number", "state", "message_id", "fax_error_code", "attempts")


def report_rows(rows: Sequence[RecipientState]) -> list[dict[str, Any]]:
    """The report as dictionaries, in the recipients file's order."""
    return [
        {
            "line": r.line,
            "number": r.number,
            "state": r.state.value,
            "message_id": r.message_id,
            "fax_error_code": r.fax_error_code,
            "attempts": r.attempts,
        }
        for r in rows
    ]


def report_csv(rows: Sequence[RecipientState]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in report_rows(rows):
        writer.writerow({k: "" if v is None else v for k, v in item.items()})
    return out.getvalue()


def report_json(rows: Sequence[RecipientState], counts: dict[str, int]) -> str:
    return json.dumps({"counts": counts, "recipients": report_rows(rows)}, indent=1)
