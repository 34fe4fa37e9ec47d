"""The ``ringfax`` command line.

::

    ringfax demo                                   # emulator + faxes out and in, end to end
    ringfax emulator --port 8099 --data-dir ./fax-data
    export RC_SERVER_URL=http://127.0.0.1:8099 RC_APP_CLIENT_ID=... RC_APP_CLIENT_SECRET=... \\
           RC_USER_JWT=...
    ringfax send --to +16505550123 --to "+16505550124:Jane Doe" letter.pdf scan.tiff --wait
    ringfax send --country US --to "(650) 555-0123" letter.pdf
    ringfax status 3000000000001 --wait
    ringfax list
    ringfax emulator inject --from +16505550100 scan.pdf     # a received fax (emulator only)
    ringfax receive --to-dir faxes/ --mark-read --watch 60
    ringfax receive --to-dir faxes/ --push websocket         # a service woken by push events
    ringfax forward 3000000000002 --to +16505550123 --wait
    ringfax cancel 3000000000003                             # only while it is Queued
    ringfax delete 3000000000003 --purge

Configuration: ``--server``, ``--client-id``, ``--client-secret``, ``--jwt`` or the variables
``RC_SERVER_URL``, ``RC_APP_CLIENT_ID``, ``RC_APP_CLIENT_SECRET``, ``RC_USER_JWT``. The access
token is cached (file mode 0600) in ``$XDG_CACHE_HOME/ringfax/tokens.json`` (default
``~/.cache/ringfax/tokens.json``) so that repeated calls do not log in each time;
``--no-token-cache`` turns that off.

Exit codes: :data:`~ringfax.cli.common.EXIT_CODES` (also in ``ringfax --help`` and
docs/ringfax-cli.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, TextIO

from .._errors import (
    DownloadError,
    FaxMaybeSentError,
    RingFaxError,
    TransportError,
    ValidationError,
    WaitTimeout,
)
from .._tokencache import UnsafeTokenCache
from ..outbox.cli import add_broadcast_parser
from .common import (
    EXIT_API,
    EXIT_BROKEN_PIPE,
    EXIT_CANCELLED,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_MAYBE_SENT,
    EXIT_NOTHING_TO_RESEND,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CommandFailed,
    UsageProblem,
    download_message,
    message_dict,
    server_url,
    token_cache_path,
    unreachable_hint,
    validation_message,
)
from .emulator import cmd_demo, cmd_emulator, cmd_inject
from .receive import cmd_receive
from .send import cmd_resend, cmd_send
from .store import (
    cmd_cancel,
    cmd_cover_pages,
    cmd_delete,
    cmd_download,
    cmd_list,
    cmd_mark,
    cmd_status,
)

__all__ = [
    "EXIT_API",
    "EXIT_BROKEN_PIPE",
    "EXIT_CANCELLED",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_MAYBE_SENT",
    "EXIT_NOTHING_TO_RESEND",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "message_dict",
]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` for options with a meaningful default (not None/False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or not action.option_strings
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
        ):
            return text
        return text + " (default: %(default)s)"


class _TopHelpFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-code table of ``ringfax --help`` one code per line."""


def _exit_code_lines() -> str:
    rows = [
        textwrap.fill(text, width=78, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7)
        for code, text in EXIT_CODES
    ]
    return "exit codes:\n" + "\n".join(rows)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:  # one line, exit 2
        raise UsageProblem(f"{self.prog}: {message}")


class _ShowVersion(Exception):
    pass


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise _ShowVersion


def _version() -> str:
    from .. import __version__

    return f"ringfax {__version__} (Python {sys.version.split()[0]})"


