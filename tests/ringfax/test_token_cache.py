"""FileTokenCache: tokens shared by processes — 0600, atomic, keyed — so a CLI call
reuses a valid token instead of doing a JWT login every time."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

import pytest
from _scripted_server import FakeClock, fax_json, is_token_request, json_response

from ringfax import FaxClient, FileTokenCache, FunctionTransport, Request, Response
from ringfax._token import Token

SERVER = "https://platform.example.test"


class TokenServer:
    def __init__(self) -> None:
        self.grants: list[str] = []
        self.issued = 0

    def __call__(self, request: Request) -> Response:
        if is_token_request(request):
            form = urllib.parse.parse_qs(request.read_body().decode())
            self.grants.append(form["grant_type"][0])
            self.issued += 1
            return json_response(
                {
                    "access_token": f"access-{self.issued}",
                    "refresh_token": f"refresh-{self.issued}",
                    "expires_in": 3600,
                    "refresh_token_expires_in": 604800,
                    "token_type": "bearer",
                    "scope": "Faxes",
                }
            )
        if "/oauth/revoke" in request.url:
            return Response(200)
        assert request.headers["Authorization"].startswith("Bearer access-")
        return json_response(fax_json())


def make(
    server: TokenServer, cache: FileTokenCache, clock: FakeClock, jwt: str = "user-jwt"
) -> FaxClient:
    cache = FileTokenCache(cache.path, clock=clock)  # the cache prunes by the same (fake) clock
    return FaxClient(
        SERVER,
        client_id="app",
        client_secret="secret",
        jwt=jwt,
        transport=FunctionTransport(server),
        clock=clock,
        sleep=clock.sleep,
        token_cache=cache,
    )


def test_second_client_reuses_the_cached_token(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "tokens.json"
    server, clock = TokenServer(), FakeClock()
    make(server, FileTokenCache(path), clock).get_fax(1)
    make(server, FileTokenCache(path), clock).get_fax(1)
    make(server, FileTokenCache(path), clock).get_fax(1)
    assert server.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]  # one login


def test_file_is_private_and_holds_no_jwt(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "tokens.json"
    make(TokenServer(), FileTokenCache(path), FakeClock()).get_fax(1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "user-jwt" not in text and "secret" not in text
    data = json.loads(text)
    assert data["version"] == 1 and len(data["tokens"]) == 1
    (key,) = data["tokens"]
    assert key.startswith(SERVER + " app jwt:") and len(key.split(":")[-1]) == 64
    assert [p.name for p in path.parent.iterdir() if not p.name.endswith(".lock")] == [
        "tokens.json"
    ]


def test_file_stays_0600_even_with_a_lax_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "tokens.json"
        make(TokenServer(), FileTokenCache(path), FakeClock()).get_fax(1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_entries_are_keyed_by_server_app_and_jwt(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server, clock = TokenServer(), FakeClock()
    make(server, FileTokenCache(path), clock, jwt="alice").get_fax(1)
    make(server, FileTokenCache(path), clock, jwt="bob").get_fax(1)
    make(server, FileTokenCache(path), clock, jwt="alice").get_fax(1)
    assert len(server.grants) == 2
    assert len(json.loads(path.read_text())["tokens"]) == 2


def test_expired_cached_token_is_refreshed_not_relogged(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server, clock = TokenServer(), FakeClock()
    make(server, FileTokenCache(path), clock).get_fax(1)
    clock.now += 7200  # access token expired, refresh token still valid
    make(server, FileTokenCache(path), clock).get_fax(1)
    assert server.grants[1] == "refresh_token"
    stored = FileTokenCache(path).load(next(iter(json.loads(path.read_text())["tokens"])))
    assert stored is not None and stored.access_token == "access-2"


def test_revoke_forgets_the_cached_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server, clock = TokenServer(), FakeClock()
    client = make(server, FileTokenCache(path), clock)
    client.get_fax(1)
    client.revoke()
    assert json.loads(path.read_text())["tokens"] == {}
    make(server, FileTokenCache(path), clock).get_fax(1)
    assert len(server.grants) == 2


def test_rejected_cached_token_is_dropped_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server, clock = TokenServer(), FakeClock()
    make(server, FileTokenCache(path), clock).get_fax(1)
    calls = {"n": 0}

    def revoked_once(request: Request) -> Response:
        if not is_token_request(request) and calls["n"] == 0:
            calls["n"] += 1
            body = {"errorCode": "OAU-149", "message": "OAuth token is invalid"}
            return json_response(body, 401)
        return server(request)

    clock2 = clock
    client = FaxClient(
        SERVER,
        client_id="app",
        client_secret="secret",
        jwt="user-jwt",
        transport=FunctionTransport(revoked_once),
        clock=clock2,
        sleep=clock2.sleep,
        token_cache=FileTokenCache(path, clock=clock2),
    )
    client.get_fax(1)
    assert server.grants[-1].endswith("jwt-bearer") and len(server.grants) == 2
    tokens = json.loads(path.read_text())["tokens"]
    assert [t["access_token"] for t in tokens.values()] == ["access-2"]


@pytest.mark.parametrize("content", [b"", b"not json", b"[1,2]", b'{"version": 99}', b"[" * 100000])
def test_a_broken_cache_file_is_ignored_and_repaired(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(content)
    path.chmod(0o600)
    server = TokenServer()
    make(server, FileTokenCache(path), FakeClock()).get_fax(1)
    assert len(server.grants) == 1
    assert len(json.loads(path.read_text())["tokens"]) == 1


def test_an_unwritable_cache_never_breaks_a_call(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = FileTokenCache(blocker / "sub" / "tokens.json")  # parent is a file
    make(TokenServer(), cache, FakeClock()).get_fax(1)


def test_round_trip_and_default_path(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path / "t.json")
    token = Token("a", 2e9, refresh_token="r", refresh_expires_at=2.1e9, scope="Faxes")
    cache.store("k", token)
    assert cache.load("k") == token
    assert cache.load("other") is None
    cache.discard("k")
    assert cache.load("k") is None
    xdg = FileTokenCache.default({"XDG_CACHE_HOME": str(tmp_path)})
    assert xdg.path == tmp_path / "ringfax" / "tokens.json"
    home = FileTokenCache.default({"XDG_CACHE_HOME": "relative/ignored"})
    assert home.path == Path.home() / ".cache" / "ringfax" / "tokens.json"
    assert repr(cache) == f"FileTokenCache({str(tmp_path / 't.json')!r})"


def test_processes_share_the_cache(tmp_path: Path) -> None:
    """Two real processes writing different keys at once: both entries survive."""
    path = tmp_path / "tokens.json"
    script = textwrap.dedent(
        f"""
        import sys
        from ringfax import FileTokenCache
        from ringfax._token import Token
        cache = FileTokenCache({str(path)!r})
        for i in range(30):
            cache.store(sys.argv[1] + str(i), Token("a", 2e9))
        """
    )
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    procs = [subprocess.Popen([sys.executable, "-c", script, name], env=env) for name in ("p", "q")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(json.loads(path.read_text())["tokens"]) == 60


def test_a_token_refreshed_by_another_process_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server, clock = TokenServer(), FakeClock()
    a = make(server, FileTokenCache(path), clock)
    b = make(server, FileTokenCache(path), clock)
    a.get_fax(1)
    b.get_fax(1)  # reuses a's token
    clock.now += 7200
    b.get_fax(1)  # b refreshes (refresh tokens are single-use)
    a.get_fax(1)  # a must take b's new token, not spend the used refresh token again
    assert server.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]
