"""The ``ringfax`` command line.

::

    ringfax demo                                   # emulator + a real fax, end to end
    ringfax emulator --port 8099 --data-dir ./fax-data
    export RC_SERVER_URL=http://127.0.0.1:8099 RC_APP_CLIENT_ID=... RC_APP_CLIENT_SECRET=... \\
           RC_USER_JWT=...
    ringfax send --to +16505550123 --to "+16505550124:Jane Doe" letter.pdf scan.tiff --wait
    ringfax status 3000000000001 --wait
    ringfax list --json

Configuration: ``--server``, ``--client-id``, ``--client-secret``, ``--jwt`` or the variables
``RC_SERVER_URL``, ``RC_APP_CLIENT_ID``, ``RC_APP_CLIENT_SECRET``, ``RC_USER_JWT``.

Exit codes: 0 success; 1 API or transport error; 2 usage or validation error (bad
arguments, missing configuration, invalid input rejected before sending); 3 the fax reached
a failed final status (``SendingFailed``/``DeliveryFailed``) with ``--wait``; 4 ``--wait``
timed out; 5 the fax POST failed after its body may have reached the server (it was NOT
re-sent: check ``ringfax list`` before sending again); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from ._client import ENV_VARS, FaxClient
from ._errors import FaxMaybeSentError, RingFaxError, ValidationError, WaitTimeout
from ._models import CoverPage, FaxMessage, MessageStatus, Recipient

__all__ = [
    "EXIT_API",
    "EXIT_FAILED",
    "EXIT_MAYBE_SENT",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_TIMEOUT = 4
EXIT_MAYBE_SENT = 5
EXIT_INTERRUPTED = 130


class UsageProblem(Exception):
    """A command-line problem (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        raise UsageProblem(f"{self.prog}: {message}")


# -- helpers ----------------------------------------------------------------------------------


def _recipient(text: str) -> Recipient:
    number, sep, name = text.partition(":")
    number = number.strip()
    if not number:
        raise UsageProblem(f"recipient {text!r} has no number")
    return Recipient(number, name.strip() or None) if sep else Recipient(number)


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"--send-at {text!r} is not an ISO 8601 date-time") from None
    if dt.tzinfo is None:
        raise UsageProblem(f"--send-at {text!r} needs a time zone (e.g. Z or +02:00)")
    return dt


def _status(value: MessageStatus | None) -> str:
    return value.value if value is not None else "?"


def message_dict(msg: FaxMessage) -> dict[str, Any]:
    """A compact, JSON-serialisable view of a fax message."""
    return {
        "id": msg.id,
        "messageStatus": _status(msg.message_status),
        "faxPageCount": msg.fax_page_count,
        "creationTime": msg.creation_time.isoformat() if msg.creation_time else None,
        "to": [
            {
                "phoneNumber": r.phone_number,
                "name": r.name,
                "messageStatus": _status(r.message_status),
                "faxErrorCode": r.fax_error_code,
                "reason": r.error.reason if r.error else None,
                "retryable": r.retryable if r.fax_error_code else None,
            }
            for r in msg.to
        ],
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "contentType": a.content_type,
                "size": a.size,
            }
            for a in msg.attachments
        ],
    }


def _describe(msg: FaxMessage, out: TextIO) -> None:
    pages = msg.fax_page_count if msg.fax_page_count is not None else "-"
    print(f"message {msg.id}: {_status(msg.message_status)} (pages: {pages})", file=out)
    for r in msg.to:
        line = f"  {r.phone_number}"
        if r.name:
            line += f" ({r.name})"
        line += f": {_status(r.message_status)}"
        if r.fax_error_code:
            info = r.error
            line += f" - {r.fax_error_code}"
            if info is not None:
                line += f": {info.reason}" + (" (worth retrying)" if info.retryable else "")
        print(line, file=out)
    for a in msg.attachments:
        size = f"{a.size} bytes" if a.size is not None else "size unknown"
        print(
            f"  attachment {a.id}: {a.filename or '(no name)'} {a.content_type or ''} {size}",
            file=out,
        )


