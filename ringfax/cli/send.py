"""``ringfax send``, ``resend`` and ``forward``, and following a fax with ``--wait``."""

from __future__ import annotations

import argparse
import json
import stat
from collections.abc import Callable
from pathlib import Path

from .._client import FaxClient
from .._faxbody import FaxRequest
from .._models import CoverPage, FaxMessage, Recipient, RecipientStatus
from .._progress import UploadProgress
from .common import (
    EXIT_INTERRUPTED,
    EXIT_NOTHING_TO_RESEND,
    EXIT_OK,
    CommandFailed,
    UsageProblem,
    describe,
    emit,
    exit_for,
    make_client,
    message_dict,
    recipient,
    recipient_state,
    state_text,
    status_text,
    when,
)

# -- following a fax ---------------------------------------------------------------------------


class Follow:
    """``wait_for_fax(on_update=...)``: prints each recipient's status change; remembers the
    last state so an interrupted wait can say where the fax stands."""

    def __init__(self, args: argparse.Namespace, *, quiet: bool | None = None) -> None:
        self.out = args.stderr
        self.quiet = (args.json or args.quiet) if quiet is None else quiet
        self.seen: dict[str, str] = {}
        self.last: FaxMessage | None = None

    def __call__(self, msg: FaxMessage) -> None:
        self.last = msg
        if self.quiet:
            return
        for r in msg.to:
            key = r.recipient_id or r.phone_number or "?"
            state = recipient_state(msg, r)
            if r.fax_error_code:
                state += f" ({r.fax_error_code})"
            if self.seen.get(key) != state:
                self.seen[key] = state
                print(f"  {r.phone_number}: {state}", file=self.out, flush=True)


def follow(client: FaxClient, args: argparse.Namespace, message_id: str) -> FaxMessage:
    """``--wait``: poll to a final status; Ctrl-C says the fax is still on its way."""
    watcher = Follow(args)
    try:
        return client.wait_for_fax(
            message_id, timeout=args.timeout, poll=args.poll, on_update=watcher
        )
    except KeyboardInterrupt:
        state = status_text(watcher.last.message_status) if watcher.last else "unknown"
        raise CommandFailed(
            f"stopped waiting; fax {message_id} is still in progress (last status: {state}) "
            f"- the server goes on sending it. Follow it with `ringfax status {message_id} "
            f"--wait`; `ringfax cancel {message_id}` stops it while it is Queued",
            EXIT_INTERRUPTED,
        ) from None


# -- send / resend / forward ---------------------------------------------------------------------


