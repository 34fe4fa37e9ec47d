"""The README's WSGI and ASGI upload apps, taken from README.md, served by real servers.

Shared by ``tests/test_readme.py`` (one request per app under a stdlib/uvicorn server) and
``tests/interop/test_wsgi_asgi_servers.py`` (the server x client matrix). Every server
listens on 127.0.0.1, port 0; every request has a timeout, so a server that waits for bytes
that never come fails the test instead of hanging it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mimewire import MultipartBody

ROOT = Path(__file__).resolve().parent.parent.parent
README = ROOT / "README.md"
TIMEOUT = 20.0  # seconds, per request
_BLOCK = re.compile(r"(<!-- no-test -->\n)?```python\n(.*?)```", re.S)
WSGI_SIGNATURE = "def app(environ, start_response):"
ASGI_SIGNATURE = "async def app(scope, receive, send):"


def is_app_block(code: str) -> bool:
    return WSGI_SIGNATURE in code or ASGI_SIGNATURE in code


def readme_app_block(signature: str) -> tuple[int, str]:
    """(line, code) of the one README python block defining an app with ``signature``."""
    text = README.read_text(encoding="utf-8")
    found = [
        (text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in _BLOCK.finditer(text)
        if signature in m.group(2)
    ]
    assert len(found) == 1, f"README.md has {len(found)} blocks with {signature!r}"
    return found[0]


def load_app(line: int, code: str) -> dict[str, Any]:
    """Run the block (it defines ``app``); its namespace, ``app`` included."""
    namespace: dict[str, Any] = {"__name__": "readme_app"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
    assert callable(namespace.get("app")), f"README.md:{line} defines no app()"
    return namespace


def cleanup(namespace: dict[str, Any]) -> None:
    upload_dir = namespace.get("UPLOAD_DIR")
    if upload_dir:
        shutil.rmtree(upload_dir, ignore_errors=True)


# --------------------------------------------------------------------------- servers


def _serve_in_thread(serve: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@contextmanager
def wsgiref_server(app: Any) -> Iterator[str]:
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    class Threaded(WSGIServer):
        daemon_threads = True

    server = make_server("127.0.0.1", 0, app, server_class=Threaded, handler_class=Quiet)
    thread = _serve_in_thread(server.serve_forever)
    try:
        yield f"http://127.0.0.1:{server.server_port}/upload"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def werkzeug_server(app: Any) -> Iterator[str]:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = _serve_in_thread(server.serve_forever)
    try:
        yield f"http://127.0.0.1:{server.server_port}/upload"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def waitress_server(app: Any) -> Iterator[str]:
    from waitress import wasyncore
    from waitress.server import create_server

    server: Any = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = _serve_in_thread(server.run)
    try:
        yield f"http://127.0.0.1:{server.effective_port}/upload"
    finally:
        # closed from its own loop thread (closing a socket under its select() from this
        # thread is EBADF there); an empty socket map ends the loop
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(10)
        server.task_dispatcher.shutdown()


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = _serve_in_thread(server.run)
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/upload"
    finally:
        server.should_exit = True
        thread.join(10)


WSGI_SERVERS: dict[str, Callable[[Any], Any]] = {
    "werkzeug": werkzeug_server,
    "waitress": waitress_server,
    "wsgiref": wsgiref_server,
}
ASGI_SERVERS: dict[str, Callable[[Any], Any]] = {"uvicorn": uvicorn_server}


# --------------------------------------------------------------------------- clients


def post_requests(url: str, body: MultipartBody, chunked: bool) -> tuple[int, bytes]:
    import requests

    if chunked:  # an iterator without a length: requests sends Transfer-Encoding: chunked
        response = requests.post(
            url, data=iter(body), headers={"Content-Type": body.content_type}, timeout=TIMEOUT
        )
    else:
        response = requests.post(url, data=body.reader(), headers=body.headers, timeout=TIMEOUT)
    return response.status_code, response.content


def curl_missing() -> str | None:
    """None when curl can be run, else why the curl cells are skipped."""
    if shutil.which("curl") is None:
        return "curl is not installed (apt-get install curl; CI installs it)"
    return None


def post_curl(url: str, body: MultipartBody, chunked: bool) -> tuple[int, bytes]:
    """curl --data-binary with the encoded body (Content-Length, or chunked on request)."""
    with tempfile.TemporaryDirectory(prefix="mw-curl-") as tmp:
        data = Path(tmp) / "body"
        data.write_bytes(b"".join(body))
        command = ["curl", "-sS", "-m", str(int(TIMEOUT)), "-o", "-", "-w", "\n%{http_code}"]
        command += ["-H", f"Content-Type: {body.content_type}", "--data-binary", f"@{data}"]
        if chunked:
            command += ["-H", "Transfer-Encoding: chunked"]
        done = subprocess.run(
            [*command, url], capture_output=True, timeout=TIMEOUT + 10, check=False
        )
    assert done.returncode == 0, f"curl failed: {done.stderr.decode(errors='replace')}"
    payload, _, status = done.stdout.rpartition(b"\n")
    return int(status), payload


def post_curl_form(url: str, fields: list[str], chunked: bool) -> tuple[int, bytes]:
    """curl -F: curl's own multipart/form-data encoder."""
    command = ["curl", "-sS", "-m", str(int(TIMEOUT)), "-o", "-", "-w", "\n%{http_code}"]
    for field in fields:
        command += ["-F", field]
    if chunked:
        command += ["-H", "Transfer-Encoding: chunked"]
    done = subprocess.run(
        [*command, url], capture_output=True, timeout=TIMEOUT + 10, check=False, cwd=ROOT
    )
    assert done.returncode == 0, f"curl failed: {done.stderr.decode(errors='replace')}"
    payload, _, status = done.stdout.rpartition(b"\n")
    return int(status), payload


CLIENTS: dict[str, Callable[[str, MultipartBody, bool], tuple[int, bytes]]] = {
    "requests": post_requests,
    "curl": post_curl,
}
