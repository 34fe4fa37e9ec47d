"""File names: what RingCentral accepts on the wire, and what is safe to create on disk.

Two different jobs, kept apart:

* :func:`sanitize_filename` — the name an *outgoing* attachment carries on the wire: no
  directories, and RingCentral's forbidden characters ``& @ # $ % ^ *`` replaced by ``_``.
* :func:`safe_component` — a single path component built from *server-provided* text (message
  ids, attachment ids, attachment file names) before it touches the file system: only
  ``[A-Za-z0-9._-]``, no leading dot (so never ``.``, ``..`` or a hidden file), bounded length.
"""

from __future__ import annotations

import re

__all__ = ["MAX_COMPONENT", "safe_component", "sanitize_filename"]

_FORBIDDEN_FILENAME_CHARS = "&@#$%^*"
_FILENAME_TABLE = str.maketrans({c: "_" for c in _FORBIDDEN_FILENAME_CHARS})

MAX_COMPONENT = 120
"""Longest file-name component :func:`safe_component` returns (characters = bytes: ASCII)."""

_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_filename(name: str) -> str:
    """``name`` without directories and with ``& @ # $ % ^ *`` replaced by ``_``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.translate(_FILENAME_TABLE)


def safe_component(text: str, *, fallback: str = "file") -> str:
    """``text`` reduced to one harmless path component of ``[A-Za-z0-9._-]``.

    Every run of other characters (``/``, ``\\``, spaces, NUL, non-ASCII, ...) becomes ``_``;
    leading dots and dashes are dropped (no ``..``, no hidden files, no option-like names); the
    result keeps its extension when cut to :data:`MAX_COMPONENT` characters. Empty results
    become ``fallback``.
    """
    cleaned = _UNSAFE_RE.sub("_", text).lstrip(".-")
    if len(cleaned) > MAX_COMPONENT:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            cleaned = stem[: MAX_COMPONENT - len(ext) - 1] + "." + ext
        else:
            cleaned = cleaned[:MAX_COMPONENT]
    return cleaned or fallback
