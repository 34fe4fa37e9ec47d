"""Auth: JWT grant, proactive/401 refresh, single-flight under threads, revoke, redaction."""

from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _scripted_server import TOKEN_JSON, FakeClock, fax_json, json_response

from ringfax import (
    APIError,
    AuthError,
    FaxClient,
    FunctionTransport,
    JWTAuth,
    Request,
    Response,
    StaticTokenAuth,
    TransportError,
)
from ringfax._token import Token

SERVER = "https://platform.example.test"
CLIENT_ID = "cid-public"
SECRET = "client-secret-value-XYZ"
JWT = "eyJhbGciOiJ-jwt-secret-assertion"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()


def token_json(n: int, expires_in: int = 3600) -> dict[str, Any]:
    return {
        **TOKEN_JSON,
        "access_token": f"AT-secret-{n}",
        "refresh_token": f"RT-secret-{n}",
        "expires_in": expires_in,
    }


EXPIRED = {"errorCode": "OAU-128", "message": "Access token expired.", "errors": []}
INVALID = {
    "errorCode": "TokenInvalid",
    "message": "Token is invalid",
    "errors": [{"errorCode": "OAU-149", "message": "OAuth token is invalid"}],
}


class FakeServer:
    """A function transport issuing numbered tokens; API calls succeed for ``valid`` tokens."""

    def __init__(self) -> None:
        self.issued = 0
        self.valid: set[str] = set()
        self.token_forms: list[dict[str, str]] = []
        self.token_headers: list[dict[str, str]] = []
        self.api_tokens: list[str] = []
        self.revoked: list[dict[str, str]] = []
        self.refresh_error: dict[str, Any] | None = None
        self.lock = threading.Lock()
        self.before_token: Callable[[], None] = lambda: None
        self.before_api: Callable[[str], None] = lambda token: None
        self.reject_with = EXPIRED

    def __call__(self, request: Request) -> Response:
        path = urllib.parse.urlsplit(request.url).path
        if path == "/restapi/oauth/token":
            form = dict(urllib.parse.parse_qsl(request.read_body().decode()))
            self.before_token()
            with self.lock:
                self.token_forms.append(form)
                self.token_headers.append(dict(request.headers))
                if form["grant_type"] == "refresh_token" and self.refresh_error is not None:
                    return json_response(self.refresh_error, 400)
                self.issued += 1
                data = token_json(self.issued)
                self.valid = {data["access_token"]}
            return json_response(data)
        if path == "/restapi/oauth/revoke":
            self.revoked.append(dict(urllib.parse.parse_qsl(request.read_body().decode())))
            return Response(200, {}, b"")
        token = request.headers["Authorization"].split(" ", 1)[1]
        request.read_body()
        self.before_api(token)
        with self.lock:
            self.api_tokens.append(token)
            ok = token in self.valid
        if not ok:
            return json_response(self.reject_with, 401)
        return json_response(fax_json())


def jwt_client(server: FakeServer, clock: FakeClock | None = None, **kw: Any) -> FaxClient:
    clock = clock or FakeClock()
    return FaxClient(
        SERVER,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        jwt=JWT,
        transport=FunctionTransport(server),
        clock=clock,
        sleep=clock.sleep,
        **kw,
    )


def test_jwt_grant_request_shape() -> None:
    server = FakeServer()
    client = jwt_client(server)
    client.get_fax(1)
    client.get_fax(2)
    assert server.token_forms == [
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": JWT}
    ]
    headers = server.token_headers[0]
    assert headers["Authorization"] == BASIC
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["Accept"] == "application/json"
    assert server.api_tokens == ["AT-secret-1", "AT-secret-1"]


def test_proactive_refresh_before_expiry_and_rotation() -> None:
    server = FakeServer()
    clock = FakeClock()
    client = jwt_client(server, clock)
    client.get_fax(1)
    clock.now += 3600 - 61  # still outside the 60 s margin
    client.get_fax(1)
    assert len(server.token_forms) == 1
    clock.now += 2  # inside the margin: refresh before the server would reject it
    client.get_fax(1)
    assert server.token_forms[1] == {"grant_type": "refresh_token", "refresh_token": "RT-secret-1"}
    assert server.token_headers[1]["Authorization"] == BASIC
    clock.now += 3600
    client.get_fax(1)
    # refresh tokens are single-use: the newest one is always used
    assert server.token_forms[2] == {"grant_type": "refresh_token", "refresh_token": "RT-secret-2"}
    assert server.api_tokens == ["AT-secret-1", "AT-secret-1", "AT-secret-2", "AT-secret-3"]


