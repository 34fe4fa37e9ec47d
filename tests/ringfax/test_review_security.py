"""What a hostile or broken server must never make the client do:

1. a server ``nextPage`` link must never carry the bearer token to another host;
2. server-provided ids/file names must never steer a download outside its directory;
3. only 2xx is success: a redirect page is never saved as a fax document;
4. deeply nested (or huge) JSON answers give a typed APIError, never RecursionError.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _scripted_server import (
    SERVER,
    TOKEN_JSON,
    fax_json,
    is_token_request,
    json_response,
    scripted_client,
)

import ringfax
from ringfax import (
    APIError,
    BadRequest,
    FaxClient,
    LinkRefused,
    MessageAttachment,
    Request,
    Response,
    RetryPolicy,
)

HOST = urllib.parse.urlsplit(SERVER).netloc


def make_client(fn: Callable[[Request], Response], **kw: Any) -> FaxClient:
    kw.setdefault("access_token", "secret-token")  # searched for in errors and logs
    return scripted_client(fn, **kw)


def page(records: list[dict[str, Any]], next_uri: str | None) -> Response:
    nav: dict[str, Any] = {}
    if next_uri is not None:
        nav["nextPage"] = {"uri": next_uri}
    return json_response({"records": records, "navigation": nav})


# ------------------------------------------------------------- 1. nextPage


@pytest.mark.parametrize(
    "next_uri",
    [
        "@evil.example/x",
        ".evil.example/x",
        "evil.example/x",
        "//evil.example/x",
        "https://evil.example/x",
        "https://platform.example.test@evil.example/x",
        "https://platform.example.test.evil.example/x",
        "http://platform.example.test/x",  # scheme downgrade: the token would go in clear text
        "https://platform.example.test:8443/x",
        "javascript:alert(1)",
    ],
)
def test_next_page_never_sends_the_token_to_another_host(next_uri: str) -> None:
    seen: list[Request] = []

    def fn(request: Request) -> Response:
        seen.append(request)
        if len(seen) == 1:
            return page([fax_json(1)], next_uri)
        return page([fax_json(2)], None)

    client = make_client(fn)
    try:
        ids = [m.id for m in client.iter_faxes()]
    except LinkRefused as exc:
        assert "refusing to follow navigation.nextPage" in str(exc)
        assert exc.url in str(exc) and "secret-token" not in exc.url
        assert "secret-token" not in str(exc)
        ids = None
    for request in seen:
        parts = urllib.parse.urlsplit(request.url)
        assert (parts.scheme, parts.netloc) == ("https", HOST), request.url
    if ids is not None:  # only a link that resolves onto the server may be followed
        assert ids == ["1", "2"]


def test_next_page_relative_links_resolve_against_the_current_page() -> None:
    seen: list[str] = []

    def fn(request: Request) -> Response:
        seen.append(request.url)
        if len(seen) == 1:
            return page([fax_json(1)], "?page=2")
        if len(seen) == 2:
            return page([fax_json(2)], "/restapi/v1.0/account/~/extension/~/message-store?page=3")
        return page([fax_json(3)], None)

    assert [m.id for m in make_client(fn).iter_faxes(per_page=1)] == ["1", "2", "3"]
    assert seen[1] == SERVER + "/restapi/v1.0/account/~/extension/~/message-store?page=2"
    assert seen[2] == SERVER + "/restapi/v1.0/account/~/extension/~/message-store?page=3"


# ---------------------------------------------------------- 2. download paths

HOSTILE_IDS = [
    "a/../../x",
    "../x",
    "..",
    ".",
    "/etc/passwd",
    "..\\..\\x",
    "x\x00y",
    "-rf",
    "é" * 300,
]


def _all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_download_ids_never_leave_the_target_directory(tmp_path: Path, hostile: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    client = make_client(lambda r: Response(200, {"Content-Type": "application/pdf"}, b"%PDF"))
    written = client.download(hostile, hostile, out)
    assert written.parent == out.resolve()
    assert written.read_bytes() == b"%PDF"
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in written.name)
    assert not written.name.startswith((".", "-"))
    assert len(written.name) <= 130
    assert _all_files(tmp_path) == [written]


def test_download_absolute_id_does_not_escape(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    escape = str(tmp_path / "escaped")  # the old code wrote tmp_path/escaped-6.pdf
    client = make_client(lambda r: Response(200, {"Content-Type": "application/pdf"}, b"%PDF"))
    written = client.download(escape, "6", out)
    assert written.parent == out.resolve()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize(
    "disposition",
    [
        'attachment; filename="../../evil.pdf"',
        'attachment; filename="/tmp/evil.pdf"',
        "attachment; filename*=UTF-8''..%2F..%2Fevil.pdf",
        'attachment; filename=".bashrc"',
    ],
)
def test_download_server_file_names_stay_inside(tmp_path: Path, disposition: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    headers = {"Content-Type": "application/pdf", "Content-Disposition": disposition}
    client = make_client(lambda r: Response(200, headers, b"%PDF"))
    written = client.download("5", "6", out)
    assert written.parent == out.resolve()
    assert not written.name.startswith(".")
    assert _all_files(tmp_path) == [written]
    out2 = tmp_path / "out2"
    out2.mkdir()
    hostile = MessageAttachment(id="7", filename="../../../evil.pdf", content_type="x/y")
    again = client.download("5", hostile, out2)
    assert again.parent == out2.resolve() and again.name == "5-evil.pdf"


# ---------------------------------------------------------------- 3. only 2xx


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_page_is_never_saved_as_the_fax_document(tmp_path: Path, status: int) -> None:
    location = "https://user:PASSWORD@login.example/?access_token=LEAKED&next=/x"
    headers = {"Location": location, "Content-Type": "text/html"}
    client = make_client(lambda r: Response(status, headers, b"<html>Moved</html>"))
    target = tmp_path / "fax.pdf"
    with pytest.raises(APIError) as info:
        client.download("5", "6", target)
    assert isinstance(info.value, ringfax.UnexpectedRedirect)
    assert info.value.status == status
    assert "LEAKED" not in str(info.value) and "PASSWORD" not in str(info.value)
    assert info.value.location is not None and "access_token=***" in info.value.location
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_redirect_is_an_error_for_json_calls_and_is_not_retried() -> None:
    calls: list[Request] = []

    def fn(request: Request) -> Response:
        calls.append(request)
        return Response(302, {"Location": "https://elsewhere.example/"}, b"")

    client = make_client(fn)
    with pytest.raises(ringfax.UnexpectedRedirect, match="unexpected redirect"):
        client.get_fax(1)
    with pytest.raises(ringfax.UnexpectedRedirect):
        client.mark_read(1)
    assert len(calls) == 2


def test_redirect_to_a_fax_post_is_maybe_sent(tmp_path: Path) -> None:
    doc = tmp_path / "a.pdf"
    doc.write_bytes(b"%PDF-1.4")
    client = make_client(lambda r: Response(303, {"Location": "/fax/1"}, b""))
    with pytest.raises(ringfax.FaxMaybeSentError) as info:
        client.send_fax("+16505550100", [doc])
    assert isinstance(info.value.cause, ringfax.UnexpectedRedirect)


def test_token_endpoint_redirect_is_not_a_login() -> None:
    def fn(request: Request) -> Response:
        if is_token_request(request):
            return Response(
                302, {"Location": "https://sso.example/"}, json.dumps(TOKEN_JSON).encode()
            )
        return json_response(fax_json())

    client = make_client(fn, access_token=None, client_id="c", client_secret="s", jwt="j")
    with pytest.raises(APIError) as info:
        client.get_fax(1)
    assert info.value.status == 302


# ------------------------------------------------------------ 4. nested JSON

DEEP = b"[" * 200_000 + b"]" * 200_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_deeply_nested_answer_is_an_api_error(body: bytes) -> None:
    client = make_client(lambda r: Response(200, {"Content-Type": "application/json"}, body))
    with pytest.raises(APIError, match="unreadable JSON"):
        client.get_fax(1)
    with pytest.raises(APIError, match="unreadable JSON"):
        list(client.iter_faxes())
    with pytest.raises(APIError, match="unreadable JSON"):
        client.sync_faxes()


def test_deeply_nested_error_body_keeps_its_status() -> None:
    client = make_client(lambda r: Response(400, {"Content-Type": "application/json"}, DEEP))
    with pytest.raises(BadRequest) as info:
        client.get_fax(1)
    assert info.value.status == 400


def test_deeply_nested_token_answer_is_an_api_error() -> None:
    def fn(request: Request) -> Response:
        return Response(200, {"Content-Type": "application/json"}, DEEP)

    client = make_client(
        fn, access_token=None, client_id="c", client_secret="s", jwt="j", retry=RetryPolicy()
    )
    with pytest.raises(APIError, match="unreadable JSON"):
        client.get_fax(1)


def test_huge_json_answer_is_refused_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ringfax._pipeline.MAX_JSON_ANSWER", 1000)
    big = json.dumps({"records": ["x" * 2000]}).encode()
    client = make_client(lambda r: Response(200, {}, big))
    with pytest.raises(APIError, match=r"unreadable JSON.*larger than 1000 bytes"):
        client.get_fax(1)


def test_huge_answer_over_http_is_not_buffered_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from _scripted_server import Reply, ScriptedServer

    from ringfax import Urllib3Transport

    monkeypatch.setattr("ringfax._pipeline.MAX_JSON_ANSWER", 1000)
    answers = iter([{"records": ["x" * 50_000]}, fax_json(5)])

    def handler(recorded: Any) -> Reply:
        return Reply(200, next(answers), {"Content-Type": "application/json"})

    with ScriptedServer(handler) as srv:
        transport = Urllib3Transport(max_buffered=1000)
        client = FaxClient(srv.url, access_token="t", transport=transport)
        with pytest.raises(APIError, match="larger than 1000 bytes"):
            client.get_fax(1)
        assert client.get_fax(5).id == "5"  # the cut connection was not reused
        transport.close()
