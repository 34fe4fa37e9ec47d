"""Helpers for the push receiver tests: an emulator with fast push timers on real time, faxes
injected in bursts, the inbox directory counted, and ``ringfax receive --push`` run as a real
subprocess (killed with SIGKILL when a test says so)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parents[1]
if str(_HERE.parent / "emulator") not in sys.path:  # push_config, wait_until
    sys.path.append(str(_HERE.parent / "emulator"))

from push_helpers import WAIT, push_config, wait_until  # noqa: E402

from ringfax import FaxClient  # noqa: E402
from ringfax.emulator import Emulator  # noqa: E402

__all__ = [
    "WAIT",
    "ReceiverProcess",
    "client_for",
    "documents_in",
    "inject",
    "push_config",
    "received_ids",
    "wait_for_files",
    "wait_until",
]

PDF = b"%PDF-1.4\n% pushed fax\n"


def client_for(emu: Emulator, **kw: Any) -> FaxClient:
    return FaxClient(
        emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt, **kw
    )


def inject(emu: Emulator, count: int, *, pause: float = 0.0) -> list[str]:
    """``count`` received faxes (one PDF each); their message ids."""
    ids = []
    for n in range(count):
        record = emu.inject_inbound_fax(
            from_number="+14155550100", documents=[(f"scan{n}.pdf", "application/pdf", PDF)]
        )
        ids.append(str(record["id"]))
        if pause:
            time.sleep(pause)
    return ids


def documents_in(directory: Path) -> list[str]:
    """The fax documents in an inbox directory (its own state and lock files left out)."""
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def received_ids(directory: Path) -> list[str]:
    state = directory / ".ringfax-inbox.json"
    if not state.exists():
        return []
    return list(json.loads(state.read_text())["received"])


def wait_for_files(directory: Path, count: int, timeout: float = WAIT) -> list[str]:
    wait_until(lambda: len(documents_in(directory)) >= count, timeout)
    return documents_in(directory)


def assert_each_once(directory: Path, ids: list[str]) -> None:
    """Every id has exactly one document in ``directory`` (names start with the id), and the
    inbox state records each as received (a document is linked before the state is saved; a
    kill between the two finds the document at its reserved name on the next run)."""
    wait_until(lambda: len(received_ids(directory)) >= len(ids))
    names = documents_in(directory)
    per_id = Counter(name.split("-", 1)[0] for name in names)
    assert sorted(per_id) == sorted(ids), (sorted(per_id), sorted(ids))
    assert all(count == 1 for count in per_id.values()), per_id
    assert sorted(received_ids(directory)) == sorted(ids)


class ReceiverProcess:
    """``python -m ringfax receive --to-dir DIR --push ...`` against ``emu``."""

    def __init__(self, emu: Emulator, directory: Path, *extra: str, log: Path) -> None:
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            RC_SERVER_URL=emu.url,
            RC_APP_CLIENT_ID=emu.client_id,
            RC_APP_CLIENT_SECRET=emu.client_secret,
            RC_USER_JWT=emu.jwt,
            XDG_CACHE_HOME=str(log.parent / "cache"),
        )
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in wait()/kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ringfax", "receive", "--to-dir", str(directory), *extra],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(ROOT),
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = WAIT) -> bool:
        return bool(
            wait_until(lambda: text in self.output() or self.proc.poll() is not None, timeout)
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)
        self._out.close()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(WAIT * 2)
        self._out.close()
        return code

    def finish(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        elif not self._out.closed:
            self._out.close()


def when(condition: Callable[[], bool], timeout: float = WAIT) -> float | None:
    """Seconds until ``condition`` held (polled every 2 ms), None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.002)
    return None
