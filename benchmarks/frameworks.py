"""mimewire's framework integrations against each framework's own form parser.

``python -m benchmarks.frameworks [--size-mib N] [--rounds N]`` (about 3 minutes with the
defaults on 2 cores). Rules:

* Every comparison runs the two parsers on the same bytes, in the same process, in
  interleaved rounds (A, B, A, B, ...); the table gives the median time of each and the
  median of the per-round ratios (peer time / mimewire time). CPU speed on these machines
  flips between two states ~1.7x apart, so only the ratios carry meaning.
* What is timed is the whole framework call that turns a request body into the form, and
  closing the form: ``await request.form()`` against ``await read_form(request)`` (Starlette,
  an in-process ASGI call whose ``receive`` hands over 64 KiB messages; files spooled past
  1 MiB to temporary files in both), werkzeug's ``FormDataParser.parse`` against
  mimewire's (a ``BytesIO`` body read in werkzeug's 64 KiB buffers), and Django's
  ``MultiPartParser.parse`` against mimewire's (default upload handlers, 64 KiB chunks).
  Building the body is not timed.
* Limits are lifted on both sides where the many-fields case would hit a default
  (werkzeug's and Django's part counts, mimewire's ``max_parts``).
* Memory: a real ``uvicorn`` process serves one route per parser; its peak RSS is reset
  (``/proc/<pid>/clear_refs``) before each upload, and growth is the new peak minus the RSS
  before the upload. The upload streams from the client in 1 MiB writes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1 << 20
CHUNK = 64 * 1024
BOUNDARY = "frameworkBenchB0undary5f1c"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
PAYLOAD = os.urandom(CHUNK).replace(b"-", b"+")  # no delimiter can start inside the data
N_FIELDS, N_FILES, FILE_SIZE = 10_000, 100, 16 * 1024


# bodies ----------------------------------------------------------------------------
def large_body(size: int) -> list[bytes]:
    """One 64 KiB-chunked form: a field and a ``size``-byte file (one shared payload)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    whole, rest = divmod(size, CHUNK)
    return [head, *([PAYLOAD] * whole), PAYLOAD[:rest], f"\r\n--{BOUNDARY}--\r\n".encode()]


def many_body() -> bytes:
    """``N_FIELDS`` short fields and ``N_FILES`` files of ``FILE_SIZE`` bytes."""
    out = bytearray()
    for i in range(N_FIELDS):
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="field{i}"\r\n\r\n'.encode()
        out += f"value {i}\r\n".encode()
    for i in range(N_FILES):
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file{i}"; '
            f'filename="f{i}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += PAYLOAD[:FILE_SIZE] + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out)


def chunked(body: bytes) -> list[bytes]:
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


# Starlette ---------------------------------------------------------------------------
def _request(chunks: list[bytes]) -> Any:
    from starlette.requests import Request

    pending = iter(chunks)
    left = [len(chunks)]

    async def receive() -> dict[str, Any]:
        left[0] -= 1
        return {"type": "http.request", "body": next(pending, b""), "more_body": left[0] > 0}

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", CONTENT_TYPE.encode())],
    }
    return Request(scope, receive)


def starlette_own(chunks: list[bytes], parts: int) -> Callable[[], None]:
    async def run() -> None:
        form = await _request(chunks).form(max_fields=parts, max_files=parts)
        await form.close()

    return lambda: asyncio.run(run())


def starlette_mimewire(chunks: list[bytes], parts: int) -> Callable[[], None]:
    from mimewire import Limits
    from mimewire.integrations import FieldPolicy
    from mimewire.integrations.starlette import read_form

    limits = Limits(max_parts=parts + 1)
    policy = FieldPolicy(max_fields=parts, max_files=parts)

    async def run() -> None:
        form = await read_form(_request(chunks), limits=limits, fields=policy)
        await form.close()

    return lambda: asyncio.run(run())


# werkzeug ----------------------------------------------------------------------------
def _werkzeug_run(parser: Any, body: bytes) -> Callable[[], None]:
    options = {"boundary": BOUNDARY}

    def run() -> None:
        _, form, files = parser.parse(io.BytesIO(body), "multipart/form-data", len(body), options)
        assert len(form) + len(files) == N_FIELDS + N_FILES
        for storage in files.values():
            storage.close()

    return run


def werkzeug_own(body: bytes) -> Callable[[], None]:
    from werkzeug.formparser import FormDataParser

    return _werkzeug_run(FormDataParser(silent=False), body)


def werkzeug_mimewire(body: bytes) -> Callable[[], None]:
    from mimewire import Limits
    from mimewire.integrations import FieldPolicy
    from mimewire.integrations.werkzeug import FormDataParser

    limits = Limits(max_parts=N_FIELDS + N_FILES)
    parser = FormDataParser.configured(limits=limits, fields=FieldPolicy(max_fields=None))
    return _werkzeug_run(parser(), body)


# Django ------------------------------------------------------------------------------
def _django() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DATA_UPLOAD_MAX_NUMBER_FIELDS=None,
            DATA_UPLOAD_MAX_NUMBER_FILES=None,
            DATA_UPLOAD_MAX_MEMORY_SIZE=None,
        )
        django.setup()


