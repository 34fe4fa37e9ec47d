"""PushReceiver against the emulator's WebSocket gateway over real sockets: a pushed fax lands
fast, and a burst of 50 lands completely and once across dropped connections (recovered with
``wsc``) and an emulator restart (recovery impossible: catch-up sync)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from push_env import (
    WAIT,
    assert_each_once,
    client_for,
    documents_in,
    inject,
    push_config,
    wait_for_files,
    wait_until,
    when,
)

from ringfax import AuthError, FaxClient, Inbox, PushReceiver, RingFaxError
from ringfax._subscriptions import WebSocketToken
from ringfax.emulator import Emulator

pytestmark = pytest.mark.network


class Running:
    """A PushReceiver in a thread, stopped (and joined) by the test's teardown."""

    def __init__(self, receiver: PushReceiver) -> None:
        self.receiver = receiver
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.receiver.run(self.stop)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def ready(self) -> None:
        assert self.receiver.connected.wait(WAIT), self.errors
        assert self.receiver.worker.wait_idle(WAIT)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        assert not self.errors


@pytest.fixture
def running(tmp_path: Path, client: FaxClient) -> Iterator[Running]:
    run = Running(PushReceiver(Inbox(client, tmp_path / "in"), reconnect_delay=0.05))
    yield run
    run.close()


def test_a_pushed_fax_is_on_disk_within_seconds(
    running: Running, emulator: Emulator, tmp_path: Path
) -> None:
    running.ready()
    syncs_before = running.receiver.worker.syncs
    [fax_id] = inject(emulator, 1)
    latency = when(lambda: len(documents_in(tmp_path / "in")) == 1)
    assert latency is not None and latency < WAIT
    print(f"websocket inject->file latency: {latency * 1000:.0f} ms")
    assert running.receiver.worker.syncs > syncs_before  # the event woke a sync
    assert_each_once(tmp_path / "in", [fax_id])


def test_dropped_connections_during_a_burst_lose_nothing(
    running: Running, emulator: Emulator, tmp_path: Path
) -> None:
    running.ready()
    ids: list[str] = []
    for _ in range(5):
        ids += inject(emulator, 10)
        emulator.drop_websockets()
    assert len(wait_for_files(tmp_path / "in", 50)) == 50
    assert running.receiver.worker.wait_idle(WAIT)
    assert_each_once(tmp_path / "in", ids)
    assert wait_until(lambda: running.receiver.recovered >= 1)  # wsc recovery was used


def test_an_emulator_restart_mid_burst_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "emu"
    first = Emulator(data, config=push_config()).start()
    port = int(first.url.rsplit(":", 1)[1])
    client = client_for(first)
    # reconnecting only after the second burst: no event of it reaches the receiver; the
    # catch-up sync after the failed recovery (or the retry of a sync the stop cut) finds it
    run = Running(PushReceiver(Inbox(client, tmp_path / "in"), reconnect_delay=1.5))
    try:
        run.ready()
        ids = inject(first, 25)
        first.stop()  # mid-burst; the gateway's sessions die with it: recovery must fail
        second = Emulator(data, port=port, config=push_config()).start()
        try:
            ids += inject(second, 25)
            assert len(wait_for_files(tmp_path / "in", 50)) == 50
            assert run.receiver.worker.wait_idle(WAIT)
            assert_each_once(tmp_path / "in", ids)
            assert wait_until(lambda: run.receiver.connections >= 2)
            assert run.receiver.recovered == 0
        finally:
            run.close()
            second.stop()
    finally:
        client.close()
        first.stop()


