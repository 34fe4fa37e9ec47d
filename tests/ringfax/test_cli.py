"""``ringfax`` CLI pieces that need no server: messages, progress, parsing, the receive loop."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ringfax import (
    Attachment,
    DownloadError,
    FaxMessage,
    Inbox,
    ReceivedFax,
    TransportError,
    ValidationError,
)
from ringfax._progress import UploadProgress, format_bytes, format_duration
from ringfax.cli import build_parser, main
from ringfax.cli.common import (
    download_message,
    token_cache_path,
    unreachable_hint,
    validation_message,
    wait_notice,
)

CREDS = ["--server", "http://127.0.0.1:9", "--client-id", "a", "--client-secret", "b"]
CREDS += ["--jwt", "c", "--no-token-cache"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- messages in CLI terms ---------------------------------------------------------------------


def _refusal(call: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value


def test_validation_errors_name_the_cli_flags_from_their_structure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ringfax._validation import check_attachments, check_cover_page_text, normalize_recipients

    monkeypatch.setattr("ringfax._validation._load_phonenumbers", lambda: None)
    empty = tmp_path / "x.doc"
    empty.write_bytes(b"")
    ok = tmp_path / "a.pdf"
    ok.write_bytes(b"%PDF")
    cases = [
        (
            lambda: normalize_recipients(["555"]),
            "--to #1: '555' is not in E.164 format (+<country code><number>); pass "
            "--country US (for example) to normalise national numbers",
        ),
        (
            lambda: normalize_recipients(["+16505550123"], "ZZ"),
            "--country 'ZZ' is not an ISO 3166-1 country code (e.g. 'US', 'GB', 'DE')",
        ),
        (
            lambda: check_cover_page_text("x" * 2000),
            "--cover-text has 2000 characters; the limit is 1024",
        ),
        (
            lambda: check_attachments([Attachment(ok), Attachment(empty)]),
            "FILE #2 ('x.doc'): the attachment is empty (0 bytes)",
        ),
    ]
    for call, expected in cases:
        assert validation_message(_refusal(call)) == expected


def test_a_refused_overwrite_names_the_force_flag(tmp_path: Path) -> None:
    from ringfax._atomic import write_atomically

    target = tmp_path / "a.pdf"
    target.write_bytes(b"x")
    with pytest.raises(DownloadError) as info:
        write_atomically([b"y"], target, overwrite=False)
    assert download_message(info.value) == (
        f"{str(target)!r} already exists; not overwriting it (--force overwrites it)"
    )


def test_wait_notice_reads_the_reason_structure_not_its_text() -> None:
    """A retry names what failed and when it is tried again, a rate-limit wait names its
    group: the notice is built from the reason's fields; ``-q`` silences both."""
    from _scripted_server import FakeClock, Recorder, fax_json, json_response, scripted_client

    from ringfax import Response

    err = io.StringIO()
    args = build_parser().parse_args(["list"])
    args.stderr = err
    clock = FakeClock()
    busy = {"errorCode": "CMN-211", "message": "rate limit service (Heavy) is unavailable"}
    exhausted = {"X-Rate-Limit-Group": "Heavy", "X-Rate-Limit-Remaining": "0"}
    exhausted["X-Rate-Limit-Window"] = "42"
    recorder = Recorder(
        Response(503, {"Retry-After": "3"}, json.dumps(busy).encode()),
        json_response(fax_json(), headers=exhausted),
        json_response(fax_json()),
    )
    client = scripted_client(recorder, clock, on_wait=wait_notice(args))
    client.get_fax(1)
    client.get_fax(1)
    assert err.getvalue().splitlines() == [
        "GET https://platform.example.test/restapi/v1.0/account/~/extension/~/message-store/1: "
        "HTTP 503 unavailable; retrying in 3 s",
        "waiting 42 s on the rate limit (Heavy group)",
    ]
    args.quiet = True
    client.on_wait = wait_notice(args)
    recorder.answers += [json_response(fax_json(), headers=exhausted), json_response(fax_json())]
    client.get_fax(1)
    client.get_fax(1)  # paced again on the window the previous answer reported
    assert clock.sleeps == [3.0, 42.0, 42.0]
    assert err.getvalue().count("\n") == 2


def test_token_cache_path_and_unreachable_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/me")
    assert token_cache_path() == Path("/var/cache/me/ringfax/tokens.json")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert token_cache_path() == Path.home() / ".cache" / "ringfax" / "tokens.json"
    assert "ringfax emulator" in unreachable_hint("http://127.0.0.1:8099")
    assert "ringfax emulator" in unreachable_hint("http://localhost:8099")
    assert "RC_SERVER_URL" in unreachable_hint("https://platform.ringcentral.com")


# -- progress ------------------------------------------------------------------------------------


def test_format_helpers() -> None:
    assert [format_bytes(n) for n in (0, 999, 1000, 1_234_567)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.2 MB",
    ]
    assert [format_duration(s) for s in (4.2, 75, 7300)] == ["4 s", "1 min 15 s", "2 h 01 min"]