def _command(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` starts with its one-line help."""
    text = kwargs.get("help", "")
    kwargs.setdefault("description", text[:1].upper() + text[1:] + ".")
    parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _common() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--server", help="API base URL (env RC_SERVER_URL)")
    common.add_argument("--client-id", help="app client id (env RC_APP_CLIENT_ID)")
    common.add_argument("--client-secret", help="app client secret (env RC_APP_CLIENT_SECRET)")
    common.add_argument("--jwt", help="user JWT credential (env RC_USER_JWT)")
    common.add_argument(
        "--no-token-cache",
        action="store_true",
        help=f"log in on every call instead of reusing the token cached in {token_cache_path()}",
    )
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return common


def _waiting() -> argparse.ArgumentParser:
    waiting = _Parser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="follow the fax to a final status")
    waiting.add_argument(
        "--timeout", type=_positive, default=600.0, metavar="SECONDS", help="--wait limit"
    )
    waiting.add_argument(
        "--poll", type=_positive, default=5.0, metavar="SECONDS", help="--wait poll interval"
    )
    return waiting


def _recipients(p: argparse.ArgumentParser, *, required: bool, what: str) -> None:
    p.add_argument(
        "--to",
        "-t",
        action="append",
        required=required,
        default=None if required else [],
        metavar="NUMBER[:NAME]",
        help=f"{what} (repeatable): E.164 like +16505550123:Jane, or national with --country",
    )
    p.add_argument(
        "--country",
        metavar="CC",
        help="ISO country for national numbers, e.g. US: '(650) 555-0123' -> +16505550123",
    )
    p.add_argument(
        "--send-at",
        "--send-time",
        dest="send_at",
        metavar="ISO8601",
        help="schedule for a future time, e.g. 2030-03-19T08:00:00Z",
    )


def _add_send(sub: Any, common: argparse.ArgumentParser, waiting: argparse.ArgumentParser) -> None:
    p = _command(sub, "send", parents=[common, waiting], help="send a fax")
    _recipients(p, required=True, what="recipient")
    p.add_argument("files", nargs="+", metavar="FILE", help="documents, in page order")
    p.add_argument(
        "--cover-page", metavar="NAME|INDEX", help="cover page by name or index (0/None: none)"
    )
    p.add_argument("--cover-text", help="cover page text (at most 1024 characters)")
    p.add_argument("--resolution", choices=["High", "Low"], help="fax resolution")
    p.add_argument("--iso-code", metavar="CC", help="isoCode sent to the API, e.g. US")
    p.add_argument(
        "--wire-format",
        choices=["form-data", "form-fields", "mixed"],
        default="form-data",
        help="request body layout",
    )
    p.set_defaults(func=cmd_send)

    resend_help = "resend a failed fax to the recipients worth retrying (or to --to)"
    descriptions = {
        "resend": (
            "Resend a failed fax. Without --to it goes to the recipients that failed with an "
            "error worth retrying (LineBusy, NoAnswer, AllLinesInUse, ...); recipients that "
            "failed with an error a resend does not fix (InvalidNumber, NoFaxMachine, ...) "
            f"are skipped unless --include-final-failures is given. With no recipient left "
            f"nothing is sent and the exit code is {EXIT_NOTHING_TO_RESEND}."
        ),
        "forward": "Forward a fax (sent or received) to other numbers.",
    }
    for name, what in (("resend", resend_help), ("forward", "forward a fax")):
        p = _command(
            sub, name, parents=[common, waiting], help=what, description=descriptions[name]
        )
        p.add_argument("message_id", metavar="MESSAGE_ID", help="the fax to send again")
        if name == "forward":
            _recipients(p, required=True, what="forward to")
        else:
            _recipients(
                p,
                required=False,
                what="send to this number instead (default: the recipients that failed with "
                "an error worth retrying, e.g. LineBusy or NoAnswer; not those that failed "
                "with e.g. InvalidNumber)",
            )
            p.add_argument(
                "--include-final-failures",
                action="store_true",
                help="without --to: resend to every failed recipient, also those whose error "
                "a resend does not fix (InvalidNumber, NoFaxMachine, ...)",
            )
        p.set_defaults(func=cmd_resend)


def _add_store(sub: Any, common: argparse.ArgumentParser, waiting: argparse.ArgumentParser) -> None:
    p = _command(sub, "status", parents=[common, waiting], help="show a fax's status")
    p.add_argument("message_id", metavar="MESSAGE_ID")
    p.set_defaults(func=cmd_status)

    p = _command(sub, "list", parents=[common], help="list faxes (sent and received)")
    p.add_argument("--direction", choices=["Inbound", "Outbound"], help="only these")
    p.add_argument("--date-from", metavar="ISO8601", help="created at or after")
    p.add_argument("--date-to", metavar="ISO8601", help="created before")
    p.add_argument("--days", type=_positive, help="since N days ago (default: the last 24 h)")
    p.add_argument("--per-page", type=int, default=100, help="page size of the API calls")
    p.add_argument("--limit", type=int, help="stop after N faxes")
    p.set_defaults(func=cmd_list)

    p = _command(
        sub, "download", parents=[common], help="download a fax's documents (never overwrites)"
    )
    p.add_argument("message_id", metavar="MESSAGE_ID")
    p.add_argument("attachment_id", metavar="ATTACHMENT_ID", nargs="?", help="one document")
    p.add_argument(
        "-o", "--output", default=".", help="directory (names from the fax) or file name"
    )
    p.add_argument(
        "--force", "--overwrite", dest="force", action="store_true", help="overwrite existing files"
    )
    p.set_defaults(func=cmd_download)

    p = _command(
        sub, "receive", parents=[common], help="download new received faxes into a directory"
    )
    p.add_argument(
        "--to-dir",
        required=True,
        metavar="DIR",
        help="where documents go; DIR/.ringfax-inbox.json remembers what was received",
    )
    p.add_argument("--mark-read", action="store_true", help="mark each fax read once saved")
    p.add_argument("--watch", type=_positive, metavar="SECONDS", help="keep checking every SECONDS")
    p.add_argument(
        "--since",
        metavar="DAYS|ISO8601",
        default="30",
        help="how far back the first run (or a run whose sync token expired) looks",
    )
    p.add_argument(
        "--push",
        choices=("websocket", "webhook"),
        help="run as a service woken by RingCentral's push notifications (catch-up first, "
        "then until Ctrl-C/SIGTERM); events only trigger message-sync, so none is missed",
    )
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="--push webhook: where the WebHook receiver listens (e.g. 127.0.0.1:8090)",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="--push webhook: the address RingCentral posts to (reaches --listen)",
    )
    p.set_defaults(func=cmd_receive)

    p = _command(sub, "cancel", parents=[common], help="cancel a fax that is still Queued")
    p.add_argument("message_id", metavar="MESSAGE_ID")
    p.set_defaults(func=cmd_cancel)

    p = _command(sub, "delete", parents=[common], help="delete faxes from the message store")
    p.add_argument("message_ids", metavar="MESSAGE_ID", nargs="+")
    p.add_argument("--purge", action="store_true", help="delete for good (no recycle bin)")
    p.set_defaults(func=cmd_delete)

    for name in ("mark-read", "mark-unread"):
        state = name.split("-", 1)[1]
        p = _command(sub, name, parents=[common], help=f"mark faxes as {state}")
        p.add_argument("message_ids", metavar="MESSAGE_ID", nargs="+")
        p.set_defaults(func=cmd_mark)

    p = _command(sub, "cover-pages", parents=[common], help="list cover pages")
    p.set_defaults(func=cmd_cover_pages)


def _add_emulator(sub: Any) -> None:
    p = _command(
        sub,
        "emulator",
        help="run the local emulator (or `emulator inject`: add a received fax)",
        description="Run a local RingCentral-compatible fax server.",
    )
    # the options of ringfax.emulator._main.add_serve_arguments, spelled out here because
    # importing the emulator package would load all of it (SQLite included) for every command
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8099, help="port (0: any free port)")
    p.add_argument("--data-dir", help="keep faxes here (default: a temporary directory)")
    p.add_argument("--send-delay", type=float, default=5.0, help="seconds until Sent")
    p.add_argument("--delivered", action="store_true", help="emit Delivered after Sent")
    p.add_argument("--strict", action="store_true", help="strict request rules")
    p.add_argument("--no-rate-limits", action="store_true", help="no rate limiting")
    p.set_defaults(func=cmd_emulator)
    emu_sub = p.add_subparsers(dest="emulator_command", metavar="[inject]", parser_class=_Parser)
    i = _command(
        emu_sub,
        "inject",
        help="add a received fax to a running emulator",
        description=("Add an inbound fax to a running emulator (POST /emulator/v1/inbound-fax)."),
    )
    i.add_argument("--server", help="the emulator's URL (env RC_SERVER_URL)")
    i.add_argument("--from", dest="from_number", required=True, metavar="NUMBER", help="sender")
    i.add_argument("--to", dest="to_number", metavar="NUMBER", help="receiving number")
    i.add_argument("--subject", help="subject")
    i.add_argument("files", nargs="+", metavar="FILE", help="the fax's documents")
    i.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    i.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    i.set_defaults(func=cmd_inject)

    p = _command(sub, "demo", help="emulator + faxes out and in, end to end (a few seconds)")
    p.add_argument("--send-delay", type=float, default=1.0, help="emulated seconds until Sent")
    p.add_argument("--json", action="store_true", help="also print the fax as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ringfax``."""
    common = _common()
    waiting = _waiting()
    parser = _Parser(
        prog="ringfax",
        description="Send, receive and track RingCentral faxes (or try it all locally:\n"
        "`ringfax demo`, `ringfax emulator`).",
        epilog=_exit_code_lines(),
        formatter_class=_TopHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_send(sub, common, waiting)
    _add_store(sub, common, waiting)
    _add_emulator(sub)
    add_broadcast_parser(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``ringfax``; returns the exit code (see the module docstring)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        try:
            args = parser.parse_args(list(argv) if argv is not None else None)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        except _ShowVersion:
            print(_version(), file=out)
            return EXIT_OK
        args.stdout = out
        args.stderr = err
        code: int = args.func(args)
        out.flush()  # a closed pipe shows here, inside the handlers below, not at exit
        return code
    except UsageProblem as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except ValidationError as exc:
        print(f"error: {validation_message(exc)}", file=err)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"error: {exc}", file=err)
        return exc.code
    except WaitTimeout as exc:
        print(
            f"error: {exc}; the fax is still in progress: `ringfax status {exc.message_id} "
            f"--wait` follows it",
            file=err,
        )
        return EXIT_TIMEOUT
    except FaxMaybeSentError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_MAYBE_SENT
    except TransportError as exc:
        print(f"error: {exc}", file=err)
        if not exc.sent and "TLS" not in str(exc):
            print(unreachable_hint(server_url(args) if args else None), file=err)
        return EXIT_API
    except DownloadError as exc:
        print(f"error: {download_message(exc)}", file=err)
        return EXIT_API
    except UnsafeTokenCache as exc:
        print(f"error: {exc} (--no-token-cache logs in without one)", file=err)
        return EXIT_API
    except RingFaxError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_API
    except BrokenPipeError:  # the transport turns socket errors into TransportError
        _silence(out)
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_API
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return EXIT_INTERRUPTED


def _silence(out: TextIO) -> None:
    """After ``ringfax list | head``: point the process's stdout at /dev/null so that the
    interpreter's final flush does not report the broken pipe a second time."""
    if out is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
