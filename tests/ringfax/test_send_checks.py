"""Pre-send checks: an attachment that cannot be read is a ValidationError before
any request (never "the fax may have been sent"), and a send time in the past is refused."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _scripted_server import FakeClock, fax_json, json_response

from ringfax import Attachment, FaxClient, FunctionTransport, Request, Response, ValidationError

SERVER = "https://platform.example.test"


def client_and_calls(clock: FakeClock | None = None) -> tuple[FaxClient, list[Request]]:
    calls: list[Request] = []
    clock = clock or FakeClock()

    def fn(request: Request) -> Response:
        calls.append(request)
        return json_response(fax_json())

    client = FaxClient(
        SERVER, access_token="t", transport=FunctionTransport(fn), clock=clock, sleep=clock.sleep
    )
    return client, calls


def test_missing_file(tmp_path: Path) -> None:
    client, calls = client_and_calls()
    with pytest.raises(ValidationError, match=r"attachment #0 .*missing\.pdf.*No such file"):
        client.send_fax("+16505550100", [str(tmp_path / "missing.pdf")])
    assert calls == []


def test_directory_named_like_a_document(tmp_path: Path) -> None:
    folder = tmp_path / "folder.pdf"
    folder.mkdir()
    client, calls = client_and_calls()
    with pytest.raises(ValidationError, match=r"folder\.pdf.*it is a directory"):
        client.send_fax("+16505550100", [folder])
    assert calls == []


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "secret.pdf"
    doc.write_bytes(b"%PDF")
    real_open = os.open

    def deny(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if os.fspath(path) == str(doc):
            raise PermissionError(13, "Permission denied", str(doc))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", deny)  # tests run as root: chmod 000 would not stop us
    client, calls = client_and_calls()
    with pytest.raises(ValidationError, match=r"cannot read .*secret\.pdf.*Permission denied"):
        client.send_fax("+16505550100", [Attachment(doc)])
    assert calls == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    client, calls = client_and_calls()
    with pytest.raises(ValidationError, match="not a regular file"):
        client.send_fax("+16505550100", [fifo])
    assert calls == []


def test_past_send_time_is_refused() -> None:
    clock = FakeClock()
    client, calls = client_and_calls(clock)
    now = datetime.fromtimestamp(clock.now, timezone.utc)
    doc = Attachment(b"%PDF", filename="a.pdf")
    with pytest.raises(ValidationError, match=r"send_time .* is in the past"):
        client.send_fax("+16505550100", [doc], send_time=now - timedelta(hours=1))
    with pytest.raises(ValidationError, match="in the past"):
        client.resend_fax("1", "+16505550100", send_time=now - timedelta(days=1))
    assert calls == []
    # a moment ago (clock skew) and the future are fine
    client.send_fax("+16505550100", [doc], send_time=now - timedelta(seconds=30))
    client.send_fax("+16505550100", [doc], send_time=now + timedelta(minutes=5))
    assert len(calls) == 2