def test_progress_not_a_tty_writes_a_line_every_interval_and_a_summary() -> None:
    out, clock = io.StringIO(), Clock()
    bar = UploadProgress(out, clock=clock, interval=5.0)
    total = 20_000_000
    for second in range(1, 11):
        clock.now = float(second)
        bar(second * 2_000_000, total)
    bar.done(True)
    text = out.getvalue()
    assert "\r" not in text
    assert text.splitlines() == [
        "Uploading 10.0 MB of 20.0 MB (50%), 2.0 MB/s, 5 s left",
        "uploaded 20.0 MB in 10.0 s (2.0 MB/s)",
    ]


def test_progress_on_a_tty_redraws_one_line() -> None:
    out, clock = Terminal(), Clock()
    bar = UploadProgress(out, clock=clock)
    for step in range(1, 5):
        clock.now = step * 0.5
        bar(step * 1_000_000, 4_000_000)
    bar.done(True)
    text = out.getvalue()
    assert text.startswith("\rUploading 1.0 MB of 4.0 MB (25%), 2.0 MB/s, 2 s left")
    assert "\rUploading 3.0 MB of 4.0 MB (75%), 2.0 MB/s, 1 s left\r" in text
    assert text.endswith("\rUploading 4.0 MB of 4.0 MB (100%), 2.0 MB/s         \n")  # padded
    assert text.count("\n") == 1


def test_progress_throttles_tty_frames_and_handles_unknown_total() -> None:
    out, clock = Terminal(), Clock()
    bar = UploadProgress(out, clock=clock)
    for n in range(1000):  # 1000 chunks within 0.1 s: one frame, not 1000
        clock.now = n / 10_000
        bar(n * 100, None)
    assert out.getvalue().count("\r") == 1
    assert "of" not in out.getvalue()


# -- parsing ---------------------------------------------------------------------------------------


def test_parser_errors_are_one_line_exit_2() -> None:
    for argv in (
        ["forward", *CREDS, "123"],  # forward needs --to
        ["receive", *CREDS],  # receive needs --to-dir
        ["receive", *CREDS, "--to-dir", "x", "--watch", "0"],
        ["status", *CREDS, "1", "--poll", "-1"],
        ["send", *CREDS, "--to", "+16505550123", "x.pdf", "--send-at", "2020-01-01T00:00:00Z"],
    ):
        code, _out, err = run(*argv)
        assert code == 2, argv
        assert err.startswith("error: ") and err.count("\n") == 1, err


def test_help_shows_defaults_and_the_token_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: .)" in text and "--force" in text
    assert "tokens.json" in text
    assert main(["emulator", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 8099)" in text and "inject" in text
    assert main(["emulator", "inject", "--help"]) == 0
    assert "--from NUMBER" in capsys.readouterr().out


def test_version() -> None:
    code, out, _err = run("--version")
    assert code == 0 and out.startswith("ringfax ")


# -- receive loop (Inbox stubbed) ---------------------------------------------------------------


def test_receive_watch_survives_a_network_error_and_stops_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fax = FaxMessage.from_json(
        {"id": "42", "direction": "Inbound", "messageStatus": "Received", "faxPageCount": 2,
         "from": {"phoneNumber": "+16505550150"}}
    )  # fmt: skip
    answers: list[Any] = [
        [ReceivedFax(fax, (tmp_path / "42-scan.pdf",))],
        TransportError("GET x: could not connect", sent=False),
        [],
    ]

    def sync(self: Inbox) -> list[ReceivedFax]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        result: list[ReceivedFax] = answer
        return result

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if not answers:
            raise KeyboardInterrupt

    monkeypatch.setattr(Inbox, "sync", sync)
    monkeypatch.setattr(time, "sleep", sleep)
    code, out, err = run("receive", *CREDS, "--to-dir", str(tmp_path), "--watch", "30")
    assert code == 0, err
    assert out.splitlines() == [
        "received fax 42 from +16505550150, 2 page(s):",
        f"  {tmp_path / '42-scan.pdf'}",
    ]
    assert "warning: the server is not answering (could not connect); retrying every 30 s" in err
    assert err.rstrip().endswith(f"1 new fax(es) in {tmp_path}")
    assert sleeps == [30.0, 30.0, 30.0]

    answers[:] = [[ReceivedFax(fax, (tmp_path / "42-scan.pdf",))], []]
    code, out, err = run("receive", *CREDS, "--to-dir", str(tmp_path), "--watch", "5", "--json")
    assert code == 0, err
    (line,) = out.splitlines()  # one JSON object per line in --watch mode
    assert json.loads(line)["files"] == [str(tmp_path / "42-scan.pdf")]


def test_receive_once_fails_on_a_network_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def sync(self: Inbox) -> list[ReceivedFax]:
        raise TransportError("GET http://127.0.0.1:9/x: could not connect: refused", sent=False)

    monkeypatch.setattr(Inbox, "sync", sync)
    code, _out, err = run("receive", *CREDS, "--to-dir", str(tmp_path))
    assert code == 1
    assert "could not connect" in err and "is the emulator running?" in err


def test_cancel_refusal_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from ringfax import FaxClient, MessageStatus, NotCancellable

    def cancel(self: FaxClient, message_id: str) -> FaxMessage:
        raise NotCancellable(message_id, MessageStatus.SENT)

    monkeypatch.setattr(FaxClient, "cancel_fax", cancel)
    code, out, err = run("cancel", *CREDS, "77")
    assert code == 1 and out == ""
    assert err == (
        "error: message 77 is Sent: only a Queued fax can be cancelled, and this one was not "
        "touched. To remove it from the message store run `ringfax delete 77`\n"
    )


def test_receive_since_is_days_or_a_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Any] = []

    def sync(self: Inbox) -> list[ReceivedFax]:
        seen.append(self.since)
        return []

    monkeypatch.setattr(Inbox, "sync", sync)
    assert run("receive", *CREDS, "--to-dir", str(tmp_path))[0] == 0
    assert run("receive", *CREDS, "--to-dir", str(tmp_path), "--since", "2026-01-02T00:00Z")[0] == 0
    age = datetime.now(timezone.utc) - seen[0]
    assert timedelta(days=29.9) < age < timedelta(days=30.1)  # default: the last 30 days
    assert seen[1] == datetime(2026, 1, 2, tzinfo=timezone.utc)
    code, _out, err = run("receive", *CREDS, "--to-dir", str(tmp_path), "--since", "-3")
    assert code == 2 and "--since" in err


