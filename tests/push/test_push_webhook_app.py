"""ringfax.webhook.WebhookApp through its WSGI and ASGI faces, without a network: the
handshake echo, the Verification-Token check, the body bound, uuid dedup, and a failing
handler answered 503 so the redelivery counts."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Mapping
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from ringfax.webhook import WebhookApp

TOKEN = "s3cret-verification-token"


def event(uuid: str = "u-1") -> bytes:
    return json.dumps({"uuid": uuid, "event": "/restapi/v1.0/x", "body": {}}).encode()


def wsgi(
    app: WebhookApp, headers: Mapping[str, str], body: bytes = b"", method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "wsgi.input": io.BytesIO(body)}
    setup_testing_defaults(environ)
    environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    got: dict[str, Any] = {}

    def start_response(status: str, head: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = int(status.split()[0]), dict(head)

    data = b"".join(app(environ, start_response))
    return got["status"], got["headers"], data


def asgi(
    app: WebhookApp, headers: Mapping[str, str], chunks: list[bytes], method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "method": method,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[Mapping[str, Any]] = []

    async def receive() -> Mapping[str, Any]:
        return incoming.pop(0)

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app.asgi(scope, receive, send))
    head = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], head, sent[1]["body"]


def test_the_handshake_echoes_the_validation_token_in_a_tiny_answer() -> None:
    app = WebhookApp(lambda e: None, verification_token=TOKEN)
    status, headers, body = wsgi(app, {"Validation-Token": "abc-123"})
    assert (status, headers["Validation-Token"], body) == (200, "abc-123", b"")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    assert len(f"HTTP/1.1 200 OK\r\n{head}\r\n") < 1024
    status, headers, body = asgi(app, {"Validation-Token": "abc-123"}, [b""])
    assert (status, headers["validation-token"], body) == (200, "abc-123", b"")
    assert app.handshakes == 2


def test_a_validation_token_that_would_break_a_header_is_refused() -> None:
    app = WebhookApp(lambda e: None, verification_token=TOKEN)
    assert wsgi(app, {"Validation-Token": "a b"})[0] == 400


def test_a_wrong_or_missing_verification_token_is_401_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Any] = []
    app = WebhookApp(seen.append, verification_token=TOKEN)
    caplog.set_level(logging.DEBUG, logger="ringfax")
    assert wsgi(app, {"Verification-Token": "guess-9f8e7d"}, event())[0] == 401
    assert wsgi(app, {}, event())[0] == 401
    assert wsgi(app, {"Verification-Token": TOKEN + "x"}, event())[0] == 401
    assert asgi(app, {"Verification-Token": "guess-9f8e7d"}, [event()])[0] == 401
    assert seen == [] and app.refused == 4
    assert TOKEN not in caplog.text and "guess-9f8e7d" not in caplog.text
    assert wsgi(app, {"Verification-Token": TOKEN}, event())[0] == 200
    assert len(seen) == 1


def test_bodies_over_the_limit_are_413_before_and_while_reading() -> None:
    seen: list[Any] = []
    app = WebhookApp(seen.append, verification_token=TOKEN, max_body=100)
    big = event() + b" " * 200
    assert wsgi(app, {"Verification-Token": TOKEN}, big)[0] == 413
    # ASGI without Content-Length: counted while the chunks arrive
    assert asgi(app, {"Verification-Token": TOKEN}, [big[:60], big[60:]])[0] == 413
    assert asgi(app, {"Verification-Token": TOKEN}, [event()[:10], event()[10:]])[0] == 200
    assert len(seen) == 1


def test_a_repeated_uuid_is_answered_but_handed_on_once() -> None:
    seen: list[Any] = []
    app = WebhookApp(seen.append, verification_token=TOKEN, dedup_size=2)
    for uuid in ["a", "b", "a", "b", "a"]:
        assert wsgi(app, {"Verification-Token": TOKEN}, event(uuid))[0] == 200
    assert [e["uuid"] for e in seen] == ["a", "b"] and app.duplicates == 3
    assert wsgi(app, {"Verification-Token": TOKEN}, event("c"))[0] == 200  # evicts the oldest
    assert wsgi(app, {"Verification-Token": TOKEN}, event("b"))[0] == 200
    assert [e["uuid"] for e in seen] == ["a", "b", "c", "b"]


def test_bad_requests_are_refused_with_their_status() -> None:
    app = WebhookApp(lambda e: None, verification_token=None)
    assert wsgi(app, {}, b"", method="GET")[0] == 405
    assert wsgi(app, {}, b"not json")[0] == 400
    assert wsgi(app, {}, b"[1]")[0] == 400
    with pytest.raises(ValueError, match="empty"):
        WebhookApp(lambda e: None, verification_token="")


def test_a_failing_handler_is_503_and_the_redelivery_is_handed_on() -> None:
    calls: list[Any] = []

    def flaky(event: Mapping[str, Any]) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("queue unavailable")

    app = WebhookApp(flaky, verification_token=TOKEN)
    assert wsgi(app, {"Verification-Token": TOKEN}, event("x"))[0] == 503
    assert wsgi(app, {"Verification-Token": TOKEN}, event("x"))[0] == 200
    assert len(calls) == 2 and app.delivered == 1
