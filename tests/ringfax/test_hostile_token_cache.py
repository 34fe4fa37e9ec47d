"""The token cache holds bearer tokens: a file someone else could read, replace or point
elsewhere is refused with the fix, a lock held by another process never blocks a call, and a
token is never used for another user, app or server."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
import urllib.parse
from pathlib import Path

import pytest
from _scripted_server import FakeClock, fax_json, is_token_request, json_response

from ringfax import FaxClient, FileTokenCache, FunctionTransport, Request, Response, RingFaxError
from ringfax._tokencache import UnsafeTokenCache, cache_key, jwt_subject

SERVER = "https://platform.example.test"
OTHER_SERVER = "https://platform.other.test"


def jwt_for(subject: str) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'sub': subject, 'iss': 'x'})}.c2ln"


class TokenServer:
    """Issues tokens naming the user of the JWT; checks each API call uses that user's token."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.used: list[str] = []

    def __call__(self, request: Request) -> Response:
        if is_token_request(request):
            form = urllib.parse.parse_qs(request.read_body().decode())
            user = jwt_subject(form.get("assertion", ["?"])[0]) or "refresh"
            token = f"access-{user}-{len(self.issued)}"
            self.issued.append(token)
            return json_response(
                {"access_token": token, "expires_in": 3600, "token_type": "bearer"}
            )
        self.used.append(request.headers["Authorization"].removeprefix("Bearer "))
        return json_response(fax_json())


def client(server: TokenServer, path: Path, jwt: str, url: str = SERVER) -> FaxClient:
    clock = FakeClock()
    return FaxClient(
        url,
        client_id="app",
        client_secret="secret",
        jwt=jwt,
        transport=FunctionTransport(server),
        clock=clock,
        sleep=clock.sleep,
        token_cache=FileTokenCache(path, clock=clock),
    )


def private_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    return directory


def test_a_symlinked_cache_file_is_refused_not_followed(tmp_path: Path) -> None:
    directory = private_dir(tmp_path)
    theirs = tmp_path / "theirs.json"
    server = TokenServer()
    client(server, theirs, jwt_for("mallory")).get_fax(1)  # a valid cache of someone else's
    (directory / "tokens.json").symlink_to(theirs)
    with pytest.raises(UnsafeTokenCache, match=r"tokens\.json is a symbolic link") as caught:
        client(server, directory / "tokens.json", jwt_for("mallory")).get_fax(1)
    assert isinstance(caught.value, RingFaxError) and "rm " in str(caught.value)
    assert server.used == ["access-mallory-0"]  # the linked token was never sent


def test_a_fifo_is_refused_instead_of_blocking_forever(tmp_path: Path) -> None:
    path = private_dir(tmp_path) / "tokens.json"
    os.mkfifo(path, 0o600)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            client(TokenServer(), path, jwt_for("alice")).get_fax(1)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test process can end
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail("reading the token cache blocked on a FIFO")
    assert isinstance(outcome[0], UnsafeTokenCache)
    assert "not a regular file" in str(outcome[0])


def test_a_cache_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = private_dir(tmp_path) / "tokens.json"
    client(TokenServer(), path, jwt_for("alice")).get_fax(1)
    path.chmod(0o644)
    with pytest.raises(UnsafeTokenCache, match=r"mode 0644\); run `chmod 600 .*tokens.json`"):
        client(TokenServer(), path, jwt_for("alice")).get_fax(1)


