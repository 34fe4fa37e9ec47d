"""Shared helpers for the benchmark children: data generation and null sinks."""

from __future__ import annotations

import random
from collections.abc import Iterator

KIB = 1024
MIB = 1024 * 1024
CHUNK = 64 * KIB
# A fixed boundary for the bodies the benchmarks generate (hex-like, no '!' in it).
BOUNDARY = "benchBoundary7f3a9c1e5b2d4a6f8e0c"
BOUNDARY_B = BOUNDARY.encode("ascii")
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


class Unavailable(Exception):
    """A library or feature the case needs is missing (reported as skipped)."""


def random_payload(size: int, seed: int = 1) -> bytes:
    """Random bytes without any ``-``, so ``\\r\\n--`` (a delimiter start) cannot occur."""
    data = random.Random(seed).randbytes(size)
    return data.replace(b"-", b"+")


def write_file(path: str, size: int, block: int = MIB) -> None:
    """Write ``size`` bytes of repeated random data to ``path``."""
    payload = random_payload(block)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, block)
            f.write(payload if n == block else payload[:n])
            left -= n


def large_part_chunks(size: int, payload: bytes | None = None) -> list[bytes]:
    """One form-data file part of ``size`` bytes as 64 KiB chunks.

    The chunk list references one payload object, so building it costs no memory.
    """
    if payload is None:
        payload = random_payload(CHUNK)
    head = (
        b"--" + BOUNDARY_B + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    n, rest = divmod(size, len(payload))
    chunks = [head]
    chunks.extend([payload] * n)
    if rest:
        chunks.append(payload[:rest])
    chunks.append(b"\r\n--" + BOUNDARY_B + b"--\r\n")
    return chunks


DISTINCT_POOL = 64 * MIB
"""decode-large holds at most this much distinct chunk data; larger bodies cycle through it."""


def distinct_part_chunks(size: int) -> list[bytes]:
    """One form-data file part of ``size`` bytes as a socket delivers it: separate 64 KiB
    bytes objects, each over fresh random data (no ``-``), so no decoder reads the same
    cached memory twice. Up to :data:`DISTINCT_POOL` bytes every chunk is its own object;
    a larger body cycles through that pool (64 MiB outruns every CPU cache)."""
    rnd = random.Random(11)
    pool = [
        rnd.randbytes(CHUNK).replace(b"-", b"+")
        for _ in range(min(size, DISTINCT_POOL) // CHUNK or 1)
    ]
    chunks = large_part_chunks(0)[:1]  # the part's header block
    n, rest = divmod(size, CHUNK)
    chunks.extend(pool[i % len(pool)] for i in range(n))
    if rest:
        chunks.append(pool[n % len(pool)][:rest])
    chunks.append(b"\r\n--" + BOUNDARY_B + b"--\r\n")
    return chunks


def near_delimiter_flood(size: int = CHUNK) -> bytes:
    """``\r\n--b`` repeated: a delimiter start plus the boundary's first byte, every 5
    bytes -- the densest run of 1-byte near-delimiters a body can hold."""
    unit = b"\r\n--" + BOUNDARY_B[:1]
    return (unit * (size // len(unit) + 1))[:size]


def adversarial_payload(size: int = CHUNK) -> bytes:
    """A chunk dense with ``\\r\\n--`` + boundary prefixes that never complete a delimiter."""
    pieces = []
    for k in range(len(BOUNDARY_B)):
        pieces.append(b"\r\n--" + BOUNDARY_B[:k] + b"!")
    pieces.append(b"\r\n\r\n-\r\r\n-!")
    unit = b"".join(pieces)
    reps = size // len(unit) + 1
    return (unit * reps)[:size]


def many_fields(n_fields: int) -> list[tuple[str, str]]:
    return [(f"field{i}", f"value-{i}") for i in range(n_fields)]


def many_files(n_files: int, size: int) -> list[tuple[str, str, bytes]]:
    data = random_payload(size, seed=7)
    return [(f"file{i}", f"doc{i}.bin", data) for i in range(n_files)]


def many_body(n_fields: int, n_files: int, file_size: int) -> bytes:
    """A form-data body with many small parts, framed by hand (not by any library)."""
    out = []
    for name, value in many_fields(n_fields):
        out.append(
            b"--" + BOUNDARY_B + b"\r\n"
            b'Content-Disposition: form-data; name="'
            + name.encode()
            + b'"\r\n\r\n'
            + value.encode()
            + b"\r\n"
        )
    for name, filename, data in many_files(n_files, file_size):
        out.append(
            b"--" + BOUNDARY_B + b"\r\n"
            b'Content-Disposition: form-data; name="'
            + name.encode()
            + b'"; filename="'
            + filename.encode()
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + data
            + b"\r\n"
        )
    out.append(b"--" + BOUNDARY_B + b"--\r\n")
    return b"".join(out)


def split_chunks(body: bytes, size: int = CHUNK) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def iter_chunks(chunks: list[bytes]) -> Iterator[bytes]:
    return iter(chunks)


class NullFile:
    """A binary sink that only counts."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        n = len(data)
        self.n += n
        return n

    def flush(self) -> None:
        pass


class NullAsyncWriter:
    """An async sink (aiohttp ``AbstractStreamWriter``-like) that only counts."""

    def __init__(self) -> None:
        self.n = 0

    async def write(self, data: bytes) -> None:
        self.n += len(data)

    async def write_eof(self, chunk: bytes = b"") -> None:
        self.n += len(chunk)

    async def drain(self) -> None:
        pass
