"""The ``ringfax`` command line against the emulator (real time, short delays)."""

from __future__ import annotations

import io
import json
import re
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfax.cli import main
from ringfax.emulator import Emulator, EmulatorConfig, RateLimit

pytestmark = pytest.mark.network


@pytest.fixture(autouse=True)
def _private_token_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CLI call caches its token under tmp_path, never in ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Emulator]:
    config = EmulatorConfig(rate_limiting=False, send_delay=0.3)
    with Emulator(tmp_path / "data", config=config) as emu:
        yield emu


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def creds(emu: Emulator) -> list[str]:
    return [
        "--server",
        emu.url,
        "--client-id",
        emu.client_id,
        "--client-secret",
        emu.client_secret,
        "--jwt",
        emu.jwt,
    ]


def test_send_status_list_download(live: Emulator, docs: dict[str, Path], tmp_path: Path) -> None:
    code, out, err = run(
        "send",
        *creds(live),
        "--to",
        "+16505550123:Jane",
        "--to",
        "+16505550001",
        str(docs["pdf"]),
        "--cover-page",
        "Classic",
        "--json",
    )
    assert code == 0, err
    sent = json.loads(out)
    assert sent["messageStatus"] == "Queued"
    assert [t["name"] for t in sent["to"]] == ["Jane", None]
    assert live.faxes()[0].cover_index == 5

    code, out, err = run("status", *creds(live), sent["id"], "--wait", "--poll", "0.1")
    assert code == 3, err  # one recipient fails (LineBusy) -> exit 3
    assert "+16505550123 (Jane): Sent" in out
    assert "LineBusy" in out

    code, out, err = run("list", *creds(live), "--json")
    assert code == 0 and [m["id"] for m in json.loads(out)] == [sent["id"]]

    code, out, err = run("download", *creds(live), sent["id"], "-o", str(tmp_path))
    assert code == 0, err
    (path,) = out.split()
    assert Path(path).name == f"{sent['id']}-letter.pdf"  # named from the attachment
    assert Path(path).read_bytes() == docs["pdf"].read_bytes()
    Path(path).write_bytes(b"mine")
    code, out, err = run("download", *creds(live), sent["id"], "-o", str(tmp_path))
    assert code == 1 and "already exists" in err and "--force" in err and "overwrite=" not in err
    assert Path(path).read_bytes() == b"mine"  # never silently overwritten
    code, out, err = run("download", *creds(live), sent["id"], "-o", str(tmp_path), "--force")
    assert code == 0, err
    assert Path(path).read_bytes() == docs["pdf"].read_bytes()


