"""``ringfax broadcast``: the outbox on the command line.

``add_broadcast_parser(subparsers)`` adds the sub-command; ``run_broadcast(args)`` runs it
and returns the exit code (codes from the CLI's ``EXIT_CODES`` table).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from .._client import ENV_VARS, FaxClient
from .._errors import RingFaxError, ValidationError
from . import (
    BroadcastAborted,
    JobMismatch,
    Outbox,
    RecipientsRefused,
    Settings,
    StoreError,
    check_recipients,
)
from ._pacing import DEFAULT_LIMIT, DEFAULT_WINDOW
from ._recipients import read_number_list
from ._states import FINAL_STATES

FINAL = frozenset(s.value for s in FINAL_STATES)

__all__ = ["add_broadcast_parser", "run_broadcast"]

DEFAULT_DB = "ringfax-broadcast.db"


def add_broadcast_parser(subparsers: Any) -> None:
    """Add ``broadcast`` to the ``ringfax`` command's sub-parsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "broadcast",
        help="send one document to many numbers from a CSV (durable, resumable)",
        description=(
            "Send DOCUMENT(s) to every number of a recipients CSV through a durable outbox. "
            "Run the same command again to resume after a crash; no number gets two faxes. "
            "`--db DB --report OUT.csv` writes one row per recipient."
        ),
    )
    p.add_argument("documents", nargs="*", metavar="DOCUMENT", help="files to fax")
    p.add_argument(
        "--recipients",
        type=Path,
        metavar="FILE.csv",
        help="CSV with a number/phone/fax/to column, optional name",
    )
    p.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="PATH|postgresql://...",
        help=f"outbox store (default {DEFAULT_DB}; a postgresql:// URL lets "
        "workers on many machines share the job)",
    )
    p.add_argument("--cover-text", help="cover page text (at most 1024 characters)")
    p.add_argument(
        "--do-not-fax",
        type=Path,
        metavar="FILE",
        help="numbers never to fax (one per line, or a CSV with a number column)",
    )
    p.add_argument("--country", metavar="CC", help="country for national numbers in the CSV")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the CSV and documents, print the plan and ETA, send nothing",
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="OUT.csv",
        help="write the per-recipient report of the job in --db and exit",
    )
    p.add_argument(
        "--max-attempts",
        type=int,
        default=3,
        help="faxes to one number at most, first send included (default 3)",
    )
    p.add_argument(
        "--retry-delay",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="wait before the first resend of a busy/no-answer number; doubles "
        "after each further attempt (default 300)",
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="status follow-up interval per credential (default 30)",
    )
    p.add_argument(
        "--group-size",
        type=int,
        default=1,
        metavar="N",
        help="numbers per fax POST for first sends (1-50, default 1): fewer requests of the "
        "rate-limited kind; retries always go one number at a time",
    )
    p.add_argument(
        "--reconcile-grace", type=float, default=10.0, metavar="SECONDS", help=argparse.SUPPRESS
    )
    p.add_argument("--server", help="API server URL (RC_SERVER_URL)")
    p.add_argument("--client-id", help="app client id (RC_APP_CLIENT_ID)")
    p.add_argument("--client-secret", help="app client secret (RC_APP_CLIENT_SECRET)")
    p.add_argument(
        "--jwt",
        action="append",
        default=[],
        help="user JWT (RC_USER_JWT); repeat for a pool of credentials",
    )
    p.add_argument("--no-token-cache", action="store_true", help="do not share tokens")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_broadcast)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def _clients(args: argparse.Namespace) -> tuple[list[FaxClient], list[str]]:
    server = args.server or os.environ.get("RC_SERVER_URL")
    cid = args.client_id or os.environ.get("RC_APP_CLIENT_ID")
    secret = args.client_secret or os.environ.get("RC_APP_CLIENT_SECRET")
    jwts = list(args.jwt) or ([os.environ["RC_USER_JWT"]] if os.environ.get("RC_USER_JWT") else [])
    if not (server and cid and secret and jwts):
        raise ValidationError(
            f"missing configuration: --server, --client-id, --client-secret, --jwt or "
            f"{', '.join(ENV_VARS)}"
        )
    kwargs: dict[str, Any] = {}
    if not args.no_token_cache:
        from .._auth import FileTokenCache
        from ..cli.common import token_cache_path  # see run_broadcast

        kwargs["token_cache"] = FileTokenCache(token_cache_path())
    clients, keys = [], []
    for jwt in dict.fromkeys(jwts):
        clients.append(FaxClient(server, client_id=cid, client_secret=secret, jwt=jwt, **kwargs))
        keys.append(hashlib.sha256(f"{server}\n{cid}\n{jwt}".encode()).hexdigest()[:16])
    return clients, keys


