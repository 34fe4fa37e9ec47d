"""Saving a downloaded attachment: a safe file name, a path that stays inside the target
directory, an atomic write, and no silent overwrite.

Ids and file names in a download come from the server, so none of them reaches the file system
raw: each is reduced by :func:`~ringfax._filenames.safe_component` to ``[A-Za-z0-9._-]``, and
the final path is checked to lie directly inside the target directory. The body goes to a
temporary file next to the target and is moved into place when complete — with ``os.link``
(which fails when the name exists) unless ``overwrite=True`` — so the target is never
half-written and an existing file is never replaced by accident.
"""

from __future__ import annotations

import contextlib
import email.message
import mimetypes
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ._errors import DownloadError
from ._filenames import safe_component

__all__ = [
    "check_free",
    "choose_target",
    "extension_for",
    "filename_from_disposition",
    "save_atomically",
]

_EXTENSIONS = {"application/pdf": ".pdf", "image/tiff": ".tif", "text/plain": ".txt"}


def extension_for(content_type: str | None) -> str:
    """A file extension for a content type (``.bin`` when unknown)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if not ctype:
        return ".bin"
    ext = _EXTENSIONS.get(ctype) or mimetypes.guess_extension(ctype) or ".bin"
    return "." + safe_component(ext.lstrip("."), fallback="bin")


def filename_from_disposition(value: str | None) -> str | None:
    """The ``filename`` parameter of a ``Content-Disposition`` header, if any."""
    if not value:
        return None
    message = email.message.Message()
    message["Content-Disposition"] = value
    name = message.get_filename()
    return name if isinstance(name, str) and name.strip() else None


def choose_target(
    path: Path,
    message_id: str,
    attachment_id: str,
    *,
    filename: str | None,
    content_type: str | None,
) -> Path:
    """The file to write. ``path`` an existing directory: a name built from the server's data
    (``{message}-{file name}`` when the attachment has a name, else
    ``{message}-{attachment}{ext}``), checked to stay inside it. Otherwise ``path`` itself."""
    if not path.is_dir():
        return path
    message = safe_component(message_id, fallback="message")
    if filename:
        base = filename.replace("\\", "/").rsplit("/", 1)[-1]
        name = safe_component(base, fallback="attachment")
        if not os.path.splitext(name)[1] and content_type:
            name += extension_for(content_type)
        name = safe_component(f"{message}-{name}")
    else:
        attachment = safe_component(attachment_id, fallback="attachment")
        name = safe_component(f"{message}-{attachment}{extension_for(content_type)}")
    root = path.resolve()
    target = root / name
    # defence in depth: the name is one safe component, so this always holds
    if target.parent != root or name in (".", ".."):
        raise DownloadError(
            f"refusing to write {str(target)!r}: outside {str(root)!r}", path=target
        )
    return target


def check_free(target: Path, overwrite: bool) -> None:
    """:class:`DownloadError` when ``target`` exists and ``overwrite`` is False."""
    if not overwrite and os.path.lexists(target):
        raise DownloadError(
            f"{str(target)!r} already exists; not overwriting it (pass overwrite=True, "
            f"CLI: --overwrite, or choose another path)",
            path=target,
        )


def save_atomically(chunks: Iterable[bytes], target: Path, *, overwrite: bool) -> Path:
    """Write ``chunks`` to a temporary file beside ``target``, fsync, then move it into place
    (never replacing an existing ``target`` unless ``overwrite``). Returns ``target``."""
    check_free(target, overwrite)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".ringfax-", suffix=".part")
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
    return target


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
