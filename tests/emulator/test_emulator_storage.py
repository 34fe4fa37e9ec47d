"""The data directory: one emulator at a time (flock), and a full disk answered with 507."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest
from emulator_helpers import INBOUND_PATH, Raw, form_data

from ringfax.cli import main
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock
from ringfax.emulator._files import DataDirInUse

pytestmark = pytest.mark.network

ENVELOPE = b'{"to":[{"phoneNumber":"+16505550123"}]}'


def _fax_body(document: bytes) -> tuple[bytes, str]:
    return form_data(
        [],
        [
            ("json", None, "application/json", ENVELOPE),
            ("attachment", "doc.pdf", "application/pdf", document),
        ],
    )


# -- one emulator per data directory ------------------------------------------------------


def test_second_emulator_on_same_directory_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Emulator(data, clock=ManualClock()) as first:
        second = Emulator(data, clock=ManualClock())
        with pytest.raises(DataDirInUse) as info:
            second.start()
        assert isinstance(info.value, OSError) and info.value.errno == errno.EWOULDBLOCK
        assert str(data) in str(info.value) and f"pid {os.getpid()}" in str(info.value)
        assert not second.running
        first.inject_inbound_fax(
            from_number="+16505550199", documents=[("a.txt", "text/plain", b"hi")]
        )
        assert first.count_faxes() == 1  # the refused start touched nothing
    with Emulator(data, clock=ManualClock()) as again:  # released on stop
        assert again.count_faxes() == 1


def test_emulator_in_another_process_holds_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from ringfax.emulator import Emulator; "
            f"e = Emulator({str(data)!r}).start(); print('ready', flush=True); "
            "sys.stdin.read(); e.stop()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DataDirInUse) as info:
            Emulator(data).start()
        assert info.value.holder_pid == holder.pid
        assert f"data directory {data} is in use by another emulator (pid {holder.pid})" in str(
            info.value
        )
        out, err = io.StringIO(), io.StringIO()
        code = main(["emulator", "--data-dir", str(data), "--port", "0"], stdout=out, stderr=err)
        assert code != 0 and f"pid {holder.pid}" in err.getvalue(), err.getvalue()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    with Emulator(data, clock=ManualClock()) as emu:
        assert emu.count_faxes() == 0


# -- full disk ----------------------------------------------------------------------------


class _FullAfter:
    """An opener whose files raise ENOSPC once ``limit`` bytes were written in total
    (the bytes up to the limit reach the disk, like a real full disk)."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def __call__(self, path: Path) -> BinaryIO:
        budget = self

        class Limited(io.FileIO):
            def write(self, data: Any) -> int:
                view = memoryview(data).cast("B")
                if len(view) > budget.left:
                    super().write(view[: budget.left])
                    budget.left = 0
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                budget.left -= len(view)
                return super().write(view) or 0

        return cast(BinaryIO, Limited(path, "x"))


def _assert_insufficient_storage(reply_status: int, body: dict[str, object]) -> None:
    assert reply_status == 507, body
    assert body["errorCode"] == "EMU-507" and "Insufficient storage" in str(body["message"])
    assert body["errors"] == [{"errorCode": "EMU-507", "message": body["message"]}]


def _nothing_half_written(emu: Emulator, faxes_before: int) -> None:
    assert emu.count_faxes() == faxes_before
    assert list((emu.data_dir / "incoming").iterdir()) == []
    stored = {str(r.id) for r in emu.faxes()}
    assert {p.name for p in (emu.data_dir / "attachments").iterdir()} == stored


def test_full_disk_while_writing_an_upload_is_507_and_recovers(
    emulator: Emulator, raw: Raw
) -> None:
    document = b"%PDF-1.4\n" + os.urandom(200_000)
    body, ctype = _fax_body(document)
    emulator.store.opener = _FullAfter(70_000)
    reply = raw.post_fax(body, ctype)
    _assert_insufficient_storage(reply.status, reply.json())
    _nothing_half_written(emulator, 0)

    inbound, inbound_type = form_data(
        [("from", "+16505550199")], [("attachment", "scan.pdf", "application/pdf", document)]
    )
    reply = raw.request("POST", INBOUND_PATH, inbound, {"Content-Type": inbound_type}, auth=False)
    _assert_insufficient_storage(reply.status, reply.json())
    with pytest.raises(OSError) as info:
        emulator.inject_inbound_fax(
            from_number="+16505550199", documents=[("a.pdf", "application/pdf", document)]
        )
    assert info.value.errno == errno.ENOSPC
    _nothing_half_written(emulator, 0)

    emulator.store.opener = _FullAfter(10**9)  # space is back
    reply = raw.post_fax(body, ctype)
    assert reply.status == 200, reply.body
    (row,) = emulator.faxes()
    assert emulator.store.path_of(row.attachments[0]).read_bytes() == document
    _nothing_half_written(emulator, 1)


def test_full_disk_while_copying_for_a_forward_is_507(emulator: Emulator, raw: Raw) -> None:
    record = emulator.inject_inbound_fax(
        from_number="+16505550199", documents=[("a.pdf", "application/pdf", b"%PDF" * 5000)]
    )
    emulator.store.opener = _FullAfter(100)
    forward = b'{"originalMessageId": "%d", "to": [{"phoneNumber": "+16505550123"}]}' % record["id"]
    reply = raw.request(
        "POST",
        "/restapi/v1.0/account/~/extension/~/fax",
        forward,
        {"Content-Type": "application/json"},
    )
    _assert_insufficient_storage(reply.status, reply.json())
    _nothing_half_written(emulator, 1)


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted on a fresh directory (needs CAP_SYS_ADMIN to mount)."""
    where = tmp_path / f"tiny-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot run mount(8) for a tmpfs: {exc}")
    if done.returncode != 0:
        pytest.skip(
            "mounting a tmpfs needs CAP_SYS_ADMIN (root in the initial mount namespace): "
            + done.stderr.strip()
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def test_really_full_filesystem_is_507_and_recovers(tiny_filesystem: Path) -> None:
    config = EmulatorConfig(rate_limiting=False)
    with Emulator(tiny_filesystem / "data", config=config, clock=ManualClock()) as emu:
        raw = Raw(emu)
        raw.token()
        free = os.statvfs(tiny_filesystem)
        filler = tiny_filesystem / "filler"
        filler.write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 100_000))
        document = b"%PDF-1.4\n" + os.urandom(400_000)
        body, ctype = _fax_body(document)
        reply = raw.post_fax(body, ctype)
        _assert_insufficient_storage(reply.status, reply.json())
        _nothing_half_written(emu, 0)
        filler.unlink()
        reply = raw.post_fax(body, ctype)
        assert reply.status == 200, reply.body
        (row,) = emu.faxes()
        assert emu.store.path_of(row.attachments[0]).read_bytes() == document
