"""Spooled part bodies for :func:`parse`: memory first, an anonymous temporary file beyond.

A :class:`Spooler` holds the policy of one request: how many body bytes may stay in memory
(``spool_threshold``, shared by a top-level part and the parts nested in it), where
temporary files go, and the bound on the bytes spooled by the whole request
(``Limits.max_total_size``). Temporary files are anonymous: closing them (or garbage
collection) removes them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

from ._errors import LimitExceeded, UsageError

__all__ = ["SpooledBody", "Spooler"]


class Spooler:
    """Spooling policy and accounting of one :func:`parse` call."""

    __slots__ = ("max_total", "memory", "spool_dir", "threshold", "total")

    def __init__(self, threshold: int, spool_dir: str | None, max_total: int | None) -> None:
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            raise UsageError(f"spool_threshold must be an int >= 0, got {threshold!r}")
        if spool_dir is not None and not isinstance(spool_dir, str):
            raise UsageError(f"spool_dir must be a str or None, not {type(spool_dir).__name__}")
        self.threshold = threshold
        self.spool_dir = spool_dir
        self.max_total = max_total
        self.memory = threshold  # bytes the current top-level part tree may still keep in memory
        self.total = 0  # bytes spooled by the request so far


class SpooledBody:
    """One part body being written, then read back (any number of times) until closed."""

    __slots__ = ("chunks", "file", "size", "spooler")

    def __init__(self, spooler: Spooler) -> None:
        self.spooler = spooler
        self.chunks: list[bytes] = []
        self.file: IO[bytes] | None = None
        self.size = 0

    def write(self, data: bytes) -> None:
        n = len(data)
        spooler = self.spooler
        spooler.total += n
        if spooler.max_total is not None and spooler.total > spooler.max_total:
            raise LimitExceeded(
                "max_total_size",
                spooler.max_total,
                detail="part bodies spooled by parse(), all nesting levels together",
            )
        file = self.file
        if file is None:
            if n <= spooler.memory:
                spooler.memory -= n
                self.chunks.append(data)
                self.size += n
                return
            file = self.file = tempfile.TemporaryFile(dir=spooler.spool_dir)  # noqa: SIM115
            for chunk in self.chunks:
                file.write(chunk)
            spooler.memory += self.size
            self.chunks = []
        file.write(data)
        self.size += n

    def flush(self) -> None:
        """The body is complete."""
        if self.file is not None:
            self.file.flush()

    @property
    def in_memory(self) -> bool:
        return self.file is None

    def read(self) -> bytes:
        file = self.file
        if file is None:
            if len(self.chunks) != 1:
                self.chunks = [b"".join(self.chunks)]
            return self.chunks[0]
        file.seek(0)
        return file.read()

    def iter_bytes(self, chunk_size: int) -> Iterator[bytes]:
        """The body in chunks: the chunks as decoded, or ``chunk_size`` reads of the file."""
        file = self.file
        if file is None:
            yield from list(self.chunks)
            return
        pos = 0
        while pos < self.size:
            if file.closed:
                return
            file.seek(pos)
            data = file.read(min(chunk_size, self.size - pos))
            if not data:
                return
            pos += len(data)
            yield data

    def close(self) -> None:
        self.chunks = []
        if self.file is not None:
            self.file.close()
