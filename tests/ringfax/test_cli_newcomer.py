"""What a first-time ``ringfax`` user runs into: cancelled faxes, resend targets, closed pipes,
quiet demo, ``download -o DIR/``, ``receive --watch`` messages (against the emulator on
127.0.0.1 where a server is needed)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfax import AsyncFaxClient, FaxClient, Inbox, ReceivedFax, TransportError
from ringfax.cli import main
from ringfax.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_CANCELLED,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_NOTHING_TO_RESEND,
)
from ringfax.emulator import Emulator, EmulatorConfig
from ringfax.emulator._samples import make_pdf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private_token_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Emulator]:
    config = EmulatorConfig(rate_limiting=False, send_delay=0.3)
    with Emulator(tmp_path / "data", config=config) as emu:
        yield emu


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "letter.pdf"
    path.write_bytes(make_pdf(["page one", "page two"]))
    return path


def run(*argv: str, stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = stdout or io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def creds(emu: Emulator) -> list[str]:
    secrets = ["--client-secret", emu.client_secret, "--jwt", emu.jwt]
    return ["--server", emu.url, "--client-id", emu.client_id, *secrets]


def client_for(emu: Emulator) -> FaxClient:
    return FaxClient(emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt)


def _scheduled_and_cancelled(emu: Emulator, pdf: Path) -> str:
    code, out, err = run(
        "send", *creds(emu), "--to", "+16505550123", str(pdf),
        "--send-at", "2099-01-01T08:00:00Z", "--json",
    )  # fmt: skip
    assert code == 0, err
    message_id: str = json.loads(out)["id"]
    code, out, err = run("cancel", *creds(emu), message_id)
    assert code == 0 and "cancelled" in out, err
    return message_id


# -- a cancelled fax ---------------------------------------------------------------------------


def test_status_and_list_show_a_cancelled_fax_and_wait_ends_on_it(
    live: Emulator, pdf: Path
) -> None:
    message_id = _scheduled_and_cancelled(live, pdf)

    code, out, err = run("status", *creds(live), message_id)
    assert code == 0, err
    assert out.splitlines()[0] == (
        f"message {message_id}: Cancelled (Deleted), it will not be sent (pages: 0)"
    )
    assert "  +16505550123: Cancelled" in out.splitlines()

    code, out, err = run("status", *creds(live), message_id, "--json")
    shown = json.loads(out)
    assert (shown["availability"], shown["cancelled"]) == ("Deleted", True)
    assert shown["messageStatus"] == "Queued"  # the wire value stays as the server sent it

    code, out, err = run("list", *creds(live))
    assert code == 0 and "Cancelled (Deleted)" in out.splitlines()[1], out
    code, out, err = run("list", *creds(live), "--json")
    assert [(m["availability"], m["cancelled"]) for m in json.loads(out)] == [("Deleted", True)]

    code, out, err = run(
        "status", *creds(live), message_id, "--wait", "--poll", "0.05", "--timeout", "20"
    )
    assert code == EXIT_CANCELLED == 6, err
    assert "it will not be sent" in out


def test_wait_for_fax_returns_a_deleted_fax_sync_and_async(live: Emulator, pdf: Path) -> None:
    message_id = _scheduled_and_cancelled(live, pdf)
    with client_for(live) as client:
        msg = client.wait_for_fax(message_id, timeout=20, poll=0.05)
    assert msg.is_deleted and msg.availability == "Deleted"
    assert not msg.is_final  # it never reached a final status: it was cancelled

    async def wait() -> Any:
        async with AsyncFaxClient(
            live.url, client_id=live.client_id, client_secret=live.client_secret, jwt=live.jwt
        ) as client:
            return await client.wait_for_fax(message_id, timeout=20, poll=0.05)

    assert asyncio.run(wait()).is_deleted


def test_sent_then_deleted_fax_keeps_its_status(live: Emulator, pdf: Path) -> None:
    code, out, err = run(
        "send", *creds(live), "--to", "+16505550123", str(pdf), "--wait", "--poll", "0.05",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    message_id = json.loads(out)["id"]
    assert run("delete", *creds(live), message_id)[0] == 0
    code, out, err = run("status", *creds(live), message_id, "--wait", "--poll", "0.05")
    assert code == 0, err
    assert out.startswith(f"message {message_id}: Sent (Deleted) (pages: ")


# -- resend --------------------------------------------------------------------------------------


def _failed_fax(emu: Emulator, pdf: Path, *numbers: str) -> str:
    to = [arg for n in numbers for arg in ("--to", n)]
    code, out, err = run(
        "send", *creds(emu), *to, str(pdf), "--wait", "--poll", "0.05", "--timeout", "30",
        "--json",
    )  # fmt: skip
    assert code == EXIT_FAILED, err
    message_id: str = json.loads(out)["id"]
    return message_id


def test_resend_goes_to_the_retryable_failures_only(live: Emulator, pdf: Path) -> None:
    # 0001: LineBusy (worth retrying), 0003: InvalidNumber (not), 0123: Sent
    original = _failed_fax(live, pdf, "+16505550001", "+16505550003", "+16505550123")
    code, out, err = run("resend", *creds(live), original, "--json")
    assert code == 0, err
    assert [t["phoneNumber"] for t in json.loads(out)["to"]] == ["+16505550001"]
    assert "not resending to +16505550003 (InvalidNumber: the number is invalid)" in err
    assert "--include-final-failures" in err

    code, out, err = run("resend", *creds(live), original, "--include-final-failures", "--json")
    assert code == 0, err
    assert [t["phoneNumber"] for t in json.loads(out)["to"]] == ["+16505550001", "+16505550003"]


def test_resend_with_nothing_left_sends_nothing(live: Emulator, pdf: Path) -> None:
    original = _failed_fax(live, pdf, "+16505550003")
    before = len(live.faxes())
    code, out, err = run("resend", *creds(live), original)
    assert code == EXIT_NOTHING_TO_RESEND == 7
    assert out == ""
    assert err.startswith(f"nothing to resend: message {original}: ")
    assert "InvalidNumber" in err and "--include-final-failures" in err
    assert len(live.faxes()) == before

    code, out, err = run("resend", *creds(live), original, "--json")
    assert code == 7 and json.loads(out) == {"id": original, "resent": False}

    code, out, err = run(
        "send", *creds(live), "--to", "+16505550123", str(pdf), "--wait", "--poll", "0.05",
        "--json",
    )  # fmt: skip
    sent = json.loads(out)["id"]
    code, out, err = run("resend", *creds(live), sent)
    assert code == 7 and "no recipient failed (status Sent)" in err, err
    assert len(live.faxes()) == before + 1


def test_resend_help_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resend", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "the same ones" not in text
    assert "worth retrying" in text and "InvalidNumber" in text
    assert "--include-final-failures" in text and "exit code is 7" in text


# -- exit codes ----------------------------------------------------------------------------------


def test_exit_codes_have_one_table_matching_the_docs_and_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    codes = [code for code, _ in EXIT_CODES]
    assert len(codes) == len(set(codes))
    assert main(["--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    doc = (ROOT / "docs" / "ringfax-cli.md").read_text(encoding="utf-8")
    rows = {
        int(cells[0].strip().strip("`")): cells[1].strip()
        for line in doc.splitlines()
        if line.startswith("| ") and (cells := line.strip("|").split("|"))[0].strip(" `").isdigit()
    }
    assert rows == dict(EXIT_CODES)
    for code, meaning in EXIT_CODES:
        assert f"{code} {' '.join(meaning.split())}" in help_text


# -- closed stdout -------------------------------------------------------------------------------


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_ends_quietly(live: Emulator, pdf: Path) -> None:
    assert run("send", *creds(live), "--to", "+16505550123", str(pdf), "-q")[0] == 0
    code, _out, err = run("list", *creds(live), "--json", stdout=ClosedPipe())
    assert (code, err) == (EXIT_BROKEN_PIPE, "")


def test_list_into_a_pipe_closed_by_its_reader(live: Emulator, pdf: Path, tmp_path: Path) -> None:
    """``ringfax list --json | head -c0``: the reader is gone before the first write."""
    assert run("send", *creds(live), "--to", "+16505550123", str(pdf), "-q")[0] == 0
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ringfax", "list", "--json", *creds(live)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


# -- demo and inject -----------------------------------------------------------------------------


def test_demo_without_urllib3_fails_before_starting_the_emulator() -> None:
    code = """
        import sys
        sys.modules['urllib3'] = None  # makes 'import urllib3' fail
        from ringfax.cli import main
        sys.exit(main(["demo"]))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )
    assert result.returncode == 1
    assert "pip install 'mimewire[fax]'" in result.stderr
    assert result.stdout == ""  # no "emulator running on ..." first