def test_refresh_invalid_grant_falls_back_to_jwt() -> None:
    server = FakeServer()
    clock = FakeClock()
    client = jwt_client(server, clock)
    client.get_fax(1)
    server.refresh_error = {"error": "invalid_grant", "error_description": "Token is revoked"}
    clock.now += 4000
    client.get_fax(1)
    grants = [f["grant_type"] for f in server.token_forms]
    assert grants == [
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ]
    assert server.api_tokens[-1] == "AT-secret-2"


def test_expired_refresh_token_goes_straight_to_jwt() -> None:
    server = FakeServer()
    clock = FakeClock()
    client = jwt_client(server, clock)
    client.get_fax(1)
    clock.now += 604800 + 1
    client.get_fax(1)
    assert [f["grant_type"] for f in server.token_forms][-1].endswith("jwt-bearer")


def test_401_expired_refreshes_and_retries_once() -> None:
    server = FakeServer()
    client = jwt_client(server)
    client.get_fax(1)
    server.valid = set()  # the server expired the token early
    msg = client.get_fax(1)
    assert msg.id
    assert server.token_forms[-1]["grant_type"] == "refresh_token"
    assert server.api_tokens == ["AT-secret-1", "AT-secret-1", "AT-secret-2"]


def test_401_invalid_token_uses_new_jwt_grant() -> None:
    server = FakeServer()
    server.reject_with = INVALID
    client = jwt_client(server)
    client.get_fax(1)
    server.valid = set()
    client.get_fax(1)
    assert server.token_forms[-1]["grant_type"].endswith("jwt-bearer")


def test_401_twice_raises_without_looping() -> None:
    server = FakeServer()
    client = jwt_client(server)
    client.get_fax(1)

    def always_reject(token: str) -> None:
        server.valid = set()

    server.before_api = always_reject
    with pytest.raises(AuthError) as info:
        client.get_fax(1)
    assert info.value.error_code == "OAU-128"
    assert server.api_tokens == ["AT-secret-1", "AT-secret-1", "AT-secret-2"]


def test_401_other_code_is_not_refreshed() -> None:
    server = FakeServer()
    server.reject_with = {"errorCode": "CMN-405", "message": "Login to extension required."}
    client = jwt_client(server)
    client.get_fax(1)
    server.valid = set()
    with pytest.raises(AuthError):
        client.get_fax(1)
    assert len(server.token_forms) == 1


def test_fax_post_after_401_is_resent_with_rebuilt_body(tmp_path: Path) -> None:
    bodies: list[bytes] = []
    server = FakeServer()
    inner = server.__call__

    def fn(request: Request) -> Response:
        if request.url.endswith("/fax"):
            data = request.read_body()
            bodies.append(data)
            request.body = data
        return inner(request)

    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4 x")
    client = FaxClient(
        SERVER, client_id=CLIENT_ID, client_secret=SECRET, jwt=JWT, transport=FunctionTransport(fn)
    )
    client.get_fax(1)
    server.valid = set()
    client.send_fax(["+16505550123"], [path], boundary="fixed")
    assert len(bodies) == 2 and bodies[0] == bodies[1] and b"%PDF-1.4 x" in bodies[0]


def test_single_flight_initial_token_under_threads() -> None:
    server = FakeServer()
    gate = threading.Event()
    server.before_token = lambda: gate.wait(5)
    client = jwt_client(server)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.get_fax(1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.05)  # let the threads pile up behind the first token request
    gate.set()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len(server.token_forms) == 1
    assert server.api_tokens == ["AT-secret-1"] * 8


