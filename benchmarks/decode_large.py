"""Decode one large part fed in 64 KiB chunks (generated in memory in the child)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _decoders
from ._cases import Case, Lib, Sizes, human_size
from ._common import distinct_part_chunks

_RULE = (
    "Timed: decoding the whole body, payload bytes counted into a null sink. Input: one "
    "form-data file part as separate 64 KiB bytes objects over fresh random data without "
    "'-' (as a socket delivers them; bodies above 64 MiB cycle through 64 MiB of distinct "
    "chunks). Ratios: same-round pairs against the bytes.find scan and each peer, median."
)
_NOTES = (
    "'iterate chunks' is the cost of the Python loop alone. aiohttp "
    "reads an aiohttp.StreamReader fed with flow control. parse() yields a part once it is "
    "complete, spooling bodies above 1 MiB to a temporary file (the benchmark reads it "
    "back); parse_stream() and the Decoder stream. 'mimewire Decoder' is Decoder.feed()."
)


def cases(s: Sizes) -> list[Case]:
    libs = tuple(
        Lib(lib.name, lib.role, lib.baseline, s.email_max, lib.note)
        if lib.max_work is not None
        else lib
        for lib in _decoders.LIBS
    )
    return [
        Case(
            id=f"decode-large-{human_size(size)}",
            title=f"Decode one {human_size(size)} part fed in 64 KiB chunks",
            module=__name__,
            unit="MB/s",
            work=size,
            libs=libs,
            params={"size": size},
            time_limit=max(s.time_limit, 120.0),
            notes=_NOTES,
            rule=_RULE,
        )
        for size in s.large
    ]


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Callable[[], int]:
    size = int(params["size"])
    chunks = distinct_part_chunks(size)
    return _decoders.checked(lib, chunks, ["file"], 1, size)