def _django_run(parser_class: Any, body: bytes) -> Callable[[], None]:
    from django.core.files.uploadhandler import (
        MemoryFileUploadHandler,
        TemporaryFileUploadHandler,
    )

    meta = {"CONTENT_TYPE": CONTENT_TYPE, "CONTENT_LENGTH": str(len(body))}

    def run() -> None:
        handlers = [MemoryFileUploadHandler(), TemporaryFileUploadHandler()]
        post, files = parser_class(meta, io.BytesIO(body), handlers, "utf-8").parse()
        assert len(post) + len(files) == N_FIELDS + N_FILES

    return run


def django_own(body: bytes) -> Callable[[], None]:
    _django()
    from django.http.multipartparser import MultiPartParser

    return _django_run(MultiPartParser, body)


def django_mimewire(body: bytes) -> Callable[[], None]:
    _django()
    from django.conf import settings

    from mimewire import Limits
    from mimewire.integrations.django import MultiPartParser

    settings.MIMEWIRE_FORM_LIMITS = Limits(max_parts=N_FIELDS + N_FILES)
    return _django_run(MultiPartParser, body)


# timing ------------------------------------------------------------------------------
def interleaved(peer: Callable[[], None], ours: Callable[[], None], rounds: int) -> list[float]:
    """``[peer median s, mimewire median s, median ratio]`` over interleaved rounds."""
    peer_times, our_times, ratios = [], [], []
    for _ in range(rounds):
        timed = []
        for run in (peer, ours):
            gc.collect()
            start = time.perf_counter()
            run()
            timed.append(time.perf_counter() - start)
        peer_times.append(timed[0])
        our_times.append(timed[1])
        ratios.append(timed[0] / timed[1])
    return [statistics.median(peer_times), statistics.median(our_times), statistics.median(ratios)]


# memory under uvicorn --------------------------------------------------------------------
def asgi_app() -> Any:
    """The uvicorn app: ``/own`` (``request.form()``), ``/mimewire`` (``read_form``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from mimewire.integrations.starlette import read_form

    async def answer(form: Any) -> PlainTextResponse:
        upload = form["file"]
        digest = hashlib.sha256()
        while chunk := await upload.read(MIB):
            digest.update(chunk)
        await form.close()
        return PlainTextResponse(digest.hexdigest())

    async def own(request: Request) -> PlainTextResponse:
        return await answer(await request.form())

    async def mimewire(request: Request) -> PlainTextResponse:
        return await answer(await read_form(request))

    return Starlette(
        routes=[
            Route("/own", own, methods=["POST"]),
            Route("/mimewire", mimewire, methods=["POST"]),
        ]
    )


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} missing")


def _upload(port: int, path: str, size: int) -> None:
    chunks = large_body(size)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", CONTENT_TYPE)
    connection.putheader("Content-Length", str(sum(map(len, chunks))))
    connection.endheaders()
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        if len(pending) >= MIB:
            connection.send(bytes(pending))
            pending.clear()
    connection.send(bytes(pending))
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")


def uvicorn_growth(size: int) -> dict[str, int]:
    """Peak RSS growth of a uvicorn process per route for one ``size``-byte upload."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.frameworks:asgi_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(command, cwd=root)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        growth = {}
        for path in ("/own", "/mimewire"):
            _upload(port, path, 2 * MIB)  # warm-up
        for path in ("/own", "/mimewire"):
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")
            before = _status(server.pid, "VmRSS")
            _upload(port, path, size)
            growth[path] = _status(server.pid, "VmHWM") - before
        return growth
    finally:
        server.terminate()
        server.wait(30)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--size-mib", type=int, default=1024, help="large file size")
    options.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = options.parse_args(argv)
    size = args.size_mib * MIB
    print(__doc__)
    big = large_body(size)
    many = many_body()
    many_chunks = chunked(many)
    parts = N_FIELDS + N_FILES
    rows = [
        (
            f"Starlette request.form(), {args.size_mib} MiB file",
            interleaved(starlette_own(big, 10), starlette_mimewire(big, 10), args.rounds),
            3.0,
        ),
        (
            f"Starlette request.form(), {N_FIELDS:,} fields + {N_FILES} files",
            interleaved(
                starlette_own(many_chunks, parts),
                starlette_mimewire(many_chunks, parts),
                args.rounds,
            ),
            None,
        ),
        (
            f"werkzeug FormDataParser, {N_FIELDS:,} fields + {N_FILES} files",
            interleaved(werkzeug_own(many), werkzeug_mimewire(many), args.rounds),
            3.0,
        ),
        (
            f"Django MultiPartParser, {N_FIELDS:,} fields + {N_FILES} files",
            interleaved(django_own(many), django_mimewire(many), args.rounds),
            3.0,
        ),
    ]
    print(f"{'case':<58} {'own (s)':>9} {'mimewire (s)':>13} {'ratio':>7} {'goal':>6}")
    for title, (own, ours, ratio), goal in rows:
        shown = f">={goal:.0f}x" if goal else "-"
        print(f"{title:<58} {own:>9.3f} {ours:>13.3f} {ratio:>6.2f}x {shown:>6}")
    growth = uvicorn_growth(size)
    print(f"\nuvicorn peak RSS growth for one {args.size_mib} MiB upload (goal < 32 MiB):")
    print(f"  request.form() (python-multipart): {growth['/own'] / MIB:8.1f} MiB")
    print(f"  read_form() (mimewire):            {growth['/mimewire'] / MIB:8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
