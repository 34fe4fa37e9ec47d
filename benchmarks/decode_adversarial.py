"""Decode a body dense with ``\\r\\n--`` + boundary prefixes vs a benign body of the same size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _decoders
from ._cases import Case, Lib, Sizes, human_size
from ._common import adversarial_payload, large_part_chunks, random_payload

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
            variants=("benign", "adversarial"),
            notes=(
                "The adversarial payload cycles through CRLF '--' + every proper prefix of "
                "the boundary followed by '!', so a decoder keeps meeting partial "
                "delimiters; the benign one is random bytes without '-'. A run that exceeds "
                "the limit is reported as '> limit'."
            ),
            time_limit=s.time_limit,
        )
    ]


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Callable[[], int]:
    size = int(params["size"])
    payload = adversarial_payload() if variant == "adversarial" else random_payload(65536)
    chunks = large_part_chunks(size, payload)
    return _decoders.checked(lib, chunks, ["file"], 1, size)
