"""Three broadcast worker processes sharing one job in PostgreSQL, each killed with SIGKILL
at random instants and restarted: every number gets exactly one Sent fax or ends in a final
failure, none gets two, the report agrees with the emulator, and the shared send budget
provokes no 429."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import broadcast
from pg_cluster import MISSING, cluster, find_bin
from test_broadcast_emulator import check_outcome, recipients_csv

from ringfax.emulator import Emulator
from ringfax.outbox import Outbox


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    bindir = find_bin()
    if bindir is None:
        pytest.skip(MISSING)
    with cluster(bindir) as url:
        yield url


def workers_with_kills(emu: Emulator, args: list[str], workers: int, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    procs = [broadcast(emu, *args) for _ in range(workers)]
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.5))
        victim = rng.randrange(workers)
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].communicate(timeout=30)
        procs[victim] = broadcast(emu, *args)
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode in (0, 3), err.decode()


def run_case(emu: Emulator, tmp_path: Path, url: str, plain: int, kills: int) -> None:
    dbname = f"outbox_{tmp_path.name.replace('-', '_')[-40:]}".lower()
    _create_db(url, dbname)
    db = url.rsplit("/", 1)[0] + "/" + dbname
    expected = recipients_csv(tmp_path / "recipients.csv", plain)
    args = [
        "--recipients",
        str(tmp_path / "recipients.csv"),
        "--db",
        db,
        str(tmp_path / "letter.pdf"),
    ]
    workers_with_kills(emu, args, 3, kills, seed=plain)
    proc = broadcast(emu, "--db", db, "--report", "-")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    check_outcome(emu, expected, out.decode())
    assert emu.rate_limited_by_group() == {}
    assert len(_senders(db)) >= 3  # the processes really shared the job


def _senders(db: str) -> set[str]:
    """Process ids (host/pid) that recorded an accepted fax in the audit log."""
    import psycopg

    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT actor FROM outbox_audit WHERE event = 'accepted'").fetchall()
    return {"/".join(str(actor).split("/")[:2]) for (actor,) in rows}


def _create_db(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")


def test_workers_starting_at_once_share_one_job(tmp_path: Path, pg_url: str) -> None:
    """Eight workers creating the same job at the same moment: one creates it, the others
    resume it (none fails on the job's primary key)."""
    _create_db(pg_url, "outbox_start_race")
    db = pg_url.rsplit("/", 1)[0] + "/outbox_start_race"
    doc = tmp_path / "letter.txt"
    doc.write_text("hello\n")
    csv = tmp_path / "r.csv"
    csv.write_text("number\n+16505551000\n+16505551001\n")
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def start() -> None:
        try:
            with Outbox(db) as box:
                barrier.wait(10)
                box.start([doc], csv)
                outcomes.append(box.resumed)
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(map(str, outcomes)) == ["False"] + ["True"] * 7


def test_three_workers_killed_three_times(
    emulator: Emulator, tmp_path: Path, document: Path, pg_url: str
) -> None:
    run_case(emulator, tmp_path, pg_url, plain=108, kills=3)


@pytest.mark.slow
def test_three_workers_500_recipients_killed_five_times(
    emulator: Emulator, tmp_path: Path, document: Path, pg_url: str
) -> None:
    run_case(emulator, tmp_path, pg_url, plain=488, kills=5)
