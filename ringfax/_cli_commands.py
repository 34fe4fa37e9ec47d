"""The ``ringfax`` commands that talk to a fax server (send, status, receive, ...)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ._cli_common import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_NOTHING_TO_RESEND,
    EXIT_OK,
    CommandFailed,
    UsageProblem,
    describe,
    emit,
    exit_for,
    lines,
    make_client,
    message_dict,
    recipient,
    recipient_state,
    server_url,
    state_text,
    status_text,
    wait_notice,
    when,
)
from ._client import FaxClient
from ._errors import APIError, TransportError
from ._faxbody import FaxRequest
from ._inbox import Inbox, ReceivedFax
from ._models import CoverPage, FaxMessage, MessageAttachment, Recipient, RecipientStatus
from ._progress import UploadProgress

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


# -- reading the message store -----------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        msg = (
            follow(client, args, args.message_id) if args.wait else client.get_fax(args.message_id)
        )
        emit(args, message_dict(msg), lambda: describe(msg, args.stdout))
        return exit_for(msg) if args.wait else EXIT_OK


def _list_row(m: FaxMessage) -> list[str]:
    when_ = (
        m.creation_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
        if (m.creation_time)
        else "?"
    )
    inbound = m.direction == "Inbound"
    if inbound:
        party = "from " + ((m.from_.phone_number if m.from_ else None) or "?")
    else:
        party = ", ".join(r.phone_number or "?" for r in m.to)
    pages = "-" if m.fax_page_count is None else str(m.fax_page_count)
    status = state_text(m)
    if inbound and m.read_status:
        status += f" ({m.read_status.lower()})"
    return [m.id, when_, "in" if inbound else "out", status, pages, party]


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    """Left-aligned columns; the last column is not padded."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    out = []
    for row in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
        out.append("  ".join(cells).rstrip())
    return out


def cmd_list(args: argparse.Namespace) -> int:
    date_from = when(args.date_from, "--date-from")
    date_to = when(args.date_to, "--date-to")
    if date_from is None and args.days is not None:
        date_from = datetime.now(timezone.utc) - timedelta(days=args.days)
    with make_client(args) as client:
        found = []
        for msg in client.iter_faxes(
            direction=args.direction, date_from=date_from, date_to=date_to, per_page=args.per_page
        ):
            found.append(msg)
            if args.limit is not None and len(found) >= args.limit:
                break

    def text() -> None:
        if found:
            header = ["ID", "CREATED (UTC)", "DIR", "STATUS", "PAGES", "TO / FROM"]
            for row in table([_list_row(m) for m in found], header):
                print(row, file=args.stdout)
        print(f"{len(found)} fax(es)", file=args.stderr)

    emit(args, [message_dict(m) for m in found], text)
    return EXIT_OK


def _names_a_directory(text: str) -> bool:
    """``-o DIR/`` (a trailing separator) or an existing directory."""
    separators = tuple(sep for sep in (os.sep, os.altsep) if sep)
    return text.endswith(separators) or Path(text).is_dir()


def cmd_download(args: argparse.Namespace) -> int:
    out = Path(args.output)
    into_directory = _names_a_directory(args.output)
    with make_client(args) as client:
        msg = client.get_fax(args.message_id)
        targets: list[str | MessageAttachment] = list(msg.attachments)
        if args.attachment_id:
            wanted = [a for a in msg.attachments if a.id == args.attachment_id]
            targets = list(wanted) or [args.attachment_id]
        if not targets:
            raise UsageProblem(f"message {args.message_id} has no attachments")
        if len(targets) > 1 and not into_directory:
            raise UsageProblem(
                f"message {args.message_id} has {len(targets)} attachments:"
                " give an ATTACHMENT_ID, or a directory as --output (DIR/ creates it)"
            )
        if into_directory:
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageProblem(
                    f"--output {args.output!r}: cannot create the directory: {exc.strerror or exc}"
                ) from None
        paths = [
            str(client.download(args.message_id, t, out, overwrite=args.force)) for t in targets
        ]
    emit(args, {"files": paths}, lines(args, paths))
    return EXIT_OK