def test_demo_and_inject_are_quiet_with_q(live: Emulator, pdf: Path) -> None:
    code, out, err = run("demo", "-q", "--send-delay", "0.2")
    assert (code, out, err) == (0, "", "")
    code, out, err = run("emulator", "inject", "--server", live.url, "--from", "+1650555015")
    assert code == 2  # (no FILE)
    code, out, err = run(
        "emulator", "inject", "--server", live.url, "--from", "+16505550150", str(pdf), "-q"
    )
    assert (code, out, err) == (0, "", "")


# -- received faxes in --json ------------------------------------------------------------------


def test_status_json_of_a_received_fax_has_no_made_up_recipient_status(
    live: Emulator, pdf: Path
) -> None:
    record = live.inject_inbound_fax(
        from_number="+16505550150", documents=[("in.pdf", "application/pdf", pdf.read_bytes())]
    )
    code, out, err = run("status", *creds(live), str(record["id"]), "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["messageStatus"] == "Received"
    assert shown["to"] and all(r["messageStatus"] is None for r in shown["to"])


# -- download -o DIR/ ----------------------------------------------------------------------------


def test_download_into_a_new_directory(live: Emulator, pdf: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.pdf"
    second.write_bytes(make_pdf(["another document"]))
    code, out, err = run(
        "send", *creds(live), "--to", "+16505550123", str(pdf), str(second), "--json", "-q"
    )
    assert code == 0, err
    message_id = json.loads(out)["id"]
    target = tmp_path / "new" / "faxes"
    code, out, err = run("download", *creds(live), message_id, "-o", f"{target}{os.sep}")
    assert code == 0, err
    files = [Path(p) for p in out.split()]
    assert len(files) == 2 and all(f.parent == target for f in files)
    assert files[0].read_bytes() == pdf.read_bytes()

    code, out, err = run("download", *creds(live), message_id, "-o", str(tmp_path / "no" / "x"))
    assert code == 2 and "DIR/ creates it" in err
    assert not (tmp_path / "no").exists()


# -- receive --watch ------------------------------------------------------------------------------


def test_receive_watch_says_what_it_does_and_reports_an_outage_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    down = TransportError(
        "GET http://127.0.0.1:9/restapi/x: could not connect: refused", sent=False
    )
    answers: list[Any] = [[], down, down, down, [], []]

    def sync(self: Inbox) -> list[ReceivedFax]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        result: list[ReceivedFax] = answer
        return result

    def sleep(seconds: float) -> None:
        if not answers:
            raise KeyboardInterrupt

    monkeypatch.setattr(Inbox, "sync", sync)
    monkeypatch.setattr(time, "sleep", sleep)
    server = ["--server", "http://127.0.0.1:9", "--client-id", "a", "--client-secret", "b"]
    argv = [*server, "--jwt", "c", "--no-token-cache", "--to-dir", str(tmp_path)]
    code, out, err = run("receive", *argv, "--watch", "30")
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == (
        f"watching http://127.0.0.1:9 for received faxes every 30 s, saving them in {tmp_path} "
        f"(Ctrl-C stops)"
    )
    assert lines[1].startswith(
        "warning: the server is not answering (could not connect: refused); retrying every "
        "30 s, next at "
    )
    assert lines[1].endswith(" UTC")
    assert lines[2] == "the server answers again (after 3 failed attempt(s))"
    assert lines[3:] == [f"0 new fax(es) in {tmp_path}"]

    answers[:] = [down, []]
    code, out, err = run("receive", *argv, "--watch", "30", "-q")
    assert (code, out, err) == (0, "", "")


# -- numbers and --country, with and without the phone extra -----------------------------------


@pytest.mark.parametrize("extra", ["phonenumbers", "builtin"])
def test_bad_numbers_and_unknown_country_are_refused_before_sending(
    extra: str, monkeypatch: pytest.MonkeyPatch, pdf: Path
) -> None:
    if extra == "builtin":
        monkeypatch.setattr("ringfax._validation._load_phonenumbers", lambda: None)
    else:
        pytest.importorskip("phonenumbers")
    offline = ["--server", "http://127.0.0.1:9", "--client-id", "a", "--client-secret", "b"]
    offline += ["--jwt", "c", "--no-token-cache"]
    code, _out, err = run("send", *offline, "--to", "+1650555", str(pdf))
    assert code == 2 and err.startswith("error: --to #1: '+1650555' "), err
    code, _out, err = run("send", *offline, "--country", "XX", "--to", "+16505550123", str(pdf))
    assert code == 2, err
    assert (
        err == "error: --country 'XX' is not an ISO 3166-1 country code (e.g. 'US', 'GB', 'DE')\n"
    )


# -- README --------------------------------------------------------------------------------------


def test_readme_shows_the_async_client_and_says_how_long_make_test_takes() -> None:
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert any("AsyncFaxClient" in b and "asyncio.run(" in b for b in blocks)
    assert re.search(r"`make test` takes about \d+ minutes", text)
    assert "version\n0.1" not in text and "version 0.1" not in text  # the package is 0.1.0
    assert "docs/ringfax-cli.md" in text
