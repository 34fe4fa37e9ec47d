"""The emulator's own command line: ``python -m ringfax.emulator [--port N] ...``.

The client CLI's ``ringfax emulator`` command uses the same two functions
(:func:`add_serve_arguments`, :func:`serve`), so both spell the options alike; this module
imports nothing from the client.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["add_serve_arguments", "main", "serve"]

EXIT_OK = 0
EXIT_START_FAILED = 1


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of :func:`serve` to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8099, help="port (0: any free port)")
    parser.add_argument("--data-dir", help="keep faxes here (default: a temporary directory)")
    parser.add_argument("--send-delay", type=float, default=5.0, help="seconds until Sent")
    parser.add_argument("--delivered", action="store_true", help="emit Delivered after Sent")
    parser.add_argument("--strict", action="store_true", help="strict request rules")
    parser.add_argument("--no-rate-limits", action="store_true", help="no rate limiting")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _port_in_use(exc: OSError) -> bool:
    return exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1))


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run an emulator with the options of :func:`add_serve_arguments` until Ctrl-C or
    SIGTERM; print its URL and credentials on ``out``. A start failure (port in use, data
    directory held by another emulator) is one line on ``err`` and exit status 1."""
    from . import Emulator, EmulatorConfig

    config = EmulatorConfig(
        send_delay=args.send_delay,
        delivered=args.delivered,
        strict=args.strict,
        rate_limiting=not args.no_rate_limits,
    )
    with tempfile.TemporaryDirectory(prefix="ringfax-emulator-") as tmp:
        # our own temporary directory: removed on every exit path, a failed start included
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp)
        emu = Emulator(data_dir, host=args.host, port=args.port, config=config)
        try:
            emu.start()
        except OSError as exc:
            if _port_in_use(exc):
                print(
                    f"error: port {args.port} is already in use on {args.host} (another "
                    f"emulator?); choose another with --port N, or --port 0 for any free port",
                    file=err,
                )
            else:
                print(f"error: {exc}", file=err)
            return EXIT_START_FAILED
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)  # clean shutdown on `kill` too
        try:
            print(f"ringfax emulator listening on {emu.url}", file=out)
            where = "" if args.data_dir else " (temporary: removed on exit)"
            print(f"  data dir: {emu.data_dir}{where}", file=out)
            print(
                f"  export RC_SERVER_URL={emu.url} RC_APP_CLIENT_ID={emu.client_id}"
                f" RC_APP_CLIENT_SECRET={emu.client_secret} RC_USER_JWT={emu.jwt}",
                file=out,
            )
            print(
                "  add a received fax: ringfax emulator inject --from +16505550100 scan.pdf",
                file=out,
            )
            print("  press Ctrl-C to stop", file=out, flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping", file=out)
        finally:
            emu.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ringfax.emulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m ringfax.emulator",
        description="Run a local RingCentral-compatible fax server.",
    )
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    return serve(args, sys.stdout, sys.stderr)
