"""The public names of both packages, pinned: adding or removing one is a decision, made here
on purpose, never a side effect. ``auth=`` is how the public auth classes are used."""

from __future__ import annotations

from _scripted_server import SERVER, TOKEN_JSON, Recorder, fax_json, json_response

import mimewire
import ringfax
from ringfax import FaxClient, FunctionTransport, JWTAuth, StaticTokenAuth, ValidationError

RINGFAX = {
    "APIError", "AsyncFaxClient", "Attachment", "AuthError", "BadRequest", "CoverPage",
    "DownloadError", "FaxClient", "FaxMaybeSentError", "FaxMessage", "FaxRequest", "FaxSync",
    "FileTokenCache", "FunctionTransport", "Inbox", "JWTAuth", "LinkRefused",
    "MessageAttachment", "MessageStatus", "NotCancellable", "NotFound", "RateLimited",
    "ReceivedFax", "Recipient", "RecipientStatus", "Request", "Response", "RetryPolicy",
    "RingFaxError", "ServerError", "StaticTokenAuth", "Transport", "TransportError",
    "UnexpectedRedirect", "Urllib3Transport", "ValidationError", "WaitTimeout", "__version__",
    "normalize_number",
    # push notifications: subscriptions, the WebSocket receiver, the sync worker
    "InboxSyncWorker", "PushReceiver", "Subscription", "WebhookSubscription",
}  # fmt: skip

MIMEWIRE = {
    "NEED_DATA", "AsyncStreamedPart", "BodyReader", "Decoder", "Encoder", "Event", "Headers",
    "LimitExceeded", "Limits", "MalformedInput", "MimeWireError", "MultipartBody",
    "MultipartEnd", "NeedData", "ParsedPart", "Part", "PartData", "PartEnd", "PartStart",
    "StreamedPart", "UsageError", "__version__", "aparse", "aparse_stream",
    "boundary_from_content_type", "make_boundary", "parse", "parse_header_params",
    "parse_stream", "validate_boundary",
}  # fmt: skip


def test_ringfax_public_names() -> None:
    assert set(ringfax.__all__) == RINGFAX
    assert len(ringfax.__all__) == len(RINGFAX)
    for name in ringfax.__all__:
        assert getattr(ringfax, name) is not None


def test_mimewire_public_names() -> None:
    assert set(mimewire.__all__) == MIMEWIRE
    assert len(mimewire.__all__) == len(MIMEWIRE)
    for name in mimewire.__all__:
        assert getattr(mimewire, name) is not None


def test_auth_takes_a_static_token() -> None:
    recorder = Recorder(json_response(fax_json()))
    client = FaxClient(SERVER, auth=StaticTokenAuth("T-1"), transport=FunctionTransport(recorder))
    client.get_fax(1)
    assert recorder.requests[0].headers["Authorization"] == "Bearer T-1"


def test_auth_takes_a_jwt_auth_and_supplies_the_token_endpoint() -> None:
    recorder = Recorder(json_response(TOKEN_JSON), json_response(fax_json()))
    client = FaxClient(
        SERVER,
        auth=JWTAuth("eyJ.jwt"),
        client_id="id",
        client_secret="secret",
        transport=FunctionTransport(recorder),
    )
    client.get_fax(1)
    token_request, fax_request = recorder.requests
    assert token_request.url == SERVER + "/restapi/oauth/token"
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert fax_request.headers["Authorization"] == f"Bearer {TOKEN_JSON['access_token']}"


def test_auth_refuses_a_second_credential_and_a_jwt_without_app_credentials() -> None:
    import pytest

    with pytest.raises(ValidationError, match="either auth=") as info:
        FaxClient(SERVER, auth=StaticTokenAuth("T"), access_token="U")
    assert info.value.param == "auth"
    with pytest.raises(ValidationError, match="client_id and client_secret"):
        FaxClient(SERVER, auth=JWTAuth("eyJ.jwt"))
