"""The broadcast command against the emulator over real HTTP, killed with SIGKILL at random
instants and rerun: every number ends with exactly one Sent fax or a final failure, none gets
two, the report agrees with the emulator, and no request is ever refused with 429."""

from __future__ import annotations

import csv
import io
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import broadcast, number

from ringfax.emulator import Emulator

SCENARIOS = {"0001": "LineBusy", "0003": "InvalidNumber", "0006": None}  # 0006: busy, then ok


def recipients_csv(path: Path, plain: int) -> dict[str, str | None]:
    """Write a CSV of ``plain`` ordinary numbers plus scenario numbers; return number ->
    expected final faxErrorCode (None: Sent)."""
    expected: dict[str, str | None] = {}
    lines = ["Name,Fax"]
    for i in range(plain):
        expected[number(i)] = None
    for k, (suffix, code) in enumerate(sorted(SCENARIOS.items()) * 4):
        expected[number(9000 * (k + 1), suffix)] = code
    for i, n in enumerate(expected):
        lines.append(f"Person {i},{n}")
    path.write_text("\n".join(lines) + "\n")
    return expected


def finish(emu: Emulator, args: list[str], kills: int, seed: int) -> list[bytes]:
    """Run the command, SIGKILL it ``kills`` times at random instants, then to completion."""
    rng = random.Random(seed)
    errors = []
    for _ in range(kills):
        proc = broadcast(emu, *args)
        time.sleep(rng.uniform(0.4, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    proc = broadcast(emu, *args)
    _, err = proc.communicate(timeout=180)
    errors.append(err)
    assert proc.returncode in (0, 3), err.decode()
    return errors


def check_outcome(emu: Emulator, expected: dict[str, str | None], report: str) -> None:
    sent: Counter[str] = Counter()
    faxes_per_number: Counter[str] = Counter()
    final_error: dict[str, str | None] = {}
    now = time.time()
    for fax in emu.faxes():
        for r in fax.recipients:
            faxes_per_number[r.phone_number] += 1
            if r.outcome == "Sent":
                sent[r.phone_number] += 1
            if r.done_at <= now:
                final_error[r.phone_number] = r.error_code
    rows = list(csv.DictReader(io.StringIO(report)))
    assert len(rows) == len(expected)
    assert {r["number"] for r in rows} == set(expected)
    for row in rows:
        n = row["number"]
        assert sent[n] <= 1, f"{n} got {sent[n]} Sent faxes"
        code = expected[n]
        if code is None:
            assert row["state"] == "sent", row
            assert sent[n] == 1, row
        else:
            assert row["state"] == "failed", row
            assert row["fax_error_code"] == code, row
            assert sent[n] == 0
        assert int(row["attempts"]) == faxes_per_number[n], row
        assert final_error[n] == (row["fax_error_code"] or None)
    busy = [n for n, c in expected.items() if c == "LineBusy"]
    assert all(faxes_per_number[n] == 3 for n in busy)  # --max-attempts 3 default
    assert all(faxes_per_number[n] == 1 for n, c in expected.items() if c == "InvalidNumber")


def run_case(
    emu: Emulator,
    tmp_path: Path,
    plain: int,
    kills: int,
    seed: int,
    extra: tuple[str, ...] = (),
) -> None:
    expected = recipients_csv(tmp_path / "recipients.csv", plain)
    doc = tmp_path / "letter.pdf"
    db = tmp_path / "outbox.db"
    args = ["--recipients", str(tmp_path / "recipients.csv"), "--db", str(db), *extra, str(doc)]
    finish(emu, args, kills, seed)
    proc = broadcast(emu, "--db", str(db), "--report", "-")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    check_outcome(emu, expected, out.decode())
    assert emu.rate_limited_by_group() == {}


def test_sigkill_three_times_then_complete(
    emulator: Emulator, tmp_path: Path, document: Path
) -> None:
    run_case(emulator, tmp_path, plain=108, kills=3, seed=12)


def test_grouped_posts_sigkill_three_times(
    emulator: Emulator, tmp_path: Path, document: Path
) -> None:
    """Five numbers per POST: the emulator keeps each recipient's own fate; a crash after a
    group POST is reconciled number by number; resends go one by one."""
    run_case(emulator, tmp_path, plain=108, kills=3, seed=7, extra=("--group-size", "5"))
    grouped = [f for f in emulator.faxes() if len(f.recipients) > 1]
    assert grouped and all(len(f.recipients) <= 5 for f in grouped)
    assert all(len(f.recipients) == 1 for f in emulator.faxes() if f.original_id is not None)


@pytest.mark.slow
def test_sigkill_five_times_500_recipients(
    emulator: Emulator, tmp_path: Path, document: Path
) -> None:
    run_case(emulator, tmp_path, plain=488, kills=5, seed=5)


def test_other_document_same_db_refused(emulator: Emulator, tmp_path: Path, document: Path) -> None:
    recipients_csv(tmp_path / "r.csv", 2)
    db = str(tmp_path / "o.db")
    proc = broadcast(emulator, "--recipients", str(tmp_path / "r.csv"), "--db", db, str(document))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err.decode()  # the scenario numbers fail for good
    other = tmp_path / "other.txt"
    other.write_text("another document\n")
    proc = broadcast(emulator, "--recipients", str(tmp_path / "r.csv"), "--db", db, str(other))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "already holds another broadcast" in err.decode()
    assert "letter.pdf" in err.decode() and "other.txt" in err.decode()


def test_bad_rows_reported_with_line_numbers_nothing_sent(
    emulator: Emulator, tmp_path: Path, document: Path
) -> None:
    path = tmp_path / "r.csv"
    path.write_text("phone,name\n+16505551000,a\n+1650555100,short\n\n+16505551000,dup\n,empty\n")
    proc = broadcast(
        emulator, "--recipients", str(path), "--db", str(tmp_path / "o.db"), str(document)
    )
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 2, text
    assert (
        "line 3:" in text
        and "line 5: duplicate of line 2" in text
        and "line 6: the number is empty" in text
    )
    assert emulator.faxes() == []
    assert not (tmp_path / "o.db").exists() or "pending" not in text
