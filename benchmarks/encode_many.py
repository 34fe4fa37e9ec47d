"""Encode many small parts (fields + small files held in memory) into a null sink."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._cases import Case, Lib, Sizes
from ._common import BOUNDARY, BOUNDARY_B, CHUNK, NullAsyncWriter, Unavailable, many_fields
from ._common import many_files as _files

Op = Callable[[], int]
BASE = "baseline: bare framing loop"

LIBS = (
    Lib(BASE, "baseline"),
    Lib("mimewire iter", "mimewire", BASE),
    Lib("mimewire reader.read(64 KiB)", "mimewire", BASE),
    Lib("httpx MultipartStream", "peer", BASE),
    Lib("requests-toolbelt MultipartEncoder", "peer", BASE),
    Lib("aiohttp MultipartWriter", "peer", BASE),
    Lib("urllib3 encode_multipart_formdata", "peer", BASE),
)


def cases(s: Sizes) -> list[Case]:
    return [
        Case(
            id="encode-many",
            title=(
                f"Encode {s.n_fields:,} fields + {s.n_files} files of "
                f"{s.file_size // 1024} KiB (parts/s)"
            ),
            module=__name__,
            unit="parts/s",
            work=s.n_fields + s.n_files,
            libs=LIBS,
            params={"n_fields": s.n_fields, "n_files": s.n_files, "file_size": s.file_size},
            notes=(
                "Building the body (Part objects, dicts, writers) is part of the time, as it "
                "is per request. The baseline is a bare generator that yields each part's "
                "framing and payload: the least a Python encoder has to do."
            ),
            time_limit=s.time_limit,
            rule=(
                "Timed, for every library: building the parts from the same Python lists "
                "(Part objects, dicts, file tuples, writers), then the body, then every byte "
                "of it, into a null sink (iterated, or read(64 KiB) where that is the API). "
                "Files are in-memory bytes of "
                f"{s.file_size // 1024} KiB. Ratios: same-round pairs against the bare "
                "framing loop and each peer, median."
            ),
        )
    ]


def _bare(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Op:
    """The least a Python encoder must do: build each part's framing and yield it."""

    def gen() -> Any:
        dash = b"--" + BOUNDARY_B + b"\r\n"
        for name, value in fields:
            yield dash + b'Content-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
            yield value.encode()
            yield b"\r\n"
        for name, filename, data in files:
            yield (
                dash
                + b'Content-Disposition: form-data; name="'
                + name.encode()
                + b'"; filename="'
                + filename.encode()
                + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            )
            yield data
            yield b"\r\n"
        yield b"--" + BOUNDARY_B + b"--\r\n"

    def op() -> int:
        n = 0
        for chunk in gen():
            n += len(chunk)
        return n

    return op


def _mimewire_parts(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Any:
    try:
        from mimewire import MultipartBody, Part
    except ImportError as exc:
        raise Unavailable(f"mimewire: {exc}") from exc
    parts = [Part.field(name, value) for name, value in fields]
    parts.extend(
        Part(data, name=name, filename=fn, content_type="application/octet-stream")
        for name, fn, data in files
    )
    return MultipartBody(parts)


def _mimewire_iter(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Op:
    _mimewire_parts(fields[:1], files[:1])

    def op() -> int:
        n = 0
        for chunk in _mimewire_parts(fields, files):
            n += len(chunk)
        return n

    return op


def _mimewire_read(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Op:
    _mimewire_parts(fields[:1], files[:1])

    def op() -> int:
        n = 0
        reader = _mimewire_parts(fields, files).reader()
        while chunk := reader.read(CHUNK):
            n += len(chunk)
        return n

    return op


def _httpx(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Op:
    try:
        from httpx._multipart import MultipartStream
    except ImportError as exc:
        raise Unavailable(f"httpx: {exc}") from exc

    def op() -> int:
        stream = MultipartStream(
            data=dict(fields),
            files=[(name, (fn, data, "application/octet-stream")) for name, fn, data in files],
            boundary=BOUNDARY_B,
        )
        n = 0
        for chunk in stream:
            n += len(chunk)
        return n

    return op


def _toolbelt(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Op:
    try:
        from requests_toolbelt import MultipartEncoder
    except ImportError as exc:
        raise Unavailable(f"requests-toolbelt: {exc}") from exc

    def op() -> int:
        all_fields: list[tuple[str, Any]] = list(fields)
        all_fields.extend(
            (name, (fn, data, "application/octet-stream")) for name, fn, data in files
        )
        enc = MultipartEncoder(fields=all_fields, boundary=BOUNDARY)
        n = 0
        while chunk := enc.read(CHUNK):
            n += len(chunk)
        return n

    return op


def _aiohttp(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Op:
    import asyncio

    try:
        import aiohttp
    except ImportError as exc:
        raise Unavailable(f"aiohttp: {exc}") from exc

    async def go() -> int:
        mp = aiohttp.MultipartWriter("form-data", boundary=BOUNDARY)
        for name, value in fields:
            part = mp.append(value)
            part.set_content_disposition("form-data", name=name)
        for name, fn, data in files:
            part = mp.append(data, {"Content-Type": "application/octet-stream"})
            part.set_content_disposition("form-data", name=name, filename=fn)
        sink = NullAsyncWriter()
        await mp.write(sink)
        return sink.n

    return lambda: asyncio.run(go())


def _urllib3(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> Op:
    try:
        from urllib3 import encode_multipart_formdata
    except ImportError as exc:
        raise Unavailable(f"urllib3: {exc}") from exc

    def op() -> int:
        all_fields: list[tuple[str, Any]] = list(fields)
        all_fields.extend(
            (name, (fn, data, "application/octet-stream")) for name, fn, data in files
        )
        body, _ = encode_multipart_formdata(all_fields, boundary=BOUNDARY)
        return len(body)

    return op


_PREPARE: dict[str, Callable[[list[tuple[str, str]], list[tuple[str, str, bytes]]], Op]] = {
    BASE: _bare,
    "mimewire iter": _mimewire_iter,
    "mimewire reader.read(64 KiB)": _mimewire_read,
    "httpx MultipartStream": _httpx,
    "requests-toolbelt MultipartEncoder": _toolbelt,
    "aiohttp MultipartWriter": _aiohttp,
    "urllib3 encode_multipart_formdata": _urllib3,
}


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Op:
    fields = many_fields(int(params["n_fields"]))
    files = _files(int(params["n_files"]), int(params["file_size"]))
    minimum = sum(len(v) for _, v in fields) + sum(len(d) for _, _, d in files)
    inner = _PREPARE[lib](fields, files)

    def op() -> int:
        n = inner()
        if n < minimum:
            raise RuntimeError(f"{lib} produced {n} bytes, expected more than {minimum}")
        return n

    return op