def cmd_cover_pages(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        pages = client.cover_pages()
    emit(
        args,
        [{"id": p.id, "name": p.name} for p in pages],
        lines(args, table([[str(p.id), p.name] for p in pages], ["INDEX", "NAME"])),
    )
    return EXIT_OK


# -- changing the message store ------------------------------------------------------------------


def cmd_cancel(args: argparse.Namespace) -> int:
    from ._errors import NotCancellable

    with make_client(args) as client:
        try:
            msg = client.cancel_fax(args.message_id)
        except NotCancellable as exc:
            status = getattr(exc.status, "value", exc.status) or "not Queued"
            raise CommandFailed(
                f"message {args.message_id} is {status}: only a Queued fax can be cancelled, "
                f"and this one was not touched. To remove it from the message store run "
                f"`ringfax delete {args.message_id}`"
            ) from None
    payload: dict[str, Any] = {"id": args.message_id, "cancelled": True}
    if isinstance(msg, FaxMessage):
        payload["messageStatus"] = status_text(msg.message_status)
    emit(
        args,
        payload,
        lambda: print(
            f"message {args.message_id} cancelled (it will not be sent)", file=args.stdout
        ),
    )
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    verb = "purged" if args.purge else "deleted"
    done = []
    with make_client(args) as client:
        for message_id in args.message_ids:
            client.delete_fax(message_id, purge=args.purge)
            done.append(message_id)
            if not args.json:
                print(f"message {message_id} {verb}", file=args.stdout)
    if args.json:
        emit(args, [{"id": i, verb: True} for i in done], lambda: None)
    return EXIT_OK


def cmd_mark(args: argparse.Namespace) -> int:
    read = args.command == "mark-read"
    with make_client(args) as client:
        changed = []
        for message_id in args.message_ids:
            msg = client.mark_read(message_id) if read else client.mark_unread(message_id)
            changed.append(msg)
    emit(
        args,
        [message_dict(m) for m in changed],
        lines(args, [f"message {m.id}: {m.read_status or '?'}" for m in changed]),
    )
    return EXIT_OK


# -- receive -----------------------------------------------------------------------------------


def _received_dict(fax: ReceivedFax) -> dict[str, Any]:
    data = message_dict(fax.message)
    data["files"] = [str(p) for p in fax.files]
    return data


def _report(args: argparse.Namespace, got: list[ReceivedFax], *, stream: bool) -> None:
    if args.json:
        if stream:
            for fax in got:
                print(json.dumps(_received_dict(fax), ensure_ascii=False), file=args.stdout)
        else:
            print(json.dumps([_received_dict(f) for f in got], indent=2), file=args.stdout)
        args.stdout.flush()
        return
    for fax in got:
        m = fax.message
        sender = (m.from_.phone_number if m.from_ else None) or "unknown sender"
        pages = f"{m.fax_page_count} page(s)" if m.fax_page_count is not None else "pages: ?"
        print(f"received fax {m.id} from {sender}, {pages}:", file=args.stdout)
        for path in fax.files:
            print(f"  {path}", file=args.stdout)
    args.stdout.flush()


def _since(text: str) -> datetime | None:
    """``--since``: an ISO 8601 time, or a number of days back."""
    try:
        days = float(text)
    except ValueError:
        return when(text, "--since")
    if not 0 < days < 36500:
        raise UsageProblem(f"--since {text!r}: give a number of days > 0 or an ISO 8601 time")
    return datetime.now(timezone.utc) - timedelta(days=days)


@contextlib.contextmanager
def _stop_on_sigterm(enabled: bool) -> Iterator[None]:
    """``kill`` ends ``receive --watch`` like Ctrl-C: between two steps, state consistent."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Outage:
    """``receive --watch`` during a server outage: one line when it starts (what failed, when
    the next try is), one when the server answers again; the failed cycles in between are
    silent."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.failures > 1 or self.args.quiet:
            return
        reason = re.sub(r"^[A-Z]+ \S+: ", "", str(exc))  # the URL is in the start line
        retry_at = datetime.now(timezone.utc) + timedelta(seconds=self.args.watch)
        print(
            f"warning: the server is not answering ({reason}); retrying every "
            f"{self.args.watch:g} s, next at {retry_at:%H:%M:%S} UTC",
            file=self.args.stderr,
            flush=True,
        )

    def answered(self) -> None:
        if self.failures and not self.args.quiet:
            print(
                f"the server answers again (after {self.failures} failed attempt(s))",
                file=self.args.stderr,
                flush=True,
            )
        self.failures = 0


def cmd_receive(args: argparse.Namespace) -> int:
    since = _since(args.since)
    sleep: Callable[[float], None] = time.sleep
    watching = args.watch is not None
    on_wait = wait_notice(args, retries=not watching)  # --watch reports outages by itself
    with make_client(args, on_wait=on_wait) as client, _stop_on_sigterm(watching):
        inbox = Inbox(client, args.to_dir, mark_read=args.mark_read, since=since)
        total = 0
        warned = False
        outage = _Outage(args)
        if watching and not args.quiet:
            print(
                f"watching {server_url(args)} for received faxes every {args.watch:g} s, "
                f"saving them in {args.to_dir} (Ctrl-C stops)",
                file=args.stderr,
                flush=True,
            )
        try:
            while True:
                try:
                    got = inbox.sync()
                    outage.answered()
                except (TransportError, APIError) as exc:
                    transient = not isinstance(exc, APIError) or exc.status >= 429
                    if not watching or not transient:
                        raise
                    outage.failed(exc)
                    got = []
                if inbox.older_records_exist and not warned and not args.quiet:
                    warned = True
                    print(
                        "note: the server holds older faxes than this first sync returned; "
                        "use --since, or `ringfax list --direction Inbound` and "
                        "`ringfax download`",
                        file=args.stderr,
                    )
                _report(args, got, stream=args.watch is not None)
                _report_failures(args, inbox.failures)
                total += len(got)
                if args.watch is None:
                    break
                sleep(args.watch)
        except KeyboardInterrupt:
            if args.watch is None:
                raise  # the inbox state is consistent: the next run resumes
    if not args.quiet:
        print(f"{total} new fax(es) in {args.to_dir}", file=args.stderr)
    return EXIT_INCOMPLETE if inbox.failures else EXIT_OK


def _report_failures(args: argparse.Namespace, failures: Mapping[str, str]) -> None:
    """One line per fax the last sync could not save (printed even with ``-q``)."""
    for message_id, reason in failures.items():
        print(
            f"warning: fax {message_id} was not saved: {reason}; it stays pending and will be "
            f"retried by the next run",
            file=args.stderr,
            flush=True,
        )
