"""A large upload through a real uvicorn process keeps the server's memory flat.

The server is a separate process (so its peak RSS is its own): the Starlette test app under
``python -m uvicorn``. After a warm-up request its peak RSS (``VmHWM``) is reset through
``/proc/<pid>/clear_refs``; the upload's growth is the new peak minus the RSS before it.
64 MiB runs by default, 1 GiB only when the ``slow`` marker is selected (``-m slow``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_GROWTH = 32 << 20
CHUNK = os.urandom(1 << 20)

pytestmark = pytest.mark.network


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def uvicorn_process(spool: Path) -> Iterator[tuple[int, int]]:
    """``(port, pid)`` of a uvicorn process serving the Starlette test app."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "tests.integrations._apps:make_starlette",
    ]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "MIMEWIRE_TEST_SPOOL": str(spool)}
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "uvicorn exited"
                time.sleep(0.05)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(20)


def _kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{key} not in /proc/{pid}/status")


def upload(port: int, path: str, size: int) -> tuple[dict[str, Any], str]:
    """POST a form with one field and a ``size``-byte file; returns the answer and the
    file's sha256."""
    boundary = "bigUploadB0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders(head)
    digest = hashlib.sha256()
    sent = 0
    while sent < size:
        chunk = CHUNK[: size - sent]
        connection.send(chunk)
        digest.update(chunk)
        sent += len(chunk)
    connection.send(tail)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    assert response.status == 200, text
    return json.loads(text), digest.hexdigest()


def _check_flat(size: int, tmp_path: Path) -> None:
    with uvicorn_process(tmp_path) as (port, pid):
        upload(port, "/form", 1 << 20)  # warm-up: imports, first spool file
        upload(port, "/stream", 1 << 20)
        for path in ("/form", "/stream"):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak RSS
            before = _kib(pid, "VmRSS")
            answer, sha = upload(port, path, size)
            growth = _kib(pid, "VmHWM") - before
            assert answer["files"] == [["f", "big.bin", "application/octet-stream", size, sha]]
            assert growth < MAX_GROWTH, f"{path}: server RSS grew {growth >> 20} MiB"
    assert not list(tmp_path.iterdir())


def test_64_mib_upload_keeps_server_memory_flat(tmp_path: Path) -> None:
    _check_flat(64 << 20, tmp_path)


@pytest.mark.slow
def test_1_gib_upload_keeps_server_memory_flat(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if "slow" not in str(request.config.getoption("markexpr") or ""):
        pytest.skip("a 1 GiB upload takes a while on 2 cores: select it with -m slow")
    _check_flat(1 << 30, tmp_path)
