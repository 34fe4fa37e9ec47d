"""Bodies sent by real clients (curl -F, requests, httpx, aiohttp, urllib3, node's fetch +
FormData, the stdlib email generator) to a loopback capture server, generated at test time:
each must decode with mimewire.parse to exactly the parts the client was asked to send."""

from __future__ import annotations

import asyncio
import base64
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from email import generator, policy
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from io import BytesIO
from pathlib import Path

import pytest

from mimewire import parse

pytestmark = [pytest.mark.interop, pytest.mark.network]

FIELD = ("greeting", "hello wörld – ✓")
FILENAME = 'résumé "final" v2.pdf'
FILE_TYPE = "application/pdf"
FILE_DATA = b"%PDF-1.4\r\n--not a boundary\r\n\x00\xff\xfe" + bytes(range(256)) + b"\r\n"

Expected = list[tuple[str | None, str | None, str | None, bytes]]
EXPECTED: Expected = [
    (FIELD[0], None, None, FIELD[1].encode()),
    ("upload", FILENAME, FILE_TYPE, FILE_DATA),
]


class _Capture(http.server.BaseHTTPRequestHandler):
    captured: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.captured.append((self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    captured: list[tuple[str, bytes]] = []
    handler = type("Handler", (_Capture,), {"captured": captured})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/upload", captured
    finally:
        httpd.shutdown()
        httpd.server_close()


def _decoded(
    content_type: str, body: bytes, *, strict: bool = False, decode_transfer: bool | None = None
) -> Expected:
    out: Expected = []
    for part in parse(body, content_type, strict=strict, decode_transfer=decode_transfer):
        with part:
            out.append((part.name, part.filename, part.content_type, part.read()))
    return out


def _check(captured: list[tuple[str, bytes]], expected: Expected = EXPECTED) -> None:
    assert len(captured) == 1
    content_type, body = captured[0]
    assert content_type.startswith("multipart/form-data"), content_type
    assert _decoded(content_type, body) == expected
    assert _decoded(content_type, body, strict=True) == expected
    # and fed byte by byte (small bodies): identical
    chunks = [body[i : i + 1] for i in range(len(body))]
    assert [
        (p.name, p.filename, p.content_type, p.read()) for p in parse(chunks, content_type)
    ] == expected


def test_curl(server: tuple[str, list[tuple[str, bytes]]], tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("the curl binary is not installed")
    url, captured = server
    path = tmp_path / "upload.bin"
    path.write_bytes(FILE_DATA)
    quoted = FILENAME.replace("\\", "\\\\").replace('"', '\\"')
    subprocess.run(
        [
            curl, "-sS", "--fail", "--noproxy", "*", url,
            "-F", f"{FIELD[0]}={FIELD[1]}",
            "-F", f'upload=@{path};type={FILE_TYPE};filename="{quoted}"',
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    _check(captured)


def test_requests(server: tuple[str, list[tuple[str, bytes]]]) -> None:
    requests = pytest.importorskip("requests")
    url, captured = server
    session = requests.Session()
    session.trust_env = False
    response = session.post(
        url, data={FIELD[0]: FIELD[1]}, files={"upload": (FILENAME, FILE_DATA, FILE_TYPE)}
    )
    assert response.status_code == 200
    _check(captured)


def test_httpx(server: tuple[str, list[tuple[str, bytes]]]) -> None:
    httpx = pytest.importorskip("httpx")
    url, captured = server
    with httpx.Client(trust_env=False) as client:
        response = client.post(
            url, data={FIELD[0]: FIELD[1]}, files={"upload": (FILENAME, FILE_DATA, FILE_TYPE)}
        )
    assert response.status_code == 200
    _check(captured)


def test_aiohttp(server: tuple[str, list[tuple[str, bytes]]]) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    url, captured = server

    async def send() -> int:
        form = aiohttp.FormData(quote_fields=False)
        form.add_field(FIELD[0], FIELD[1])
        form.add_field("upload", FILE_DATA, filename=FILENAME, content_type=FILE_TYPE)
        async with aiohttp.ClientSession(trust_env=False) as session:
            async with session.post(url, data=form) as response:
                return response.status

    assert asyncio.run(send()) == 200
    # aiohttp sends a text field with "Content-Type: text/plain; charset=utf-8"
    expected = [(FIELD[0], None, "text/plain", FIELD[1].encode()), EXPECTED[1]]
    _check(captured, expected)


def test_urllib3(server: tuple[str, list[tuple[str, bytes]]]) -> None:
    urllib3 = pytest.importorskip("urllib3")
    url, captured = server
    with urllib3.PoolManager() as pool:
        response = pool.request(
            "POST", url, fields={FIELD[0]: FIELD[1], "upload": (FILENAME, FILE_DATA, FILE_TYPE)}
        )
    assert response.status == 200
    _check(captured)


NODE_SCRIPT = r"""
const [url, field, value, filename, type, hex] = process.argv.slice(1);
const fd = new FormData();
fd.append(field, value);
fd.append("upload", new Blob([Buffer.from(hex, "hex")], { type }), filename);
fetch(url, { method: "POST", body: fd }).then(async (r) => {
  if (r.status !== 200) { process.exit(2); }
}).catch((e) => { console.error(e); process.exit(1); });
"""


def test_node_fetch_formdata(server: tuple[str, list[tuple[str, bytes]]]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("the node binary is not installed")
    url, captured = server
    subprocess.run(
        [node, "-e", NODE_SCRIPT, url, FIELD[0], FIELD[1], FILENAME, FILE_TYPE, FILE_DATA.hex()],
        check=True, capture_output=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "*"},
    )  # fmt: skip
    _check(captured)


def test_stdlib_email_generator() -> None:
    """email.generator writes a MIME multipart the way mail software does (RFC 2231
    ``filename*`` for the non-ASCII name, base64 bodies)."""
    msg = MIMEMultipart("form-data")
    text = MIMEText(FIELD[1], "plain", "utf-8")
    text.add_header("Content-Disposition", "form-data", name=FIELD[0])
    msg.attach(text)
    app = MIMEApplication(FILE_DATA, "pdf")
    app.add_header(
        "Content-Disposition", "form-data", name="upload", filename=("utf-8", "", FILENAME)
    )
    msg.attach(app)
    out = BytesIO()
    generator.BytesGenerator(out, policy=policy.HTTP).flatten(msg)
    raw = out.getvalue()
    head, _, body = raw.partition(b"\r\n\r\n")
    content_type = next(
        line.split(b":", 1)[1].strip().decode()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-type:")
    )
    expected = [(FIELD[0], None, "text/plain", FIELD[1].encode()), EXPECTED[1]]
    # RFC 7578 §4.7: form-data bodies are not transfer-decoded unless asked for
    assert _decoded(content_type, body, decode_transfer=True) == expected
    assert _decoded(content_type, body, strict=True, decode_transfer=True) == expected
    encoded = _decoded(content_type, body)
    assert [base64.b64decode(data) for *_, data in encoded] == [e[3] for e in expected]
    parts = list(parse(body, content_type))
    assert [p.transfer_encoding for p in parts] == ["base64", "base64"]
