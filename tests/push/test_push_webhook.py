"""The WebHook receiver over real sockets against the emulator: the handshake is answered
within RingCentral's limits, a delivered fax lands fast, a burst of 50 lands once, a wrong
Verification-Token is refused with 401, and WebhookSubscription recreates a blacklisted or
vanished subscription (then a catch-up sync finds what its events missed)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from push_env import (
    WAIT,
    assert_each_once,
    documents_in,
    inject,
    wait_for_files,
    wait_until,
    when,
)

from ringfax import FaxClient, Inbox, InboxSyncWorker, WebhookSubscription
from ringfax.emulator import Emulator
from ringfax.webhook import WebhookApp, make_server

pytestmark = pytest.mark.network


@dataclass
class Hook:
    worker: InboxSyncWorker
    keeper: WebhookSubscription
    app: WebhookApp
    url: str
    broken: threading.Event


@pytest.fixture
def hook(client: FaxClient, tmp_path: Path) -> Iterator[Hook]:
    worker = InboxSyncWorker(Inbox(client, tmp_path / "in"), retry_delay=0.05)
    broken = threading.Event()

    def on_event(event: Mapping[str, Any]) -> None:
        if broken.is_set():
            raise RuntimeError("receiver broken by the test")
        worker.notify(event)

    token = "verification-token-of-this-test"
    app = WebhookApp(on_event, verification_token=token)
    server = make_server(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_port}/hook"
    keeper = WebhookSubscription(client, url, verification_token=token)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    worker.start()
    try:
        yield Hook(worker, keeper, app, url, broken)
    finally:
        keeper.close()
        server.shutdown()
        server.server_close()
        worker.stop()


def test_handshake_then_a_delivered_fax_lands_within_seconds(
    hook: Hook, emulator: Emulator, tmp_path: Path
) -> None:
    sub = hook.keeper.open()  # the emulator refuses unless the handshake answer is in time
    assert sub.status == "Active" and sub.address == hook.url and hook.app.handshakes == 1
    assert hook.worker.wait_idle(WAIT)
    [fax_id] = inject(emulator, 1)
    latency = when(lambda: len(documents_in(tmp_path / "in")) == 1)
    assert latency is not None and latency < WAIT
    print(f"webhook inject->file latency: {latency * 1000:.0f} ms")
    assert hook.app.delivered >= 1
    assert_each_once(tmp_path / "in", [fax_id])


def test_a_burst_of_50_lands_once(hook: Hook, emulator: Emulator, tmp_path: Path) -> None:
    hook.keeper.open()
    ids = inject(emulator, 50)
    assert len(wait_for_files(tmp_path / "in", 50)) == 50
    assert hook.worker.wait_idle(WAIT)
    assert_each_once(tmp_path / "in", ids)
    assert hook.worker.syncs < 50  # events arriving during a sync were coalesced


def test_a_wrong_verification_token_is_refused_over_the_wire(hook: Hook) -> None:
    body = b'{"uuid": "forged", "body": {}}'
    for token in ("forged-token", None):
        request = urllib.request.Request(hook.url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Verification-Token", token)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=WAIT)
        assert caught.value.code == 401
    assert hook.app.delivered == 0 and hook.app.refused == 2


def test_a_blacklisted_subscription_is_recreated_and_nothing_is_lost(
    hook: Hook, client: FaxClient, emulator: Emulator, tmp_path: Path
) -> None:
    first = hook.keeper.open()
    hook.broken.set()  # 503 to every delivery: the emulator blacklists after 3 attempts
    ids = inject(emulator, 2)
    assert wait_until(lambda: client.get_subscription(first.id).blacklisted)
    hook.broken.clear()
    assert hook.keeper.maintain() is True  # recreated
    assert hook.keeper.current is not None and hook.keeper.current.id != first.id
    assert [s.id for s in client.list_subscriptions()] == [hook.keeper.current.id]
    hook.worker.request_sync()  # what the caller does when maintain() says True
    assert len(wait_for_files(tmp_path / "in", 2)) == 2
    ids += inject(emulator, 1)  # the new subscription delivers
    assert len(wait_for_files(tmp_path / "in", 3)) == 3
    assert_each_once(tmp_path / "in", ids)


def test_a_vanished_subscription_is_recreated_and_a_stale_one_replaced(
    hook: Hook, client: FaxClient
) -> None:
    first = hook.keeper.open()
    client.delete_subscription(first.id)
    assert hook.keeper.maintain() is True
    second = hook.keeper.current
    assert second is not None and second.id != first.id
    assert hook.keeper.maintain() is False  # healthy: kept as is
    # a new receiver on the same address (the old one crashed) replaces its subscription
    successor = WebhookSubscription(client, hook.url)
    third = successor.open()
    assert [s.id for s in client.list_subscriptions()] == [third.id]
    successor.close()
    assert client.list_subscriptions() == []


def test_the_handshake_answer_is_small_and_prompt_over_the_wire(hook: Hook) -> None:
    port = int(hook.url.split(":")[2].split("/")[0])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as conn:
        conn.sendall(
            b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Validation-Token: 0f3c8a2e-4b1d-4c6e-9a7f-123456789abc\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
            assert len(answer) <= 1024
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # RingCentral's limit; loopback takes milliseconds
    head = answer.decode("latin-1").split("\r\n")
    assert head[0].split()[1] == "200"
    assert "Validation-Token: 0f3c8a2e-4b1d-4c6e-9a7f-123456789abc" in head
    assert answer.endswith(b"\r\n\r\n")  # no body


@pytest.mark.parametrize("server_name", ["uvicorn", "waitress", "werkzeug"])
def test_the_app_under_other_servers(
    server_name: str, client: FaxClient, emulator: Emulator, tmp_path: Path
) -> None:
    """WSGI under waitress and werkzeug, ASGI under uvicorn: handshake, then a fax lands."""
    pytest.importorskip(server_name)
    from tests.interop._app_servers import ASGI_SERVERS, WSGI_SERVERS

    worker = InboxSyncWorker(Inbox(client, tmp_path / "in"))
    app = WebhookApp(worker.notify, verification_token="token-for-" + server_name)
    served = app.asgi if server_name in ASGI_SERVERS else app
    serve = {**ASGI_SERVERS, **WSGI_SERVERS}[server_name]
    worker.start()
    try:
        with serve(served) as url:
            keeper = WebhookSubscription(client, url, verification_token="token-for-" + server_name)
            keeper.open()
            try:
                ids = inject(emulator, 2)
                assert len(wait_for_files(tmp_path / "in", 2)) == 2
                assert_each_once(tmp_path / "in", ids)
                assert app.handshakes == 1 and app.delivered >= 2 and app.refused == 0
            finally:
                keeper.close()
    finally:
        worker.stop()
