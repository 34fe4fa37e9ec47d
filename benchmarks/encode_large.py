"""Encode one large file part (read from a cached temp file) into a null sink."""

from __future__ import annotations

import mmap
from collections.abc import Callable
from typing import Any

from ._cases import Case, Lib, Sizes, human_size
from ._common import BOUNDARY, CHUNK, NullAsyncWriter, NullFile, Unavailable

Op = Callable[[], int]
BIG_CHUNK = 1 << 20  # the second chunk size the encoder target is stated for

LIBS = (
    Lib("baseline: file read(64 KiB)", "baseline"),
    Lib("baseline: bytes copy (64 KiB)", "baseline", "baseline: file read(64 KiB)"),
    Lib("mimewire iter", "mimewire", "baseline: file read(64 KiB)"),
    Lib("mimewire reader.read(64 KiB)", "mimewire", "baseline: file read(64 KiB)"),
    Lib("mimewire reader.readinto", "mimewire", "baseline: file read(64 KiB)"),
    Lib("mimewire async iter", "mimewire", "baseline: file read(64 KiB)"),
    Lib("baseline: file read(1 MiB)", "baseline"),
    Lib("mimewire iter (1 MiB chunks)", "mimewire", "baseline: file read(1 MiB)"),
    Lib("httpx MultipartStream", "peer", "baseline: file read(64 KiB)"),
    Lib("requests-toolbelt MultipartEncoder", "peer", "baseline: file read(64 KiB)"),
    Lib("aiohttp MultipartWriter", "peer", "baseline: file read(64 KiB)"),
    Lib("urllib3 encode_multipart_formdata", "peer", "baseline: file read(64 KiB)"),
    Lib(
        "stdlib email generator (base64)",
        "peer",
        "baseline: file read(64 KiB)",
        max_work=256 * 1024 * 1024,
        note="skipped above 256 MiB: builds the whole message in memory (~9x the file)",
    ),
)


def cases(s: Sizes) -> list[Case]:
    out = []
    for size in s.large:
        libs = tuple(
            Lib(lib.name, lib.role, lib.baseline, s.email_max, lib.note)
            if lib.max_work is not None
            else lib
            for lib in LIBS
        )
        out.append(
            Case(
                id=f"encode-large-{human_size(size)}",
                title=f"Encode one {human_size(size)} file part to a null sink",
                module=__name__,
                unit="MB/s",
                work=size,
                libs=libs,
                params={"size": size},
                time_limit=max(s.time_limit, 120.0),
                needs_file=size,
                rule=(
                    "Timed: building the body from the path (stat included) and reading all of "
                    "it into a null sink; the baseline times open() + unbuffered 64 KiB reads "
                    "of the same cached file. Chunks: 64 KiB unless the row says 1 MiB; "
                    "readinto uses one page-aligned 64 KiB buffer. Ratios: same-round pairs "
                    "against the plain read of the same chunk size, median."
                ),
                notes=(
                    "The file is in the page cache; the baseline reads it unbuffered "
                    "(os-level read of 64 KiB into a fresh bytes) and every streaming encoder "
                    "reads it in 64 KiB chunks. urllib3 and the email package need the whole "
                    "file in memory (reading it is part of their time). readinto copies into a "
                    "reused page-aligned 64 KiB mmap buffer. The 1 MiB pair repeats the plain "
                    "read and the mimewire iteration with chunk_size=1 MiB."
                ),
            )
        )
    return out


def _plain_read(path: str, size: int, chunk_size: int = CHUNK) -> Op:
    def op() -> int:
        n = 0
        with open(path, "rb", buffering=0) as f:  # raw reads: the floor
            while chunk := f.read(chunk_size):
                n += len(chunk)
        return n

    return op


def _plain_read_1m(path: str, size: int) -> Op:
    return _plain_read(path, size, BIG_CHUNK)


def _bytes_copy(path: str, size: int) -> Op:
    src = memoryview(bytes(range(256)) * (4 * 1024))  # 1 MiB

    def op() -> int:
        n = 0
        left = size
        while left > 0:
            k = min(left, CHUNK)
            off = n % len(src)
            if off + k > len(src):
                off = 0
            n += len(bytes(src[off : off + k]))
            left -= k
        return n

    return op


def _mimewire_body(path: str, chunk_size: int = CHUNK) -> Any:
    try:
        from mimewire import MultipartBody, Part
    except ImportError as exc:
        raise Unavailable(f"mimewire: {exc}") from exc
    return MultipartBody([Part.file("file", path, filename="big.bin")], chunk_size=chunk_size)


def _mimewire_iter(path: str, size: int, chunk_size: int = CHUNK) -> Op:
    _mimewire_body(path, chunk_size)

    def op() -> int:
        n = 0
        for chunk in _mimewire_body(path, chunk_size):
            n += len(chunk)
        return n

    return op