def _readable_files(names: list[str]) -> list[Path]:
    files = []
    for name in names:
        path = Path(name)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise UsageProblem(f"file {name!r} does not exist") from None
        except OSError as exc:
            raise UsageProblem(f"file {name!r} cannot be read: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise UsageProblem(f"file {name!r} is not a regular file")
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise UsageProblem(f"file {name!r} cannot be read: {exc.strerror or exc}") from None
        files.append(path)
    return files


def _cover_index(client: FaxClient, value: str) -> int:
    if value.strip().isdigit():
        return int(value)
    wanted = value.strip().lower()
    if wanted == "none":
        return 0
    pages: list[CoverPage] = client.cover_pages()
    for page in pages:
        if page.name.lower() == wanted:
            return page.id
    names = ", ".join(p.name for p in pages)
    raise UsageProblem(f"unknown --cover-page {value!r} (available: None, {names})")


def cmd_send(args: argparse.Namespace) -> int:
    recipients = [recipient(t) for t in args.to]
    files = _readable_files(args.files)
    send_time = when(args.send_at, "--send-at", future=True)
    with make_client(args) as client:
        cover = _cover_index(client, args.cover_page) if args.cover_page is not None else None
        request = FaxRequest(
            recipients,
            [str(f) for f in files],
            cover_index=cover,
            cover_page_text=args.cover_text,
            resolution=args.resolution,
            send_time=send_time,
            iso_code=args.iso_code,
            wire_format=args.wire_format,
            default_country=args.country,
        )
        progress = UploadProgress(args.stderr) if not (args.quiet or args.json) else None
        if progress is not None:
            client.on_wait = _pausing(progress, client.on_wait)
        finished = False
        try:
            msg = client.send_fax(request, on_progress=progress)
            finished = True
        except KeyboardInterrupt:
            if progress is None or progress.sent == 0:
                raise
            raise CommandFailed(
                "interrupted during the upload: the fax may or may not have been sent; check "
                "`ringfax list` before sending it again",
                EXIT_INTERRUPTED,
            ) from None
        finally:
            if progress is not None:
                progress.done(finished)
        if not args.json and not args.quiet:
            what = "scheduled" if send_time else "sent"
            print(
                f"{what}: message {msg.id} is {status_text(msg.message_status)}", file=args.stderr
            )
        if args.wait:
            msg = follow(client, args, msg.id)
        emit(args, message_dict(msg), lambda: describe(msg, args.stdout))
        return exit_for(msg) if args.wait else EXIT_OK


def _pausing(
    progress: UploadProgress, notice: Callable[[float, str], None] | None
) -> Callable[[float, str], None]:
    """The client's ``on_wait`` during an upload: the progress clock stops before the wait
    notice, so a rate-limit wait or a retry backoff never counts as upload time."""

    def on_wait(seconds: float, reason: str) -> None:
        progress.waiting()
        if notice is not None:
            notice(seconds, reason)

    return on_wait


def _failure_text(r: RecipientStatus) -> str:
    info = r.error
    why = f"{info.code}: {info.reason}" if info is not None else status_text(r.message_status)
    return f"{r.phone_number or '?'} ({why})"


def _resend_targets(client: FaxClient, args: argparse.Namespace) -> list[Recipient] | None:
    """``resend`` without ``--to``: the failed recipients worth retrying (all failed ones with
    ``--include-final-failures``); None when there is nothing to resend (already reported)."""
    original = client.get_fax(args.message_id)
    failed = original.failed_recipients
    chosen = failed if args.include_final_failures else original.retryable_recipients
    skipped = [r for r in failed if r not in chosen]
    if skipped and chosen and not args.quiet:
        print(
            "not resending to "
            + ", ".join(_failure_text(r) for r in skipped)
            + ": a resend does not fix that (--include-final-failures resends anyway)",
            file=args.stderr,
        )
    targets = [Recipient(r.phone_number, r.name) for r in chosen if r.phone_number]
    if targets:
        return targets
    if skipped:
        reason = (
            "its failed recipients failed for reasons a resend does not fix: "
            + ", ".join(_failure_text(r) for r in skipped)
            + " (--include-final-failures resends to them anyway; --to NUMBER sends elsewhere)"
        )
    else:
        reason = (
            f"no recipient failed (status {state_text(original)}); "
            f"`ringfax forward {args.message_id} --to NUMBER` sends it to another number"
        )
    print(f"nothing to resend: message {args.message_id}: {reason}", file=args.stderr)
    if args.json:
        print(json.dumps({"id": args.message_id, "resent": False}), file=args.stdout)
    return None


def cmd_resend(args: argparse.Namespace) -> int:
    recipients = [recipient(t) for t in args.to] or None
    send_time = when(args.send_at, "--send-at", future=True)
    with make_client(args) as client:
        if recipients is None:
            recipients = _resend_targets(client, args)
            if recipients is None:
                return EXIT_NOTHING_TO_RESEND
        msg = client.resend_fax(
            args.message_id, recipients, send_time, default_country=args.country
        )
        if not args.json and not args.quiet:
            verb = "forwarded" if args.command == "forward" else "resent"
            print(
                f"{verb} message {args.message_id} as message {msg.id}: "
                f"{status_text(msg.message_status)}",
                file=args.stderr,
            )
        if args.wait:
            msg = follow(client, args, msg.id)
        emit(args, message_dict(msg), lambda: describe(msg, args.stdout))
        return exit_for(msg) if args.wait else EXIT_OK
