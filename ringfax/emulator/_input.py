"""Bounded parsing of untrusted request input: JSON bodies and numeric ids.

* JSON: nesting deeper than :data:`MAX_JSON_DEPTH` is refused *before* :func:`json.loads`
  runs (a 100,000-deep ``[[[[...`` body would otherwise end in ``RecursionError``), and any
  decoding failure becomes the caller's RingCentral error (400).
* Charsets: a part's ``charset`` parameter picks the codec for JSON envelopes and form
  fields only when it is a plain text encoding (:data:`TEXT_CHARSETS`); ``punycode`` (whose
  decoder is quadratic: 200 KB took 1.5 s), ``rot13``, ``base64_codec`` and friends are not.
* Ids: message, attachment and original-message ids are SQLite INTEGERs (signed 64 bit). A
  numeric id above 2**63-1 is a 400 ``CMN-101`` naming the parameter (never a 500 from
  SQLite's ``OverflowError``); only ASCII digits count as numeric
  (``int()`` would also take ``"١٢"``, ``"1_0"`` or ``" 7 "``).
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from ._errors import ApiError, cmn101

__all__ = [
    "MAX_ID",
    "MAX_JSON_DEPTH",
    "TEXT_CHARSETS",
    "json_too_deep",
    "load_json",
    "parse_id",
    "text_charset",
]

MAX_JSON_DEPTH = 64
"""Deepest array/object nesting accepted in a JSON request body (fax envelopes need 3)."""

MAX_ID = 2**63 - 1

TEXT_CHARSETS = frozenset(
    {
        "utf-8",
        "utf-8-sig",
        "ascii",
        "iso8859-1",
        "iso8859-15",
        "cp1252",
        "utf-16",
        "utf-16-le",
        "utf-16-be",
        "utf-32",
        "utf-32-le",
        "utf-32-be",
    }
)
"""Codecs (by :func:`codecs.lookup` name) accepted from a request's ``charset`` parameter."""

_ID = re.compile(r"[0-9]+")
# A JSON string (escapes included) or a bracket; strings are skipped as whole tokens so
# brackets inside them do not count. Linear: no nested quantifiers over the same input.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests arrays/objects deeper than ``limit`` (for valid JSON; for
    invalid JSON the answer only needs to be safe, json.loads refuses it anyway)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif tok in ("]", "}"):
            depth -= 1
    return False


def load_json(raw: bytes, error: ApiError, *, charset: str = "utf-8") -> Any:
    """Decode a JSON request body; raise ``error`` for anything unreadable (bad charset or
    encoding, bad syntax, nesting over :data:`MAX_JSON_DEPTH`, numbers too long)."""
    try:
        text = raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise error from None
    if json_too_deep(text):
        raise error
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise error from None


def text_charset(name: str | None, default: str = "utf-8") -> str | None:
    """The codec for a ``charset`` parameter (``default`` when absent), or None when it is
    unknown or not a plain text encoding."""
    if not name:
        return default
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    return codec if codec in TEXT_CHARSETS else None


def parse_id(text: str, parameter: str) -> int | None:
    """A stored-record id from ``text``: the int, None when ``text`` is not a number at all,
    or 400 ``CMN-101`` (``parameter``) when it is a number too large to be an id."""
    if not _ID.fullmatch(text):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > 19 or int(significant) > MAX_ID:
        raise cmn101(parameter, text if len(text) <= 64 else text[:64] + "...")
    return int(significant)
