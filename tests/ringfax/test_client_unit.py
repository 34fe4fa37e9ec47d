"""FaxClient unit tests over a function transport with a fake clock (no sleeps, no sockets)."""

from __future__ import annotations

import email.utils
import io
import json
import os
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _scripted_server import (
    SERVER,
    TOKEN_JSON,
    FakeClock,
    Recorder,
    fax_json,
    is_token_request,
    json_response,
    scripted_client,
)

from ringfax import (
    Attachment,
    AuthError,
    CoverPage,
    FaxClient,
    FaxMaybeSentError,
    FunctionTransport,
    LinkRefused,
    MessageStatus,
    NotFound,
    RateLimited,
    Recipient,
    Request,
    Response,
    RetryPolicy,
    ServerError,
    TransportError,
    ValidationError,
    WaitTimeout,
)

FAX_PATH = "/restapi/v1.0/account/~/extension/~/fax"


make_client = scripted_client


def pdf(tmp_path: Path, name: str = "doc.pdf", data: bytes = b"%PDF-1.4 hello") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- send


def test_send_fax_posts_form_data_with_exact_length(tmp_path: Path) -> None:
    rec = Recorder(json_response(fax_json()))
    client = make_client(rec)
    msg = client.send_fax(["+16505550123"], [pdf(tmp_path)], cover_index=0)
    assert msg.id == "1724099032020"
    assert msg.message_status is MessageStatus.QUEUED
    (request,) = rec.requests
    assert request.method == "POST"
    assert request.url == SERVER + FAX_PATH
    assert request.headers["Authorization"] == "Bearer static-token"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.content_length == len(rec.bodies[0])
    assert b'{"to":[{"phoneNumber":"+16505550123"}],"coverIndex":0}' in rec.bodies[0]
    assert b"%PDF-1.4 hello" in rec.bodies[0]


def test_send_fax_accepts_single_values_and_recipient_objects(tmp_path: Path) -> None:
    rec = Recorder(json_response(fax_json()))
    client = make_client(rec)
    client.send_fax(Recipient("650 555 0123", "Jane"), pdf(tmp_path), default_country="US")
    assert b'"to":[{"phoneNumber":"+16505550123","name":"Jane"}]' in rec.bodies[0]


def test_validation_happens_before_any_request(tmp_path: Path) -> None:
    rec = Recorder()
    client = make_client(rec)
    with pytest.raises(ValidationError, match="at least one recipient"):
        client.send_fax([], [pdf(tmp_path)])
    with pytest.raises(ValidationError, match=r"attachment #0 \('x.exe'\): unsupported"):
        client.send_fax(["+16505550123"], [Attachment(b"MZ", filename="x.exe")])
    with pytest.raises(ValidationError, match="naive datetime"):
        client.send_fax(["+16505550123"], [pdf(tmp_path)], send_time=datetime(2030, 1, 1))
    with pytest.raises(ValidationError, match="wire_format"):
        client.send_fax(["+16505550123"], [pdf(tmp_path)], wire_format="json")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="raw bytes need a filename"):
        client.send_fax(["+16505550123"], [b"%PDF"])
    assert rec.requests == []


def test_send_time_is_iso_utc_with_millis(tmp_path: Path) -> None:
    rec = Recorder(json_response(fax_json()))
    client = make_client(rec)
    tz = timezone(timedelta(hours=2))
    client.send_fax(
        ["+16505550123"], [pdf(tmp_path)], send_time=datetime(2030, 3, 19, 10, 0, 0, 5000, tz)
    )
    assert b'"sendTime":"2030-03-19T08:00:00.005Z"' in rec.bodies[0]


def test_on_progress_reports_bytes(tmp_path: Path) -> None:
    rec = Recorder(json_response(fax_json()))
    seen: list[tuple[int, int | None]] = []
    client = make_client(rec)
    client.send_fax(
        ["+16505550123"],
        [pdf(tmp_path)],
        on_progress=lambda sent, total: seen.append((sent, total)),
    )
    total = len(rec.bodies[0])
    assert seen[-1] == (total, total)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


# -------------------------------------------------------------------- retries


def rate_limited(retry_after: str | None) -> Response:
    headers = {
        "X-Rate-Limit-Group": "heavy",
        "X-Rate-Limit-Limit": "10",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Window": "60",
    }
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = {"errorCode": "CMN-301", "message": "Request rate exceeded", "errors": []}
    return json_response(body, 429, headers)