def test_single_flight_refresh_on_concurrent_401s() -> None:
    server = FakeServer()
    client = jwt_client(server)
    client.get_fax(1)
    server.valid = set()  # every in-flight request with AT-1 gets a 401
    n = 8
    barrier = threading.Barrier(n, timeout=10)

    def hold_stale(token: str) -> None:
        if token == "AT-secret-1":
            barrier.wait()  # all threads are in flight with the stale token at once

    server.before_api = hold_stale
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.get_fax(1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert errors == []
    refreshes = [f for f in server.token_forms if f["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    assert server.api_tokens.count("AT-secret-2") == n


def test_revoke_sends_refresh_token_and_forgets() -> None:
    server = FakeServer()
    client = jwt_client(server)
    client.get_fax(1)
    client.revoke()
    assert server.revoked == [{"token": "RT-secret-1"}]
    client.get_fax(1)  # a new session
    assert server.token_forms[-1]["grant_type"].endswith("jwt-bearer")
    client.revoke()
    client.revoke()  # nothing to revoke twice... but a fresh grant happened in between
    assert len(server.revoked) == 2


def test_revoke_failure_is_ignored_and_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[Request] = []

    def fn(request: Request) -> Response:
        calls.append(request)
        raise TransportError("POST x: could not connect", sent=False)

    client = FaxClient(
        SERVER,
        access_token="AT-static-secret",
        transport=FunctionTransport(fn),
        sleep=lambda s: None,
    )
    with caplog.at_level(logging.WARNING, "ringfax"):
        client.revoke()
    assert "revoke failed" in caplog.text
    assert len(calls) == 1
    with pytest.raises(AuthError, match="revoked"):
        client.get_fax(1)


def test_static_token_provider() -> None:
    auth = StaticTokenAuth("AT-static-secret")
    assert auth.access_token() == "AT-static-secret"
    assert auth.handle_unauthorized("AT-static-secret", APIError(401, "x")) is False
    assert "AT-static-secret" not in repr(auth)


def test_token_from_json_and_repr() -> None:
    token = Token.from_json(token_json(1, expires_in=7199), now=1000.0)
    assert token.expires_at == 8199.0
    assert token.refresh_expires_at == 1000.0 + 604800
    assert "secret" not in repr(token) and "secret" not in str(token)
    with pytest.raises(AuthError, match="no access_token"):
        Token.from_json({"expires_in": 1}, now=0)


def test_secrets_never_in_reprs_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer()
    clock = FakeClock()
    client = jwt_client(server, clock)
    secrets = [SECRET, JWT, BASIC.split()[1], "AT-secret-1", "RT-secret-1", "AT-secret-2"]
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        client.get_fax(1)
        server.valid = set()
        client.get_fax(1)  # 401 + refresh
        server.reject_with = {"errorCode": "CMN-405", "message": "Login required"}
        server.valid = set()
        with pytest.raises(AuthError) as info:
            client.get_fax(1)
        texts += [str(info.value), repr(info.value)]
        server.refresh_error = {"error": "invalid_client", "error_description": "bad client"}

        def fail_token(request: Request) -> Response:
            return json_response({"error": "invalid_client", "error_description": "nope"}, 401)

        broken = FaxClient(
            SERVER, client_id=CLIENT_ID, client_secret=SECRET, jwt=JWT,
            transport=FunctionTransport(fail_token),
        )  # fmt: skip
        with pytest.raises(AuthError) as info2:
            broken.get_fax(1)
        texts += [str(info2.value), repr(info2.value), repr(broken), str(broken.auth)]
        client.revoke()
    assert isinstance(client.auth, JWTAuth)
    texts += [repr(client), str(client), repr(client.auth), repr(client.auth.token)]
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    blob = "\n".join(texts)
    assert "***" in repr(client)
    for secret in secrets:
        assert secret not in blob, secret


def test_bad_jwt_is_an_auth_error() -> None:
    def fn(request: Request) -> Response:
        body = {"error": "invalid_grant", "error_description": "Invalid JWT", "errors": []}
        return json_response(body, 400, {"RCRequestId": "tok-1"})

    client = FaxClient(
        SERVER, client_id=CLIENT_ID, client_secret=SECRET, jwt=JWT, transport=FunctionTransport(fn)
    )
    with pytest.raises(AuthError) as info:
        client.get_fax(1)
    err = info.value
    assert (err.status, err.oauth_error, err.request_id) == (400, "invalid_grant", "tok-1")
    assert "Invalid JWT" in str(err)
