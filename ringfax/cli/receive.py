"""``ringfax receive``: new received faxes into a directory, once or ``--watch``."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from .._client import FaxClient
from .._errors import APIError, TransportError
from .._inbox import Inbox, ReceivedFax
from .._push import InboxSyncWorker, PushReceiver, receiver_lock
from .._subscriptions import WebhookSubscription
from ..webhook import WebhookApp, make_server
from .common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    CommandFailed,
    UsageProblem,
    make_client,
    message_dict,
    server_url,
    wait_notice,
    when,
)

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
    if args.push is not None:
        return _receive_push(args, since)
    if args.listen is not None or args.public_url is not None:
        raise UsageProblem("--listen and --public-url go with --push webhook")
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


# -- receive --push ----------------------------------------------------------------------------

_MAINTAIN_EVERY = 60.0  # seconds between checks of the WebHook subscription (one Light GET)


def _listen_address(text: str | None) -> tuple[str, int]:
    """``--listen HOST:PORT`` (``[::1]:PORT`` for IPv6)."""
    if not text:
        raise UsageProblem("--push webhook needs --listen HOST:PORT and --public-url URL")
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageProblem(f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8090")
    return host, int(port)


def _public_url(text: str | None) -> str:
    parts = urllib.parse.urlsplit(text or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageProblem(f"--public-url {text!r}: give the http(s) URL RingCentral posts to")
    return text or ""


def _receive_push(args: argparse.Namespace, since: datetime | None) -> int:
    if args.watch is not None:
        raise UsageProblem("--push and --watch exclude each other (push replaces polling)")
    listen: tuple[str, int] | None = None
    if args.push == "webhook":
        listen, address = _listen_address(args.listen), _public_url(args.public_url)
    elif args.listen is not None or args.public_url is not None:
        raise UsageProblem("--listen and --public-url go with --push webhook")
    on_wait = wait_notice(args, retries=False)

    def status(text: str) -> None:
        if not args.quiet:
            print(text, file=args.stderr, flush=True)

    def received(got: list[ReceivedFax]) -> None:
        _report(args, got, stream=True)

    def failed(exc: Exception) -> None:
        print(f"warning: sync failed, retrying: {exc}", file=args.stderr, flush=True)

    with make_client(args, on_wait=on_wait) as client, _stop_on_sigterm(True):
        inbox = Inbox(client, args.to_dir, mark_read=args.mark_read, since=since)
        try:
            if listen is None:
                receiver = PushReceiver(
                    inbox, client, on_status=status, on_received=received, on_error=failed
                )
                status(
                    f"receiving faxes pushed over WebSocket from {server_url(args)} into "
                    f"{args.to_dir} (catch-up first; Ctrl-C stops)"
                )
                receiver.run()
            else:
                _serve_webhook(args, client, inbox, listen, address, status, received, failed)
        except KeyboardInterrupt:
            pass  # every fax is either on disk or pending in the inbox state
    status("stopped")
    return EXIT_OK


def _serve_webhook(
    args: argparse.Namespace,
    client: FaxClient,
    inbox: Inbox,
    listen: tuple[str, int],
    address: str,
    status: Callable[[str], None],
    received: Callable[[list[ReceivedFax]], None],
    failed: Callable[[Exception], None],
) -> None:
    """Serve the WebHook app, keep the subscription alive, delete it on the way out."""
    with receiver_lock(args.to_dir):
        worker = InboxSyncWorker(inbox, on_received=received, on_error=failed)
        keeper = WebhookSubscription(client, address)
        app = WebhookApp(worker.notify, verification_token=keeper.verification_token)
        try:
            server = make_server(app, listen[0], listen[1])
        except OSError as exc:
            raise CommandFailed(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
        thread = threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True)
        thread.start()
        worker.start()  # the catch-up sync runs while the subscription is made
        try:
            keeper.open()
            status(
                f"receiving faxes pushed to {address} (listening on {args.listen}) into "
                f"{args.to_dir} (catch-up first; Ctrl-C stops)"
            )
            worker.request_sync()  # faxes that came between the catch-up and the subscription
            while True:
                time.sleep(_MAINTAIN_EVERY)
                try:
                    if keeper.maintain():
                        status("the WebHook subscription was recreated; catching up")
                        worker.request_sync()
                except (TransportError, APIError) as exc:
                    failed(exc)
        finally:
            keeper.close()
            server.shutdown()
            server.server_close()
            worker.stop()