def test_fax_post_retried_after_429_retry_after_seconds_and_body_rebuilt(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = Recorder(rate_limited("7"), json_response(fax_json()))
    client = make_client(rec, clock)
    fh = open(pdf(tmp_path), "rb")  # noqa: SIM115 - a file object source, rewound per attempt
    fh.read(3)  # the attachment starts at the current position
    with fh:
        client.send_fax(["+16505550123"], [Attachment(fh, filename="doc.pdf")], boundary="b0")
    assert clock.sleeps == [7.0]
    assert len(rec.requests) == 2
    assert rec.bodies[0] == rec.bodies[1]  # identical bytes, rebuilt (file re-read)
    assert b"F-1.4 hello" in rec.bodies[1] and b"%PDF-1.4" not in rec.bodies[1]
    assert client.last_rate_limit is not None and client.last_rate_limit.group == "heavy"
    assert client.rate_limits["heavy"].remaining == 0


def test_429_retry_after_http_date(tmp_path: Path) -> None:
    clock = FakeClock()
    date = email.utils.formatdate(clock.now + 42, usegmt=True)
    rec = Recorder(rate_limited(date), json_response(fax_json()))
    make_client(rec, clock).send_fax(["+16505550123"], [pdf(tmp_path)])
    assert clock.sleeps == [pytest.approx(42.0, abs=1.0)]


def test_429_without_retry_after_waits_the_window() -> None:
    clock = FakeClock()
    rec = Recorder(rate_limited(None), json_response(fax_json()))
    make_client(rec, clock).get_fax(1)
    assert clock.sleeps == [60.0]  # X-Rate-Limit-Window, not RingCentral's "at least 30 s"


def test_429_retry_after_beyond_budget_raises_rate_limited() -> None:
    clock = FakeClock()
    rec = Recorder(rate_limited("3600"))
    client = make_client(rec, clock, retry=RetryPolicy(max_total_wait=120))
    with pytest.raises(RateLimited) as info:
        client.get_fax(1)
    assert info.value.retry_after == 3600
    assert clock.sleeps == []


def test_503_retry_after_honoured_for_fax_post(tmp_path: Path) -> None:
    clock = FakeClock()
    unavailable = json_response({"message": "Service Unavailable"}, 503, {"Retry-After": "5"})
    rec = Recorder(unavailable, json_response(fax_json()))
    make_client(rec, clock).send_fax(["+16505550123"], [pdf(tmp_path)])
    assert clock.sleeps == [5.0]
    assert len(rec.requests) == 2


def test_connect_error_retried_with_backoff_even_for_fax_post(tmp_path: Path) -> None:
    clock = FakeClock()
    refused = TransportError("POST x: could not connect", sent=False)
    rec = Recorder(refused, refused, json_response(fax_json()))
    make_client(rec, clock).send_fax(["+16505550123"], [pdf(tmp_path)])
    assert clock.sleeps == [1.0, 2.0]  # rand=0 -> no jitter reduction
    assert len(rec.requests) == 3


def test_connect_errors_exhaust_max_attempts() -> None:
    clock = FakeClock()
    refused = TransportError("GET x: could not connect", sent=False)
    rec = Recorder(refused, refused, refused)
    client = make_client(rec, clock, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError) as info:
        client.get_fax(1)
    assert info.value.sent is False
    assert len(rec.requests) == 3 and len(clock.sleeps) == 2


def test_fax_post_not_retried_after_read_timeout(tmp_path: Path) -> None:
    clock = FakeClock()
    timeout = TransportError("POST x: read timeout", sent=True)
    rec = Recorder(timeout, json_response(fax_json()))
    client = make_client(rec, clock)
    with pytest.raises(FaxMaybeSentError) as info:
        client.send_fax(["+16505550123"], [pdf(tmp_path)])
    assert len(rec.requests) == 1  # never re-POSTed
    assert clock.sleeps == []
    err = info.value
    assert not isinstance(err, TransportError)  # raised after 3xx/5xx answers too
    assert isinstance(err.cause, TransportError) and err.cause.sent is True
    assert "may have been sent" in str(err)
    assert "iter_faxes(direction='Outbound'" in str(err)
    assert err.attempted_at == datetime.fromtimestamp(clock.now, timezone.utc)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_fax_post_5xx_other_than_503_is_maybe_sent(tmp_path: Path, status: int) -> None:
    rec = Recorder(json_response({"message": "boom"}, status), json_response(fax_json()))
    with pytest.raises(FaxMaybeSentError) as info:
        make_client(rec).send_fax(["+16505550123"], [pdf(tmp_path)])
    assert len(rec.requests) == 1
    assert isinstance(info.value.cause, ServerError)
    assert f"HTTP {status}" in str(info.value)


def test_resend_is_a_fax_post_too() -> None:
    rec = Recorder(TransportError("read timeout", sent=True))
    with pytest.raises(FaxMaybeSentError):
        make_client(rec).resend_fax(123)
    assert len(rec.requests) == 1


def test_get_retried_after_read_timeout_and_500() -> None:
    clock = FakeClock()
    rec = Recorder(
        TransportError("read timeout", sent=True),
        json_response({"message": "oops"}, 500),
        json_response(fax_json(status="Sent")),
    )
    msg = make_client(rec, clock).get_fax(1724099032020)
    assert msg.message_status is MessageStatus.SENT
    assert clock.sleeps == [1.0, 2.0]


def test_jitter_reduces_backoff() -> None:
    clock = FakeClock()
    rec = Recorder(TransportError("x", sent=False), json_response(fax_json()))
    client = FaxClient(
        SERVER,
        access_token="t",
        transport=FunctionTransport(rec),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 1.0,
        retry=RetryPolicy(jitter=0.5),
    )
    client.get_fax(1)
    assert clock.sleeps == [0.5]


def test_one_shot_iterable_is_not_replayed() -> None:
    clock = FakeClock()
    rec = Recorder(rate_limited("1"), json_response(fax_json()))
    chunks = iter([b"hello ", b"fax"])
    with pytest.raises(RateLimited):
        make_client(rec, clock).send_fax(
            ["+16505550123"], [Attachment(chunks, filename="a.txt", size=9)]
        )
    assert len(rec.requests) == 1
    assert b"hello fax" in rec.bodies[0]


def test_4xx_not_retried() -> None:
    body = {
        "errorCode": "CMN-102",
        "message": "Resource for parameter [messageId] is not found",
        "errors": [{"errorCode": "CMN-102", "message": "m", "parameterName": "messageId"}],
    }
    rec = Recorder(json_response(body, 404, {"RCRequestId": "abc-123"}))
    with pytest.raises(NotFound) as info:
        make_client(rec).get_fax(99)
    assert info.value.request_id == "abc-123"
    assert "abc-123" in str(info.value) and "messageId" in str(info.value)
    assert len(rec.requests) == 1


def test_static_token_401_is_final() -> None:
    body = {"errorCode": "OAU-128", "message": "Access token expired.", "errors": []}
    rec = Recorder(json_response(body, 401))
    with pytest.raises(AuthError):
        make_client(rec).get_fax(1)
    assert len(rec.requests) == 1


# ---------------------------------------------------------------- other calls


def test_resend_body_matches_reference() -> None:
    rec = Recorder(json_response(fax_json(42)))
    client = make_client(rec, FakeClock(start=1_480_000_000.0))  # 2016-11-24
    when = datetime(2016, 12, 1, tzinfo=timezone.utc)
    msg = client.resend_fax("12345678", to=["+15551234567"], send_time=when)
    assert msg.id == "42"
    assert rec.requests[0].headers["Content-Type"] == "application/json"
    assert json.loads(rec.bodies[0]) == {
        "originalMessageId": "12345678",
        "to": [{"phoneNumber": "+15551234567"}],
        "sendTime": "2016-12-01T00:00:00.000Z",
    }
    assert json.loads(rec.bodies[0]) != {}
    rec2 = Recorder(json_response(fax_json(43)))
    make_client(rec2).resend_fax(12345678)
    assert json.loads(rec2.bodies[0]) == {"originalMessageId": "12345678"}


def test_get_fax_url_and_model() -> None:
    failed = fax_json(
        status="SendingFailed",
        to=[{"phoneNumber": "+1650", "messageStatus": "SendingFailed", "faxErrorCode": "LineBusy"}],
    )
    rec = Recorder(json_response(failed))
    client = make_client(rec, account="111", extension="222")
    msg = client.get_fax(5)
    assert rec.requests[0].url == SERVER + "/restapi/v1.0/account/111/extension/222/message-store/5"
    assert msg.is_final
    (r,) = msg.failed_recipients
    assert r.error is not None and r.error.retryable and r.retryable


def test_wait_for_fax_polls_until_final_with_fake_clock() -> None:
    clock = FakeClock()
    rec = Recorder(
        json_response(fax_json(status="Queued")),
        json_response(fax_json(status="Queued")),
        json_response(fax_json(status="Sent")),
    )
    updates: list[MessageStatus | None] = []
    msg = make_client(rec, clock).wait_for_fax(
        1, timeout=100, poll=10, on_update=lambda m: updates.append(m.message_status)
    )
    assert msg.message_status is MessageStatus.SENT
    assert clock.sleeps == [10, 10]
    assert updates == [MessageStatus.QUEUED, MessageStatus.QUEUED, MessageStatus.SENT]


def test_wait_for_fax_keeps_polling_while_a_recipient_is_queued() -> None:
    clock = FakeClock()
    mixed = fax_json(
        status="Sent",
        to=[
            {"phoneNumber": "+1", "messageStatus": "Sent"},
            {"phoneNumber": "+2", "messageStatus": "Queued"},
        ],
    )
    rec = Recorder(json_response(mixed), json_response(fax_json(status="Sent")))
    make_client(rec, clock).wait_for_fax(1, poll=3)
    assert clock.sleeps == [3]


def test_wait_for_fax_times_out() -> None:
    clock = FakeClock()
    rec = Recorder(*[json_response(fax_json(status="Queued")) for _ in range(10)])
    with pytest.raises(WaitTimeout) as info:
        make_client(rec, clock).wait_for_fax(7, timeout=25, poll=10)
    assert clock.sleeps == [10, 10, 5]
    assert len(rec.requests) == 4
    assert info.value.last is not None
    assert "fax 7" in str(info.value) and "Queued" in str(info.value)


def page(records: list[dict[str, Any]], next_uri: str | None) -> Response:
    nav: dict[str, Any] = {"firstPage": {"uri": "https://platform.ringcentral.com/first"}}
    if next_uri:
        nav["nextPage"] = {"uri": next_uri}
    return json_response({"records": records, "navigation": nav, "paging": {"page": 1}})


def test_iter_faxes_follows_next_page_on_our_host() -> None:
    rec = Recorder(
        page([fax_json(1), fax_json(2)], SERVER + "/restapi/x?page=2&q=1"),
        page([fax_json(3)], "/restapi/x?page=3"),
        page([fax_json(4)], "https://evil.example/restapi/x?page=4"),
    )
    client = make_client(rec)
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ids: list[str] = []
    with pytest.raises(LinkRefused, match=r"refusing to follow navigation.nextPage") as info:
        for m in client.iter_faxes(direction="Outbound", date_from=since, per_page=2):
            ids.append(m.id)
    assert urllib.parse.urlsplit(info.value.url).hostname == "evil.example"
    assert ids == ["1", "2", "3", "4"]
    first = urllib.parse.urlsplit(rec.requests[0].url)
    query = urllib.parse.parse_qs(first.query)
    assert first.path == "/restapi/v1.0/account/~/extension/~/message-store"
    assert query == {
        "messageType": ["Fax"],
        "direction": ["Outbound"],
        "dateFrom": ["2026-01-01T00:00:00.000Z"],
        "perPage": ["2"],
    }
    # the token only ever goes to the configured server
    assert rec.requests[1].url == SERVER + "/restapi/x?page=2&q=1"
    assert rec.requests[2].url == SERVER + "/restapi/x?page=3"
    assert len(rec.requests) == 3


def test_iter_faxes_stops_on_repeated_next_page() -> None:
    same = SERVER + "/restapi/loop"
    rec = Recorder(page([fax_json(1)], same), page([fax_json(2)], same))
    assert [m.id for m in make_client(rec).iter_faxes()] == ["1", "2"]
    assert len(rec.requests) == 2


def test_iter_faxes_validates() -> None:
    client = make_client(Recorder())
    with pytest.raises(ValidationError, match="direction"):
        list(client.iter_faxes(direction="Sideways"))
    with pytest.raises(ValidationError, match="naive"):
        list(client.iter_faxes(date_from=datetime(2026, 1, 1)))


def test_cancel_fax_deletes_a_queued_message() -> None:
    rec = Recorder(json_response(fax_json(77, "Queued")), Response(204, {}, b""))
    msg = make_client(rec).cancel_fax("77")
    assert msg.message_status is MessageStatus.QUEUED
    assert [r.method for r in rec.requests] == ["GET", "DELETE"]
    assert rec.requests[1].url.endswith("/message-store/77")


def test_cover_pages() -> None:
    records = [{"id": "1", "name": "Ancient"}, {"id": "13", "name": "Urgent", "extra": True}]
    rec = Recorder(page(records, None))
    pages = make_client(rec).cover_pages()
    assert pages == [CoverPage(1, "Ancient"), CoverPage(13, "Urgent")]
    assert rec.requests[0].url.startswith(SERVER + "/restapi/v1.0/dictionary/fax-cover-page")


def test_download_streams_to_disk_atomically(tmp_path: Path) -> None:
    data = os.urandom(200_000)

    def chunks() -> Any:
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    rec = Recorder(Response(200, {"Content-Type": "application/pdf"}, chunks()))
    client = make_client(rec, media_url="https://media.example.test")
    target = client.download(5, 6, tmp_path / "out.pdf")
    assert target.read_bytes() == data
    assert rec.requests[0].url == (
        "https://media.example.test/restapi/v1.0/account/~/extension/~/message-store/5/content/6"
    )
    assert rec.requests[0].stream is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]
    # a directory target gets a derived name
    rec.answers.append(Response(200, {"Content-Type": "application/pdf"}, b"%PDF"))
    assert client.download(5, 6, tmp_path).name == "5-6.pdf"


