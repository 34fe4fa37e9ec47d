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

Decoders raise :class:`MalformedInput` whose ``offset`` is relative to the start of the
*encoded* part body (the caller rebases it); ``consumed`` says how many encoded bytes were fed.
"""

from __future__ import annotations

import binascii
import re
from typing import Protocol

from ._errors import MalformedInput, UsageError

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
_B64_RAW_LINE = 57  # raw bytes per 76-character base64 line
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


# --------------------------------------------------------------------------- base64


class Base64Encoder:
    """Base64 with 76-character lines joined by CRLF and no CRLF after the last line.

    Whole lines are encoded from blocks of ``57 * 512`` raw bytes (cache-sized) with
    :func:`binascii.b2a_base64`; fewer than 57 raw bytes are held back between feeds.
    """

    _BLOCK = _B64_RAW_LINE * 512

    def __init__(self) -> None:
        self._pending = b""  # < 57 raw bytes not yet encoded
        self._started = False  # has a line been emitted (next line needs a CRLF first)

    def _block(self, raw: bytes | memoryview) -> bytes:
        """Encode whole lines (a multiple of 57 raw bytes), each preceded by CRLF if needed."""
        enc = binascii.b2a_base64(raw, newline=False)
        lines = [enc[i : i + _LINE] for i in range(0, len(enc), _LINE)]
        if self._started:
            lines.insert(0, b"")
        self._started = True
        return b"\r\n".join(lines)

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        out: list[bytes] = []
        view = memoryview(data)
        if self._pending:
            need = _B64_RAW_LINE - len(self._pending)
            if len(view) < need:
                self._pending += bytes(view)
                return b""
            out.append(self._block(self._pending + bytes(view[:need])))
            self._pending = b""
            view = view[need:]
        whole = len(view) - len(view) % _B64_RAW_LINE
        for start in range(0, whole, self._BLOCK):
            out.append(self._block(view[start : min(start + self._BLOCK, whole)]))
        self._pending = bytes(view[whole:])
        return out[0] if len(out) == 1 else b"".join(out)

    def flush(self) -> bytes:
        if not self._pending:
            return b""
        enc = binascii.b2a_base64(self._pending, newline=False)
        self._pending = b""
        if self._started:
            return b"\r\n" + enc
        self._started = True
        return enc


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_WS = b" \t\r\n"
_B64_INVALID = re.compile(rb"[^A-Za-z0-9+/= \t\r\n]")


class Base64Decoder:
    """Incremental base64 decoder.

    Ignores CR, LF, SPACE and TAB anywhere. Any other byte outside the alphabet raises
    :class:`MalformedInput`; so does misplaced padding (``=`` in the first two positions of
    a quantum, or a pad followed by a non-pad inside the quantum) and a single leftover
    character at the end (it cannot carry a byte).

    ``strict=False`` (default) tolerates a missing final padding (``YQ`` decodes like
    ``YQ==``) and data after a padded quantum (concatenated base64 streams decode one after
    the other). ``strict=True`` rejects both.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.consumed = 0
        self._tail = b""  # < 4 significant chars of an incomplete quantum (may hold '=')
        self._tail_pos: list[int] = []  # their offsets in the encoded stream
        self._finished = False  # strict mode: a padded quantum was seen

    def _raise_invalid(self, data: bytes, base: int) -> None:
        match = _B64_INVALID.search(data)
        assert match is not None
        byte = data[match.start()]
        raise MalformedInput(
            f"invalid byte 0x{byte:02X} ({chr(byte)!r}) in base64 data",
            offset=base + match.start(),
        )

    @staticmethod
    def _positions(data: bytes, base: int, count: int) -> list[int]:
        """Offsets of the last ``count`` non-whitespace bytes of ``data``."""
        found: list[int] = []
        i = len(data) - 1
        while len(found) < count and i >= 0:
            if data[i] not in _B64_WS:
                found.append(base + i)
            i -= 1
        found.reverse()
        return found

    @staticmethod
    def _all_positions(data: bytes, base: int) -> list[int]:
        return [base + i for i, byte in enumerate(data) if byte not in _B64_WS]

    def feed(self, data: bytes) -> bytes:
        base = self.consumed
        self.consumed += len(data)
        clean = bytes(data).translate(None, _B64_WS)
        if not clean:
            return b""
        if clean.translate(None, _B64_ALPHABET + b"="):
            # Decode the valid prefix first, so an earlier padding error wins.
            match = _B64_INVALID.search(bytes(data))
            assert match is not None
            self.consumed = base
            self.feed(bytes(data[: match.start()]))
            self._raise_invalid(bytes(data), base)
        if self._finished:
            pos = self._all_positions(bytes(data), base)[0]
            raise MalformedInput("data after the base64 padding", offset=pos)
        buf = self._tail + clean
        if b"=" not in buf:
            whole = len(buf) - len(buf) % 4
            out = binascii.a2b_base64(buf[:whole]) if whole else b""
            keep = len(buf) - whole
            if keep == 0:
                self._tail_pos = []
            elif keep <= len(clean):
                self._tail_pos = self._positions(bytes(data), base, keep)
            else:  # part of the tail came from an earlier feed
                older = self._tail_pos[len(self._tail_pos) - (keep - len(clean)) :]
                self._tail_pos = older + self._positions(bytes(data), base, len(clean))
            self._tail = buf[whole:]
            return out
        return self._feed_padded(buf, self._tail_pos + self._all_positions(bytes(data), base))

    def _feed_padded(self, buf: bytes, positions: list[int]) -> bytes:
        out: list[bytes] = []
        start = 0
        while True:
            pad = buf.find(b"=", start)
            if pad < 0:
                rest = buf[start:]
                whole = len(rest) - len(rest) % 4
                if whole:
                    out.append(binascii.a2b_base64(rest[:whole]))
                self._tail = rest[whole:]
                self._tail_pos = positions[start + whole :]
                break
            quantum = start + (pad - start) // 4 * 4
            if quantum > start:
                out.append(binascii.a2b_base64(buf[start:quantum]))
            if pad - quantum < 2:
                raise MalformedInput(
                    f"misplaced base64 padding '=' at position {pad - quantum} of a quantum",
                    offset=positions[pad],
                )
            end = quantum + 4
            if end > len(buf):  # the rest of the padding is still to come
                if buf[pad:] != b"=" * (len(buf) - pad):
                    bad = pad + next(i for i, b in enumerate(buf[pad:]) if b != 0x3D)
                    raise MalformedInput("base64 data after padding '='", offset=positions[bad])
                self._tail = buf[quantum:]
                self._tail_pos = positions[quantum:]
                break
            if buf[pad:end] != b"=" * (end - pad):
                bad = pad + next(i for i, b in enumerate(buf[pad:end]) if b != 0x3D)
                raise MalformedInput("base64 data after padding '='", offset=positions[bad])
            out.append(binascii.a2b_base64(buf[quantum:end]))
            start = end
            if self.strict:
                if start < len(buf):
                    raise MalformedInput("data after the base64 padding", offset=positions[start])
                self._finished = True
                self._tail = b""
                self._tail_pos = []
                break
        return b"".join(out)

    def flush(self) -> bytes:
        tail = self._tail
        self._tail = b""
        if not tail:
            return b""
        significant = tail.rstrip(b"=")
        if len(significant) == 1:
            raise MalformedInput(
                "truncated base64 data: a single leftover character cannot encode a byte",
                offset=self._tail_pos[0] if self._tail_pos else self.consumed,
            )
        if self.strict:
            raise MalformedInput("base64 data ends without its final padding", offset=self.consumed)
        return binascii.a2b_base64(significant + b"=" * (4 - len(significant)))