def test_send_wait_and_env(
    live: Emulator, docs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RC_SERVER_URL", live.url)
    monkeypatch.setenv("RC_APP_CLIENT_ID", live.client_id)
    monkeypatch.setenv("RC_APP_CLIENT_SECRET", live.client_secret)
    monkeypatch.setenv("RC_USER_JWT", live.jwt)
    code, out, err = run(
        "send",
        "--to",
        "+16505550123",
        str(docs["tiff"]),
        "--wait",
        "--poll",
        "0.1",
        "--wire-format",
        "mixed",
    )
    assert code == 0, err
    assert "\r" not in err and re.search(r"uploaded \d+(\.\d)? k?B in", err)  # no TTY: no \r
    assert "Sent" in out
    code, out, err = run("cover-pages", "--json")
    assert code == 0 and json.loads(out)[0] == {"id": 1, "name": "Ancient"}


def test_usage_errors(live: Emulator, docs: dict[str, Path], tmp_path: Path) -> None:
    code, _out, err = run("send", *creds(live), str(docs["pdf"]))
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    code, _out, err = run("send", *creds(live), "--to", "+16505550123", str(tmp_path / "nope.pdf"))
    assert code == 2 and "does not exist" in err
    code, _out, err = run("send", *creds(live), "--to", "+16505550123", str(tmp_path))
    assert code == 2 and "not a regular file" in err
    code, _out, err = run("status", "--server", live.url, "123")
    assert code == 2 and "missing configuration" in err
    code, _out, err = run("bogus")
    assert code == 2
    code, _out, err = run(
        "send",
        *creds(live),
        "--to",
        "+16505550123",
        str(docs["pdf"]),
        "--cover-page",
        "Nonexistent",
    )
    assert code == 2 and "unknown --cover-page 'Nonexistent'" in err and "Classic" in err


def test_api_error_exit_code(live: Emulator) -> None:
    code, _out, err = run("status", *creds(live), "987654321")
    assert code == 1
    assert "CMN-102" in err and err.count("\n") == 1


@pytest.mark.timing
def test_demo_runs_end_to_end() -> None:
    started = time.monotonic()
    code, out, err = run("demo", "--send-delay", "0.3")
    assert code == 0, out + err
    assert "final state:" in out
    assert out.count(": Sent") >= 2
    assert "letter.pdf" in out and "scan.tiff" in out
    assert "receive: fax" in out and "receive again: 0 new fax(es)" in out
    assert "forward: Sent" in out
    assert "emulator stopped" in out
    assert time.monotonic() - started < 10


def test_wait_timeout_and_maybe_sent_exit_codes(
    live: Emulator, docs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0009 is the slow scenario number (10 x send_delay): --wait gives up first.
    code, out, err = run("send", *creds(live), "--to", "+16505550009", str(docs["txt"]), "--json")
    assert code == 0, err
    ident = json.loads(out)["id"]
    code, _out, err = run(
        "status", *creds(live), ident, "--wait", "--timeout", "0.3", "--poll", "0.1"
    )
    assert code == 4 and "did not reach a final status" in err

    from ringfax._client import FaxClient
    from ringfax._errors import FaxMaybeSentError

    def broken(*args: object, **kwargs: object) -> None:
        raise FaxMaybeSentError("read timed out")

    monkeypatch.setattr(FaxClient, "send_fax", broken)
    code, _out, err = run("send", *creds(live), "--to", "+16505550123", str(docs["txt"]))
    assert code == 5 and "may have been sent" in err and err.count("\n") == 1


# -- received faxes, cancel/delete, token reuse, messages a new user needs -----------------------


def _logins(emu: Emulator) -> int:
    db = sqlite3.connect(emu.data_dir / "emulator.sqlite3")
    try:
        (count,) = db.execute("SELECT count(*) FROM tokens").fetchone()
    finally:
        db.close()
    return int(count)


def test_receive_and_forward_end_to_end(
    live: Emulator, docs: dict[str, Path], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    code, out, err = run(
        "emulator", "inject", "--server", live.url, "--from", "+16505550150",
        "--subject", "contract", str(docs["pdf"]), str(docs["tiff"]), "--json",
    )  # fmt: skip
    assert code == 0, err
    injected = json.loads(out)
    assert injected["direction"] == "Inbound" and injected["messageStatus"] == "Received"
    fax_id = injected["id"]

    code, out, err = run("receive", *creds(live), "--to-dir", str(inbox), "--mark-read")
    assert code == 0, err
    assert f"received fax {fax_id} from +16505550150" in out
    pdf = inbox / f"{fax_id}-letter.pdf"
    tiff = inbox / f"{fax_id}-scan.tiff"
    assert pdf.read_bytes() == docs["pdf"].read_bytes()
    assert tiff.read_bytes() == docs["tiff"].read_bytes()
    assert "1 new fax(es)" in err
    state = json.loads((inbox / ".ringfax-inbox.json").read_text())
    assert list(state["received"]) == [fax_id] and state["syncToken"]

    code, out, err = run("status", *creds(live), fax_id, "--json")
    assert code == 0 and json.loads(out)["readStatus"] == "Read"
    code, out, err = run("mark-unread", *creds(live), fax_id)
    assert code == 0 and out == f"message {fax_id}: Unread\n", err
    code, out, err = run("mark-read", *creds(live), fax_id, "--json")
    assert code == 0 and json.loads(out)[0]["readStatus"] == "Read", err

    # a second receive downloads nothing again; a newly arrived fax only
    code, out, err = run("receive", *creds(live), "--to-dir", str(inbox))
    assert code == 0 and out == "" and "0 new fax(es)" in err
    code, out, err = run(
        "emulator", "inject", "--server", live.url, "--from", "+16505550151", str(docs["txt"])
    )
    assert code == 0 and "ringfax receive" in out, err
    code, out, err = run("receive", *creds(live), "--to-dir", str(inbox), "--json")
    assert code == 0, err
    (second,) = json.loads(out)
    assert second["from"]["phoneNumber"] == "+16505550151"
    assert [Path(f).name for f in second["files"]] == [f"{second['id']}-note.txt"]
    assert sorted(p.name for p in inbox.iterdir() if not p.name.startswith(".")) == sorted(
        [pdf.name, tiff.name, f"{second['id']}-note.txt"]
    )

    code, out, err = run("list", *creds(live), "--direction", "Inbound")
    assert code == 0, err
    assert out.splitlines()[0].split() == [
        "ID",
        "CREATED",
        "(UTC)",
        "DIR",
        "STATUS",
        "PAGES",
        "TO",
        "/",
        "FROM",
    ]
    assert "from +16505550150" in out and "Received (read)" in out

    # forward the received fax end to end
    code, out, err = run(
        "forward", *creds(live), fax_id, "--to", "+16505550123:Jane", "--wait", "--poll", "0.1"
    )
    assert code == 0, err
    assert f"forwarded message {fax_id} as message" in err
    assert "+16505550123 (Jane): Sent" in out
    forwarded = live.faxes()[-1]
    assert forwarded.id != int(fax_id)

    code, _out, err = run("forward", *creds(live), fax_id)
    assert code == 2 and "--to" in err  # forward needs a recipient


def test_inject_errors(live: Emulator, docs: dict[str, Path], tmp_path: Path) -> None:
    code, _out, err = run("emulator", "inject", "--from", "+16505550150", str(docs["pdf"]))
    assert code == 2 and "RC_SERVER_URL" in err
    code, _out, err = run(
        "emulator", "inject", "--server", live.url, "--from", "+1", str(tmp_path / "missing.pdf")
    )
    assert code == 2 and "does not exist" in err
    code, _out, err = run(
        "emulator", "inject", "--server", live.url, "--from", "not a number", str(docs["pdf"])
    )
    assert code == 1 and "refused" in err


def test_cancel_only_queued_and_delete(live: Emulator, docs: dict[str, Path]) -> None:
    code, out, err = run(
        "send", *creds(live), "--to", "+16505550123", str(docs["pdf"]),
        "--send-at", "2099-01-01T08:00:00Z", "--json",
    )  # fmt: skip
    assert code == 0, err
    scheduled = json.loads(out)["id"]
    code, out, err = run("cancel", *creds(live), scheduled)
    assert code == 0 and f"message {scheduled} cancelled" in out, err

    code, out, err = run(
        "send", *creds(live), "--to", "+16505550123", str(docs["pdf"]), "--wait", "--poll", "0.1",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    sent = json.loads(out)["id"]
    code, out, err = run("cancel", *creds(live), sent)
    assert code == 1, err
    assert "Sent" in err and f"ringfax delete {sent}" in err and err.count("\n") == 1
    code, out, err = run("status", *creds(live), sent, "--json")
    assert code == 0 and json.loads(out)["messageStatus"] == "Sent"  # untouched

    code, out, err = run("delete", *creds(live), sent)
    assert code == 0 and f"message {sent} deleted" in out, err
    code, out, err = run("delete", *creds(live), sent, "--purge")
    assert code == 0 and f"message {sent} purged" in out, err
    code, out, err = run("status", *creds(live), sent)
    assert code == 1 and "404" in err


def test_token_is_reused_between_calls(live: Emulator, tmp_path: Path) -> None:
    for _ in range(3):
        code, _out, err = run("list", *creds(live))
        assert code == 0, err
    assert _logins(live) == 1
    cache = tmp_path / "cache" / "ringfax" / "tokens.json"
    assert cache.stat().st_mode & 0o777 == 0o600
    code, _out, err = run("list", *creds(live), "--no-token-cache")
    assert code == 0, err
    assert _logins(live) == 2


def test_rate_limit_wait_is_announced(tmp_path: Path, docs: dict[str, Path]) -> None:
    config = EmulatorConfig(
        send_delay=0.3, rate_limits={"Light": RateLimit(2, window=2.0, penalty=2.0)}
    )
    with Emulator(tmp_path / "rl", config=config) as emu:
        code, out, err = run(
            "send", *creds(emu), "--to", "+16505550123", str(docs["pdf"]), "--json"
        )
        assert code == 0, err
        started = time.monotonic()
        code, out, err = run(
            "status", *creds(emu), json.loads(out)["id"], "--wait", "--poll", "0.1"
        )
        assert code == 0, err
    assert re.search(r"waiting \d+ s on the rate limit \(Light group\)", err), err
    assert time.monotonic() - started >= 1.0


def test_country_past_time_and_flag_names(live: Emulator, docs: dict[str, Path]) -> None:
    code, out, err = run(
        "send", *creds(live), "--country", "US", "--to", "(650) 555-0123", str(docs["pdf"]),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["to"][0]["phoneNumber"] == "+16505550123"

    code, _out, err = run("send", *creds(live), "--to", "(650) 555-0123", str(docs["pdf"]))
    assert code == 2 and "--country" in err and "default_country" not in err
    assert "--to #1" in err

    code, _out, err = run(
        "send", *creds(live), "--to", "+16505550123", str(docs["pdf"]), "--send-at",
        "2020-01-01T00:00:00Z",
    )  # fmt: skip
    assert code == 2 and "in the past" in err and "--send-at" in err
    assert live.count_faxes() == 1

    code, _out, err = run(
        "send", *creds(live), "--to", "+16505550123", str(docs["pdf"]), "--cover-text", "x" * 2000
    )
    assert code == 2 and "--cover-text has 2000 characters" in err, err


def test_unreadable_attachment_is_refused_before_sending(
    live: Emulator, docs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # skip the CLI's own check: the client must refuse it too (exit 2, never "may have been sent")
    from ringfax.cli import send as _cli_commands

    monkeypatch.setattr(_cli_commands, "_readable_files", lambda names: [Path(n) for n in names])
    folder = tmp_path / "folder.pdf"  # (tests run as root: chmod 000 would still be readable)
    folder.mkdir()
    code, _out, err = run("send", *creds(live), "--to", "+16505550123", str(folder))
    assert code == 2, err
    assert "folder.pdf" in err and "FILE #1" in err and "may have been sent" not in err
    assert live.count_faxes() == 0


def test_ctrl_c_during_wait_says_the_fax_goes_on(
    live: Emulator, docs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringfax import FaxClient

    code, out, err = run("send", *creds(live), "--to", "+16505550009", str(docs["pdf"]), "--json")
    assert code == 0, err
    ident = json.loads(out)["id"]
    real = FaxClient.wait_for_fax

    def interrupted(self: FaxClient, message_id: str, **kw: Any) -> Any:
        kw["on_update"](self.get_fax(message_id))
        raise KeyboardInterrupt

    monkeypatch.setattr(FaxClient, "wait_for_fax", interrupted)
    code, _out, err = run("status", *creds(live), ident, "--wait")
    assert code == 130
    assert f"fax {ident} is still in progress (last status: Queued)" in err
    assert f"ringfax status {ident} --wait" in err
    monkeypatch.setattr(FaxClient, "wait_for_fax", real)


def test_unreachable_server_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from ringfax import RetryPolicy
    from ringfax.cli import common as _cli_common

    monkeypatch.setitem(_cli_common.CLIENT_DEFAULTS, "retry", RetryPolicy.disabled())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        code, _out, err = run(
            "list", "--server", f"http://127.0.0.1:{port}", "--client-id", "a",
            "--client-secret", "b", "--jwt", "c",
        )  # fmt: skip
    assert code == 1
    assert "is the emulator running? try `ringfax emulator`" in err


def test_emulator_port_in_use_and_no_leaked_temp_dir(
    live: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    port = int(live.url.rsplit(":", 1)[1])
    code, _out, err = run("emulator", "--port", str(port))
    assert code == 1
    assert f"port {port} is already in use" in err and "--port 0" in err
    assert list(scratch.iterdir()) == []


def test_version_and_help_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    from ringfax import __version__

    code, out, _err = run("--version")
    assert code == 0 and out.startswith(f"ringfax {__version__}")
    assert main(["send", "--help"]) == 0
    text = capsys.readouterr().out
    assert "(default: form-data)" in text and "(default: 600.0)" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert main(["receive", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--mark-read" in text and "--watch SECONDS" in text
