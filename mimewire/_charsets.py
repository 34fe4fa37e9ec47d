"""Which charset labels mimewire decodes text with: real text encodings only.

One rule, shared by the header parser (RFC 2231/8187 ``param*=charset''...`` values) and
``ParsedPart.text()``: a label names a charset when :func:`codecs.lookup` knows it, its codec
is a text encoding (bytes <-> str; ``base64_codec``, ``zlib``, ``rot13``, ``hex``, ``uu``,
``bz2``, ``quopri`` are not) and it is not one of the codecs that interpret the bytes as
escapes or run in super-linear time (``punycode`` is quadratic, ``idna``,
``unicode_escape``, ``raw_unicode_escape``, ``utf-7``, ``undefined``...).
"""

from __future__ import annotations

import codecs

from ._errors import MalformedInput, UsageError

__all__ = ["check_charset", "decode_with_charset"]

# Text codecs that are still not MIME charsets, by their canonical codecs.lookup() name.
# punycode decodes in quadratic time; the escape codecs turn "\x41" into "A" (an attacker
# can smuggle any character past a filter); utf-7 is a classic XSS/filter-bypass vector;
# "undefined" always raises; "charmap" is a building block, not a label.
NOT_CHARSETS = frozenset(
    {
        "punycode",
        "idna",
        "unicode-escape",
        "raw-unicode-escape",
        "undefined",
        "utf-7",
        "charmap",
    }
)
_MAX_LABEL = 40
_cache: dict[str, str | None] = {}


def _lookup(label: str) -> str | None:
    """The canonical codec name for a charset label, or ``None`` if it is not a charset."""
    try:
        return _cache[label]
    except KeyError:
        pass
    name: str | None = None
    if 0 < len(label) <= _MAX_LABEL and label.isascii() and label.isprintable():
        try:
            info = codecs.lookup(label)
        except (LookupError, ValueError, TypeError):
            info = None
        if (
            info is not None
            and getattr(info, "_is_text_encoding", True)
            and info.name not in NOT_CHARSETS
        ):
            name = info.name
    if len(_cache) < 512:
        _cache[label] = name
    return name


def check_charset(charset: str) -> str:
    """The Python codec name for the text charset ``charset`` (``"UTF-8"`` -> ``"utf-8"``).

    Raises :class:`MalformedInput` (HTTP 400) for unknown labels and for codecs that are not
    text charsets: bytes-to-bytes codecs (``base64_codec``, ``zlib``, ``hex``, ``uu``,
    ``bz2``, ``quopri``), ``rot13``, and ``punycode``, ``idna``, ``unicode_escape``,
    ``raw_unicode_escape``, ``utf-7``, ``undefined``. Surrounding whitespace and quotes
    are ignored. A non-``str`` argument is a :class:`UsageError`.
    """
    if not isinstance(charset, str):
        raise UsageError(f"charset must be a str, not {type(charset).__name__}")
    label = charset.strip().strip('"').strip()
    name = _lookup(label)
    if name is None:
        shown = charset if len(charset) <= 60 else charset[:60] + "..."
        raise MalformedInput(f"charset {shown!r} is not a known text charset")
    return name


def decode_with_charset(raw: bytes, charset: str) -> str | None:
    """``raw`` decoded with ``charset`` (empty: UTF-8); ``None`` when the label is not a
    charset (see :func:`check_charset`) or the bytes are invalid in it. Never raises."""
    name = _lookup(charset.strip() or "utf-8")
    if name is None:
        return None
    try:
        return raw.decode(name)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None
