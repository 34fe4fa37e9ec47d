"""The Python API beyond crashes: a pool of credentials, the do-not-fax list, the audit log,
a different job refused, and the CLI's dry run and report."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_ringcentral import FakeRingCentral

from ringfax import ValidationError
from ringfax.outbox import JobMismatch, Outbox, Settings

FAST = Settings(retry_delay=0.0, poll_interval=0.0, reconcile_grace=0.0, pace_margin=0.0)
NUMBERS = [f"+1650555{1000 + i:04d}" for i in range(12)]


def files(tmp_path: Path, names: bool = False) -> tuple[Path, Path]:
    doc = tmp_path / "letter.txt"
    doc.write_text("hello\n")
    csv = tmp_path / "r.csv"
    rows = [f"{n},Secret Name {i}" if names else n for i, n in enumerate(NUMBERS)]
    csv.write_text(("number,name\n" if names else "number\n") + "\n".join(rows) + "\n")
    return doc, csv


def test_pool_of_credentials_shares_the_job(tmp_path: Path) -> None:
    """Each credential sends part of the job and follows up only its own faxes."""
    doc, csv = files(tmp_path)
    one = FakeRingCentral(post_delay=0.05)
    two = FakeRingCentral(id_base=5_000_000, post_delay=0.05)
    with one.client() as c1, two.client() as c2:
        with Outbox(tmp_path / "o.db", clients=[c1, c2], settings=FAST) as box:
            box.start([doc], csv)
            counts = box.run()
            report = box.report()
    assert counts == {"sent": len(NUMBERS)}
    sent = {**one.sent_per_number(), **two.sent_per_number()}
    assert sent == dict.fromkeys(NUMBERS, 1)
    assert one.faxes and two.faxes
    ids = {f.id: f.number for f in one.faxes} | {f.id: f.number for f in two.faxes}
    assert all(ids.get(str(r["message_id"])) == r["number"] for r in report)


def test_a_full_sync_cut_short_falls_back_to_bulk_reads(tmp_path: Path) -> None:
    """A full message-sync that says older records exist (RingCentral caps it) is completed
    by reading the open faxes by id, several per request, so no status is missed."""
    doc, csv = files(tmp_path)
    rc = FakeRingCentral(sync_cap=1)
    polls_after_sending = Settings(poll_interval=1.0, reconcile_grace=0.0, pace_margin=0.0)
    with (
        rc.client() as client,
        Outbox(tmp_path / "o.db", clients=[client], settings=polls_after_sending) as box,
    ):
        box.start([doc], csv)
        timer = threading.Timer(10.0, box.stop_event.set)  # without the fallback: stuck
        timer.start()
        counts = box.run()
        timer.cancel()
    assert counts == {"sent": len(NUMBERS)}
    assert rc.counts["read"] >= 1 and "list" not in rc.counts
    assert max(rc.read_sizes) > 1  # a bulk read, not one GET per fax
    assert rc.counts["read"] <= rc.counts["sync"]  # at most one read per poll


def test_message_sync_not_offered_falls_back_to_bulk_reads(tmp_path: Path) -> None:
    """A message-sync answered 403 (the app lacks it) is not asked again: the statuses are
    read by id, all open faxes of a poll in one bulk read."""
    doc, csv = files(tmp_path)
    rc = FakeRingCentral(no_sync=True)
    slow_polls = Settings(poll_interval=0.2, reconcile_grace=0.0, pace_margin=0.0)
    with (
        rc.client() as client,
        Outbox(tmp_path / "o.db", clients=[client], settings=slow_polls) as box,
    ):
        box.start([doc], csv)
        timer = threading.Timer(10.0, box.stop_event.set)  # without the fallback: stuck
        timer.start()
        counts = box.run()
        timer.cancel()
    assert counts == {"sent": len(NUMBERS)}
    assert rc.counts["sync"] == 1 and "list" not in rc.counts
    assert max(rc.read_sizes) > 1  # a bulk read, not one GET per fax
    assert len(rc.read_sizes) < len(NUMBERS)


def test_a_refused_status_read_is_tried_again(tmp_path: Path) -> None:
    """A message-sync the server refuses (e.g. a token it no longer accepts) does not stop
    the broadcast: the next poll starts over with a full sync."""
    doc, csv = files(tmp_path)
    rc = FakeRingCentral(refuse_syncs=3)
    with rc.client() as client, Outbox(tmp_path / "o.db", clients=[client], settings=FAST) as box:
        box.start([doc], csv)
        assert box.run() == {"sent": len(NUMBERS)}
    assert rc.refuse_syncs == 0


def test_a_document_the_client_refuses_stops_before_anything_is_sent(tmp_path: Path) -> None:
    doc, csv = files(tmp_path)
    bad = tmp_path / "program.exe"
    bad.write_bytes(b"MZ")
    rc = FakeRingCentral()
    with rc.client() as client, Outbox(tmp_path / "o.db", clients=[client], settings=FAST) as box:
        with pytest.raises(ValidationError, match=r"program\.exe"):
            box.start([doc, bad], csv)
    assert rc.counts == {}


def test_a_resend_whose_original_is_gone_fails_that_recipient_only(tmp_path: Path) -> None:
    doc, csv = files(tmp_path)
    rc = FakeRingCentral(busy={NUMBERS[2]}, originals_gone=True)
    with rc.client() as client, Outbox(tmp_path / "o.db", clients=[client], settings=FAST) as box:
        box.start([doc], csv)
        assert box.run() == {"sent": len(NUMBERS) - 1, "failed": 1}
        row = next(r for r in box.report() if r["number"] == NUMBERS[2])
    assert (row["state"], row["fax_error_code"], row["attempts"]) == ("failed", "CMN-102", 1)


def test_a_refused_group_is_sent_one_by_one(tmp_path: Path) -> None:
    """A 400 about `to` for a group POST: the group goes back to pending and is sent number
    by number, so only the refused number fails."""
    doc, csv = files(tmp_path)
    rc = FakeRingCentral(refused=NUMBERS[4])
    grouped = dataclasses.replace(FAST, group_size=4)
    with (
        rc.client() as client,
        Outbox(tmp_path / "o.db", clients=[client], settings=grouped) as box,
    ):
        box.start([doc], csv)
        assert box.run() == {"sent": len(NUMBERS) - 1, "failed": 1}
        row = next(r for r in box.report() if r["number"] == NUMBERS[4])
    assert (row["fax_error_code"], row["attempts"]) == ("CMN-101", 0)
    assert rc.sent_per_number() == {n: 1 for n in NUMBERS if n != NUMBERS[4]}
    assert [len(f.numbers) for f in rc.faxes][:1] == [4]  # the first group went through


def test_do_not_fax_numbers_are_never_sent(tmp_path: Path) -> None:
    doc, csv = files(tmp_path)
    rc = FakeRingCentral()
    with rc.client() as client, Outbox(tmp_path / "o.db", clients=[client], settings=FAST) as box:
        box.start([doc], csv, do_not_fax={NUMBERS[0], "+1 650 555 1003"})
        counts = box.run()
    assert counts == {"sent": len(NUMBERS) - 2, "excluded": 2}
    assert NUMBERS[0] not in rc.sent_per_number() and NUMBERS[3] not in rc.sent_per_number()


def test_audit_log_holds_no_numbers_names_or_content(tmp_path: Path) -> None:
    doc, csv = files(tmp_path, names=True)
    rc = FakeRingCentral()
    with rc.client() as client, Outbox(tmp_path / "o.db", clients=[client], settings=FAST) as box:
        box.start([doc], csv, cover_text="private cover text")
        box.run()
        audit = box.store.audit_rows()
    text = json.dumps(audit)
    assert "Secret Name" not in text and "hello" not in text and "private cover" not in text
    assert not any(n in text or n[1:] in text for n in NUMBERS)
    events = [row[3] for row in audit]
    assert events[0] == "job_created" and "letter.txt" in str(audit[0][7])
    assert events[1] == "run_started" and json.loads(str(audit[1][7]))["credentials"] == [
        "credential-1"
    ]
    assert events.count("accepted") == len(NUMBERS)
    refs = {row[5] for row in audit if row[3] == "accepted"}
    assert len(refs) == len(NUMBERS)  # one distinct digest per number


def test_a_new_store_is_private(tmp_path: Path) -> None:
    doc, csv = files(tmp_path)
    with Outbox(tmp_path / "o.db") as box:
        box.start([doc], csv)
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.glob("o.db*")}
    assert modes["o.db"] == 0o600 and modes["o.db-wal"] == 0o600, modes


def test_another_document_is_refused(tmp_path: Path) -> None:
    doc, csv = files(tmp_path)
    with Outbox(tmp_path / "o.db") as box:
        box.start([doc], csv)
    other = tmp_path / "other.txt"
    other.write_text("other\n")
    with Outbox(tmp_path / "o.db") as box, pytest.raises(JobMismatch, match=r"other\.txt"):
        box.start([other], csv)
    with Outbox(tmp_path / "o.db") as box:  # the same job resumes
        box.start([doc], csv)
        assert box.resumed


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    root = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        [sys.executable, "-m", "ringfax.outbox", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": root},
    )


def test_cli_dry_run_and_report(tmp_path: Path) -> None:
    doc, csv = files(tmp_path)
    dnf = tmp_path / "dnf.txt"
    dnf.write_text(NUMBERS[1] + "\n")
    done = _cli("--recipients", str(csv), "--do-not-fax", str(dnf), "--dry-run", "--json", str(doc))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["to_send"] == len(NUMBERS) - 1
    missing = _cli("--db", str(tmp_path / "none.db"), "--report", "-")
    assert missing.returncode == 1 and "holds no broadcast" in missing.stderr
    with Outbox(tmp_path / "o.db") as box:
        box.start([doc], csv)
    report = _cli("--db", str(tmp_path / "o.db"), "--report", str(tmp_path / "out.csv"))
    assert report.returncode == 0, report.stderr
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "line,number,state,message_id,fax_error_code,attempts"
    assert lines[1] == f"2,{NUMBERS[0]},pending,,,0"
    assert len(lines) == len(NUMBERS) + 1


def test_a_resend_stays_with_the_credential_that_sent_the_fax(tmp_path: Path) -> None:
    """A recipient whose fax went out through credential ``a`` is resent only through ``a``:
    a run with another pool leaves it alone (and ends) instead of resending a message id that
    the other user's message store does not hold."""
    doc = tmp_path / "letter.txt"
    doc.write_text("hello\n")
    csv = tmp_path / "r.csv"
    csv.write_text(f"number\n{NUMBERS[0]}\n{NUMBERS[1]}\n")
    waiting = Settings(max_attempts=2, retry_delay=30.0, poll_interval=0.0, pace_margin=0.0)
    a = FakeRingCentral(busy={NUMBERS[1]})

    def later() -> float:
        return time.time() + 100  # the retry is due

    with (
        a.client() as client,
        Outbox(tmp_path / "o.db", clients=[client], credential_ids=["a"], settings=waiting) as box,
    ):
        box.start([doc], csv)
        threading.Timer(1.0, box.stop_event.set).start()
        assert box.run() == {"sent": 1, "retry_wait": 1}
    b = FakeRingCentral(id_base=5_000_000)
    with (
        b.client() as client,
        Outbox(
            tmp_path / "o.db", clients=[client], credential_ids=["b"], settings=waiting, clock=later
        ) as box,
    ):
        box.start([doc], csv)
        assert box.run() == {"sent": 1, "retry_wait": 1}
    assert b.faxes == []
    with (
        a.client() as client,
        Outbox(
            tmp_path / "o.db", clients=[client], credential_ids=["a"], settings=waiting, clock=later
        ) as box,
    ):
        box.start([doc], csv)
        assert box.run() == {"sent": 1, "failed": 1}
    assert a.sent_per_number() == {NUMBERS[0]: 1, NUMBERS[1]: 2}
    assert [f.original for f in a.faxes if f.number == NUMBERS[1]] == [None, a.faxes[1].id]


def test_broadcast_is_a_ringfax_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ringfax.cli import main

    doc, csv = files(tmp_path)
    assert main(["broadcast", "--recipients", str(csv), "--dry-run", "--json", str(doc)]) == 0
    assert json.loads(capsys.readouterr().out)["to_send"] == len(NUMBERS)
    bad = tmp_path / "bad.csv"
    bad.write_text("number\n+1650555\n")
    assert main(["broadcast", "--recipients", str(bad), "--dry-run", str(doc)]) == 2
    assert "line 2" in capsys.readouterr().err
