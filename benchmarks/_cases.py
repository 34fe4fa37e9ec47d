"""Case and library descriptions shared by the runner and the case modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Lib:
    """One contender in a case.

    ``role``: ``mimewire`` (or ``ringfax``), ``peer`` or ``baseline``. ``baseline``: the name of
    the baseline row this row's ratio is taken against. ``max_work``: skip (with ``note``) when
    the case is bigger than this (memory hogs such as the stdlib ``email`` package at 1 GiB).
    """

    name: str
    role: str
    baseline: str | None = None
    max_work: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Case:
    """One benchmark case: what is measured, on how much data, by whom."""

    id: str
    title: str
    module: str
    unit: str  # "MB/s" or "parts/s"
    work: float  # bytes (MB/s) or parts (parts/s) handled by one operation
    libs: tuple[Lib, ...]
    params: dict[str, Any] = field(default_factory=dict)
    variants: tuple[str, ...] = ("",)
    time_limit: float = 60.0
    inner: int = 5  # at most this many operations per child (while < min_time); fastest counts
    min_time: float = 0.5
    needs_file: int | None = None  # size of the temp file to create, if any
    needs_emulator: bool = False
    notes: str = ""  # printed under the case's table
    rule: str = ""  # printed under the table: what is timed, chunk sizes, what building counts


@dataclass(frozen=True)
class Sizes:
    """Sizes for one mode (full / quick / tiny)."""

    mode: str
    large: tuple[int, ...]
    n_fields: int
    n_files: int
    file_size: int
    codec_size: int
    adversarial: int
    fax: int
    time_limit: float
    min_time: float = 0.5  # a child repeats an operation faster than this (up to 5 times)
    email_max: int = 256 * MIB
    byte_chunks: int = 256 * 1024  # the body decoded in 1-byte chunks


@dataclass
class Run:
    """The outcome of one child process."""

    status: str  # ok | skipped | error | timeout
    seconds: float = 0.0
    rss_peak_mib: float = 0.0
    rss_before_mib: float = 0.0
    reason: str = ""


@dataclass
class Row:
    """All rounds of one (library, variant) in one case."""

    lib: str
    role: str
    variant: str
    baseline: str | None
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.lib, self.variant)

    def done(self) -> bool:
        """Skipped or failed: no further rounds."""
        return any(r.status in ("skipped", "error") for r in self.runs) or (
            len(self.runs) >= 2 and all(r.status == "timeout" for r in self.runs)
        )


def human_size(n: int) -> str:
    if n >= 1 << 30 and n % (1 << 30) == 0:
        return f"{n >> 30}GiB"
    if n >= MIB and n % MIB == 0:
        return f"{n >> 20}MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10}KiB"
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}MB"
    return f"{n}B"