def test_download_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken() -> Any:
        yield b"partial"
        raise TransportError("GET x: connection dropped", sent=True)

    target = tmp_path / "out.pdf"
    target.write_bytes(b"old content")
    rec = Recorder(Response(200, {}, broken()))
    with pytest.raises(TransportError):
        make_client(rec).download(5, 6, target, overwrite=True)
    assert target.read_bytes() == b"old content"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]


# ------------------------------------------------------------- construction


def test_from_env_reads_ringcentral_names() -> None:
    env = {
        "RC_SERVER_URL": SERVER,
        "RC_APP_CLIENT_ID": "cid",
        "RC_APP_CLIENT_SECRET": "csecret",
        "RC_USER_JWT": "jwt-value",
    }
    calls: list[Request] = []

    def fn(request: Request) -> Response:
        calls.append(request)
        if is_token_request(request):
            return json_response(TOKEN_JSON)
        return json_response(fax_json())

    client = FaxClient.from_env(env, transport=FunctionTransport(fn))
    client.get_fax(1)
    form = urllib.parse.parse_qs(calls[0].read_body().decode())
    assert form["assertion"] == ["jwt-value"]
    with pytest.raises(ValidationError, match="RC_APP_CLIENT_SECRET, RC_USER_JWT"):
        FaxClient.from_env({"RC_SERVER_URL": SERVER, "RC_APP_CLIENT_ID": "x"})


