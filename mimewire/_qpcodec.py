"""Incremental quoted-printable Content-Transfer-Encoding (RFC 2045 §6.7).

The encoder keeps ``=XX`` triplets whole on 76-character lines and can escape CR/LF
(binary mode); the decoder matches :func:`binascii.a2b_qp` exactly for every chunking, with
bounded buffering and linear time on long lines without LF (``=Z``/``==`` floods).
"""

from __future__ import annotations

import binascii
import re

from ._errors import MalformedInput

__all__ = ["QuotedPrintableDecoder", "QuotedPrintableEncoder"]

_LINE = 76  # RFC 2045 encoded line length limit


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
    bytes: a2b_qp then skips everything up to the next LF, so the rest can be dropped.

    Linear and loop-free: a2b_qp reads a run of ``=`` as ``==`` pairs from the run's start
    (each decodes to ``=``), so after replacing those pairs (same length) every ``=`` left
    starts an escape, and plain ``find``/``rfind`` locate the first ``=\r`` and the last
    escape. Only a last escape with fewer than three bytes can be incomplete.
    """
    n = len(tail)
    if b"=" not in tail:
        return n, False
    starts = tail.replace(b"==", b"\0\0") if b"==" in tail else tail
    skip = starts.find(b"=\r")
    if skip >= 0:
        return skip, skip + 2 < n
    last = starts.rfind(b"=")
    if last < 0 or last + 3 <= n:
        return n, False
    if last + 2 == n and not _is_hex(tail[last + 1]):  # "=" + a non-hex byte: literal
        return n, False
    return last, False


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