class _ProgressBar:
    """An upload progress bar on stderr, fed by ``send_fax(on_progress=...)``."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self.out = out
        self.width = width
        self.last = -1
        self.shown = False

    def __call__(self, sent: int, total: int | None) -> None:
        if total:
            pct = min(100, sent * 100 // total)
            if pct == self.last:
                return
            self.last = pct
            filled = self.width * pct // 100
            bar = "#" * filled + "." * (self.width - filled)
            self.out.write(f"\rUploading [{bar}] {pct:3d}% {sent}/{total} bytes")
        else:
            self.out.write(f"\rUploading {sent} bytes")
        self.out.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.out.write("\n")
            self.out.flush()


def _watch(out: TextIO, quiet: bool) -> Callable[[FaxMessage], None]:
    seen: dict[str, str] = {}

    def on_update(msg: FaxMessage) -> None:
        if quiet:
            return
        for r in msg.to:
            key = r.recipient_id or r.phone_number or "?"
            state = _status(r.message_status)
            if r.fax_error_code:
                state += f" ({r.fax_error_code})"
            if seen.get(key) != state:
                seen[key] = state
                print(f"  {r.phone_number}: {state}", file=out, flush=True)

    return on_update


def _exit_for(msg: FaxMessage) -> int:
    status = msg.message_status
    if status is not None and status.is_failure:
        return EXIT_FAILED
    return EXIT_OK


# -- commands ---------------------------------------------------------------------------------


def _client(args: argparse.Namespace, **kwargs: Any) -> FaxClient:
    server = args.server or os.environ.get("RC_SERVER_URL")
    cid = args.client_id or os.environ.get("RC_APP_CLIENT_ID")
    secret = args.client_secret or os.environ.get("RC_APP_CLIENT_SECRET")
    jwt = args.jwt or os.environ.get("RC_USER_JWT")
    missing = [
        f"--{flag} / {env}"
        for flag, env, value in zip(
            ("server", "client-id", "client-secret", "jwt"),
            ENV_VARS,
            (server, cid, secret, jwt),
            strict=True,
        )
        if not value
    ]
    if missing:
        raise UsageProblem(f"missing configuration: {', '.join(missing)}")
    assert server is not None
    return FaxClient(server, client_id=cid, client_secret=secret, jwt=jwt, **kwargs)


def _lines(args: argparse.Namespace, lines: list[str]) -> Callable[[], None]:
    def show() -> None:
        for line in lines:
            print(line, file=args.stdout)

    return show


def _emit(args: argparse.Namespace, payload: Any, text: Callable[[], None]) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=args.stdout)
    else:
        text()


def _wait(client: FaxClient, args: argparse.Namespace, message_id: str) -> FaxMessage:
    return client.wait_for_fax(
        message_id,
        timeout=args.timeout,
        poll=args.poll,
        on_update=_watch(args.stderr, args.json or args.quiet),
    )


def cmd_send(args: argparse.Namespace) -> int:
    recipients = [_recipient(t) for t in args.to]
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            raise UsageProblem(f"file {str(f)!r} does not exist or is not a regular file")
    with _client(args) as client:
        cover = _cover_index(client, args.cover_page) if args.cover_page is not None else None
        bar = _ProgressBar(args.stderr) if not (args.quiet or args.json) else None
        try:
            msg = client.send_fax(
                recipients,
                [str(f) for f in files],
                cover_index=cover,
                cover_page_text=args.cover_text,
                resolution=args.resolution,
                send_time=_when(args.send_at),
                iso_code=args.iso_code,
                wire_format=args.wire_format,
                on_progress=bar,
            )
        finally:
            if bar is not None:
                bar.done()
        if not args.json and not args.quiet:
            print(f"sent: message {msg.id} is {_status(msg.message_status)}", file=args.stderr)
        if args.wait:
            msg = _wait(client, args, msg.id)
        _emit(args, message_dict(msg), lambda: _describe(msg, args.stdout))
        return _exit_for(msg) if args.wait else EXIT_OK


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
    raise UsageProblem(f"unknown cover page {value!r} (available: None, {names})")


def cmd_resend(args: argparse.Namespace) -> int:
    recipients = [_recipient(t) for t in args.to] or None
    with _client(args) as client:
        msg = client.resend_fax(args.message_id, recipients, _when(args.send_at))
        if args.wait:
            msg = _wait(client, args, msg.id)
        _emit(args, message_dict(msg), lambda: _describe(msg, args.stdout))
        return _exit_for(msg) if args.wait else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        msg = _wait(client, args, args.message_id) if args.wait else client.get_fax(args.message_id)
        _emit(args, message_dict(msg), lambda: _describe(msg, args.stdout))
        return _exit_for(msg) if args.wait else EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    date_from = _when(args.date_from) if args.date_from else None
    date_to = _when(args.date_to) if args.date_to else None
    if date_from is None and args.days is not None:
        date_from = datetime.now(timezone.utc) - timedelta(days=args.days)
    with _client(args) as client:
        found = []
        for msg in client.iter_faxes(
            direction=args.direction, date_from=date_from, date_to=date_to, per_page=args.per_page
        ):
            found.append(msg)
            if args.limit is not None and len(found) >= args.limit:
                break

        def text() -> None:
            for m in found:
                when = m.creation_time.isoformat() if m.creation_time else "?"
                to = ", ".join(r.phone_number or "?" for r in m.to)
                print(f"{m.id}  {when}  {_status(m.message_status):<13} {to}", file=args.stdout)
            print(f"{len(found)} fax(es)", file=args.stderr)

        _emit(args, [message_dict(m) for m in found], text)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.cancel_fax(args.message_id)
    _emit(
        args,
        {"id": args.message_id, "cancelled": True},
        lambda: print(f"message {args.message_id} cancelled", file=args.stdout),
    )
    return EXIT_OK


def cmd_download(args: argparse.Namespace) -> int:
    out = Path(args.output)
    with _client(args) as client:
        if args.attachment_id:
            targets = [args.attachment_id]
        else:
            msg = client.get_fax(args.message_id)
            targets = [a.id for a in msg.attachments]
            if not targets:
                raise UsageProblem(f"message {args.message_id} has no attachments")
            if len(targets) > 1 and not out.is_dir():
                raise UsageProblem(
                    f"message {args.message_id} has {len(targets)} attachments:"
                    " give an attachment id or an existing directory as --output"
                )
        paths = [str(client.download(args.message_id, t, out)) for t in targets]
    _emit(args, {"files": paths}, _lines(args, paths))
    return EXIT_OK


def cmd_cover_pages(args: argparse.Namespace) -> int:
    with _client(args) as client:
        pages = client.cover_pages()
    _emit(
        args,
        [{"id": p.id, "name": p.name} for p in pages],
        _lines(args, [f"{p.id:>3}  {p.name}" for p in pages]),
    )
    return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(
        send_delay=args.send_delay,
        delivered=args.delivered,
        strict=args.strict,
        rate_limiting=not args.no_rate_limits,
    )
    data_dir = Path(args.data_dir) if args.data_dir else None
    emu = Emulator(data_dir, host=args.host, port=args.port, config=config)
    emu.start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # clean shutdown on `kill` too
    try:
        print(f"ringfax emulator listening on {emu.url}", file=args.stdout)
        print(f"  data dir: {emu.data_dir}", file=args.stdout)
        print(
            f"  export RC_SERVER_URL={emu.url} RC_APP_CLIENT_ID={emu.client_id}"
            f" RC_APP_CLIENT_SECRET={emu.client_secret} RC_USER_JWT={emu.jwt}",
            file=args.stdout,
            flush=True,
        )
        print("  press Ctrl-C to stop", file=args.stdout, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping", file=args.stdout)
    finally:
        emu.stop()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .emulator import Emulator, EmulatorConfig
    from .emulator._samples import make_pdf, make_tiff

    out = args.stdout
    config = EmulatorConfig(send_delay=args.send_delay, page_delay=0.0, delivered=False)
    with tempfile.TemporaryDirectory(prefix="ringfax-demo-") as tmp, Emulator(config=config) as emu:
        print(f"emulator running on {emu.url} (temporary data dir)", file=out)
        pdf = Path(tmp) / "letter.pdf"
        pdf.write_bytes(make_pdf(["ringfax demo: page 1 of the letter", "page 2 of the letter"]))
        tiff = Path(tmp) / "scan.tiff"
        tiff.write_bytes(make_tiff())
        print(f"generated {pdf.name} ({pdf.stat().st_size} bytes, 2 pages)", file=out)
        print(f"generated {tiff.name} ({tiff.stat().st_size} bytes, 1 page)", file=out)
        with FaxClient(
            emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt
        ) as client:
            recipients = [Recipient("+16505550123", "Jane Doe"), Recipient("+16505550199", "Bob")]
            msg = client.send_fax(
                recipients,
                [str(pdf), str(tiff)],
                cover_index=5,
                cover_page_text="ringfax demo",
                resolution="High",
            )
            print(
                f"sent fax {msg.id} to {len(recipients)} recipients: {_status(msg.message_status)}",
                file=out,
            )
            final = client.wait_for_fax(
                msg.id,
                timeout=max(30.0, args.send_delay * 10),
                poll=max(0.1, args.send_delay / 4),
                on_update=_watch(out, False),
            )
            print("final state:", file=out)
            _describe(final, out)
            originals = {"letter.pdf": pdf, "scan.tiff": tiff}
            for att in final.attachments:
                target = Path(tmp) / f"downloaded-{att.filename or att.id}"
                client.download(final.id, att.id, target)
                source = originals.get(att.filename or "")
                same = source is not None and source.read_bytes() == target.read_bytes()
                verdict = "identical to the original" if same else "DIFFERENT from the original"
                print(
                    f"downloaded {att.filename}: {target.stat().st_size} bytes, {verdict}", file=out
                )
                if not same:
                    return EXIT_API
            if args.json:
                print(json.dumps(message_dict(final), indent=2), file=out)
        print("emulator stopped", file=out)
    return _exit_for(final)


# -- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ringfax``."""
    common = _Parser(add_help=False)
    common.add_argument("--server", help="API base URL (env RC_SERVER_URL)")
    common.add_argument("--client-id", help="app client id (env RC_APP_CLIENT_ID)")
    common.add_argument("--client-secret", help="app client secret (env RC_APP_CLIENT_SECRET)")
    common.add_argument("--jwt", help="user JWT credential (env RC_USER_JWT)")
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    waiting = _Parser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="follow the fax to a final status")
    waiting.add_argument("--timeout", type=float, default=600.0, help="--wait limit (s)")
    waiting.add_argument("--poll", type=float, default=5.0, help="--wait poll interval (s)")

    parser = _Parser(prog="ringfax", description="Send and track RingCentral faxes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("send", parents=[common, waiting], help="send a fax")
    p.add_argument(
        "--to",
        "-t",
        action="append",
        required=True,
        metavar="NUMBER[:NAME]",
        help="recipient (repeatable), E.164, e.g. +16505550123:Jane",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="documents, in page order")
    p.add_argument("--cover-page", metavar="NAME|INDEX", help="cover page (0/None = no cover)")
    p.add_argument("--cover-text", help="cover page text (<= 1024 characters)")
    p.add_argument("--resolution", choices=["High", "Low"])
    p.add_argument("--send-at", metavar="ISO8601", help="schedule, e.g. 2030-03-19T08:00:00Z")
    p.add_argument("--iso-code", metavar="CC", help="country ISO code, e.g. US")
    p.add_argument(
        "--wire-format", choices=["form-data", "form-fields", "mixed"], default="form-data"
    )
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("resend", parents=[common, waiting], help="resend or forward a fax")
    p.add_argument("message_id")
    p.add_argument("--to", "-t", action="append", default=[], metavar="NUMBER[:NAME]")
    p.add_argument("--send-at", metavar="ISO8601")
    p.set_defaults(func=cmd_resend)

    p = sub.add_parser("status", parents=[common, waiting], help="show a fax's status")
    p.add_argument("message_id")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("list", parents=[common], help="list faxes")
    p.add_argument("--direction", choices=["Inbound", "Outbound"])
    p.add_argument("--date-from", metavar="ISO8601")
    p.add_argument("--date-to", metavar="ISO8601")
    p.add_argument("--days", type=float, help="since N days ago (default: server's 24 h)")
    p.add_argument("--per-page", type=int, default=100)
    p.add_argument("--limit", type=int, help="stop after N faxes")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("cancel", parents=[common], help="cancel a scheduled/queued fax")
    p.add_argument("message_id")
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("download", parents=[common], help="download a fax's documents")
    p.add_argument("message_id")
    p.add_argument("attachment_id", nargs="?")
    p.add_argument("-o", "--output", default=".", help="file or directory (default: .)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("cover-pages", parents=[common], help="list cover pages")
    p.set_defaults(func=cmd_cover_pages)

    p = sub.add_parser("emulator", parents=[common], help="run the local emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8099)
    p.add_argument("--data-dir", help="keep faxes here (default: temporary)")
    p.add_argument("--send-delay", type=float, default=5.0, help="seconds until Sent")
    p.add_argument("--delivered", action="store_true", help="emit Delivered after Sent")
    p.add_argument("--strict", action="store_true", help="strict request rules")
    p.add_argument("--no-rate-limits", action="store_true")
    p.set_defaults(func=cmd_emulator)

    p = sub.add_parser("demo", parents=[common], help="emulator + a fax, end to end")
    p.add_argument("--send-delay", type=float, default=1.0, help="emulated seconds until Sent")
    p.set_defaults(func=cmd_demo)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``ringfax``; returns the exit code (see the module docstring)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(list(argv) if argv is not None else None)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        args.stdout = out
        args.stderr = err
        code: int = args.func(args)
        return code
    except UsageProblem as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except ValidationError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except WaitTimeout as exc:
        print(f"error: {exc}", file=err)
        return EXIT_TIMEOUT
    except FaxMaybeSentError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_MAYBE_SENT
    except RingFaxError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_API
    except OSError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_API
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