def test_constructor_validates() -> None:
    with pytest.raises(ValidationError, match="no credentials"):
        FaxClient(SERVER)
    with pytest.raises(ValidationError, match="client_id and client_secret"):
        FaxClient(SERVER, jwt="j")
    with pytest.raises(ValidationError, match="http"):
        FaxClient("platform.ringcentral.com", access_token="t")


def test_context_manager_closes_own_transport_only() -> None:
    closed: list[bool] = []

    class T(FunctionTransport):
        def close(self) -> None:
            closed.append(True)

    with FaxClient(SERVER, access_token="t", transport=T(lambda r: json_response({}))):
        pass
    assert closed == []  # caller-owned transport stays open
    with FaxClient(SERVER, access_token="t") as client:
        assert "Urllib3Transport" in repr(client.transport)


def test_file_object_source_read_from_current_position(tmp_path: Path) -> None:
    rec = Recorder(json_response(fax_json()))
    buf = io.BytesIO(b"HEADERhello world")
    buf.seek(6)
    make_client(rec).send_fax(["+16505550123"], [Attachment(buf, filename="a.txt")])
    assert b"\r\n\r\nhello world\r\n" in rec.bodies[0]
    assert b"HEADER" not in rec.bodies[0]


def test_build_fax_body_is_a_dry_run(tmp_path: Path) -> None:
    rec = Recorder()
    client = make_client(rec)
    body = client.build_fax_body(["+16505550123"], pdf(tmp_path), boundary="dry", cover_index=0)
    data = b"".join(body)
    assert body.content_type == "multipart/form-data; boundary=dry"
    assert body.content_length == len(data)
    assert b'"coverIndex":0' in data and rec.requests == []


