"""Decode a body fed one byte at a time: the per-call cost of every decoder, laid bare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _decoders
from ._cases import Case, Sizes, human_size
from ._common import large_part_chunks

# aiohttp's reader needs a flow-controlled stream and the email parser is linear in calls
# but slow per call: both stay, their times are what a 1-byte sender costs them.
LIBS = tuple(lib for lib in _decoders.LIBS if lib.name != _decoders.ITER)


def cases(s: Sizes) -> list[Case]:
    return [
        Case(
            id="decode-1byte-chunks",
            title=f"Decode one {human_size(s.byte_chunks)} part fed in 1-byte chunks",
            module=__name__,
            unit="MB/s",
            work=s.byte_chunks,
            libs=LIBS,
            params={"size": s.byte_chunks},
            time_limit=s.time_limit,
            notes=(
                "The body is small on purpose: at one call per byte the per-call overhead "
                "is all there is to measure (a trickling or hostile sender). werkzeug's "
                "sans-I/O MultipartDecoder fed 1-byte chunks hands out the CR of the closing "
                "delimiter as payload (one byte too many): the payload check reports that "
                "as an error row."
            ),
            rule=(
                f"Timed: decoding the whole body, payload counted into a null sink. Input: "
                f"one form-data file part of {human_size(s.byte_chunks)} of random bytes "
                "without '-', every byte its own chunk (header block and close delimiter "
                "included). Ratios: same-round pairs against the bytes.find scan (one call "
                "per chunk) and each peer, median."
            ),
        )
    ]


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Callable[[], int]:
    size = int(params["size"])
    body = b"".join(large_part_chunks(size))
    chunks = [body[i : i + 1] for i in range(len(body))]
    return _decoders.checked(lib, chunks, ["file"], 1, size)
