"""Files of a data directory: the directory lock, and the one way document bytes are written.

Lock: ``emulator.lock`` in the data directory, held with ``fcntl.flock`` (exclusive,
non-blocking) for as long as the :class:`~ringfax.emulator._store.Store` is open; the holder
writes its pid into it. A second emulator on the same directory (another process, or another
``Emulator`` in the same process) gets :class:`DataDirInUse`. The lock file is never removed
(removing it would let a third emulator lock a fresh file while the first still runs). On
platforms without ``fcntl`` (Windows) there is no lock.

Writes: every document byte goes through :func:`write_file`, which opens the target with an
injectable ``opener`` (tests make it fail at byte K). A full disk (``ENOSPC``/``EDQUOT``)
becomes :class:`StorageFull` (HTTP 507); the partial file is removed first.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from ._errors import ApiError

__all__ = [
    "DataDirInUse",
    "DataDirLock",
    "Opener",
    "StorageFull",
    "is_storage_full",
    "open_new_file",
    "write_file",
]

LOCK_NAME = "emulator.lock"

STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
"""``errno`` values that mean "no space left" (disk full, quota exceeded)."""

_SQLITE_FULL = 13
"""SQLite's ``SQLITE_FULL`` result code ("database or disk is full")."""

Opener = Callable[[Path], BinaryIO]
"""Opens a new file for writing (the seam a test replaces to simulate a full disk)."""


class DataDirInUse(OSError):
    """Another emulator holds the data directory's lock (``errno`` ``EWOULDBLOCK``)."""

    def __init__(self, data_dir: Path, holder_pid: int | None) -> None:
        holder = f"pid {holder_pid}" if holder_pid is not None else "pid unknown"
        super().__init__(
            errno.EWOULDBLOCK,
            f"data directory {data_dir} is in use by another emulator ({holder}); stop that "
            "emulator or choose another data directory",
        )
        self.data_dir = data_dir
        self.holder_pid = holder_pid

    def __str__(self) -> str:
        return str(self.strerror)


class StorageFull(ApiError):
    """507 Insufficient Storage: the file system of the data directory (or of the upload
    spool) is full."""

    def __init__(self, what: str) -> None:
        super().__init__(
            507,
            "EMU-507",
            f"Insufficient storage: no space left for the emulator's files ({what})",
        )


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full: an ``OSError`` with ``ENOSPC``/
    ``EDQUOT``, or SQLite's ``SQLITE_FULL``."""
    if isinstance(exc, OSError):
        return exc.errno in STORAGE_FULL_ERRNOS
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
        if code is not None:
            return bool(code & 0xFF == _SQLITE_FULL)
        return "database or disk is full" in str(exc)
    return False


def open_new_file(path: Path) -> BinaryIO:
    """The default :data:`Opener`: create ``path`` (it must not exist yet)."""
    return open(path, "xb")


def write_file(path: Path, chunks: Iterable[bytes], opener: Opener = open_new_file) -> int:
    """Write ``chunks`` to the new file ``path``; return the byte count.

    Either the whole file is written, or nothing is left at ``path``: on any failure the
    partial file is removed. A full disk raises :class:`StorageFull`."""
    written = 0
    try:
        with opener(path) as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if is_storage_full(exc):
            raise StorageFull(f"writing {path.name}: {os.strerror(errno.ENOSPC)}") from exc
        raise
    return written


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class DataDirLock:
    """The exclusive lock on a data directory (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self._fd: int | None = None
        if sys.platform == "win32":  # pragma: no cover - no flock on Windows
            return
        import fcntl

        fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirInUse(data_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass  # the pid is informative only; the lock is held either way
        self._fd = fd

    def release(self) -> None:
        """Release the lock (closing the descriptor releases the flock); idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
