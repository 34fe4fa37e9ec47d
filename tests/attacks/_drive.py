"""Helpers for the known-attack corpus: drive the sans-I/O decoder and time it.

Timing is only ever used as a *ratio* against a benign body of the same size, measured
with the same code path (min of several repetitions), so the assertions do not depend on
how fast the machine is.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mimewire import (
    NEED_DATA,
    Decoder,
    Limits,
    MultipartEnd,
    PartData,
    PartEnd,
    PartStart,
)

BOUNDARY = "attackB0undary7xYz"
CHUNK = 65536


@dataclass
class Decoded:
    """What a decoder produced: parts as (headers, body bytes), and whether it ended."""

    parts: list[tuple[tuple[tuple[str, str], ...], bytes]] = field(default_factory=list)
    starts: list[PartStart] = field(default_factory=list)
    ended: bool = False
    preamble_size: int | None = None
    epilogue_size: int | None = None


def decode(
    body: bytes,
    boundary: str = BOUNDARY,
    *,
    limits: Limits | None = None,
    chunk: int = CHUNK,
    strict: bool = False,
    decode_transfer: bool = True,
    keep_data: bool = True,
) -> Decoded:
    """Feed ``body`` to a :class:`Decoder` in ``chunk``-sized pieces and collect the parts.

    Errors propagate unchanged (that is what the attack tests assert on).
    """
    dec = Decoder(
        boundary, limits=limits or Limits(), strict=strict, decode_transfer=decode_transfer
    )
    out = Decoded()
    buf: list[bytes] = []
    headers: tuple[tuple[str, str], ...] = ()

    def drain() -> None:
        nonlocal headers
        while True:
            ev = dec.next_event()
            if ev is NEED_DATA:
                return
            if isinstance(ev, PartStart):
                headers = ev.headers
                out.starts.append(ev)
                buf.clear()
            elif isinstance(ev, PartData):
                if keep_data:
                    buf.append(bytes(ev.data))
            elif isinstance(ev, PartEnd):
                out.parts.append((headers, b"".join(buf)))
                buf.clear()
            elif isinstance(ev, MultipartEnd):
                if out.ended:  # the decoder keeps answering MultipartEnd: nothing more to see
                    return
                out.ended = True
            else:  # pragma: no cover - the event union is closed
                raise AssertionError(f"unexpected event {ev!r}")

    view = memoryview(body)
    for start in range(0, len(body), chunk):
        dec.receive_data(bytes(view[start : start + chunk]))
        drain()
    dec.receive_data(b"")
    drain()
    dec.close()
    out.preamble_size = dec.preamble_size
    out.epilogue_size = dec.epilogue_size
    return out


def best_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Minimum wall time of ``repeat`` calls of ``fn`` (exceptions count as completion)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        with contextlib.suppress(Exception):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best


def ratio(attack: Callable[[], object], benign: Callable[[], object], repeat: int = 5) -> float:
    """Time of ``attack`` divided by the time of ``benign`` (each the min of ``repeat``).

    The two are measured in interleaved rounds after one warm-up call each, so a change of
    CPU speed during the measurement affects both. The benign time is floored at 1 ms so
    scheduler noise on a very fast benign run cannot fake a blow-up.
    """
    best_time(benign, 1)
    best_time(attack, 1)
    a = b = float("inf")
    for _ in range(repeat):
        b = min(b, best_time(benign, 1))
        a = min(a, best_time(attack, 1))
    return a / max(b, 1e-3)


def benign_body(size: int, boundary: str = BOUNDARY) -> bytes:
    """A valid one-part form-data body of exactly ``size`` bytes (payload is plain letters)."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    n = size - len(head) - len(tail)
    assert n >= 0
    return head + (b"abcdefghijklmnopqrstuvwxyz0123456789" * (n // 36 + 1))[:n] + tail


def benign_fields(size: int, boundary: str = BOUNDARY) -> bytes:
    """A valid form of many small text fields (a legit event-dense body), ~``size`` bytes."""
    field = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n'
    ).encode()
    return field * max(1, size // len(field)) + f"--{boundary}--\r\n".encode()


def benign_encoded(size: int, cte: str, boundary: str = BOUNDARY) -> bytes:
    """A one-part body of ~``size`` bytes whose payload is pseudo-random binary encoded the
    standard way (base64 in 76-column lines; quoted-printable binary mode, 76-column lines)."""
    import base64
    import hashlib
    import quopri

    raw = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1))
    if cte == "base64":
        enc = base64.encodebytes(raw[: size * 3 // 4]).replace(b"\n", b"\r\n")
    else:
        enc = quopri.encodestring(raw[: size // 3]).replace(b"\n", b"\r\n")
    h = f'Content-Disposition: form-data; name="f"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return one_part(enc[:size], boundary, h.encode())


def one_part(payload: bytes, boundary: str = BOUNDARY, headers: bytes | None = None) -> bytes:
    """A valid one-part body around ``payload``."""
    if headers is None:
        headers = b'Content-Disposition: form-data; name="f"\r\n'
    return (
        f"--{boundary}\r\n".encode()
        + headers
        + b"\r\n"
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
