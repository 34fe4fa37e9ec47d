"""Crash points of the outbox, each reproduced with a scripted RingCentral: the worker dies
(an exception nothing catches) before or after the server handled a request, then a new
Outbox on the same store finishes the job. Every number ends with exactly the faxes it should
get: one, or one per allowed attempt for a busy number -- never a second one from a crash."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from fake_ringcentral import Crash, FakeRingCentral

from ringfax.outbox import Outbox, Settings

FAST = Settings(
    max_attempts=2,
    retry_delay=0.0,
    poll_interval=0.0,
    reconcile_grace=0.0,
    pace_margin=0.0,
)
GROUPED = dataclasses.replace(FAST, group_size=3)
NUMBERS = ["+16505551000", "+16505551001", "+16505551002"]
BUSY = "+16505551001"


def job(tmp_path: Path) -> tuple[Path, Path]:
    doc = tmp_path / "letter.txt"
    doc.write_text("hello\n")
    csv = tmp_path / "r.csv"
    csv.write_text("number\n" + "\n".join(NUMBERS) + "\n")
    return doc, csv


def run_until_crash(rc: FakeRingCentral, tmp_path: Path, settings: Settings = FAST) -> None:
    doc, csv = job(tmp_path)
    with (
        rc.client() as client,
        Outbox(tmp_path / "o.db", clients=[client], settings=settings) as box,
    ):
        box.start([doc], csv)
        with pytest.raises(Crash):
            box.run()


def finish(
    rc: FakeRingCentral, tmp_path: Path, settings: Settings = FAST
) -> list[dict[str, object]]:
    doc, csv = job(tmp_path)
    with (
        rc.client() as client,
        Outbox(tmp_path / "o.db", clients=[client], settings=settings) as box,
    ):
        box.start([doc], csv)
        box.run()
        return box.report()


def check(rc: FakeRingCentral, report: list[dict[str, object]]) -> None:
    assert rc.sent_per_number() == {NUMBERS[0]: 1, BUSY: 2, NUMBERS[2]: 1}
    by_number = {row["number"]: row for row in report}
    assert by_number[NUMBERS[0]]["state"] == "sent"
    assert by_number[NUMBERS[2]]["state"] == "sent"
    assert by_number[BUSY]["state"] == "failed"
    assert by_number[BUSY]["fax_error_code"] == "LineBusy"
    assert by_number[BUSY]["attempts"] == 2
    for fax in rc.faxes:  # a retry is a resend of the number's previous fax, no upload
        if BUSY in fax.numbers and fax.original is not None:
            assert fax.numbers == (BUSY,)
            assert fax.original == next(f.id for f in rc.faxes if BUSY in f.numbers)
    ids = {fax.id for fax in rc.faxes}
    assert all(row["message_id"] in ids for row in report)


@pytest.mark.parametrize("nth", [1, 2, 3, 4])
@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_at_a_fax_post(tmp_path: Path, when: str, nth: int) -> None:
    """POST 1-3 are first sends, POST 4 the resend to the busy number."""
    rc = FakeRingCentral(busy={BUSY}, crash=("post", when, nth))
    run_until_crash(rc, tmp_path)
    check(rc, finish(rc, tmp_path))


@pytest.mark.parametrize("nth", [1, 2])
@pytest.mark.parametrize("when", ["before", "after", "drop"])
def test_crash_at_a_grouped_post(tmp_path: Path, when: str, nth: int) -> None:
    """Group size 3: POST 1 goes to all three numbers, POST 2 is the resend to the busy one.
    A crash after the group POST is reconciled number by number to the same message."""
    rc = FakeRingCentral(busy={BUSY}, crash=("post", when, nth))
    if when != "drop":
        run_until_crash(rc, tmp_path, GROUPED)
    report = finish(rc, tmp_path, GROUPED)
    check(rc, report)
    assert len(rc.faxes) == 2
    assert rc.faxes[0].numbers == tuple(NUMBERS)
    assert {r["message_id"] for r in report if r["number"] != BUSY} == {rc.faxes[0].id}


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_answer_lost_after_the_server_stored_the_fax(tmp_path: Path, nth: int) -> None:
    """The POST's answer never arrives (FaxMaybeSentError): the same worker finds the fax in
    the message store instead of sending it again."""
    rc = FakeRingCentral(busy={BUSY}, crash=("post", "drop", nth))
    check(rc, finish(rc, tmp_path))


@pytest.mark.parametrize("kind", ["sync", "list"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_while_following_up(tmp_path: Path, kind: str, when: str) -> None:
    """A crash during a status poll or during a reconciliation listing."""
    rc = FakeRingCentral(busy={BUSY}, crash=("post", "after", 2))
    run_until_crash(rc, tmp_path)  # leaves a submitting row to reconcile
    rc.crash = (kind, when, rc.counts.get(kind, 0) + 1)
    doc, csv = job(tmp_path)
    with rc.client() as client, Outbox(tmp_path / "o.db", clients=[client], settings=FAST) as box:
        box.start([doc], csv)
        with pytest.raises(Crash):
            box.run()
    check(rc, finish(rc, tmp_path))


def test_without_reconciliation_a_crash_after_the_post_would_send_twice(tmp_path: Path) -> None:
    """The oracle of the tests above: a rerun that skipped the message-store lookup would
    send the crashed recipient a second fax."""
    rc = FakeRingCentral(busy=set(), crash=("post", "after", 1))
    run_until_crash(rc, tmp_path)
    assert rc.sent_per_number() == {NUMBERS[0]: 1}
    report = finish(rc, tmp_path)
    assert rc.sent_per_number()[NUMBERS[0]] == 1
    assert report[0]["message_id"] == rc.faxes[0].id


def test_a_claim_of_another_host_waits_for_its_lease(tmp_path: Path) -> None:
    """A claim owned by a worker on another machine is left alone while its lease runs (that
    worker may be POSTing right now), and reconciled once it expired."""
    doc, csv = job(tmp_path)
    rc = FakeRingCentral()
    with rc.client() as client, Outbox(tmp_path / "o.db", clients=[client], settings=FAST) as box:
        box.start([doc], csv)
        with box.store.transaction() as cur:
            cur.execute(
                "UPDATE outbox_recipient SET state = 'submitting', credential = 'credential-1', "
                "lease_owner = 'far-away-host/4242/0123abcd/c1', lease_until = ?, "
                "attempt_started_at = ? WHERE number = ?",
                (time.time() + 60, time.time() - 100, NUMBERS[0]),  # renewed 60 s ago
            )
        threading.Timer(1.5, box.stop_event.set).start()
        assert box.run() == {"sent": 2, "submitting": 1}
    assert NUMBERS[0] not in rc.sent_per_number()

    def after_the_lease() -> float:
        return time.time() + 7200

    with (
        rc.client() as client,
        Outbox(tmp_path / "o.db", clients=[client], settings=FAST, clock=after_the_lease) as box,
    ):
        box.start([doc], csv)
        assert box.run() == {"sent": 3}
    assert rc.sent_per_number() == dict.fromkeys(NUMBERS, 1)
