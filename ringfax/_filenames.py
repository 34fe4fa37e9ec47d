"""File names and media types: what RingCentral accepts on the wire, what is safe to create on
disk, and the one content type -> extension table.

Two different jobs, kept apart:

* :func:`sanitize_filename` — the name an *outgoing* attachment carries on the wire: no
  directories, and RingCentral's forbidden characters ``& @ # $ % ^ *`` replaced by ``_``.
* :func:`safe_component` — a single path component built from *server-provided* text (message
  ids, attachment ids, attachment file names) before it touches the file system: only
  ``[A-Za-z0-9._-]``, no leading or trailing dot or dash (so never ``.``, ``..``, a hidden file
  or an option-like name), bounded length. :func:`attachment_name` builds the name of a
  received document from it; ``FaxClient.download`` and :class:`~ringfax.Inbox` both use it.
"""

from __future__ import annotations

import mimetypes
import os
import re

from mimewire import MimeWireError, parse_header_params

__all__ = [
    "EXTENSION_FOR_TYPE",
    "MAX_COMPONENT",
    "attachment_name",
    "default_filename",
    "extension_for",
    "filename_from_disposition",
    "safe_component",
    "sanitize_filename",
]

_FORBIDDEN_FILENAME_CHARS = "&@#$%^*"
_FILENAME_TABLE = str.maketrans({c: "_" for c in _FORBIDDEN_FILENAME_CHARS})

MAX_COMPONENT = 120
"""Longest file-name component :func:`safe_component` returns (characters = bytes: ASCII)."""

MAX_ID_COMPONENT = 40
"""Longest part of a document's file name taken from a message or attachment id."""

_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")

EXTENSION_FOR_TYPE = {
    "application/pdf": ".pdf",
    "image/tiff": ".tif",
    "image/tif": ".tif",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "text/xml": ".xml",
    "application/xml": ".xml",
    "application/rtf": ".rtf",
    "text/rtf": ".rtf",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}
"""Content type -> file extension, for naming documents that come without a file name (sent
as bytes, or received): the fax types RingCentral renders and accepts. A TIFF is ``.tif``."""


def sanitize_filename(name: str) -> str:
    """``name`` without directories and with ``& @ # $ % ^ *`` replaced by ``_``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.translate(_FILENAME_TABLE)


def safe_component(text: str, *, fallback: str = "file", limit: int = MAX_COMPONENT) -> str:
    """``text`` reduced to one harmless path component of ``[A-Za-z0-9._-]``.

    Every run of other characters (``/``, ``\\``, spaces, NUL, non-ASCII, ...) becomes ``_``;
    leading and trailing dots, dashes and underscores are dropped (no ``..``, no hidden files,
    no option-like names); the result keeps its extension when cut to ``limit`` characters.
    An empty result becomes ``fallback``.
    """
    cleaned = _UNSAFE_RE.sub("_", text).strip("._-")
    if len(cleaned) > limit:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            cleaned = stem[: limit - len(ext) - 1] + "." + ext
        else:
            cleaned = cleaned[:limit]
    return cleaned or fallback


def extension_for(content_type: str | None) -> str:
    """A file extension for a content type: :data:`EXTENSION_FOR_TYPE`, else the platform's
    guess, else ``.bin``."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if not ctype:
        return ".bin"
    ext = EXTENSION_FOR_TYPE.get(ctype) or mimetypes.guess_extension(ctype) or ".bin"
    return "." + safe_component(ext.lstrip("."), fallback="bin")


def attachment_name(
    message_id: str, attachment_id: str, *, filename: str | None, content_type: str | None
) -> str:
    """The file name of a received document: ``{message id}-{file name}`` when it has a name
    (an extension from the content type added when the name has none), else
    ``{message id}-{attachment id}{extension}``; always one :func:`safe_component`."""
    message = safe_component(message_id, fallback="fax", limit=MAX_ID_COMPONENT)
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    own = safe_component(base, fallback="")
    if own:
        if not os.path.splitext(own)[1] and content_type:
            own += extension_for(content_type)
        return safe_component(f"{message}-{own}")
    attachment = safe_component(attachment_id, fallback="attachment", limit=MAX_ID_COMPONENT)
    return safe_component(f"{message}-{attachment}{extension_for(content_type)}")


def default_filename(index: int, content_type: str | None) -> str | None:
    """A wire file name for unnamed attachment ``index`` (from 0) from its content type
    (``attachment1.pdf``), or None when the type is not in :data:`EXTENSION_FOR_TYPE`."""
    if content_type is None:
        return None
    ext = EXTENSION_FOR_TYPE.get(content_type.split(";")[0].strip().lower())
    return f"attachment{index + 1}{ext}" if ext else None


def filename_from_disposition(value: str | None) -> str | None:
    """The ``filename`` parameter of a ``Content-Disposition`` header (RFC 2231 / 8187
    ``filename*`` decoded), or None."""
    if not value:
        return None
    try:
        _, params = parse_header_params(value, lenient=True)
    except MimeWireError:
        return None
    name = params.get("filename")
    return name if name and name.strip() else None
