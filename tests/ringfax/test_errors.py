"""error_from_response and the exception tree."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone

import pytest

from ringfax import (
    APIError,
    AuthError,
    BadRequest,
    FaxMaybeSentError,
    LinkRefused,
    NotFound,
    RateLimited,
    RingFaxError,
    ServerError,
    TransportError,
    ValidationError,
    WaitTimeout,
)
from ringfax._errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_from_response,
    parse_retry_after,
    redact_url,
)

NOW = 1_780_000_000.0


def test_hierarchy() -> None:
    for cls in (ValidationError, TransportError, WaitTimeout, APIError):
        assert issubclass(cls, RingFaxError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(FaxMaybeSentError, RingFaxError)
    assert not issubclass(FaxMaybeSentError, TransportError)  # 3xx/5xx answers raise it too
    assert not issubclass(LinkRefused, APIError)  # a client-side refusal, not an answer
    for cls in (BadRequest, AuthError, Forbidden, NotFound, NotAcceptable, Conflict):
        assert issubclass(cls, APIError)
    for cls in (PayloadTooLarge, UnsupportedMediaType, RateLimited, ServerError):
        assert issubclass(cls, APIError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, AuthError),
        (403, Forbidden),
        (404, NotFound),
        (406, NotAcceptable),
        (409, Conflict),
        (413, PayloadTooLarge),
        (415, UnsupportedMediaType),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
        (418, APIError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[APIError]) -> None:
    err = error_from_response(status, {}, b"")
    assert type(err) is cls and err.status == status


def test_legacy_body_with_parameter_name_and_request_id() -> None:
    body = (
        b'{"errorCode":"CMN-102","message":"Resource for parameter [messageId] is not found",'
        b'"errors":[{"errorCode":"CMN-102","message":"Resource for parameter [messageId] is not '
        b'found","parameterName":"messageId"}],"parameterName":"messageId"}'
    )
    err = error_from_response(404, {"rcrequestid": "4f1e-uuid"}, body)
    assert isinstance(err, NotFound)
    assert err.error_code == "CMN-102"
    assert err.request_id == "4f1e-uuid"
    assert err.errors == [
        ErrorDetail(
            "CMN-102", "Resource for parameter [messageId] is not found", parameter_name="messageId"
        )
    ]
    assert str(err) == (
        "HTTP 404 CMN-102: Resource for parameter [messageId] is not found "
        "(parameter: messageId) [RCRequestId 4f1e-uuid]"
    )
    assert err.body == body


def test_word_code_with_numbered_inner_code() -> None:
    body = (
        b'{"errorCode":"InvalidParameter","message":"Sending SMS is not available",'
        b'"errors":[{"errorCode":"MSG-246","message":"..."}]}'
    )
    err = error_from_response(400, {}, body)
    assert err.error_code == "InvalidParameter"
    assert err.error_codes == ["InvalidParameter", "MSG-246"]


def test_spec_model_errors_only() -> None:
    body = b'{"errors":[{"errorCode":"MSG-348","message":"Unsupported attachment media type"}]}'
    err = error_from_response(415, {}, body)
    assert isinstance(err, UnsupportedMediaType)
    assert (err.error_code, err.message) == ("MSG-348", "Unsupported attachment media type")


def test_oauth_bodies() -> None:
    err = error_from_response(
        400,
        {},
        b'{"error":"unauthorized_client","error_description":"Unauthorized for this grant type"}',
    )
    assert err.error_code == "unauthorized_client"
    assert err.message == "Unauthorized for this grant type"
    both = error_from_response(
        400,
        {},
        b'{"error":"invalid_grant","error_description":"Token is revoked",'
        b'"errors":[{"errorCode":"OAU-211","message":"Token is revoked"}]}',
    )
    assert both.error_code == "OAU-211" and both.oauth_error == "invalid_grant"
    assert both.error_codes == ["OAU-211", "invalid_grant"]
    assert "invalid_grant" in str(both)


def test_unhelpful_bodies_still_give_useful_messages() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    assert "502 Bad Gateway" in str(error_from_response(502, {"RCRequestId": "r1"}, html))
    tags = error_from_response(500, {}, b"<html><body><p>Upstream   down</p></body></html>")
    assert tags.message == "Upstream down"
    empty = error_from_response(503, {"RCRequestId": "r2"}, b"")
    assert str(empty) == "HTTP 503: Service Unavailable (empty response body) [RCRequestId r2]"
    text = error_from_response(400, {}, b"plain text problem")
    assert text.message == "plain text problem"
    assert error_from_response(400, {}, b'{"message":"Bad Request","errors":[]}').message == (
        "Bad Request"
    )
    assert error_from_response(400, {}, b"\xff\xfe[1,2]").message
    assert error_from_response(400, {}, b"[1, 2]").message == "[1, 2]"
    long = error_from_response(500, {}, b"x" * 5000)
    assert len(long.message) < 400


def test_rate_limited_retry_after_seconds_and_date() -> None:
    err = error_from_response(429, {"Retry-After": "60"}, b'{"errorCode":"CMN-301"}', now=NOW)
    assert isinstance(err, RateLimited) and err.retry_after == 60.0
    assert "retry after 60 s" in str(err)
    date = email.utils.formatdate(NOW + 90, usegmt=True)
    dated = error_from_response(429, {"retry-after": date}, b"", now=NOW)
    assert isinstance(dated, RateLimited) and dated.retry_after == pytest.approx(90, abs=1)
    absent = error_from_response(429, {}, b"", now=NOW)
    assert isinstance(absent, RateLimited) and absent.retry_after is None


def test_parse_retry_after() -> None:
    assert parse_retry_after("5", NOW) == 5.0
    assert parse_retry_after(" 1.5 ", NOW) == 1.5
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after("soon", NOW) is None
    past = email.utils.formatdate(NOW - 100, usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000", 1445412450) == pytest.approx(30)


def test_fax_maybe_sent_message_explains_how_to_check() -> None:
    when = datetime(2026, 8, 20, 17, 2, 11, tzinfo=timezone.utc)
    cause = TransportError("POST x: read timeout", sent=True)
    err = FaxMaybeSentError("POST x: read timeout", attempted_at=when, cause=cause)
    text = str(err)
    assert err.cause is cause and err.attempted_at == when and err.reason == "POST x: read timeout"
    assert "may have been sent" in text and "NOT re-sent" in text
    assert "iter_faxes(direction='Outbound'" in text and "2026-08-20T17:02:11+00:00" in text
    assert "message-store" in text


def test_wait_timeout_message() -> None:
    assert str(WaitTimeout("42", 30.0)) == "fax 42 did not reach a final status within 30 s"


def test_redact_url() -> None:
    url = "https://h/x?a=1&access_token=AAA&token=BBB&refresh_token=CCC#frag"
    assert redact_url(url) == "https://h/x?a=1&access_token=***&token=***&refresh_token=***#frag"