def test_ctrl_c_during_the_upload(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ringfax import FaxClient

    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4 hello")

    def send(self: FaxClient, *args: Any, on_progress: Any = None, **kwargs: Any) -> Any:
        on_progress(8, 14)
        raise KeyboardInterrupt

    monkeypatch.setattr(FaxClient, "send_fax", send)
    code, _out, err = run("send", *CREDS, "--to", "+16505550123", str(pdf))
    assert code == 130
    assert "interrupted during the upload" in err and "ringfax list" in err
    assert "uploaded" not in err  # no success summary for an interrupted upload


def test_receive_names_each_fax_it_could_not_save_and_exits_incomplete(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ringfax.cli.common import EXIT_INCOMPLETE

    def sync(self: Inbox) -> list[ReceivedFax]:
        self.failures = {"77": "HTTP 500 on the download", "78": "disk full"}
        return []

    monkeypatch.setattr(Inbox, "sync", sync)
    code, _out, err = run("receive", *CREDS, "--to-dir", str(tmp_path), "-q")
    assert code == EXIT_INCOMPLETE != 0
    assert err.splitlines() == [
        "warning: fax 77 was not saved: HTTP 500 on the download; it stays pending and will "
        "be retried by the next run",
        "warning: fax 78 was not saved: disk full; it stays pending and will be retried by "
        "the next run",
    ]


def test_a_pacing_wait_before_the_upload_is_not_counted_as_upload_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The second ``send`` of a script finds the Heavy group exhausted by the first (the
    pacing state is shared through the token cache) and waits before its upload."""
    import functools

    from _scripted_server import FakeClock, Recorder, fax_json, json_response

    from ringfax import FunctionTransport
    from ringfax.cli.common import CLIENT_DEFAULTS
    from ringfax.cli.send import __name__ as send_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4 hello")
    clock = FakeClock(start=time.time())
    token = {"access_token": "AT", "token_type": "bearer", "expires_in": 3600}
    exhausted = {
        "X-Rate-Limit-Group": "Heavy",
        "X-Rate-Limit-Limit": "10",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Window": "42",
    }
    recorder = Recorder(
        json_response(token),
        json_response(fax_json(), headers=exhausted),
        json_response(fax_json()),
    )
    defaults = {"transport": FunctionTransport(recorder), "clock": clock, "sleep": clock.sleep}
    for key, value in defaults.items():
        monkeypatch.setitem(CLIENT_DEFAULTS, key, value)
    monkeypatch.setattr(
        f"{send_module}.UploadProgress", functools.partial(UploadProgress, clock=clock)
    )
    creds = [arg for arg in CREDS if arg != "--no-token-cache"]
    assert run("send", *creds, "--to", "+16505550123", str(pdf))[0] == 0
    assert clock.sleeps == []
    code, _out, err = run("send", *creds, "--to", "+16505550123", str(pdf))
    assert code == 0, err
    assert clock.sleeps == [42.0]
    lines = err.splitlines()
    assert lines[0] == "waiting 42 s on the rate limit (Heavy group)"
    (summary,) = [line for line in lines if line.startswith("uploaded ")]
    assert summary.endswith(" in 0.0 s"), summary


def test_an_unsafe_token_cache_names_the_flag_that_avoids_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    (shared / "ringfax").mkdir(parents=True)
    (shared / "ringfax").chmod(0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    creds = [arg for arg in CREDS if arg != "--no-token-cache"]
    code, _out, err = run("list", *creds)
    assert code == 1
    assert "writable by other users" in err and "(--no-token-cache logs in without one)" in err
