"""InboxSyncWorker with a scripted inbox (no network): the first sync is the catch-up,
requests during a sync coalesce into one more, a failed sync is retried, events never
block, stop ends the thread."""

from __future__ import annotations

import threading
from typing import Any

from push_env import WAIT, wait_until

from ringfax import InboxSyncWorker, RingFaxError


class ScriptedInbox:
    """``sync()`` blocks on ``gate`` (when set) and fails while ``failing`` is positive."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.failing = 0

    def sync(self) -> list[Any]:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        if self.failing:
            self.failing -= 1
            raise RingFaxError("server unreachable")
        return []


def make(inbox: ScriptedInbox, **kw: Any) -> InboxSyncWorker:
    return InboxSyncWorker(inbox, **kw)  # type: ignore[arg-type]


def test_the_first_sync_is_the_catch_up_and_bursts_coalesce() -> None:
    inbox = ScriptedInbox()
    inbox.gate = threading.Event()
    worker = make(inbox, resync_interval=None)
    worker.start()
    try:
        assert inbox.entered.wait(WAIT)  # the catch-up runs without any event
        for n in range(100):  # a burst while the catch-up is busy
            assert worker.notify({"uuid": str(n)})
        inbox.gate.set()
        assert worker.wait_idle(WAIT)
        assert inbox.calls == 2  # the catch-up, then one sync for the whole burst
    finally:
        worker.stop()


def test_a_full_queue_drops_the_event_but_a_sync_is_still_due() -> None:
    inbox = ScriptedInbox()
    inbox.gate = threading.Event()
    worker = make(inbox, resync_interval=None, queue_size=2)
    worker.start()
    try:
        assert inbox.entered.wait(WAIT)
        results = [worker.notify({"uuid": str(n)}) for n in range(5)]
        assert results == [True, True, False, False, False]
        inbox.gate.set()
        assert worker.wait_idle(WAIT) and inbox.calls == 2
    finally:
        worker.stop()


def test_a_failed_sync_is_retried_and_reported() -> None:
    inbox = ScriptedInbox()
    inbox.failing = 2
    errors: list[Exception] = []
    worker = make(inbox, resync_interval=None, retry_delay=0.01, on_error=errors.append)
    worker.start()
    try:
        assert wait_until(lambda: inbox.calls == 3 and worker.last_error is None)
        assert [str(e) for e in errors] == ["server unreachable"] * 2
    finally:
        worker.stop()
    assert worker.syncs == 3


def test_stop_ends_the_thread_even_with_a_full_queue() -> None:
    inbox = ScriptedInbox()
    worker = make(inbox, resync_interval=None, queue_size=1)
    worker.start()
    assert worker.wait_idle(WAIT)
    worker.notify()
    worker.stop()
    assert not any(t.name == "ringfax-inbox-sync" for t in threading.enumerate())


def test_without_events_the_worker_resyncs_periodically() -> None:
    inbox = ScriptedInbox()
    worker = make(inbox, resync_interval=0.02)
    worker.start()
    try:
        assert wait_until(lambda: inbox.calls >= 3)
    finally:
        worker.stop()
