"""A throwaway PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` from
/usr/lib/postgresql/*/bin in a temporary directory on a free loopback port (as root, run as
the ``postgres`` user)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin: "
    "install the `postgresql` package (Debian/Ubuntu) to run the multi-worker outbox tests"
)


def find_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def cluster(bindir: Path) -> Iterator[str]:
    """Start a cluster; yield its ``postgresql://`` URL; stop and remove it."""
    root = Path(tempfile.mkdtemp(prefix="ringfax-pg-"))
    data, log = root / "data", root / "log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run(
            _as_postgres(
                [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
            ),
            **run,  # type: ignore[call-overload]
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            **run,  # type: ignore[call-overload]
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
