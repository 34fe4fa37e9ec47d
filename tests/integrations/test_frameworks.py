"""mimewire's form parsing inside real servers: Starlette and FastAPI under uvicorn,
Flask, plain werkzeug and Django under werkzeug's server, each called over 127.0.0.1.

The same bodies go to every framework: browser-like forms must parse to the same fields
and files, hostile ones must be answered 400 or 413 (never 500), policy violations name
the field and the limit, and no spooled file outlives a failed or abandoned upload.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.integrations._bodies import (
    BROWSER_BODIES,
    EXPECTED_FIELDS,
    HOSTILE_BODIES,
    PNG,
    PNG_FILE,
    field,
    file,
    form_body,
)
from tests.integrations.conftest import Served

pytestmark = pytest.mark.network

EMPTY_FILE = ["empty", "", "application/octet-stream", 0, hashlib.sha256(b"").hexdigest()]


def post(served: Served, path: str, body: tuple[str, bytes]) -> requests.Response:
    content_type, data = body
    return requests.post(
        served.url + path, data=data, headers={"Content-Type": content_type}, timeout=60
    )


def leftovers(spool: Path) -> list[str]:
    """Files in the spool directory, and files of this process still open in it (anonymous
    temporary files are unlinked at once but live until closed)."""
    found = [p.name for p in spool.iterdir()]
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(spool)):
            found.append(f"open fd -> {target}")
    return found


def wait_until(condition: object, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("browser", sorted(BROWSER_BODIES))
def test_browser_like_bodies_parse_alike(served: Served, browser: str) -> None:
    answer = post(served, "/form", BROWSER_BODIES[browser])
    assert answer.status_code == 200, answer.text
    parsed = answer.json()
    assert parsed["fields"] == EXPECTED_FIELDS[browser]
    expected_files = [PNG_FILE]
    if browser == "chromium" and served.name != "django":  # Django drops a nameless file
        expected_files.append(EMPTY_FILE)
    assert parsed["files"] == expected_files


@pytest.mark.parametrize("case", sorted(HOSTILE_BODIES))
def test_hostile_bodies_are_answered_400_or_413(served: Served, case: str) -> None:
    body, status = HOSTILE_BODIES[case]
    answer = post(served, "/form", body)
    assert answer.status_code == status, answer.text
    if served.name in {"flask", "werkzeug", "django"}:
        assert answer.json()["error"]  # the integration's JSON, not the framework's page
    else:
        assert answer.text.strip() and "<html" not in answer.text.lower()


def test_ambiguous_field_name_is_a_400_naming_the_parameter(served: Served) -> None:
    answer = post(served, "/form", HOSTILE_BODIES["two name= parameters"][0])
    assert answer.status_code == 400
    assert "duplicate parameter 'name'" in answer.text


def _strict(*parts: tuple[str, bytes]) -> tuple[str, bytes]:
    return form_body("policyB0undary", list(parts))


POLICY_CASES = {
    "allowed": (_strict((field("title"), b"t"), (file("doc", "a.txt", "text/plain"), b"x")), 200),
    "unknown field": (_strict((field("other"), b"x")), 400, "'other'"),
    "field over its own limit": (_strict((field("small"), b"123456789")), 413, "small"),
    "too many fields": (
        _strict((field("title"), b"1"), (field("small"), b"2"), (field("title"), b"3")),
        413,
        "max_fields",
    ),
    "too many files": (
        _strict(
            (file("doc", "a.txt", "text/plain"), b"a"), (file("pic", "b.png", "image/png"), b"b")
        ),
        413,
        "max_files",
    ),
    "file type not allowed": (
        _strict((file("doc", "a.pdf", "application/pdf"), b"%PDF")),
        400,
        "application/pdf",
    ),
    "file too large": (_strict((file("pic", "p.png", "image/png"), PNG * 2)), 413, "max_file_size"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_field_policy(served: Served, case: str) -> None:
    body, status, *named = POLICY_CASES[case]
    answer = post(served, "/strict", body)
    assert answer.status_code == status, answer.text
    for text in named:
        assert text in answer.text
    if status != 200 and served.name in {"flask", "werkzeug", "django"}:
        detail = answer.json()
        assert detail["error"] and (status == 400 or detail["limit"])
    if status != 200 and served.name == "fastapi":
        assert answer.json()["detail"]


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_stream_form_hands_over_each_part(servers: dict[str, Served], framework: str) -> None:
    data = os.urandom(3 << 20)
    body = form_body(
        "streamB0undary", [(field("a"), b"1"), (file("f", "big.bin", "application/x-big"), data)]
    )
    answer = post(servers[framework], "/stream", body)
    assert answer.status_code == 200, answer.text
    sha = hashlib.sha256(data).hexdigest()
    assert answer.json() == {
        "fields": [["a", "1"]],
        "files": [["f", "big.bin", "application/x-big", len(data), sha]],
    }


def test_failed_upload_leaves_no_spooled_file(served: Served) -> None:
    content_type, whole = form_body(
        "failB0undary",
        [(field("a"), b"1"), (file("f", "big.bin", "application/x-big"), b"z" * (3 << 20))],
    )
    truncated = whole[: -len("--failB0undary--\r\n") - 2]  # no close delimiter
    answer = post(served, "/form", (content_type, truncated))
    assert answer.status_code == 400, answer.text
    assert wait_until(lambda: not leftovers(served.spool)), leftovers(served.spool)


def test_client_disconnect_mid_upload_leaves_no_spooled_file(served: Served) -> None:
    """The client sends the headers and 4 MiB of a promised 16 MiB file, then goes away."""
    boundary = "goneB0undary"
    head = f"--{boundary}\r\n{file('f', 'big.bin', 'application/x-big')}\r\n\r\n".encode()
    length = len(head) + (16 << 20) + len(f"\r\n--{boundary}--\r\n")
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(
            f"POST /form HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
            + head
        )
        for _ in range(64):
            client.sendall(b"y" * 65536)
        assert wait_until(lambda: leftovers(served.spool)), "the upload was never spooled"
    assert wait_until(lambda: not leftovers(served.spool)), leftovers(served.spool)


def test_urlencoded_forms_stay_with_the_framework(served: Served) -> None:
    answer = requests.post(served.url + "/form", data={"a": "1", "b": "x y"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"fields": [["a", "1"], ["b", "x y"]], "files": []}


def test_error_answers_are_short_json_or_text(served: Served) -> None:
    answer = post(served, "/strict", _strict((field("small"), b"123456789")))
    assert answer.status_code == 413
    assert len(answer.content) < 300
    if served.name == "starlette":
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.text == "field 'small': field too large (limit field_limits['small']=8)"
    else:
        assert answer.headers["content-type"].startswith("application/json")
        json.loads(answer.text)


def test_real_clients_curl_requests_and_httpx(served: Served, tmp_path: Path) -> None:
    """curl -F, requests' files= and httpx's files= (each client frames the body itself)."""
    import shutil
    import subprocess

    import httpx

    upload = tmp_path / "photo.png"
    upload.write_bytes(PNG)
    expected = {"fields": [["title", "caf\u00e9"]], "files": [PNG_FILE]}
    via_requests = requests.post(
        served.url + "/form",
        data={"title": "caf\u00e9"},
        files={"pic": ("photo.png", PNG, "image/png")},
        timeout=30,
    )
    assert via_requests.json() == expected
    via_httpx = httpx.post(
        served.url + "/form",
        data={"title": "caf\u00e9"},
        files={"pic": ("photo.png", PNG, "image/png")},
        timeout=30,
    )
    assert via_httpx.json() == expected
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    command = ["curl", "-sS", "--max-time", "30", "-F", "title=caf\u00e9"]
    command += ["-F", f"pic=@{upload};type=image/png", served.url + "/form"]
    via_curl = subprocess.run(command, capture_output=True, check=True, timeout=60)
    assert json.loads(via_curl.stdout) == expected


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_stream_form_applies_the_policy_while_streaming(
    servers: dict[str, Served], framework: str
) -> None:
    too_big = form_body("streamB0undary", [(field("a"), b"x" * ((1 << 20) + 1))])
    answer = post(servers[framework], "/stream", too_big)
    assert answer.status_code == 413, answer.text
    assert "max_field_size=1048576" in answer.text
    ambiguous = HOSTILE_BODIES["two name= parameters"][0]
    assert post(servers[framework], "/stream", ambiguous).status_code == 400