# --------------------------------------------------------------------------- quoted-printable

_QP_SOFT = b"=\r\n"
_WS_BYTES = frozenset(b" \t")


def _qp_escape(raw: bytes) -> bytes:
    """Canonical QP escaping of ``raw`` without line breaks.

    Literal: 33-60, 62-126, SPACE and TAB; everything else (``=``, controls, CR, LF, 8-bit)
    as ``=XX`` with uppercase hex. Whitespace at the end is *not* escaped here (the caller
    decides, knowing what follows). Built on :func:`binascii.b2a_qp`, minus its quirks:
    a sentinel byte stops it from escaping trailing whitespace, its soft line breaks are
    removed and its occasional ``=2E`` (a ``.`` at a line start) is turned back into ``.``.
    """
    if not raw:
        return b""
    enc = binascii.b2a_qp(bytes(raw) + b"x", quotetabs=False, istext=False, header=False)
    enc = enc.replace(b"=\r\n", b"").replace(b"=\n", b"")
    if b"=2E" in enc:
        enc = enc.replace(b"=2E", b".")
    return enc[:-1]


class QuotedPrintableEncoder:
    """Quoted-printable (RFC 2045 §6.7), identical output for every chunking.

    * Encoded lines hold at most 75 characters before the soft break ``=`` (76 with it);
      ``=XX`` triplets are never split. Soft breaks are ``=\\r\\n``.
    * SPACE and TAB are literal except right before a hard line break or at the end of the
      data, where they are encoded (``=20``/``=09``).
    * ``binary=True``: CR and LF are encoded as ``=0D``/``=0A``; any bytes round-trip.
    * ``binary=False`` (text): each CRLF becomes a hard line break; lone CR / LF are still
      encoded, so the bytes round-trip exactly as well.
    * No line break is added after the last line.
    """

    def __init__(self, *, binary: bool = True) -> None:
        self.binary = binary
        self._held = b""  # undecided raw suffix: [SP/TAB][CR] (text) or [SP/TAB] (binary)
        self._line = b""  # encoded characters of the current, unfinished output line

    def _wrap(self, enc: bytes, out: list[bytes]) -> None:
        """Append encoded chars to the current line, emitting every full line."""
        buf = self._line + enc if self._line else enc
        n = len(buf)
        if n <= _LINE - 1:
            self._line = buf
            return
        pos = 0
        lines: list[bytes] = []
        while n - pos > _LINE - 1:
            cut = pos + _LINE - 1
            if buf[cut - 1] == 0x3D:  # "=" right before the cut: keep "=XX" whole
                cut -= 1
            elif buf[cut - 2] == 0x3D:
                cut -= 2
            lines.append(buf[pos:cut])
            pos = cut
        out.append(_QP_SOFT.join(lines) + _QP_SOFT)
        self._line = buf[pos:]

    def _end_line(self, out: list[bytes], hard_break: bool) -> None:
        out.append(self._line)
        self._line = b""
        if hard_break:
            out.append(b"\r\n")

    def _hold(self, data: bytes) -> int:
        """How many trailing bytes of ``data`` cannot be decided yet."""
        k = 0
        if not self.binary and data[-1:] == b"\r":
            k = 1
        if len(data) > k and data[len(data) - k - 1] in _WS_BYTES:
            k += 1
        return k

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        data = self._held + bytes(data) if self._held else bytes(data)
        keep = self._hold(data)
        self._held = data[len(data) - keep :] if keep else b""
        decided = data[: len(data) - keep] if keep else data
        out: list[bytes] = []
        self._encode(decided, out, final=False)
        return b"".join(out)

    def _encode(self, data: bytes, out: list[bytes], *, final: bool) -> None:
        """Encode decided bytes. The whole block is escaped at once; in text mode the
        escaped CRLF (``=0D=0A``, which only a raw CRLF produces) marks the hard breaks."""
        enc = _qp_escape(data)
        segments = [enc] if self.binary else enc.split(b"=0D=0A")
        last = len(segments) - 1
        for index, segment in enumerate(segments):
            if index < last or final:
                # The segment ends a line: encode its trailing SPACE / TAB.
                if segment[-1:] == b" ":
                    segment = segment[:-1] + b"=20"
                elif segment[-1:] == b"\t":
                    segment = segment[:-1] + b"=09"
            if index < last:
                line = self._line + segment if self._line else segment
                if len(line) <= _LINE - 1:  # fast path: a short line
                    out.append(line)
                    out.append(b"\r\n")
                    self._line = b""
                else:
                    self._wrap(segment, out)
                    self._end_line(out, hard_break=True)
            else:
                self._wrap(segment, out)

    def flush(self) -> bytes:
        out: list[bytes] = []
        held, self._held = self._held, b""
        self._encode(held, out, final=True)
        self._end_line(out, hard_break=False)
        return b"".join(out)


