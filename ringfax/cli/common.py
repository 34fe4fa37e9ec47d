"""Shared pieces of the ``ringfax`` command: exit codes, configuration, output formatting."""

from __future__ import annotations

import argparse
import json
import math
import os
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from .._client import ENV_VARS, FaxClient
from .._errors import DownloadError, ValidationError
from .._models import FaxMessage, MessageStatus, Recipient, RecipientStatus

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_TIMEOUT = 4
EXIT_MAYBE_SENT = 5
EXIT_CANCELLED = 6
EXIT_NOTHING_TO_RESEND = 7
EXIT_INCOMPLETE = 8
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (
        EXIT_API,
        "API or transport error, or a refused action (e.g. cancelling a fax that is no longer "
        "Queued)",
    ),
    (
        EXIT_USAGE,
        "usage or validation error (bad arguments, missing configuration, unreadable file, "
        "input refused before sending)",
    ),
    (
        EXIT_FAILED,
        "with --wait: the fax failed (SendingFailed or DeliveryFailed); broadcast: every "
        "recipient is final and some failed (see --report)",
    ),
    (EXIT_TIMEOUT, "--wait timed out; the fax is still in progress"),
    (
        EXIT_MAYBE_SENT,
        "the fax POST failed after its body may have reached the server; it was not re-sent: "
        "check `ringfax list` before sending again",
    ),
    (EXIT_CANCELLED, "with --wait: the fax was cancelled or deleted before it was sent"),
    (
        EXIT_NOTHING_TO_RESEND,
        "resend: no recipient left to resend to (none failed, or only with errors a resend "
        "does not fix; --include-final-failures resends to those)",
    ),
    (
        EXIT_INCOMPLETE,
        "receive: some faxes could not be saved (each is named on stderr); they stay pending "
        "and the next run retries them; broadcast: some recipients wait for a credential not "
        "in this run (run again with its --jwt)",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C or SIGTERM)"),
    (
        EXIT_BROKEN_PIPE,
        "stdout was closed early (`ringfax list` piped into `head`); ends quietly, like other "
        "Unix tools killed by SIGPIPE (128 + 13)",
    ),
)
"""Every exit code of ``ringfax`` and its meaning (the ``--help`` epilog is built from it)."""

#: Extra keyword arguments for every client the CLI builds (tests shorten retries with it).
CLIENT_DEFAULTS: dict[str, Any] = {}


class UsageProblem(Exception):
    """A command-line problem (exit code 2)."""


class CommandFailed(Exception):
    """A failure with a message written for the user and its exit code."""

    def __init__(self, message: str, code: int = EXIT_API) -> None:
        super().__init__(message)
        self.code = code


# -- configuration ------------------------------------------------------------------------------


def token_cache_path() -> Path:
    """``$XDG_CACHE_HOME/ringfax/tokens.json``, else ``~/.cache/ringfax/tokens.json``."""
    from .._tokencache import default_cache_path

    return default_cache_path()


def server_url(args: argparse.Namespace) -> str | None:
    value: str | None = getattr(args, "server", None) or os.environ.get("RC_SERVER_URL")
    return value


def make_client(args: argparse.Namespace, **kwargs: Any) -> FaxClient:
    """A client from the flags/environment, with the token cache and rate-limit notices."""
    server = server_url(args)
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
        raise UsageProblem(
            f"missing configuration: {', '.join(missing)} (`ringfax emulator` prints "
            f"the values for a local emulator)"
        )
    assert server is not None
    if not args.no_token_cache:
        from .._auth import FileTokenCache

        kwargs.setdefault("token_cache", FileTokenCache(token_cache_path()))
    kwargs.setdefault("on_wait", wait_notice(args))
    for key, value in CLIENT_DEFAULTS.items():
        kwargs.setdefault(key, value)
    return FaxClient(server, client_id=cid, client_secret=secret, jwt=jwt, **kwargs)


