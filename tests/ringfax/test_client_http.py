"""FaxClient over real HTTP on 127.0.0.1 against a scripted server (urllib3 transport)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tracemalloc
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import multipart
import pytest
from _scripted_server import TOKEN_JSON, FakeClock, Recorded, Reply, ScriptedServer, fax_json

from ringfax import (
    FaxClient,
    FaxMaybeSentError,
    MessageStatus,
    NotFound,
    RetryPolicy,
    ServerError,
    TransportError,
)
from ringfax._validation import MAX_ATTACHMENT_SIZE

pytestmark = pytest.mark.network

FAX = "/restapi/v1.0/account/~/extension/~/fax"


def make(srv: ScriptedServer, **kw: object) -> FaxClient:
    kw.setdefault("access_token", "tok")
    kw.setdefault("timeout", (2.0, 5.0))
    return FaxClient(srv.url, **kw)  # type: ignore[arg-type]


def test_send_and_status_over_http(tmp_path: Path) -> None:
    statuses = iter(["Queued", "Sent"])

    def handler(rec: Recorded) -> Reply:
        if rec.method == "POST":
            return Reply(200, fax_json(11))
        return Reply(200, fax_json(11, status=next(statuses)))

    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4 over http")
    clock = FakeClock()
    with ScriptedServer(handler) as srv, make(srv, clock=clock, sleep=clock.sleep) as client:
        fax = client.send_fax(["+16505550123"], [pdf], resolution="Low")
        final = client.wait_for_fax(fax.id, poll=5)
        post = srv.requests[0]
    assert final.message_status is MessageStatus.SENT and clock.sleeps == [5]
    assert post.path == FAX and not post.chunked
    assert post.headers["Authorization"] == "Bearer tok"
    assert int(post.headers["Content-Length"]) == post.size
    boundary = post.headers["Content-Type"].split("boundary=")[1]
    assert post.body is not None
    parts = list(multipart.MultipartParser(io.BytesIO(post.body), boundary, post.size))
    assert json.loads(parts[0].raw)["faxResolution"] == "Low"
    assert parts[1].raw == b"%PDF-1.4 over http"


def test_50mb_upload_keeps_client_memory_flat(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    with open(big, "wb") as fh:
        fh.truncate(MAX_ATTACHMENT_SIZE)  # exactly the 50 MiB limit (sparse file)
    progress: list[int] = []
    with ScriptedServer(lambda rec: Reply(200, fax_json(12)), keep_bodies=False) as srv:
        client = make(srv, timeout=(5.0, 60.0))
        tracemalloc.start()
        try:
            fax = client.send_fax(
                ["+16505550123"],
                [big],
                boundary="fifty-megabytes",
                on_progress=lambda sent, total: progress.append(sent),
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        rec = srv.requests[0]
        client.close()
    assert fax.id == "12"
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak} bytes"
    assert rec.size > MAX_ATTACHMENT_SIZE and not rec.chunked
    assert int(rec.headers["Content-Length"]) == rec.size == progress[-1]
    # the server received exactly the body mimewire streams for the same input
    digest = hashlib.sha256()
    for chunk in client.build_fax_body(["+16505550123"], [big], boundary="fifty-megabytes"):
        digest.update(chunk)
    assert digest.hexdigest() == rec.sha256


def test_429_then_success_over_http(tmp_path: Path) -> None:
    answers = iter(
        [
            Reply(
                429,
                {"errorCode": "CMN-301", "message": "Request rate exceeded", "errors": []},
                {"Retry-After": "0", "X-Rate-Limit-Group": "heavy", "X-Rate-Limit-Remaining": "0"},
            ),
            Reply(
                200, fax_json(13), {"X-Rate-Limit-Group": "heavy", "X-Rate-Limit-Remaining": "9"}
            ),
        ]
    )
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF")
    with ScriptedServer(lambda rec: next(answers)) as srv, make(srv) as client:
        assert client.send_fax(["+16505550123"], [pdf], boundary="b429").id == "13"
        first, second = srv.requests
        assert first.sha256 == second.sha256 and first.size == second.size  # same body again
        assert client.rate_limits["heavy"].remaining == 9


def test_fax_post_read_timeout_is_not_resent(tmp_path: Path) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF")
    with ScriptedServer(lambda rec: Reply(200, fax_json(14), delay=1.0)) as srv:
        client = make(srv, timeout=(2.0, 0.2))
        with pytest.raises(FaxMaybeSentError) as info:
            client.send_fax(["+16505550123"], [pdf])
        count = len(srv.requests)
        client.close()
    assert count == 1
    assert isinstance(info.value.cause, TransportError) and info.value.cause.sent is True
    assert "read timeout" in str(info.value)


def test_fax_post_dropped_connection_is_not_resent(tmp_path: Path) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF")
    with ScriptedServer(lambda rec: Reply(drop=True)) as srv, make(srv) as client:
        with pytest.raises(FaxMaybeSentError):
            client.send_fax(["+16505550123"], [pdf])
        assert len(srv.requests) == 1


def test_connect_refused_retries_then_reports_not_sent() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    clock = FakeClock()
    client = FaxClient(
        f"http://127.0.0.1:{port}",
        access_token="tok",
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy(max_attempts=3),
        timeout=(2.0, 2.0),
    )
    with pytest.raises(TransportError) as info:
        client.get_fax(1)
    assert info.value.sent is False and len(clock.sleeps) == 2


def test_errors_over_http() -> None:
    def handler(rec: Recorded) -> Reply:
        if rec.path.endswith("/404"):
            body = {
                "errorCode": "CMN-102",
                "message": "Resource for parameter [messageId] is not found",
            }
            return Reply(404, body, {"RCRequestId": "5e1c-uuid"})
        return Reply(
            502, b"<html><title>502 Bad Gateway</title></html>", {"Content-Type": "text/html"}
        )

    clock = FakeClock()
    with ScriptedServer(handler) as srv, make(srv, clock=clock, sleep=clock.sleep) as client:
        with pytest.raises(NotFound) as nf:
            client.get_fax(404)
        with pytest.raises(ServerError) as se:
            client.get_fax(502)
        gets = [r for r in srv.requests if r.path.endswith("/502")]
    assert nf.value.request_id == "5e1c-uuid" and "5e1c-uuid" in str(nf.value)
    assert "502 Bad Gateway" in str(se.value)
    assert len(gets) == 4  # idempotent GET retried up to max_attempts


def test_jwt_login_download_and_revoke_over_http(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytes(range(256)) * 4000

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 50_000):
            yield data[i : i + 50_000]

    def handler(rec: Recorded) -> Reply:
        if rec.path == "/restapi/oauth/token":
            return Reply(200, TOKEN_JSON)
        if rec.path == "/restapi/oauth/revoke":
            return Reply(200, b"")
        assert rec.headers["Authorization"] == "Bearer AT-secret-1"
        return Reply(200, chunks, {"Content-Type": "application/pdf"})

    secret, jwt = "http-client-secret-77", "http-jwt-assertion-88"
    with ScriptedServer(handler) as srv, caplog.at_level(logging.DEBUG):
        with FaxClient(srv.url, client_id="id", client_secret=secret, jwt=jwt) as client:
            out = client.download(1, 2, tmp_path / "fax.pdf")
            text = repr(client)
            client.revoke()
        token_req, download_req, revoke_req = srv.requests
    for value in (secret, jwt, "AT-secret-1", "RT-secret-1"):
        assert value not in caplog.text and value not in text
    assert "/content/2" in caplog.text  # the debug log did capture the traffic
    assert out.read_bytes() == data
    assert download_req.path.endswith("/message-store/1/content/2")
    assert token_req.headers["Authorization"].startswith("Basic ")
    assert urllib.parse.parse_qs((revoke_req.body or b"").decode()) == {"token": ["RT-secret-1"]}
