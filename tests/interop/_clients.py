"""Real multipart *clients* posting to a loopback capture server.

Each client is told to send a :class:`FormCase` (text fields and files); the capture server
stores the raw request (Content-Type + body, chunked transfer decoded) for mimewire to
decode. Drivers for tools that are not installed raise :class:`Missing` (cell skipped).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Missing(Exception):
    """The client tool is not installed here (CI installs it)."""


@dataclass(frozen=True)
class FileSpec:
    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class FormCase:
    id: str
    fields: tuple[tuple[str, str], ...]
    files: tuple[FileSpec, ...]


TRICKY = bytes(range(256)) * 16 + b"\r\n--\r\n\r\n-- \r\n\n\r" * 64


CASES = [
    FormCase(
        "basic",
        (("a", "1"), ("text", "hello world")),
        (FileSpec("doc", "report.txt", "text/plain", b"line1\r\nline2\r\n"),),
    ),
    FormCase(
        "unicode",
        (("ünï", "välue ✓ 日本"),),
        (FileSpec("up", "résumé ✓.txt", "text/plain", "dätä ✓".encode()),),
    ),
    FormCase(
        "binary",
        (),
        (FileSpec("bin", "blob.bin", "application/octet-stream", TRICKY),),
    ),
    FormCase(
        "empty",
        (("e", ""),),
        (FileSpec("f", "empty.txt", "text/plain", b""),),
    ),
    FormCase(
        "quote",
        (("plain", "v"),),
        (FileSpec("q", 'quo"te.txt', "text/plain", b"q"),),
    ),
]


# --------------------------------------------------------------------------- capture server


@dataclass
class Capture:
    path: str
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class CaptureServer:
    """Stores every POST; ``GET /chromium/<i>`` serves the auto-submitting form of case i,
    and the answer to ``POST /capture/chromium/<i>`` is the form of case i+1."""

    def __init__(self) -> None:
        self.captures: list[Capture] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length", "0"))
                return self.rfile.read(n)

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/chromium/"):
                    i = int(self.path.rsplit("/", 1)[1])
                    self._send(200, chromium_page(i).encode(), "text/html; charset=utf-8")
                else:
                    self._send(404, b"no")

            def do_POST(self) -> None:
                body = self._read_body()
                cap = Capture(
                    self.path,
                    self.headers.get("Content-Type", ""),
                    body,
                    {k: v for k, v in self.headers.items()},
                )
                with outer.cond:
                    outer.captures.append(cap)
                    outer.cond.notify_all()
                if self.path.startswith("/capture/chromium/"):
                    i = int(self.path.rsplit("/", 1)[1]) + 1
                    page = chromium_page(i) if i < len(CASES) else "<html><body>done</body></html>"
                    self._send(200, page.encode(), "text/html; charset=utf-8")
                else:
                    self._send(200, b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, path: str, timeout: float = 30.0) -> Capture:
        with self.cond:
            ok = self.cond.wait_for(
                lambda: any(c.path == path for c in self.captures), timeout=timeout
            )
            if not ok:
                raise TimeoutError(f"no request to {path} within {timeout}s")
            return next(c for c in self.captures if c.path == path)

    def __enter__(self) -> CaptureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- chromium page


def chromium_page(i: int) -> str:
    """A real HTML form for case ``i``: text inputs, and file inputs whose ``files`` are set
    with a DataTransfer of File objects; submitted by ``form.submit()`` on load."""
    case = CASES[i]
    inputs = []
    for k, (name, value) in enumerate(case.fields):
        inputs.append(
            f'<input type="text" id="t{k}" name="{html.escape(name)}" value="{html.escape(value)}">'
        )
    files_js = []
    for k, f in enumerate(case.files):
        inputs.append(f'<input type="file" id="f{k}" name="{html.escape(f.name)}">')
        files_js.append(
            "{"
            f"const bytes = Uint8Array.from(atob({json.dumps(base64.b64encode(f.data).decode())}),"
            " c => c.charCodeAt(0));"
            f"const file = new File([bytes], {json.dumps(f.filename)}, "
            f"{{type: {json.dumps(f.content_type)}}});"
            "const dt = new DataTransfer(); dt.items.add(file);"
            f"document.getElementById('f{k}').files = dt.files;"
            "}"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        f"<form id='form' method='post' enctype='multipart/form-data' "
        f"action='/capture/chromium/{i}'>{''.join(inputs)}</form>"
        "<script>window.addEventListener('load', () => {"
        + "".join(files_js)
        + "document.getElementById('form').submit();});</script></body></html>"
    )


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(server: CaptureServer, timeout: float = 60.0) -> list[Capture]:
    """Load /chromium/0 in headless Chromium; the pages chain through every case."""
    exe = chromium_binary()
    if exe is None:
        raise Missing("chromium not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="mw-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            server.url("/chromium/0"),
        ]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            return [server.wait_for(f"/capture/chromium/{i}", timeout) for i in range(len(CASES))]
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait(10)


# --------------------------------------------------------------------------- python clients


def send_requests(url: str, case: FormCase) -> None:
    import requests

    files = [(f.name, (f.filename, f.data, f.content_type)) for f in case.files]
    r = requests.post(url, data=list(case.fields), files=files, timeout=30)
    r.raise_for_status()


def send_httpx(url: str, case: FormCase) -> None:
    import httpx

    data: dict[str, list[str]] = {}
    for k, v in case.fields:
        data.setdefault(k, []).append(v)
    files = [(f.name, (f.filename, f.data, f.content_type)) for f in case.files]
    if not files:  # httpx only uses multipart when files are given
        raise AssertionError("every case has a file")
    r = httpx.post(url, data=data, files=files, timeout=30)
    r.raise_for_status()


def send_aiohttp(url: str, case: FormCase, *, quote_fields: bool = False) -> None:
    """aiohttp's FormData. ``quote_fields=False`` sends names verbatim (UTF-8, ``\"``);
    aiohttp's default ``True`` percent-encodes every non-token character of names and
    filenames (see KNOWN_CLIENT_BUGS)."""
    import aiohttp

    async def go() -> None:
        form = aiohttp.FormData(quote_fields=quote_fields)
        for k, v in case.fields:
            form.add_field(k, v)
        for f in case.files:
            form.add_field(f.name, f.data, filename=f.filename, content_type=f.content_type)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=form) as resp,
        ):
            resp.raise_for_status()
            await resp.read()

    asyncio.run(go())


def send_urllib3(url: str, case: FormCase) -> None:
    import urllib3

    fields: list[tuple[str, Any]] = list(case.fields)
    fields += [(f.name, (f.filename, f.data, f.content_type)) for f in case.files]
    r = urllib3.request("POST", url, fields=fields, timeout=30)
    assert r.status == 200, r.status


def send_curl(url: str, case: FormCase) -> None:
    exe = shutil.which("curl")
    if exe is None:
        raise Missing("curl not installed (apt-get install curl)")
    with tempfile.TemporaryDirectory(prefix="mw-curl-") as tmp:
        cmd = [exe, "-sS", "--fail", "--noproxy", "*", "-o", os.devnull]
        for k, v in case.fields:
            cmd += ["--form-string", f"{k}={v}"]
        for n, f in enumerate(case.files):
            path = Path(tmp) / f"file{n}"
            path.write_bytes(f.data)
            fname = f.filename.replace("\\", "\\\\").replace('"', '\\"')
            cmd += ["-F", f'{f.name}=@{path};filename="{fname}";type={f.content_type}']
        subprocess.run([*cmd, url], check=True, timeout=30, capture_output=True)


NODE_SCRIPT = r"""
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
(async () => {
  for (const c of cases) {
    const fd = new FormData();
    for (const [k, v] of c.fields) fd.append(k, v);
    for (const f of c.files) {
      const blob = new Blob([Buffer.from(f.data, 'base64')], {type: f.content_type});
      fd.append(f.name, blob, f.filename);
    }
    const r = await fetch(c.url, {method: 'POST', body: fd});
    if (r.status !== 200) throw new Error('status ' + r.status);
    await r.text();
  }
})().catch(e => { console.error(e); process.exit(1); });
"""


def send_node_all(server: CaptureServer) -> list[Capture]:
    """node's built-in fetch + FormData (undici), every case in one node process."""
    exe = shutil.which("node")
    if exe is None:
        raise Missing("node not installed")
    payload = [
        {
            "url": server.url(f"/capture/node/{c.id}"),
            "fields": list(c.fields),
            "files": [
                {
                    "name": f.name,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "data": base64.b64encode(f.data).decode(),
                }
                for f in c.files
            ],
        }
        for c in CASES
    ]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    subprocess.run(
        [exe, "-e", NODE_SCRIPT],
        input=json.dumps(payload),
        text=True,
        check=True,
        timeout=60,
        capture_output=True,
        env=env,
    )
    return [server.wait_for(f"/capture/node/{c.id}") for c in CASES]


