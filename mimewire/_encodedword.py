"""RFC 2047 encoded words in a parameter value: ``filename="=?utf-8?B?0L/RgNC4LnR4dA==?="``.

RFC 2047 §5 forbids encoded words inside a quoted-string, yet mail clients (and some HTTP
clients copying them) still send file names that way, and the stdlib ``email`` package
decodes them. :func:`decode_encoded_words` decodes a value only when it is nothing but
encoded words and whitespace, like the stdlib does for such a value:

* ``B`` (base64, missing ``=`` padding tolerated) and ``Q`` (``_`` is a space, ``=XX`` a
  byte) encodings, in upper or lower case; an RFC 2231 language suffix (``utf-8*en``) is
  dropped; whitespace between adjacent encoded words is dropped (RFC 2047 §6.2). Each word
  is decoded on its own (so a ``utf-16`` word may carry its BOM); only when that fails are
  the bytes of adjacent words in one charset joined, so a character split across two
  words (which RFC 2047 forbids, and the stdlib tolerates) still decodes.
* The charset must be a real text charset (:func:`mimewire._charsets.check_charset`'s rule).

Anything else -- a value mixing plain text and encoded words, bad base64, a bad ``=XX``
escape, an unknown or non-text charset, bytes invalid in the charset, or a decoded text
holding a control character (C0 or DEL, which the quoted value itself could not carry) --
leaves the value exactly as it was sent: a file name is never half-decoded, and decoding
never raises (no ``UnicodeDecodeError`` or ``LookupError`` escapes). No I/O here.

A file name that is itself a valid encoded word (``"=?utf-8?Q?a?="``) reads back decoded: a
known non-round-trip, as with the stdlib.
"""

from __future__ import annotations

import base64
import binascii
import re

from ._charsets import decode_with_charset

__all__ = ["decode_encoded_words"]

# One encoded word: =?charset?B|Q?text?= (no whitespace or "?" inside the fields).
_WORD_PATTERN = r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?="
_WORD = re.compile(_WORD_PATTERN)
# The whole value: encoded words separated (and surrounded) by whitespace. Each word starts
# with "=?" and no field holds "?" or whitespace, so matching cannot backtrack: linear time.
_ONLY_WORDS = re.compile(rf"\s*{_WORD_PATTERN}(?:\s*{_WORD_PATTERN})*\s*")
_Q_ESCAPE = re.compile(r"=([0-9A-Fa-f]{2})")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def _q_bytes(text: str) -> bytes | None:
    """Q-encoded text to bytes; ``None`` for a bad ``=`` escape or a non-ASCII character."""
    if not text.isascii():
        return None
    raw = text.replace("_", " ")
    if raw.count("=") != len(_Q_ESCAPE.findall(raw)):
        return None
    return _Q_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw).encode("latin-1")


def _b_bytes(text: str) -> bytes | None:
    """Base64 text to bytes (padding optional); ``None`` when it is not base64."""
    if len(text) % 4 == 1 or not text.isascii():
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _decode_all(words: list[tuple[str, bytes]]) -> str | None:
    pieces = []
    for charset, data in words:
        decoded = decode_with_charset(data, charset) if charset else None
        if decoded is None:
            return None
        pieces.append(decoded)
    return "".join(pieces)


def decode_encoded_words(value: str) -> str | None:
    """The text of ``value`` when it consists only of RFC 2047 encoded words and
    whitespace; ``None`` when it does not or cannot be decoded (then use it as sent)."""
    if "=?" not in value or _ONLY_WORDS.fullmatch(value) is None:
        return None
    words: list[tuple[str, bytes]] = []
    for match in _WORD.finditer(value):
        charset = match.group(1).partition("*")[0].lower()
        text = match.group(3)
        raw = _b_bytes(text) if match.group(2) in "Bb" else _q_bytes(text)
        if raw is None:
            return None
        words.append((charset, raw))
    result = _decode_all(words)
    if result is None and len(words) > 1:  # a character split over adjacent words
        runs: list[tuple[str, bytes]] = []
        for charset, raw in words:
            if runs and runs[-1][0] == charset:
                runs[-1] = (charset, runs[-1][1] + raw)
            else:
                runs.append((charset, raw))
        result = _decode_all(runs)
    if result is None or _CONTROLS.search(result):
        return None
    return result
