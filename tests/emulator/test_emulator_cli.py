"""The ``ringfax`` command line against the emulator (real time, short delays)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ringfax._cli import main
from ringfax.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.network


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
    assert "Uploading [" in err and "100%" in err
    assert "Sent" in out
    code, out, err = run("cover-pages", "--json")
    assert code == 0 and json.loads(out)[0] == {"id": 1, "name": "Ancient"}


def test_usage_errors(live: Emulator, docs: dict[str, Path], tmp_path: Path) -> None:
    code, _out, err = run("send", *creds(live), str(docs["pdf"]))
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    code, _out, err = run("send", *creds(live), "--to", "+16505550123", str(tmp_path / "nope.pdf"))
    assert code == 2 and "does not exist" in err
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
    assert code == 2 and "unknown cover page" in err


def test_api_error_exit_code(live: Emulator) -> None:
    code, _out, err = run("status", *creds(live), "987654321")
    assert code == 1
    assert "CMN-102" in err and err.count("\n") == 1


def test_demo_runs_end_to_end() -> None:
    code, out, err = run("demo", "--send-delay", "0.3")
    assert code == 0, out + err
    assert "final state:" in out
    assert out.count(": Sent") >= 2
    assert "letter.pdf" in out and "scan.tiff" in out
    assert "emulator stopped" in out


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