def email_generator_body(case: FormCase) -> tuple[str, bytes]:
    """The stdlib ``email`` generator: a multipart/form-data message built with
    ``email.message.EmailMessage`` (RFC 2231 ``filename*`` for non-ASCII names)."""
    from email.message import EmailMessage
    from email.policy import default

    policy = default.clone(linesep="\r\n")
    msg = EmailMessage(policy=policy)
    msg.set_type("multipart/form-data")
    msg.preamble = ""
    for k, v in case.fields:
        sub = EmailMessage(policy=policy)
        sub.set_content(v.encode("utf-8"), "text", "plain", cte="8bit")
        del sub["Content-Type"]
        sub["Content-Disposition"] = "form-data"
        sub.set_param("name", k, header="Content-Disposition")
        msg.attach(sub)
    for f in case.files:
        sub = EmailMessage(policy=policy)
        maintype, subtype = f.content_type.split("/")
        sub.set_content(f.data, maintype, subtype, cte="base64")
        sub["Content-Disposition"] = "form-data"
        sub.set_param("name", f.name, header="Content-Disposition")
        sub.set_param("filename", f.filename, header="Content-Disposition")
        msg.attach(sub)
    raw = msg.as_bytes()
    _head, _, body = raw.partition(b"\r\n\r\n")
    ctype = msg["Content-Type"]
    return str(ctype), body


def send_aiohttp_default(url: str, case: FormCase) -> None:
    send_aiohttp(url, case, quote_fields=True)


PY_CLIENTS: dict[str, Callable[[str, FormCase], None]] = {
    "curl": send_curl,
    "requests": send_requests,
    "httpx": send_httpx,
    "aiohttp": send_aiohttp,
    "aiohttp-default": send_aiohttp_default,
    "urllib3": send_urllib3,
}

# (client, case) -> why that client cannot send what it was told (its bug, not mimewire's)
KNOWN_CLIENT_BUGS = {
    ("aiohttp-default", "unicode"): (
        "aiohttp FormData(quote_fields=True) renders a non-ASCII field name as name*= and "
        "then fails its own `assert 'name=' in Content-Disposition` (AssertionError)"
    ),
}


@contextmanager
def capture_server() -> Iterator[CaptureServer]:
    with CaptureServer() as srv:
        yield srv