def run_broadcast(args: argparse.Namespace) -> int:
    """Run ``ringfax broadcast``; returns the exit code."""
    from ..cli import common as codes  # here, not at import: ringfax.cli imports this module

    try:
        return _run(args)
    except RecipientsRefused as exc:
        print(
            f"ringfax broadcast: {exc.args[0].split(':', 1)[0]}: bad rows, nothing was sent:",
            file=sys.stderr,
        )
        for bad in exc.bad:
            print(f"  line {bad.line}: {bad.reason}", file=sys.stderr)
        return codes.EXIT_USAGE
    except (JobMismatch, ValidationError) as exc:
        print(f"ringfax broadcast: {exc}", file=sys.stderr)
        return codes.EXIT_USAGE
    except (BroadcastAborted, StoreError, RingFaxError) as exc:
        print(f"ringfax broadcast: {exc}", file=sys.stderr)
        return codes.EXIT_API
    except KeyboardInterrupt:
        return codes.EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from ..cli import common as codes

    if args.report is not None:
        with Outbox(args.db) as outbox:
            outbox.attach()
            text = outbox.report_json() if args.json else outbox.report_csv()
            counts = outbox.counts()
        target: Path = args.report
        if str(target) == "-":
            sys.stdout.write(text)
        else:
            target.write_text(text, encoding="utf-8")
        _say(args, f"report: {sum(counts.values())} recipient(s): {_counts(counts)}")
        return codes.EXIT_OK
    if args.recipients is None or not args.documents:
        raise ValidationError("broadcast needs --recipients FILE.csv and at least one DOCUMENT")
    settings = Settings(
        max_attempts=args.max_attempts,
        retry_delay=args.retry_delay,
        poll_interval=args.poll_interval,
        reconcile_grace=args.reconcile_grace,
        group_size=args.group_size,
    )
    excluded = (
        read_number_list(args.do_not_fax, default_country=args.country)
        if args.do_not_fax
        else frozenset()
    )
    if args.dry_run:
        parsed = check_recipients(args.recipients, default_country=args.country)
        for doc in args.documents:
            if not Path(doc).is_file():
                raise ValidationError(f"document {doc}: not a readable file")
        count = len([r for r in parsed.rows if r.number not in excluded])
        posts = -(-count // settings.group_size)
        minutes = posts * DEFAULT_WINDOW / DEFAULT_LIMIT / 60
        plan = {
            "recipients": len(parsed.rows),
            "to_send": count,
            "do_not_fax": len(parsed.rows) - count,
            "posts": posts,
            "eta_seconds_one_credential": round(minutes * 60, 1),
        }
        if args.json:
            print(json.dumps(plan))
        else:
            print(
                f"{count} number(s) to fax in {posts} POST(s) ({plan['do_not_fax']} on the "
                f"do-not-fax list); at RingCentral's {DEFAULT_LIMIT} fax POSTs per "
                f"{DEFAULT_WINDOW:.0f} s per credential: about {minutes:.0f} min with one "
                f"credential. Nothing was sent (--dry-run)."
            )
        return codes.EXIT_OK
    clients, keys = _clients(args)
    try:
        with Outbox(args.db, clients=clients, credential_ids=keys, settings=settings) as outbox:
            counts = outbox.start(
                args.documents,
                args.recipients,
                cover_text=args.cover_text,
                do_not_fax=excluded,
                default_country=args.country,
            )
            _say(
                args,
                f"{'resuming' if outbox.resumed else 'starting'} broadcast: "
                f"{_counts(counts)}; ETA {outbox.eta() / 60:.1f} min for the first sends",
            )
            counts = outbox.run(
                on_progress=None if args.quiet else lambda c: _say(args, _counts(c))
            )
            if args.json:
                print(outbox.report_json())
    finally:
        for client in clients:
            client.close()
    _say(args, f"done: {_counts(counts)}")
    unfinished = sum(n for state, n in counts.items() if state not in FINAL)
    if unfinished:
        print(
            f"ringfax broadcast: {unfinished} recipient(s) belong to credentials not in this "
            f"run (a resend or a crashed attempt must go through the credential that sent "
            f"the fax); run again with those --jwt values",
            file=sys.stderr,
        )
        return codes.EXIT_INCOMPLETE
    return codes.EXIT_FAILED if counts.get("failed") else codes.EXIT_OK


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "no recipients"