def _mimewire_iter_1m(path: str, size: int) -> Op:
    return _mimewire_iter(path, size, BIG_CHUNK)


def _mimewire_read(path: str, size: int) -> Op:
    _mimewire_body(path)

    def op() -> int:
        n = 0
        reader = _mimewire_body(path).reader()
        while chunk := reader.read(CHUNK):
            n += len(chunk)
        return n

    return op


def _mimewire_readinto(path: str, size: int) -> Op:
    _mimewire_body(path)
    buf = mmap.mmap(-1, CHUNK)  # page-aligned (see docs/benchmarks.md)

    def op() -> int:
        n = 0
        reader = _mimewire_body(path).reader()
        while k := reader.readinto(buf):
            n += k
        return n

    return op


def _mimewire_async(path: str, size: int) -> Op:
    import asyncio

    _mimewire_body(path)

    async def go() -> int:
        n = 0
        async for chunk in _mimewire_body(path):
            n += len(chunk)
        return n

    return lambda: asyncio.run(go())


def _httpx(path: str, size: int) -> Op:
    try:
        from httpx._multipart import MultipartStream
    except ImportError as exc:
        raise Unavailable(f"httpx: {exc}") from exc

    def op() -> int:
        n = 0
        with open(path, "rb") as f:
            stream = MultipartStream(
                data={},
                files={"file": ("big.bin", f, "application/octet-stream")},
                boundary=BOUNDARY.encode(),
            )
            for chunk in stream:
                n += len(chunk)
        return n

    return op


def _toolbelt(path: str, size: int) -> Op:
    try:
        from requests_toolbelt import MultipartEncoder
    except ImportError as exc:
        raise Unavailable(f"requests-toolbelt: {exc}") from exc

    def op() -> int:
        n = 0
        with open(path, "rb") as f:
            enc = MultipartEncoder(
                fields={"file": ("big.bin", f, "application/octet-stream")}, boundary=BOUNDARY
            )
            while chunk := enc.read(CHUNK):
                n += len(chunk)
        return n

    return op


def _aiohttp(path: str, size: int) -> Op:
    import asyncio

    try:
        import aiohttp
    except ImportError as exc:
        raise Unavailable(f"aiohttp: {exc}") from exc

    async def go() -> int:
        sink = NullAsyncWriter()
        with open(path, "rb") as f:
            mp = aiohttp.MultipartWriter("form-data", boundary=BOUNDARY)
            part = mp.append(f, {"Content-Type": "application/octet-stream"})
            part.set_content_disposition("form-data", name="file", filename="big.bin")
            await mp.write(sink)
        return sink.n

    return lambda: asyncio.run(go())


def _urllib3(path: str, size: int) -> Op:
    try:
        from urllib3 import encode_multipart_formdata
    except ImportError as exc:
        raise Unavailable(f"urllib3: {exc}") from exc

    def op() -> int:
        with open(path, "rb") as f:
            data = f.read()
        body, _ = encode_multipart_formdata(
            {"file": ("big.bin", data, "application/octet-stream")}, boundary=BOUNDARY
        )
        return len(body)

    return op


def _email(path: str, size: int) -> Op:
    from email.generator import BytesGenerator
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart

    def op() -> int:
        with open(path, "rb") as f:
            data = f.read()
        msg = MIMEMultipart("form-data", boundary=BOUNDARY)
        part = MIMEApplication(data)  # base64: the encoding the email package requires
        part.add_header("Content-Disposition", "form-data", name="file", filename="big.bin")
        msg.attach(part)
        sink = NullFile()
        BytesGenerator(sink, mangle_from_=False).flatten(msg)  # type: ignore[arg-type]
        return sink.n

    return op


_PREPARE: dict[str, Callable[[str, int], Op]] = {
    "baseline: file read(64 KiB)": _plain_read,
    "baseline: bytes copy (64 KiB)": _bytes_copy,
    "mimewire iter": _mimewire_iter,
    "mimewire reader.read(64 KiB)": _mimewire_read,
    "mimewire reader.readinto": _mimewire_readinto,
    "mimewire async iter": _mimewire_async,
    "baseline: file read(1 MiB)": _plain_read_1m,
    "mimewire iter (1 MiB chunks)": _mimewire_iter_1m,
    "httpx MultipartStream": _httpx,
    "requests-toolbelt MultipartEncoder": _toolbelt,
    "aiohttp MultipartWriter": _aiohttp,
    "urllib3 encode_multipart_formdata": _urllib3,
    "stdlib email generator (base64)": _email,
}


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Op:
    size = int(params["size"])
    inner = _PREPARE[lib](params["file"], size)

    def op() -> int:
        n = inner()
        if n < size:
            raise RuntimeError(f"{lib} produced {n} bytes for a {size}-byte file")
        return n

    return op
