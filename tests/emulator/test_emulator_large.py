"""Large uploads are streamed to disk (memory stays flat) and the 50/55 MB caps hold."""

from __future__ import annotations

import http.client
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulator_helpers import FAX_PATH, Raw

from ringfax._client import FaxClient
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

pytestmark = [pytest.mark.network, pytest.mark.slow]

MIB = 1024 * 1024


def test_45_mb_upload_memory_stays_flat(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    with open(big, "wb") as fh:
        fh.write(b"%PDF-1.4\n")
        block = os.urandom(MIB)
        for _ in range(45):
            fh.write(block)
    config = EmulatorConfig(rate_limiting=False)
    with (
        Emulator(tmp_path / "data", config=config, clock=ManualClock()) as emu,
        FaxClient(
            emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt
        ) as client,
    ):
        client.cover_pages()  # log in and warm up before measuring
        tracemalloc.start()
        try:
            msg = client.send_fax(["+16505550123"], [str(big)])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 * MIB, f"peak traced memory {peak / MIB:.1f} MiB"
        (stored,) = emu.faxes()
        assert stored.attachments[0].size == big.stat().st_size
        assert emu.store.path_of(stored.attachments[0]).stat().st_size == big.stat().st_size
        assert msg.attachments[0].size == big.stat().st_size


def _stream(size: int) -> Iterator[bytes]:
    head = (
        b"--b\r\nContent-Type: application/json\r\n\r\n"
        b'{"to":[{"phoneNumber":"+16505550123"}]}\r\n'
        b'--b\r\nContent-Disposition: form-data; name="attachment"; filename="a.pdf"\r\n\r\n'
    )
    yield head
    left = size
    block = b"\0" * MIB
    while left > 0:
        n = min(left, MIB)
        yield block[:n]
        left -= n
    yield b"\r\n--b--\r\n"


def test_default_caps(emulator: Emulator, raw: Raw) -> None:
    token = raw.token()
    conn = http.client.HTTPConnection(raw.host, raw.port, timeout=60)
    try:
        # one attachment just over 50 MiB: MSG-337 (body still under the 55 MiB cap)
        size = 50 * MIB + 1
        length = sum(len(c) for c in _stream(size))
        conn.request(
            "POST",
            FAX_PATH,
            body=_stream(size),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "multipart/form-data; boundary=b",
                "Content-Length": str(length),
            },
        )
        reply = conn.getresponse()
        assert reply.status == 400
        assert b"MSG-337" in reply.read()
        # a body over 55 MiB: 413 before it is parsed
        size = 56 * MIB
        length = sum(len(c) for c in _stream(size))
        conn.request(
            "POST",
            FAX_PATH,
            body=_stream(size),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "multipart/form-data; boundary=b",
                "Content-Length": str(length),
            },
        )
        reply = conn.getresponse()
        assert reply.status == 413
        assert b"AGW-413" in reply.read()
    finally:
        conn.close()
    assert emulator.count_faxes() == 0