def wait_notice(args: argparse.Namespace, *, retries: bool = True) -> Callable[[float, str], None]:
    """The client's ``on_wait``: one line on stderr per wait (rate limit, retry backoff;
    ``retries=False``: rate-limit waits only)."""

    def on_wait(seconds: float, reason: str) -> None:
        if args.quiet:
            return
        kind = getattr(reason, "kind", None)
        if kind == "rate limit":
            group = getattr(reason, "group", None)
            where = f" ({group} group)" if group else ""
            text = f"waiting {math.ceil(seconds)} s on the rate limit{where}"
        elif not retries:
            return
        elif kind == "retry":
            cause = getattr(reason, "cause", None) or "the request failed"
            text = f"{cause}; retrying in {math.ceil(seconds)} s"
        else:
            text = reason.strip() or f"waiting {math.ceil(seconds)} s"
        print(text, file=args.stderr, flush=True)

    return on_wait


def unreachable_hint(server: str | None) -> str:
    """What to tell a user whose server could not be reached."""
    host = urllib.parse.urlsplit(server or "").hostname or ""
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return (
            f"hint: nothing answers at {server}: is the emulator running? "
            f"try `ringfax emulator` in another terminal"
        )
    return "hint: check --server / RC_SERVER_URL and your network connection"


# -- argument values ------------------------------------------------------------------------------


def recipient(text: str) -> Recipient:
    number, sep, name = text.partition(":")
    number = number.strip()
    if not number:
        raise UsageProblem(f"--to {text!r} has no number")
    return Recipient(number, name.strip() or None) if sep else Recipient(number)


def when(text: str | None, flag: str, *, future: bool = False) -> datetime | None:
    """An aware datetime from ISO 8601 text (``Z`` accepted); ``future``: refuse the past."""
    if text is None:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UsageProblem(
            f"{flag} {text!r} is not an ISO 8601 date-time (e.g. 2030-03-19T08:00:00Z)"
        ) from None
    if dt.tzinfo is None:
        raise UsageProblem(f"{flag} {text!r} needs a time zone (e.g. Z or +02:00)")
    if future and dt <= datetime.now(timezone.utc):
        raise UsageProblem(
            f"{flag} {text!r} is in the past; give a future time, or leave {flag} out to send now"
        )
    return dt


# -- output ---------------------------------------------------------------------------------------


def status_text(value: MessageStatus | None) -> str:
    return value.value if value is not None else "?"


def status_json(value: MessageStatus | None) -> str | None:
    """The wire value, or None where the server sent none (received faxes' recipients)."""
    return value.value if value is not None else None


def is_cancelled(msg: FaxMessage) -> bool:
    """Deleted before it left ``Queued``: it will never be sent (what ``cancel`` does)."""
    return msg.is_deleted and msg.message_status in (None, MessageStatus.QUEUED)


def recipient_state(msg: FaxMessage, r: RecipientStatus) -> str:
    """One recipient's status; ``Cancelled`` for a Queued recipient of a deleted fax."""
    if msg.is_deleted and r.message_status is MessageStatus.QUEUED:
        return "Cancelled"
    return status_text(r.message_status)


def state_text(msg: FaxMessage) -> str:
    """The status a person should see: ``Sent``, ``Cancelled (Deleted)``, ``Sent (Purged)``.

    A cancelled fax keeps ``messageStatus`` ``Queued`` on the server; showing that alone
    would say it is still on its way.
    """
    if not msg.is_deleted:
        return status_text(msg.message_status)
    shown = "Cancelled" if is_cancelled(msg) else status_text(msg.message_status)
    return f"{shown} ({msg.availability})"