_QP_BAD_ESCAPE = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r\n|\n)")
_QP_MAX_TAIL = 4096


def _qp_token_cut(tail: bytes) -> tuple[int, bool]:
    """A position in ``tail`` (which starts at a token boundary and holds no LF) where
    splitting cannot change how :func:`binascii.a2b_qp` decodes it: before the first
    incomplete ``=`` escape. The flag is true when that escape is ``=\r`` followed by more
    bytes: a2b_qp then skips everything up to the next LF, so the rest can be dropped."""
    n = len(tail)
    i = 0 if b"=\r" in tail else _qp_boundary_near_end(tail)
    while True:
        eq = tail.find(b"=", i)
        if eq < 0:
            return n, False
        if eq + 1 >= n:
            return eq, False
        nxt = tail[eq + 1]
        if nxt == 0x0A or nxt == 0x3D:  # "=\n" soft break, "==" -> "="
            i = eq + 2
        elif nxt == 0x0D:  # "=\r...\n" runs to the next LF
            return eq, eq + 2 < n
        elif eq + 2 >= n:  # "=X": incomplete
            return eq, False
        else:
            i = eq + 3 if _is_hex(nxt) and _is_hex(tail[eq + 2]) else eq + 1


def _qp_boundary_near_end(tail: bytes) -> int:
    """A token boundary close to the end of ``tail`` (which starts at one).

    Tokens are at most three bytes and start with ``=``, so a position whose two preceding
    bytes are both not ``=`` cannot be inside a token. Looking only at the last 64 bytes keeps
    the forward scan of :func:`_qp_token_cut` short on escape-dense lines (``=0D=0A...``);
    a line of nothing but ``=`` falls back to the start.
    """
    n = len(tail)
    for j in range(n, max(n - 64, 2) - 1, -1):
        if tail[j - 1] != 0x3D and tail[j - 2] != 0x3D:
            return j
    return 0


