"""Incremental Content-Transfer-Encoding codecs (RFC 2045 §6): ``feed(bytes) -> bytes``,
``flush() -> bytes``.

Every codec gives the same total output for every way of splitting its input into
``feed`` calls (the property tests check this). The heavy lifting is done by
:mod:`binascii` on whole chunks; Python code only handles line wrapping and the few bytes
held back across chunk boundaries.

* ``7bit`` (encoder): validates and passes data through; 8-bit bytes, NUL and lines longer
  than 998 octets raise :class:`UsageError` with the offset. Bare CR / LF are allowed.
* ``8bit`` / ``binary``: identity (``feed`` returns its argument, no copy).
* ``base64``: 76-character lines joined by CRLF, no CRLF after the last line.
* ``quoted-printable``: RFC 2045 §6.7; see :class:`QuotedPrintableEncoder`.

This module is the registry (and the identity / 7bit codecs); base64 lives in
:mod:`._base64codec`, quoted-printable in :mod:`._qpcodec`.

Decoders raise :class:`MalformedInput` whose ``offset`` is relative to the start of the
*encoded* part body (the caller rebases it); ``consumed`` says how many encoded bytes were fed.
"""

from __future__ import annotations

from typing import Protocol

from ._base64codec import Base64Decoder, Base64Encoder
from ._errors import UsageError
from ._qpcodec import QuotedPrintableDecoder, QuotedPrintableEncoder

__all__ = [
    "KNOWN_ENCODINGS",
    "Base64Decoder",
    "Base64Encoder",
    "Codec",
    "IdentityCodec",
    "QuotedPrintableDecoder",
    "QuotedPrintableEncoder",
    "SevenBitEncoder",
    "encoded_length",
    "is_identity",
    "make_decoder",
    "make_encoder",
]

KNOWN_ENCODINGS: frozenset[str] = frozenset(
    {"7bit", "8bit", "binary", "base64", "quoted-printable"}
)
_IDENTITY = frozenset({"8bit", "binary"})

_LINE = 76  # RFC 2045 encoded line length limit
_MAX_7BIT_LINE = 998  # RFC 5322 / RFC 2045 §2.7


class Codec(Protocol):
    """An incremental transfer codec."""

    def feed(self, data: bytes) -> bytes:
        """Transform the next chunk; may hold back a few bytes until the next call."""
        ...

    def flush(self) -> bytes:
        """Return whatever was held back; the codec is finished afterwards."""
        ...


def _norm(cte: str | None) -> str:
    return (cte or "").strip().lower()


def is_identity(cte: str | None) -> bool:
    """True when both directions are the identity: no CTE, ``8bit`` or ``binary``.

    ``7bit`` is *not* identity: its encoder validates the data.
    """
    return cte is None or _norm(cte) in _IDENTITY


def encoded_length(cte: str | None, raw_length: int) -> int | None:
    """Exact encoded size of ``raw_length`` bytes, or ``None`` when it depends on the data
    (quoted-printable). Unknown encodings raise :class:`UsageError`."""
    name = _norm(cte) if cte is not None else "binary"
    if raw_length < 0:
        raise UsageError(f"raw_length must be >= 0, got {raw_length}")
    if name in ("7bit", "8bit", "binary"):
        return raw_length
    if name == "base64":
        chars = 4 * ((raw_length + 2) // 3)
        if chars == 0:
            return 0
        return chars + 2 * ((chars + _LINE - 1) // _LINE - 1)
    if name == "quoted-printable":
        return None
    raise UsageError(f"unknown Content-Transfer-Encoding {cte!r}")


# --------------------------------------------------------------------------- identity / 7bit


class IdentityCodec:
    """Passes data through unchanged (no copy)."""

    consumed: int

    def __init__(self) -> None:
        self.consumed = 0

    def feed(self, data: bytes) -> bytes:
        self.consumed += len(data)
        return data

    def flush(self) -> bytes:
        return b""


class SevenBitEncoder:
    """Identity that checks RFC 2045 §2.7 "7bit data": no byte >= 0x80, no NUL, lines of at
    most 998 octets (CRLF excluded). Raises :class:`UsageError` with the input offset."""

    def __init__(self) -> None:
        self.consumed = 0
        self._line = 0  # octets in the current line so far (a trailing CR included)
        self._last_cr = False

    def _fail_long(self, line_start: int) -> None:
        raise UsageError(
            f"line longer than {_MAX_7BIT_LINE} octets at offset "
            f"{line_start + _MAX_7BIT_LINE} in a 7bit part (line starts at offset {line_start})"
        )

    def feed(self, data: bytes) -> bytes:
        raw = data if isinstance(data, (bytes, bytearray)) else bytes(data)
        first = len(raw)
        problem = ""
        if not raw.isascii():
            first = next(i for i, byte in enumerate(raw) if byte >= 0x80)
            problem = f"8-bit byte 0x{raw[first]:02X}"
        nul = raw.find(b"\0", 0, first)
        if nul >= 0:
            first, problem = nul, "NUL byte"
        if problem:
            # A line that is already too long before the bad byte is reported first.
            self._check_lines(raw[:first])
            raise UsageError(f"{problem} at offset {self.consumed} in a 7bit part")
        self._check_lines(raw)
        return data

    def _check_lines(self, raw: bytes | bytearray) -> None:
        base = self.consumed
        start = 0
        n = len(raw)
        while True:
            lf = raw.find(b"\n", start)
            if lf < 0:
                break
            length = self._line + (lf - start)
            prev_cr = raw[lf - 1] == 0x0D if lf > start else self._last_cr
            if length - (1 if prev_cr else 0) > _MAX_7BIT_LINE:
                self._fail_long(base + start - self._line)
            self._line = 0
            self._last_cr = False
            start = lf + 1
        if start < n:
            self._line += n - start
            self._last_cr = raw[-1] == 0x0D
            # 998 octets + a CR that may start the CRLF is the most a line can hold.
            if self._line > _MAX_7BIT_LINE + 1 or (
                self._line == _MAX_7BIT_LINE + 1 and not self._last_cr
            ):
                self._fail_long(base + n - self._line)
        self.consumed = base + n

    def flush(self) -> bytes:
        if self._line > _MAX_7BIT_LINE:
            self._fail_long(self.consumed - self._line)
        return b""


# --------------------------------------------------------------------------- factories


def make_encoder(cte: str, *, binary: bool = True) -> Codec:
    """An encoder for Content-Transfer-Encoding ``cte`` (case-insensitive).

    ``binary`` only matters for quoted-printable (see :class:`QuotedPrintableEncoder`).
    Unknown encodings raise :class:`UsageError`.
    """
    name = _norm(cte)
    if name in _IDENTITY:
        return IdentityCodec()
    if name == "7bit":
        return SevenBitEncoder()
    if name == "base64":
        return Base64Encoder()
    if name == "quoted-printable":
        return QuotedPrintableEncoder(binary=binary)
    raise UsageError(
        f"unknown Content-Transfer-Encoding {cte!r}; known: {', '.join(sorted(KNOWN_ENCODINGS))}"
    )


def make_decoder(cte: str | None, *, strict: bool = False) -> Codec:
    """A decoder for Content-Transfer-Encoding ``cte``: base64 and quoted-printable are
    decoded; ``7bit``/``8bit``/``binary``, ``None`` and unknown encodings pass through."""
    name = _norm(cte)
    if name == "base64":
        return Base64Decoder(strict=strict)
    if name == "quoted-printable":
        return QuotedPrintableDecoder(strict=strict)
    return IdentityCodec()