def test_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o777)
    with pytest.raises(UnsafeTokenCache, match=r"mode 0777\); run `chmod 700 .*shared`"):
        client(TokenServer(), directory / "tokens.json", jwt_for("alice")).get_fax(1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create another user's file")
def test_a_cache_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = private_dir(tmp_path) / "tokens.json"
    client(TokenServer(), path, jwt_for("alice")).get_fax(1)
    os.chown(path, 65534, 65534)
    with pytest.raises(UnsafeTokenCache, match="belongs to uid 65534, not to you"):
        client(TokenServer(), path, jwt_for("alice")).get_fax(1)


def test_a_lock_held_elsewhere_skips_the_write_instead_of_waiting(tmp_path: Path) -> None:
    path = private_dir(tmp_path) / "tokens.json"
    lock = os.open(path.with_name("tokens.json.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    finished = threading.Event()
    server = TokenServer()

    def call() -> None:
        cache = FileTokenCache(path, lock_timeout=0.0)
        clock = FakeClock()
        FaxClient(
            SERVER,
            client_id="app",
            client_secret="secret",
            jwt=jwt_for("alice"),
            transport=FunctionTransport(server),
            clock=clock,
            sleep=clock.sleep,
            token_cache=cache,
        ).get_fax(1)
        finished.set()

    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is writing (and hangs)
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(10)
        assert finished.is_set(), "store() waited on the lock"
    finally:
        os.close(lock)
    assert server.used == ["access-alice-0"]  # the call went on with its token
    assert not path.exists()  # only the shared copy was skipped


def test_tokens_are_keyed_by_server_app_and_subject(tmp_path: Path) -> None:
    path = private_dir(tmp_path) / "tokens.json"
    server = TokenServer()
    alice, bob = jwt_for("alice"), jwt_for("bob")
    client(server, path, alice).get_fax(1)
    client(server, path, bob).get_fax(1)
    client(server, path, alice, OTHER_SERVER).get_fax(1)
    client(server, path, bob, OTHER_SERVER).get_fax(1)
    keys = sorted(json.loads(path.read_text())["tokens"])
    assert keys == sorted(
        cache_key(url, "app", jwt) for url in (SERVER, OTHER_SERVER) for jwt in (alice, bob)
    )
    assert len(set(keys)) == 4
    # each user got a token of their own on each server, and kept using only that one
    client(server, path, alice).get_fax(1)
    client(server, path, bob, OTHER_SERVER).get_fax(1)
    assert server.used == [
        "access-alice-0",
        "access-bob-1",
        "access-alice-2",
        "access-bob-3",
        "access-alice-0",
        "access-bob-3",
    ]


def test_the_key_names_the_subject_or_a_hash_never_the_jwt() -> None:
    jwt = jwt_for("40123")
    assert cache_key(SERVER + "/", "app", jwt) == f"{SERVER} app sub:40123"
    assert cache_key(SERVER, "app", jwt_for("40123").replace("c2ln", "other")) == (
        f"{SERVER} app sub:40123"  # a new JWT of the same user shares the cached session
    )
    opaque = cache_key(SERVER, "app", "not-a-jwt")
    assert opaque.startswith(f"{SERVER} app jwt:") and "not-a-jwt" not in opaque
    assert jwt_subject("a.%%%.c") is None and jwt_subject("a.bnVsbA.c") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create another user's directory")
def test_a_cache_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    directory = private_dir(tmp_path)
    os.chown(directory, 65534, 65534)
    with pytest.raises(UnsafeTokenCache, match=r"directory .* belongs to uid 65534, not to you"):
        client(TokenServer(), directory / "tokens.json", jwt_for("alice")).get_fax(1)


def test_a_symlinked_pacing_file_is_neither_read_nor_written_through(tmp_path: Path) -> None:
    directory = private_dir(tmp_path)
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    (directory / "tokens.pacing.json").symlink_to(target)
    server = TokenServer()

    def exhausted(request: Request) -> Response:
        if is_token_request(request):
            return server(request)
        limits = {"X-Rate-Limit-Group": "Light", "X-Rate-Limit-Remaining": "0"}
        return json_response(fax_json(), headers={**limits, "X-Rate-Limit-Window": "60"})

    clock = FakeClock()
    FaxClient(
        SERVER,
        client_id="app",
        client_secret="secret",
        jwt=jwt_for("alice"),
        transport=FunctionTransport(exhausted),
        clock=clock,
        sleep=clock.sleep,
        token_cache=FileTokenCache(directory / "tokens.json", clock=clock),
    ).get_fax(1)  # an exhausted group would be shared: the write must not go through the link
    assert target.read_text() == "{}"
    assert (directory / "tokens.pacing.json").is_symlink()