def test_form_fields_warns_that_names_are_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder(json_response(fax_json()))
    with caplog.at_level("WARNING", "ringfax"):
        make_client(rec).send_fax(
            [Recipient("+16505550123", "Jane")], [pdf(tmp_path)], wire_format="form-fields"
        )
    assert "cannot carry recipient names" in caplog.text
    assert b"Jane" not in rec.bodies[0]


def test_body_problems_become_validation_errors(tmp_path: Path) -> None:
    rec = Recorder(json_response(fax_json()), json_response(fax_json()))
    client = make_client(rec)
    with pytest.raises(ValidationError, match=r"boundary 'bad boundary ': .*RFC 2046"):
        client.send_fax(["+16505550123"], [pdf(tmp_path)], boundary="bad boundary ")
    short = Attachment(iter([b"only 9 b."]), filename="a.txt", size=20)
    with pytest.raises(ValidationError, match="request body aborted"):
        client.send_fax(["+16505550123"], [short])
    assert rec.bodies == []  # the cut-short body never produced a complete request


def test_download_sends_accept_any(tmp_path: Path) -> None:
    rec = Recorder(Response(200, {}, b"II*\x00"))
    make_client(rec).download(1, 2, tmp_path / "f.tif")
    assert rec.requests[0].headers["Accept"] == "*/*"


