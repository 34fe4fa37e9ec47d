"""Real multipart servers on 127.0.0.1 for the interop matrix, plus in-process oracles.

Every server answers ``POST /echo`` with JSON: a list of
``[name, filename, content_type, base64(data)]`` in the order the server reports the parts
(``null`` where the server has no such notion). ``ordered`` says whether that order is the
wire order (werkzeug and Starlette group files and fields separately).
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import email.utils
import io
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = tuple[str | None, str | None, str | None, bytes]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def rows_from_json(payload: list[list[Any]]) -> list[Row]:
    return [(n, f, ct, base64.b64decode(d)) for n, f, ct, d in payload]


@dataclass
class Server:
    name: str
    url: str
    ordered: bool
    mixed: bool  # parses multipart/mixed too
    cte: bool = False  # decodes Content-Transfer-Encoding base64 / quoted-printable


# --------------------------------------------------------------------------- werkzeug / Flask


@contextmanager
def werkzeug_server() -> Iterator[Server]:
    from flask import Flask, jsonify, request
    from werkzeug.serving import make_server

    app = Flask("interop")
    app.config["MAX_FORM_PARTS"] = 10_000

    @app.post("/echo")
    def echo() -> Any:
        request.max_form_memory_size = 64 << 20
        out: list[list[Any]] = []
        for name, value in request.form.items(multi=True):
            out.append([name, None, None, _b64(value.encode("utf-8"))])
        for name, fs in request.files.items(multi=True):
            out.append([name, fs.filename, fs.content_type, _b64(fs.read())])
        return jsonify(out)

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield Server("werkzeug", f"http://127.0.0.1:{srv.server_port}/echo", False, False)
    finally:
        srv.shutdown()
        t.join(5)


# --------------------------------------------------------------------------- Starlette / uvicorn


@contextmanager
def starlette_server() -> Iterator[Server]:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.datastructures import UploadFile
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def echo(request: Request) -> JSONResponse:
        out: list[list[Any]] = []
        async with request.form(max_files=10_000, max_fields=10_000) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    out.append([name, value.filename, value.content_type, _b64(data)])
                else:
                    out.append([name, None, None, _b64(value.encode("utf-8"))])
        return JSONResponse(out)

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Server("starlette", f"http://127.0.0.1:{port}/echo", False, False)
    finally:
        server.should_exit = True
        t.join(10)


# --------------------------------------------------------------------------- aiohttp


@contextmanager
def aiohttp_server() -> Iterator[Server]:
    from aiohttp import BodyPartReader, MultipartReader, web

    async def collect(reader: MultipartReader, out: list[list[Any]]) -> None:
        while True:
            part = await reader.next()
            if part is None:
                return
            if isinstance(part, MultipartReader):
                out.append([None, None, "multipart/*", ""])
                await collect(part, out)
                continue
            assert isinstance(part, BodyPartReader)
            data = await part.read(decode=True)
            ct = part.headers.get("Content-Type")
            out.append([part.name, part.filename, ct, _b64(bytes(data))])

    async def echo(request: web.Request) -> web.Response:
        out: list[list[Any]] = []
        await collect(await request.multipart(), out)
        return web.json_response(out)

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/echo", echo)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        holder["port"] = runner.addresses[0][1]
        holder["runner"] = runner
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    if not started.wait(20):
        raise RuntimeError("aiohttp server did not start")
    try:
        yield Server("aiohttp", f"http://127.0.0.1:{holder['port']}/echo", True, True, cte=True)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)


# --------------------------------------------------------------------------- Go mime/multipart

GO_SOURCE = r"""
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
)

func echo(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	out := [][]interface{}{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var name, filename interface{}
		if _, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil {
			if v, ok := params["name"]; ok {
				name = v
			}
			if v, ok := params["filename"]; ok {
				filename = v
			}
		}
		var ct interface{}
		if v := p.Header.Get("Content-Type"); v != "" {
			ct = v
		}
		data, err := io.ReadAll(p)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		b64 := base64.StdEncoding.EncodeToString(data)
		out = append(out, []interface{}{name, filename, ct, b64})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	http.HandleFunc("/echo", echo)
	http.Serve(ln, nil)
}
"""


def go_available() -> str | None:
    """None if Go can be used, else the reason to skip."""
    if shutil.which("go") is None:
        return "Go toolchain not installed (apt-get install golang-go)"
    return None


@contextmanager
def go_server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="mw-go-") as tmp:
        src = Path(tmp) / "main.go"
        src.write_text(GO_SOURCE)
        env = dict(os.environ)
        env.update(
            GOCACHE=str(Path(tmp) / "cache"),
            GOPATH=str(Path(tmp) / "gopath"),
            GO111MODULE="off",
            GOFLAGS="",
            GOTOOLCHAIN="local",
        )
        exe = Path(tmp) / "echo"
        subprocess.run(
            ["go", "build", "-o", str(exe), str(src)],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
        proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline().strip())
            yield Server("go", f"http://127.0.0.1:{port}/echo", True, True)
        finally:
            proc.terminate()
            proc.wait(10)


# --------------------------------------------------------------------------- in-process oracles


def parse_with_multipart(body: bytes, boundary: str) -> list[Row]:
    """The `multipart` package (defnull), classic parser; form-data only."""
    import multipart

    parser = multipart.MultipartParser(
        io.BytesIO(body),
        boundary,
        content_length=len(body),
        part_limit=100_000,
        partsize_limit=1 << 30,
        memory_limit=1 << 30,
        spool_limit=1 << 30,
    )
    rows: list[Row] = []
    for part in parser:
        rows.append((part.name, part.filename, part.content_type or None, part.raw))
    return rows


def parse_with_email(body: bytes, content_type: str) -> list[Row]:
    """The stdlib ``email`` parser (any multipart subtype; nested parts are flattened with a
    ``multipart/*`` marker row like the aiohttp server does)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if msg.defects:
        raise ValueError(f"email parser defects: {msg.defects}")
    rows: list[Row] = []

    def walk(m: Any) -> None:
        for part in m.iter_parts():
            if part.is_multipart():
                rows.append((None, None, "multipart/*", b""))
                walk(part)
                continue
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, tuple):
                name = email.utils.collapse_rfc2231_value(name)
            filename = part.get_filename()
            ct = part.get("Content-Type")
            data = part.get_payload(decode=True)
            rows.append((name, filename, str(ct) if ct is not None else None, data or b""))

    walk(msg)
    return rows


SERVERS: dict[str, Callable[[], Any]] = {
    "werkzeug": werkzeug_server,
    "starlette": starlette_server,
    "aiohttp": aiohttp_server,
    "go": go_server,
}