def _is_hex(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x46 or 0x61 <= byte <= 0x66


class QuotedPrintableDecoder:
    """Incremental quoted-printable decoder (soft breaks ``=\\r\\n`` / ``=\\n``, ``=XX`` in
    either case). Hard line breaks and all other bytes are passed through unchanged.

    Lenient (default): a malformed ``=`` (not followed by two hex digits or a line break) is
    kept as a literal ``=``, a lone ``=`` at the very end is dropped, as
    :func:`binascii.a2b_qp` does. ``strict=True`` raises :class:`MalformedInput` instead.
    Whole lines are decoded at once, so ``=XX`` and soft breaks may be split anywhere.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.consumed = 0
        self._buf = b""
        self._buf_start = 0  # offset of self._buf[0] in the encoded stream

    @staticmethod
    def _check(chunk: bytes, start: int) -> None:
        """Strict mode: reject ``=`` not followed by two hex digits or a line break.

        ``chunk`` always ends at a token boundary (after a LF, at a safe cut, or at the end
        of the data), so a match is never an escape that the next feed would complete.
        """
        match = _QP_BAD_ESCAPE.search(chunk)
        if match is None:
            return
        at = match.start()
        shown = chunk[at : at + 3]
        raise MalformedInput(f"malformed quoted-printable escape {shown!r}", offset=start + at)

    def feed(self, data: bytes) -> bytes:
        self.consumed += len(data)
        buf = self._buf + bytes(data) if self._buf else bytes(data)
        cut = buf.rfind(b"\n") + 1
        keep_from = cut
        if len(buf) - cut > _QP_MAX_TAIL:
            # A very long line: decode up to a safe point instead of buffering it all.
            extra, skipping = _qp_token_cut(buf[cut:])
            cut += extra
            keep_from = cut
            if skipping:
                if self.strict:  # "=\r" + not LF is malformed: this raises
                    self._check(buf[: cut + 3], self._buf_start)
                # Lenient: a2b_qp drops everything after "=\r" up to the next LF, so keep
                # only "=\r" (offsets are not tracked any more in lenient mode).
                self._buf = b"=\r"
                self._buf_start += len(buf) - 2
                return binascii.a2b_qp(buf[:cut])
        if cut == 0:
            self._buf = buf
            return b""
        ready, self._buf = buf[:cut], buf[keep_from:]
        start = self._buf_start
        self._buf_start += cut
        if self.strict:
            self._check(ready, start)
        return binascii.a2b_qp(ready)

    def flush(self) -> bytes:
        buf, self._buf = self._buf, b""
        start = self._buf_start
        self._buf_start += len(buf)
        if self.strict:
            self._check(buf, start)
        return binascii.a2b_qp(buf)


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
