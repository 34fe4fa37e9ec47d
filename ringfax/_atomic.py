"""Where a download goes (:func:`choose_target`) and atomic file writes: readers see the old
content or the new, never a mix, and a file that must not be replaced is never replaced by
accident.

:func:`write_atomically` is the one writer: the bytes go to a private (0600) temporary file in
the target's directory (``.ringfax-*.part``), are flushed to disk, and the file is then moved
into place — renamed over the target (``overwrite=True``), or hard-linked to the new name,
which fails when the name exists (``overwrite=False``). The temporary file is removed on any
failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._errors import DownloadError
from ._filenames import attachment_name

__all__ = [
    "check_free",
    "choose_target",
    "fsync_dir",
    "write_atomically",
    "write_json_atomically",
]

TEMP_PREFIX = ".ringfax-"
TEMP_SUFFIX = ".part"


def check_free(target: Path, overwrite: bool) -> None:
    """:class:`DownloadError` when ``target`` exists and ``overwrite`` is False."""
    if not overwrite and os.path.lexists(target):
        raise DownloadError(
            f"{str(target)!r} already exists; not overwriting it (pass overwrite=True, "
            f"or choose another path)",
            path=target,
            exists=True,
        )


def write_atomically(
    chunks: Iterable[bytes], target: Path, *, overwrite: bool, sync_dir: bool = False
) -> Path:
    """Write ``chunks`` to ``target`` atomically (see the module docstring); returns
    ``target``. ``sync_dir`` also flushes the directory entry (for state that must survive a
    crash, not only a concurrent reader)."""
    check_free(target, overwrite)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(tmp_name, target)
        else:
            _place_new(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if sync_dir:
        fsync_dir(target.parent)
    return target


def write_json_atomically(path: Path, data: Any, *, sync_dir: bool = False) -> None:
    """``data`` as JSON, replacing ``path`` atomically (:func:`write_atomically`)."""
    payload = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
    write_atomically([payload], path, overwrite=True, sync_dir=sync_dir)


def _place_new(tmp_name: str, target: Path) -> None:
    try:
        os.link(tmp_name, target)  # atomic, and fails when target exists
    except FileExistsError:
        check_free(target, False)
        raise
    except OSError:
        # file systems without hard links: check, then rename (a small race remains)
        check_free(target, False)
        os.replace(tmp_name, target)
        return
    os.unlink(tmp_name)


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries to disk (best effort; POSIX only)."""
    if os.name != "posix":  # pragma: no cover
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def choose_target(
    path: Path,
    message_id: str,
    attachment_id: str,
    *,
    filename: str | None,
    content_type: str | None,
) -> Path:
    """The file a download writes. ``path`` an existing directory: :func:`attachment_name`
    inside it (checked to stay inside). Otherwise ``path`` itself."""
    if not path.is_dir():
        return path
    name = attachment_name(message_id, attachment_id, filename=filename, content_type=content_type)
    root = path.resolve()
    target = root / name
    # defence in depth: the name is one safe component, so this always holds
    if target.parent != root or name in (".", ".."):
        raise DownloadError(
            f"refusing to write {str(target)!r}: outside {str(root)!r}", path=target
        )
    return target
