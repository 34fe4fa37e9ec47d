"""End to end against the emulator over real HTTP on 127.0.0.1: receive a fax
(list, message-sync, download, read status), forward it, cancel only Queued faxes, delete,
pace on the emulator's rate limits, share tokens through a FileTokenCache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ringfax import (
    Attachment,
    DownloadError,
    FaxClient,
    FileTokenCache,
    MessageStatus,
    NotCancellable,
)
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock
from ringfax.emulator._config import RateLimit

pytestmark = pytest.mark.network

PDF = b"%PDF-1.4\n% inbound test document\n"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(tmp_path: Path, clock: ManualClock) -> Iterator[Emulator]:
    config = EmulatorConfig(rate_limiting=False, send_delay=30.0)
    with Emulator(tmp_path / "data", config=config, clock=clock) as emu:
        yield emu


@pytest.fixture
def make_client(clock: ManualClock) -> Iterator[Callable[..., FaxClient]]:
    made: list[FaxClient] = []

    def make(emu: Emulator, **kw: Any) -> FaxClient:
        kw.setdefault("clock", clock.now)
        kw.setdefault("sleep", clock.sleep)
        client = FaxClient(
            emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt, **kw
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_receive_download_mark_read_and_forward(
    emulator: Emulator, make_client: Callable[..., FaxClient], tmp_path: Path
) -> None:
    client = make_client(emulator)
    first = client.sync_faxes(direction="Inbound", date_from=EPOCH)
    assert first.full and first.records == ()
    record = emulator.inject_inbound_fax(
        from_number="+14155550100", documents=[("in.pdf", "application/pdf", PDF)]
    )
    listed = list(client.iter_faxes(direction="Inbound"))
    assert [m.id for m in listed] == [str(record["id"])]
    fax = listed[0]
    assert fax.direction == "Inbound" and fax.message_status is MessageStatus.RECEIVED
    assert fax.read_status == "Unread" and fax.from_ is not None

    incremental = client.sync_faxes(first.sync_token, direction="Inbound")
    assert [m.id for m in incremental.records] == [fax.id] and not incremental.full

    out = tmp_path / "inbox"
    out.mkdir()
    saved = client.download(fax.id, fax.attachments[0], out)
    assert saved == out.resolve() / f"{fax.id}-in.pdf"
    assert saved.read_bytes() == PDF
    with pytest.raises(DownloadError):
        client.download(fax.id, fax.attachments[0], out)
    assert saved.read_bytes() == PDF

    assert client.mark_read(fax.id).read_status == "Read"
    changed = client.sync_faxes(incremental.sync_token)
    assert [(m.id, m.read_status) for m in changed.records] == [(fax.id, "Read")]
    assert client.mark_unread(fax.id).read_status == "Unread"

    forwarded = client.resend_fax(fax.id, to="+16505550123")
    assert forwarded.id != fax.id
    again = client.get_fax(forwarded.id)
    assert again.direction == "Outbound"


def test_cancel_only_queued_then_delete(
    emulator: Emulator, make_client: Callable[..., FaxClient], clock: ManualClock
) -> None:
    client = make_client(emulator)
    doc = Attachment(PDF, filename="a.pdf")
    queued = client.send_fax("+16505550100", [doc])
    cancelled = client.cancel_fax(queued.id)
    assert cancelled.message_status is MessageStatus.QUEUED
    with pytest.raises(NotCancellable, match="already removed"):
        client.cancel_fax(queued.id)  # a second cancel must not purge it

    sent = client.send_fax("+16505550100", [doc])
    clock.advance(120)
    final = client.wait_for_fax(sent.id, poll=5)
    assert final.is_final
    with pytest.raises(NotCancellable) as info:
        client.cancel_fax(sent.id)
    assert info.value.status is final.message_status
    assert client.get_fax(sent.id).availability == "Alive"  # untouched
    client.delete_fax(sent.id)
    assert client.get_fax(sent.id).availability == "Deleted"
    client.delete_fax(sent.id, purge=True)


def test_pacing_avoids_the_429(
    tmp_path: Path, clock: ManualClock, make_client: Callable[..., FaxClient]
) -> None:
    limits = {
        "Light": RateLimit(limit=3, window=60.0, penalty=60.0),
        "Medium": RateLimit(limit=40),
        "Heavy": RateLimit(limit=10),
        "Auth": RateLimit(limit=5),
    }
    config = EmulatorConfig(rate_limiting=True, rate_limits=limits)
    waits: list[tuple[float, str]] = []
    with Emulator(tmp_path / "data", config=config, clock=clock) as emu:
        client = make_client(emu, on_wait=lambda s, why: waits.append((s, why)))
        for _ in range(7):
            assert client.cover_pages()
    # 3 requests per window: calls 4 and 7 wait out the window; no 429 (and no penalty)
    assert waits == [(60.0, "rate limit (Light group): waiting 60 s")] * 2


def test_token_cache_skips_the_login(
    emulator: Emulator, make_client: Callable[..., FaxClient], tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "tokens.json"
    first = make_client(emulator, token_cache=FileTokenCache(path, clock=clock.now))
    first.cover_pages()
    second = make_client(emulator, token_cache=FileTokenCache(path, clock=clock.now))
    second.cover_pages()
    assert first.auth.grants == {"jwt": 1, "refresh": 0}  # type: ignore[attr-defined]
    assert second.auth.grants == {"jwt": 0, "refresh": 0}  # type: ignore[attr-defined]
