"""Subscription calls (sync and async) and WebhookSubscription's renewal and recreation
against the emulator on a ManualClock: renewed once less than the margin of its lifetime is
left, recreated after it expired; a refused handshake is the emulator's SUB-525."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from push_env import client_for, push_config

from ringfax import (
    AsyncFaxClient,
    BadRequest,
    FaxClient,
    NotFound,
    ValidationError,
    WebhookSubscription,
)
from ringfax.emulator import Emulator, ManualClock
from ringfax.webhook import WebhookApp, make_server

pytestmark = pytest.mark.network


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def manual(tmp_path: Path, clock: ManualClock) -> Iterator[FaxClient]:
    with (
        Emulator(tmp_path / "emu", config=push_config(), clock=clock) as emu,
        client_for(emu, clock=clock.now, sleep=clock.sleep) as client,
    ):
        yield client


@pytest.fixture
def address() -> Iterator[str]:
    server = make_server(WebhookApp(lambda e: None, verification_token="t"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_create_get_list_renew_delete(manual: FaxClient, address: str, clock: ManualClock) -> None:
    sub = manual.create_subscription(address=address, verification_token="t", expires_in=100)
    assert (sub.status, sub.transport_type, sub.expires_in) == ("Active", "WebHook", 100)
    assert manual.get_subscription(sub.id).id == sub.id
    assert [s.id for s in manual.list_subscriptions()] == [sub.id]
    clock.advance(60)
    assert manual.get_subscription(sub.id).expires_in == 40
    assert manual.renew_subscription(sub.id).expires_in == 100
    manual.delete_subscription(sub.id)
    with pytest.raises(NotFound):
        manual.get_subscription(sub.id)
    with pytest.raises(ValidationError, match="expires_in"):
        manual.create_subscription(address=address, expires_in=0)
    token = manual.websocket_token()
    assert token.uri.startswith("ws://") and token.token not in repr(token)


def test_a_receiver_that_fails_the_handshake_is_refused(manual: FaxClient) -> None:
    with pytest.raises(BadRequest) as caught:
        manual.create_subscription(address="http://127.0.0.1:9/")  # nothing listens there
    assert caught.value.error_code == "SUB-525"


def test_renewed_before_expiry_and_recreated_after_it(
    manual: FaxClient, address: str, clock: ManualClock
) -> None:
    keeper = WebhookSubscription(manual, address, expires_in=100, renew_margin=0.25)
    first = keeper.open()
    clock.advance(70)  # 30 s left: above the margin (25 s), left alone
    assert keeper.maintain() is False and keeper.current is not None
    assert keeper.current.expires_in == 30
    clock.advance(10)  # 20 s left: renewed
    assert keeper.maintain() is False
    assert keeper.current.id == first.id and keeper.current.expires_in == 100
    clock.advance(101)  # expired: gone on the server
    assert keeper.maintain() is True
    assert keeper.current.id != first.id
    assert [s.id for s in manual.list_subscriptions()] == [keeper.current.id]
    keeper.close()
    assert manual.list_subscriptions() == []


def test_the_async_twins(manual: FaxClient, address: str) -> None:
    async def scenario() -> None:
        client = AsyncFaxClient(client=manual)
        sub = await client.create_subscription(address=address, expires_in=50)
        assert (await client.get_subscription(sub.id)).id == sub.id
        assert [s.id for s in await client.list_subscriptions()] == [sub.id]
        assert (await client.renew_subscription(sub.id)).expires_in == 50
        await client.delete_subscription(sub.id)
        assert await client.list_subscriptions() == []
        assert (await client.websocket_token()).uri.startswith("ws://")

    asyncio.run(scenario())