def message_dict(msg: FaxMessage) -> dict[str, Any]:
    """A compact, JSON-serialisable view of a fax message."""
    return {
        "id": msg.id,
        "direction": msg.direction,
        "messageStatus": status_json(msg.message_status),
        "availability": msg.availability,
        "cancelled": is_cancelled(msg),
        "readStatus": msg.read_status,
        "faxPageCount": msg.fax_page_count,
        "creationTime": msg.creation_time.isoformat() if msg.creation_time else None,
        "from": (
            {"phoneNumber": msg.from_.phone_number, "name": msg.from_.name}
            if msg.from_ is not None
            else None
        ),
        "subject": msg.subject,
        "to": [
            {
                "phoneNumber": r.phone_number,
                "name": r.name,
                "messageStatus": status_json(r.message_status),
                "faxErrorCode": r.fax_error_code,
                "reason": r.error.reason if r.error else None,
                "retryable": r.retryable if r.fax_error_code else None,
            }
            for r in msg.to
        ],
        "attachments": [
            {"id": a.id, "filename": a.filename, "contentType": a.content_type, "size": a.size}
            for a in msg.attachments
        ],
    }


def describe(msg: FaxMessage, out: TextIO) -> None:
    pages = msg.fax_page_count if msg.fax_page_count is not None else "-"
    cancelled = ", it will not be sent" if is_cancelled(msg) else ""
    head = f"message {msg.id}: {state_text(msg)}{cancelled} (pages: {pages})"
    if msg.direction == "Inbound":
        sender = msg.from_.phone_number if msg.from_ is not None else None
        head += f", received from {sender or 'unknown'}"
        if msg.read_status:
            head += f", {msg.read_status.lower()}"
    print(head, file=out)
    for r in msg.to:
        line = f"  {r.phone_number}"
        if r.name:
            line += f" ({r.name})"
        if msg.direction != "Inbound":
            line += f": {recipient_state(msg, r)}"
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


def emit(args: argparse.Namespace, payload: Any, text: Callable[[], None]) -> None:
    """``payload`` as JSON with ``--json``, else ``text()``."""
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=args.stdout)
    else:
        text()


def lines(args: argparse.Namespace, rows: list[str]) -> Callable[[], None]:
    def show() -> None:
        for row in rows:
            print(row, file=args.stdout)

    return show


def exit_for(msg: FaxMessage) -> int:
    """The exit code of a ``--wait`` that ended on ``msg``."""
    status = msg.message_status
    if status is not None and status.is_failure:
        return EXIT_FAILED
    if is_cancelled(msg):
        return EXIT_CANCELLED
    return EXIT_OK


# -- error messages in CLI terms -----------------------------------------------------------------

FLAG_FOR_PARAM = {
    "to": "--to",
    "attachments": "FILE",
    "send_time": "--send-at",
    "cover_index": "--cover-page",
    "cover_page_text": "--cover-text",
    "iso_code": "--iso-code",
    "resolution": "--resolution",
    "date_from": "--date-from",
    "date_to": "--date-to",
    "per_page": "--per-page",
    "poll": "--poll",
    "original_message_id": "MESSAGE_ID",
    "message_id": "MESSAGE_ID",
    "attachment_id": "ATTACHMENT_ID",
    "wire_format": "--wire-format",
    "default_country": "--country",
    "server_url": "--server",
}
"""The flag (or argument) that carries each library parameter."""

_HINT_FOR_PARAM = {
    "default_country": "pass --country US (for example) to normalise national numbers",
}
"""The CLI's own fix for a :class:`ValidationError` whose hint asks for that parameter."""


def validation_message(exc: ValidationError) -> str:
    """A :class:`ValidationError` in the CLI's terms, built from its structure: the subject
    (``recipient #0``) becomes the flag (``--to #1``, numbered from 1), and a hint that asks
    for a parameter is replaced by the CLI's own."""
    text = exc.reason
    subject = exc.subject
    flag = FLAG_FOR_PARAM.get(exc.param or "")
    if flag is not None and subject is not None and text.startswith(subject):
        shown = flag if exc.index is None else f"{flag} #{exc.index + 1}"
        text = shown + text[len(subject) :]
    hint = _HINT_FOR_PARAM.get(exc.hint_param or "", exc.hint)
    return f"{text}; {hint}" if hint else text


def download_message(exc: DownloadError) -> str:
    """A :class:`DownloadError` in the CLI's terms."""
    if exc.exists:
        return f"{str(exc.path)!r} already exists; not overwriting it (--force overwrites it)"
    return str(exc)
