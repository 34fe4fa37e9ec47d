"""Restart durability, crash safety and concurrent senders."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from emulator_helpers import FAX_PATH, Raw

from ringfax._client import FaxClient
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

pytestmark = pytest.mark.network


def _client(emu: Emulator) -> FaxClient:
    return FaxClient(emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt)


def test_restart_keeps_faxes_and_attachments(tmp_path: Path, docs: dict[str, Path]) -> None:
    data = tmp_path / "data"
    clock = ManualClock()
    config = EmulatorConfig(rate_limiting=False, send_delay=10)
    with Emulator(data, config=config, clock=clock) as emu, _client(emu) as client:
        first = client.send_fax(["+16505550123"], [str(docs["pdf"]), str(docs["tiff"])])
    clock.advance(11)
    with Emulator(data, config=config, clock=clock) as emu, _client(emu) as client:
        again = client.get_fax(first.id)
        assert again.message_status is not None and again.message_status.value == "Sent"
        assert [a.filename for a in again.attachments] == ["letter.pdf", "scan.tiff"]
        out = client.download(first.id, again.attachments[1].id, tmp_path / "copy.tiff")
        assert out.read_bytes() == docs["tiff"].read_bytes()
        second = client.send_fax(["+16505550124"], [str(docs["txt"])])
        assert int(second.id) > int(first.id)
        assert emu.count_faxes() == 2


def test_crash_leftovers_are_cleaned(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Emulator(data, clock=ManualClock()) as emu:
        assert emu.count_faxes() == 0
    (data / "incoming" / "dead-upload").mkdir(parents=True)
    (data / "incoming" / "dead-upload" / "0000").write_bytes(b"half")
    (data / "attachments" / "3000000000001").mkdir()
    (data / "attachments" / "3000000000001" / "3000000000002").write_bytes(b"orphan")
    with Emulator(data, clock=ManualClock()) as emu:
        assert emu.count_faxes() == 0
        assert list((data / "incoming").iterdir()) == []
        assert list((data / "attachments").iterdir()) == []


def test_aborted_upload_stores_nothing(emulator: Emulator, raw: Raw) -> None:
    token = raw.token()
    parts = urlsplit(emulator.url)
    body_start = (
        b"--b\r\nContent-Type: application/json\r\n\r\n"
        b'{"to":[{"phoneNumber":"+16505550123"}]}\r\n'
        b'--b\r\nContent-Disposition: form-data; name="attachment"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + b"%PDF" * 10000
    )
    head = (
        f"POST {FAX_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(head + body_start)
    # the server notices the closed connection; nothing is stored, nothing is left over
    ok = raw.post_fax(
        b"--b\r\nContent-Type: application/json\r\n\r\n"
        b'{"to":[{"phoneNumber":"+16505550123"}]}\r\n'
        b'--b\r\nContent-Disposition: form-data; name="attachment"; filename="a.txt"\r\n\r\n'
        b"hi\r\n--b--\r\n",
        "multipart/form-data; boundary=b",
    )
    assert ok.status == 200
    for _ in range(100):
        if not list((emulator.data_dir / "incoming").iterdir()):
            break
        threading.Event().wait(0.05)
    assert emulator.count_faxes() == 1
    assert list((emulator.data_dir / "incoming").iterdir()) == []


def test_twenty_concurrent_clients(emulator: Emulator, docs: dict[str, Path]) -> None:
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def worker(i: int) -> None:
        try:
            with _client(emulator) as client:
                barrier.wait(10)
                msg = client.send_fax([f"+1650555{2000 + i}"], [str(docs["pdf"]), str(docs["txt"])])
                results[i] = msg.id
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(set(results.values())) == 20
    stored = emulator.faxes()
    assert len(stored) == 20
    assert sorted(r.recipients[0].phone_number for r in stored) == sorted(
        f"+1650555{2000 + i}" for i in range(20)
    )
    assert {str(r.id) for r in stored} == set(results.values())
    for row in stored:
        assert [a.size for a in row.attachments] == [
            docs["pdf"].stat().st_size,
            docs["txt"].stat().st_size,
        ]
