"""The ``ringfax`` commands that read or change the message store: ``status``, ``list``,
``download``, ``cover-pages``, ``cancel``, ``delete``, ``mark-read``/``mark-unread``."""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .._models import FaxMessage, MessageAttachment
from .common import (
    EXIT_OK,
    CommandFailed,
    UsageProblem,
    describe,
    emit,
    exit_for,
    lines,
    make_client,
    message_dict,
    state_text,
    status_text,
    when,
)
from .send import follow

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
    from .._errors import NotCancellable

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