def test_arun_receives_and_stops_on_cancel(
    emulator: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    receiver = PushReceiver(Inbox(client, tmp_path / "in"), reconnect_delay=0.05)

    async def scenario() -> None:
        task = asyncio.ensure_future(receiver.arun())
        assert await asyncio.to_thread(receiver.connected.wait, WAIT)
        await asyncio.to_thread(inject, emulator, 2)
        assert await asyncio.to_thread(lambda: len(wait_for_files(tmp_path / "in", 2)) == 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert not receiver.connected.is_set()
    assert len(documents_in(tmp_path / "in")) == 2


def test_a_second_receiver_on_the_same_directory_is_refused(
    running: Running, client: FaxClient, tmp_path: Path
) -> None:
    running.ready()
    second = PushReceiver(Inbox(client, tmp_path / "in"))
    with pytest.raises(RingFaxError, match="another ringfax receiver is running"):
        second.run(threading.Event())


@pytest.mark.parametrize(("heartbeat", "stays"), [(0.2, True), (30.0, False)])
def test_heartbeats_keep_the_session_from_the_idle_timeout(
    tmp_path: Path, heartbeat: float, stays: bool
) -> None:
    config = push_config(ws_idle_timeout=1.0)
    with Emulator(tmp_path / "emu", config=config) as emu, client_for(emu) as client:
        receiver = PushReceiver(
            Inbox(client, tmp_path / "in"), heartbeat=heartbeat, reconnect_delay=0.05
        )
        run = Running(receiver)
        try:
            run.ready()
            reconnected = wait_until(lambda: receiver.connections >= 2, timeout=2.0)
            assert reconnected is not stays  # without heartbeats the gateway says WSG-902
        finally:
            run.close()


def test_the_ws_token_never_reaches_the_logs(
    emulator: Emulator, client: FaxClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issued: list[str] = []
    original = client.websocket_token

    def recording() -> WebSocketToken:
        token = original()
        issued.append(token.token)
        return token

    client.websocket_token = recording  # type: ignore[method-assign]
    caplog.set_level(logging.DEBUG)
    run = Running(PushReceiver(Inbox(client, tmp_path / "in"), reconnect_delay=0.05))
    try:
        run.ready()
        emulator.drop_websockets()
        assert wait_until(lambda: len(issued) >= 2 and run.receiver.connected.is_set())
    finally:
        run.close()
    # the emulator's gateway logs its side (websockets.server); only the client's count
    client_side = [r.getMessage() for r in caplog.records if r.name != "websockets.server"]
    assert any("connection lost" in m for m in client_side)
    assert issued and not any(t in m for t in issued for m in client_side)


def test_faxes_no_event_announced_are_caught_up(tmp_path: Path) -> None:
    """Faxes from before the first start, and faxes from before a reconnect whose recovery
    failed: no notification ever carries them, only the catch-up syncs find them."""
    data = tmp_path / "emu"
    first = Emulator(data, config=push_config()).start()
    port = int(first.url.rsplit(":", 1)[1])
    client = client_for(first)
    ids = inject(first, 3)
    run = Running(PushReceiver(Inbox(client, tmp_path / "in"), reconnect_delay=1.5))
    try:
        run.ready()
        assert len(wait_for_files(tmp_path / "in", 3)) == 3
        assert run.receiver.worker.wait_idle(WAIT)  # no sync in flight when the server stops
        first.stop()
        second = Emulator(data, port=port, config=push_config()).start()
        try:
            ids += inject(second, 5)  # before the receiver reconnects (1.5 s)
            assert run.receiver.connections == 1
            assert len(wait_for_files(tmp_path / "in", 8)) == 8
            assert_each_once(tmp_path / "in", ids)
            assert run.receiver.connections == 2 and run.receiver.recovered == 0
        finally:
            run.close()
            second.stop()
    finally:
        client.close()
        first.stop()


def test_after_the_recovery_timeout_no_recovery_is_attempted(tmp_path: Path) -> None:
    config = push_config(ws_recovery_timeout=1.0)
    with Emulator(tmp_path / "emu", config=config) as emu, client_for(emu) as client:
        statuses: list[str] = []
        receiver = PushReceiver(
            Inbox(client, tmp_path / "in"), reconnect_delay=1.5, on_status=statuses.append
        )
        run = Running(receiver)
        try:
            run.ready()
            emu.drop_websockets()
            ids = inject(emu, 2)  # announced to nobody: the session is gone
            assert wait_until(lambda: receiver.connections == 2)
            assert len(wait_for_files(tmp_path / "in", 2)) == 2
            assert_each_once(tmp_path / "in", ids)
        finally:
            run.close()
    assert receiver.recovered == 0
    assert not any("not recovered" in s for s in statuses), statuses  # no stale wsc sent


def test_refusals_that_retrying_cannot_fix_end_the_run(
    emulator: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    bad_filter = PushReceiver(
        Inbox(client, tmp_path / "a"), event_filters=["/restapi/v1.0/account/~/presence"]
    )
    with pytest.raises(RingFaxError, match="refused the subscription: status 400, CMN-101"):
        bad_filter.run(threading.Event())
    with FaxClient(emulator.url, access_token="not-a-token") as stranger:
        with pytest.raises(AuthError):
            PushReceiver(Inbox(stranger, tmp_path / "b")).run(threading.Event())
