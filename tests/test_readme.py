"""The README's Python examples run, against real servers on 127.0.0.1.

Every ```python block runs unless the line before it is ``<!-- no-test -->``. Blocks that
post to ``url`` must deliver a multipart body that mimewire decodes into the fields the
snippet sent; the ringfax example runs against the local emulator; the WSGI and ASGI upload
apps answer a real request under wsgiref and uvicorn (the server x client matrix is
``tests/interop/test_wsgi_asgi_servers.py``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import mimewire
from tests.interop._app_servers import (
    ASGI_SIGNATURE,
    cleanup,
    is_app_block,
    load_app,
    post_requests,
    uvicorn_server,
    wsgiref_server,
)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_BLOCK = re.compile(r"(<!-- no-test -->\n)?```python\n(.*?)```", re.S)


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        if match.group(1):
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, match.group(2)))
    return found


class _Capture(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = bytearray(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.server.received.append((dict(self.headers.items()), bytes(body)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def capture() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


BLOCKS = _blocks()


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README.md:{n}" for n, _ in BLOCKS])
def test_readme_example_runs(
    line: int,
    code: str,
    capture: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{capture.server_address[1]}/upload"
    if is_app_block(code):
        _run_app_example(line, code)
        return
    if "sync_faxes" in code:
        _run_ringfax_receive_example(code, monkeypatch, tmp_path)
        return
    if "ringfax" in code:
        _run_ringfax_example(code, monkeypatch, tmp_path)
        return
    monkeypatch.chdir(ROOT)
    exec(compile(code, f"README.md:{line}", "exec"), {"url": url, "__name__": "readme"})
    if "url" not in code:
        return
    received = capture.received  # type: ignore[attr-defined]
    assert len(received) == 1, f"README.md:{line} sent {len(received)} requests"
    headers, body = received[0]
    parts = list(mimewire.parse(body, headers["Content-Type"]))
    assert [p.name for p in parts] == ["note", "doc"]
    assert parts[0].read() == b"hi"
    assert parts[1].read() == README.read_bytes()
    if "Content-Length" in headers:
        assert int(headers["Content-Length"]) == len(body)


def _run_app_example(line: int, code: str) -> None:
    """The upload app answers one request with the fields it received."""
    namespace = load_app(line, code)
    serve = uvicorn_server if ASGI_SIGNATURE in code else wsgiref_server
    body = mimewire.MultipartBody(
        [mimewire.Part.field("note", "hi"), mimewire.Part.file("doc", README)]
    )
    try:
        with serve(namespace["app"]) as url:
            status, payload = post_requests(url, body, chunked=False)
    finally:
        cleanup(namespace)
    assert status == 200, payload
    received = json.loads(payload)
    assert [r["name"] for r in received] == ["note", "doc"]
    assert received[0]["value"] == "hi"
    assert received[1]["size"] == len(README.read_bytes())


def _run_ringfax_example(code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ringfax.emulator import Emulator, EmulatorConfig

    (tmp_path / "contract.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n")
    monkeypatch.chdir(tmp_path)
    config = EmulatorConfig(send_delay=0.2)
    with Emulator(tmp_path / "data", config=config) as emulator:
        monkeypatch.setenv("RC_SERVER_URL", emulator.url)
        monkeypatch.setenv("RC_APP_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("RC_APP_CLIENT_SECRET", emulator.client_secret)
        monkeypatch.setenv("RC_USER_JWT", emulator.jwt)
        exec(compile(code, "README.md (ringfax)", "exec"), {"__name__": "readme"})
        faxes = emulator.store.all_faxes()
        assert len(faxes) == 1


def _run_ringfax_receive_example(
    code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The receive/forward example: a fax arrives, it is saved, marked read and forwarded."""
    from ringfax.emulator import Emulator, EmulatorConfig

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scan = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n"
    with Emulator(tmp_path / "data", config=EmulatorConfig(send_delay=0.2)) as emulator:
        received = emulator.inject_inbound_fax(
            from_number="+14155550100", documents=[("scan.pdf", "application/pdf", scan)]
        )
        monkeypatch.setenv("RC_SERVER_URL", emulator.url)
        monkeypatch.setenv("RC_APP_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("RC_APP_CLIENT_SECRET", emulator.client_secret)
        monkeypatch.setenv("RC_USER_JWT", emulator.jwt)
        exec(compile(code, "README.md (ringfax receive)", "exec"), {"__name__": "readme"})
        saved = sorted((tmp_path / "inbox").iterdir())
        assert [p.read_bytes() for p in saved] == [scan]
        assert saved[0].name.startswith(f"{received['id']}-")
        faxes = {str(f.id): f for f in emulator.store.all_faxes()}
        assert faxes[str(received["id"])].read_status == "Read"
        forwards = [f for f in faxes.values() if f.direction == "Outbound"]
        assert [f.original_id for f in forwards] == [int(received["id"])]
    assert (tmp_path / "cache" / "ringfax" / "tokens.json").stat().st_mode & 0o777 == 0o600
