"""``ringfax receive --push`` as real subprocesses against the emulator: a receiver killed with
SIGKILL during a burst of 50 and restarted leaves all 50 on disk once; the service scenario
end to end (WebSocket receiver, SIGKILL, restart, then a WebHook receiver into a new
directory catching up and receiving); a second receiver on a directory is refused."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from push_env import (
    WAIT,
    ReceiverProcess,
    assert_each_once,
    client_for,
    documents_in,
    inject,
    received_ids,
    wait_for_files,
    wait_until,
)

from ringfax.cli import main
from ringfax.cli.common import EXIT_USAGE
from ringfax.emulator import Emulator

pytestmark = pytest.mark.network

READY = "(catch-up first; Ctrl-C stops)"


@pytest.fixture
def procs() -> Iterator[list[ReceiverProcess]]:
    made: list[ReceiverProcess] = []
    yield made
    for proc in made:
        proc.finish()


def start(
    procs: list[ReceiverProcess], emu: Emulator, directory: Path, log: Path, *extra: str
) -> ReceiverProcess:
    proc = ReceiverProcess(emu, directory, *extra, log=log)
    procs.append(proc)
    assert proc.wait_for_output(READY), proc.output()
    assert proc.proc.poll() is None, proc.output()
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigkill_during_a_burst_of_50_then_restart_lands_each_once(
    emulator: Emulator, tmp_path: Path, procs: list[ReceiverProcess]
) -> None:
    inbox = tmp_path / "in"
    first = start(procs, emulator, inbox, tmp_path / "r1.log", "--push", "websocket")
    ids = inject(emulator, 20)
    wait_until(lambda: len(documents_in(inbox)) >= 5)
    first.kill()  # mid-burst: some faxes landed, some may be half-downloaded
    ids += inject(emulator, 15)
    second = start(procs, emulator, inbox, tmp_path / "r2.log", "--push", "websocket")
    ids += inject(emulator, 15)
    wait_until(lambda: len(set(received_ids(inbox))) == 50)
    assert_each_once(inbox, ids)
    assert second.terminate() == 0


def test_the_service_scenario_end_to_end(
    emulator: Emulator, tmp_path: Path, procs: list[ReceiverProcess]
) -> None:
    inbox = tmp_path / "DIR"
    receiver = start(procs, emulator, inbox, tmp_path / "ws1.log", "--push", "websocket")
    ids = inject(emulator, 5)
    assert len(wait_for_files(inbox, 5, timeout=5)) == 5, receiver.output()
    # a second receiver on the same directory is refused while the first runs
    refused = ReceiverProcess(emulator, inbox, "--push", "websocket", log=tmp_path / "refused.log")
    procs.append(refused)
    assert refused.proc.wait(WAIT) != 0
    assert "another ringfax receiver is running" in refused.output()

    receiver.kill()
    ids += inject(emulator, 4)
    start(procs, emulator, inbox, tmp_path / "ws2.log", "--push", "websocket")
    wait_until(lambda: len(received_ids(inbox)) == 9)
    assert_each_once(inbox, ids)

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    new_inbox = tmp_path / "NEWDIR"
    hook = start(
        procs, emulator, new_inbox, tmp_path / "wh.log",
        "--push", "webhook", "--listen", f"127.0.0.1:{port}", "--public-url", url,
    )  # fmt: skip
    assert len(wait_for_files(new_inbox, 9)) == 9, hook.output()  # the catch-up
    ids += inject(emulator, 2)
    assert len(wait_for_files(new_inbox, 11)) == 11, hook.output()
    assert_each_once(new_inbox, ids)
    assert wait_until(lambda: len(received_ids(inbox)) == 11)  # the WebSocket receiver too
    with client_for(emulator) as client:
        assert [s.address for s in client.list_subscriptions()] == [url]
        assert hook.terminate() == 0
        assert client.list_subscriptions() == []  # deleted on the way out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--push", "webhook"], "--push webhook needs --listen"),
        (["--push", "webhook", "--listen", "nowhere"], "--listen 'nowhere'"),
        (["--push", "webhook", "--listen", "127.0.0.1:1"], "--public-url"),
        (["--listen", "127.0.0.1:8090"], "go with --push webhook"),
        (["--push", "websocket", "--public-url", "http://x/"], "go with --push webhook"),
        (["--push", "websocket", "--watch", "5"], "exclude each other"),
    ],
)
def test_push_options_are_checked(
    argv: list[str], message: str, emulator: Emulator, tmp_path: Path
) -> None:
    code, _out, err = run_cli("receive", "--to-dir", str(tmp_path / "in"), *argv, emu=emulator)
    assert code == EXIT_USAGE and message in err, err


def test_a_public_url_that_does_not_reach_the_receiver_fails_cleanly(
    emulator: Emulator, tmp_path: Path
) -> None:
    port = free_port()
    code, _out, err = run_cli(
        "receive", "--to-dir", str(tmp_path / "in"), "--push", "webhook",
        "--listen", f"127.0.0.1:{port}", "--public-url", f"http://127.0.0.1:{free_port()}/",
        emu=emulator,
    )  # fmt: skip
    assert code != 0 and "SUB-525" in err, err
    with socket.socket() as s:  # the listening socket was closed
        s.bind(("127.0.0.1", port))
    with client_for(emulator) as client:
        assert client.list_subscriptions() == []


def run_cli(*argv: str, emu: Emulator) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    creds = ["--server", emu.url, "--client-id", emu.client_id]
    creds += ["--client-secret", emu.client_secret, "--jwt", emu.jwt, "--no-token-cache"]
    code = main([argv[0], *creds, *argv[1:]], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()
