"""Decode a body dense with ``\\r\\n--`` + boundary prefixes vs a benign body of the same size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _decoders
from ._cases import Case, Lib, Sizes, human_size
from ._common import adversarial_payload, large_part_chunks, near_delimiter_flood, random_payload

# Same contenders as decode-large, without the size cap (the body is at most 64 MiB).
LIBS = tuple(
    Lib(lib.name, lib.role, lib.baseline) for lib in _decoders.LIBS if lib.name != _decoders.ITER
)


def cases(s: Sizes) -> list[Case]:
    return [
        Case(
            id=f"decode-adversarial-{human_size(s.adversarial)}",
            title=(
                f"Decode {human_size(s.adversarial)} dense with CRLF-- + boundary prefixes "
                f"vs benign (limit {s.time_limit:.0f} s)"
            ),
            module=__name__,
            unit="MB/s",
            work=s.adversarial,
            libs=LIBS,
            params={"size": s.adversarial},
            variants=("benign", "adversarial", "flood-1b"),
            notes=(
                "adversarial: the payload cycles through CRLF '--' + every proper prefix of "
                "the boundary followed by '!', so a decoder keeps meeting partial "
                "delimiters. flood-1b: CRLF '--b' (the delimiter start and the boundary's "
                "first byte) repeated, a near-delimiter every 5 bytes. benign: random bytes "
                "without '-'. A run that exceeds the limit is reported as '> limit'."
            ),
            rule=(
                "Timed: decoding the whole body (one part, payload counted into a null sink). "
                "Input: 64 KiB chunks, the same 64 KiB payload object repeated in all three "
                "variants, all three bodies the same size. Slowdown: variant time / benign "
                "time of the same library in the same round, median."
            ),
            time_limit=s.time_limit,
        )
    ]


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Callable[[], int]:
    size = int(params["size"])
    if variant == "adversarial":
        payload = adversarial_payload()
    elif variant == "flood-1b":
        payload = near_delimiter_flood()
    else:
        payload = random_payload(65536)
    chunks = large_part_chunks(size, payload)
    return _decoders.checked(lib, chunks, ["file"], 1, size)
