"""Decode a body of many small parts (fields + small files) fed in 64 KiB chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _decoders
from ._cases import Case, Sizes
from ._common import many_body, many_fields, many_files, split_chunks


def cases(s: Sizes) -> list[Case]:
    return [
        Case(
            id="decode-many",
            title=(
                f"Decode {s.n_fields:,} fields + {s.n_files} files of "
                f"{s.file_size // 1024} KiB in 64 KiB chunks (parts/s)"
            ),
            module=__name__,
            unit="parts/s",
            work=s.n_fields + s.n_files,
            libs=tuple(lib for lib in _decoders.LIBS if lib.name != _decoders.ITER),
            params={"n_fields": s.n_fields, "n_files": s.n_files, "file_size": s.file_size},
            notes=(
                "mimewire gets Limits(max_parts=1_000_000) (its default allows 1000 parts; "
                "the peers have no part limit by default); streaming-form-data has every "
                "field name registered (it skips unregistered fields)."
            ),
            time_limit=s.time_limit,
            rule=(
                "Timed: decoding the whole body, every part's payload counted into a null "
                "sink. Input: one hand-framed body (no library built it) cut into 64 KiB "
                "slices (separate bytes objects). Ratios: same-round pairs against the "
                "bytes.find scan and each peer, median."
            ),
        )
    ]


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Callable[[], int]:
    nf, nfiles, fsize = int(params["n_fields"]), int(params["n_files"]), int(params["file_size"])
    chunks = split_chunks(many_body(nf, nfiles, fsize))
    fields = many_fields(nf)
    files = many_files(nfiles, fsize)
    names = [n for n, _ in fields] + [n for n, _, _ in files]
    payload = sum(len(v.encode()) for _, v in fields) + sum(len(d) for _, _, d in files)
    return _decoders.checked(lib, chunks, names, nf + nfiles, payload)