# ---------------------------------------------------------------------- async twin


def test_async_client_send_wait_and_iterate(tmp_path: Path) -> None:
    import asyncio

    from ringfax import AsyncFaxClient

    clock = FakeClock()
    rec = Recorder(
        json_response(fax_json(5)),
        json_response(fax_json(5, status="Queued")),
        json_response(fax_json(5, status="Delivered")),
        page([fax_json(1), fax_json(2)], SERVER + "/p2"),
        page([fax_json(3)], None),
    )
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    async def main() -> tuple[str, MessageStatus | None, list[str]]:
        async with AsyncFaxClient(
            client=make_client(rec, clock), async_sleep=fake_sleep, wait_clock=clock
        ) as c:
            fax = await c.send_fax(["+16505550123"], [pdf(tmp_path)])
            final = await c.wait_for_fax(fax.id, poll=4)
            ids = [m.id async for m in c.iter_faxes(direction="Inbound")]
            return fax.id, final.message_status, ids

    fax_id, status, ids = asyncio.run(main())
    assert (fax_id, status, ids) == ("5", MessageStatus.DELIVERED, ["1", "2", "3"])
    assert slept == [4] and clock.sleeps == []


def test_async_client_timeout_and_arguments() -> None:
    import asyncio

    from ringfax import AsyncFaxClient

    clock = FakeClock()
    rec = Recorder(*[json_response(fax_json(status="Queued")) for _ in range(5)])

    async def fake_sleep(seconds: float) -> None:
        clock.now += seconds

    async def main() -> None:
        client = AsyncFaxClient(
            client=make_client(rec, clock), async_sleep=fake_sleep, wait_clock=clock
        )
        with pytest.raises(WaitTimeout):
            await client.wait_for_fax(1, timeout=15, poll=10)

    asyncio.run(main())
    assert len(rec.requests) == 3
    with pytest.raises(ValidationError, match="either client="):
        AsyncFaxClient(SERVER, client=make_client(rec))
    with pytest.raises(ValidationError, match="server_url"):
        AsyncFaxClient()
    assert "static-token" not in repr(AsyncFaxClient(SERVER, access_token="static-token"))


def test_unreadable_success_answer_to_fax_post_is_maybe_sent(tmp_path: Path) -> None:
    rec = Recorder(Response(200, {"Content-Type": "text/html"}, b"<html>ok</html>"))
    with pytest.raises(FaxMaybeSentError, match=r"accepted the request \(HTTP 200\)"):
        make_client(rec).send_fax(["+16505550123"], [pdf(tmp_path)])
    assert len(rec.requests) == 1
