"""The broadcast outbox against the rate quota, and its store's cost per recipient.

``python -m benchmarks.broadcast [--recipients N] [--limit L] [--window W] [--store-rows N]``
(about a minute with the defaults). Rules:

* Throughput: an emulator (real clock, rate limiting on) allows ``L`` fax POSTs per ``W``
  seconds; one credential sends ``N`` recipients (``N`` a multiple of ``L``) through an
  in-process :class:`ringfax.outbox.Outbox` with a SQLite store, statuses followed as usual.
  The quota lets ``N`` POSTs span at best ``(N / L - 1) * W`` seconds; the ratio printed is
  that over the measured span from the first to the last POST the emulator stored, plus
  ``W`` on both sides (1.0 = every slot of the quota used; goal >= 0.95). The 429s the
  emulator answered are counted (must be 0).
  With ``--group-size G`` a second run sends ``N * G`` recipients ``G`` per POST (the same
  number of POSTs): recipients per minute grow ``G`` times, the POST ratio stays the rule.
* Store overhead: the store transactions one recipient goes through when nothing else
  happens (claim, budget reservation, accepted, Sent), timed over ``--store-rows``
  recipients, SQLite (WAL, synchronous=FULL, on the temp directory's disk) and PostgreSQL
  (a throwaway local cluster, when its binaries exist). Printed as milliseconds per
  recipient and as a fraction of RingCentral's per-credential send interval (6 s): the share
  of the quota's time the store costs.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "outbox"))

from ringfax import FaxClient  # noqa: E402
from ringfax.emulator import Emulator, EmulatorConfig  # noqa: E402
from ringfax.emulator._config import RateLimit  # noqa: E402
from ringfax.emulator._ratelimit import Decision, RateLimiter  # noqa: E402
from ringfax.emulator._samples import make_pdf  # noqa: E402
from ringfax.outbox import Outbox, Settings, open_store  # noqa: E402
from ringfax.outbox._engine import new_actor  # noqa: E402
from ringfax.outbox._states import Event  # noqa: E402
from ringfax.outbox._store import JobSpec  # noqa: E402

RC_INTERVAL = 6.0  # RingCentral: 10 fax POSTs per 60 s per credential


def throughput(recipients: int, limit: int, window: int, margin: float, group: int) -> None:
    refused: list[str] = []
    original = RateLimiter.check

    def check(self: RateLimiter, key: str, group: str) -> Decision:
        decision = original(self, key, group)
        if not decision.allowed:
            refused.append(group)
        return decision

    RateLimiter.check = check  # type: ignore[method-assign]
    config = EmulatorConfig(
        send_delay=0.2,
        rate_limits={
            "Light": RateLimit(200, 1.0),
            "Medium": RateLimit(100, 1.0),
            "Heavy": RateLimit(limit, float(window)),
            "Auth": RateLimit(100, 1.0),
        },
    )
    with tempfile.TemporaryDirectory() as tmp, Emulator(Path(tmp) / "emu", config=config) as emu:
        doc = Path(tmp) / "doc.pdf"
        doc.write_bytes(make_pdf(["benchmark"]))
        csv = Path(tmp) / "r.csv"
        csv.write_text("number\n" + "".join(f"+1650555{1000 + i:04d}\n" for i in range(recipients)))
        settings = Settings(poll_interval=1.0, pace_margin=margin, group_size=group)
        client = FaxClient(
            emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt
        )
        with client, Outbox(Path(tmp) / "o.db", clients=[client], settings=settings) as box:
            box.start([doc], csv)
            box.run()
        created = sorted(f.creation for f in emu.faxes())
    RateLimiter.check = original  # type: ignore[method-assign]
    posts = len(created)
    span = created[-1] - created[0]
    ideal = (posts / limit - 1) * window
    ratio = (ideal + window) / (span + window)
    print(
        f"throughput: {recipients} recipients, {group} per POST, quota {limit} POSTs/{window} s, "
        f"margin {margin} s"
    )
    print(f"  {posts} POSTs spanning {span:.2f} s, best possible {ideal:.2f} s")
    print(
        f"  {recipients / (span + window) * 60:.1f} recipients/min; POST rate "
        f"{posts / (span + window) * 60:.1f}/min of {limit / window * 60:.1f}/min allowed: "
        f"ratio {ratio:.3f} (goal >= 0.95); 429 answers: {len(refused)}"
    )


def store_overhead(db: str, rows: int, rounds: int) -> list[float]:
    per_recipient = []
    for r in range(rounds):
        store = open_store(db, new_actor("bench"))
        store.setup()
        spec = JobSpec(f"bench-{time.time_ns()}-{r}", (("d", "0" * 64),), "1" * 64, None, "s")
        if store.stored_job() is not None:
            with store.transaction() as cur:
                for table in (
                    "outbox_job",
                    "outbox_recipient",
                    "outbox_audit",
                    "outbox_credential",
                ):
                    cur.execute(f"DELETE FROM {table}")
        store.start_job(
            spec,
            [(i, f"+1650555{i:04d}", None) for i in range(rows)],
            frozenset(),
            time.time(),
            lambda n: n,
        )
        start = time.perf_counter()
        for i in range(rows):
            (row,) = store.claim("cred", time.time(), 60.0, lambda n: n)
            store.reserve_send("cred", 0.0, 0.0)  # a time in the past: no wait, same writes
            store.apply(
                row, Event.ACCEPTED, time.time(), "x", message_id=str(i), count_attempt=True
            )
            (done,) = store.open_submitted("cred")[str(i)]
            store.apply(done, Event.STATUS_SENT, time.time(), "x")
        per_recipient.append((time.perf_counter() - start) / rows * 1000)
        store.close()
    return per_recipient


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broadcast")
    parser.add_argument("--recipients", type=int, default=40)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--margin", type=float, default=0.3)
    parser.add_argument("--group-size", type=int, default=1)
    parser.add_argument("--store-rows", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    throughput(args.recipients, args.limit, args.window, args.margin, 1)
    if args.group_size > 1:
        throughput(
            args.recipients * args.group_size, args.limit, args.window, args.margin, args.group_size
        )
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "sqlite": store_overhead(str(Path(tmp) / "bench.db"), args.store_rows, args.rounds)
        }
    pg = importlib.import_module("pg_cluster")  # tests/outbox/pg_cluster.py (a path entry)
    bindir = pg.find_bin()
    if bindir is None:
        print(f"postgresql: skipped ({pg.MISSING})")
    else:
        with pg.cluster(bindir) as url:
            results["postgresql"] = store_overhead(url, args.store_rows, args.rounds)
    print(
        f"store overhead per recipient (claim, budget, accepted, Sent; {args.store_rows} rows, "
        f"median of {args.rounds} rounds):"
    )
    for name, values in results.items():
        ms = statistics.median(values)
        print(f"  {name}: {ms:.2f} ms = {ms / (RC_INTERVAL * 1000):.5f} of the 6 s send interval")


if __name__ == "__main__":
    main()
