"""``python -m ringfax.emulator``: serves until SIGTERM, prints where, and a busy port is
one line on stderr with exit status 1."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_serves_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ringfax.emulator", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("ringfax emulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        with pytest.raises(urllib.error.HTTPError) as refused:  # it answers: no token, 401
            urllib.request.urlopen(url + "/restapi/v1.0/dictionary/fax-cover-page", timeout=30)
        assert refused.value.code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping" in out
    assert (tmp_path / "emulator.sqlite3").exists()


def test_busy_port_is_exit_status_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "ringfax.emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {port} is already in use on 127.0.0.1" in done.stderr
    assert done.stdout == ""
