"""Incremental base64 Content-Transfer-Encoding (RFC 2045 §6.8): encoder and decoder.

The encoder writes 76-character lines joined by CRLF (no CRLF after the last line). The
decoder ignores whitespace, refuses bytes outside the alphabet and misplaced padding with
:class:`MalformedInput` (offset relative to the encoded part body) and, leniently, decodes
concatenated streams (``YQ==YWI=``) -- in bulk, so a flood of padded quanta stays linear.
"""

from __future__ import annotations

import binascii
import re

from ._errors import MalformedInput

__all__ = ["Base64Decoder", "Base64Encoder"]

_LINE = 76  # RFC 2045 encoded line length limit
_B64_RAW_LINE = 57  # raw bytes per 76-character base64 line


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
# Tables for the bulk path of concatenated base64 (_decode_quanta).
_PAD_TO_A = bytes(0x41 if i == 0x3D else i for i in range(256))  # decode pads as "A"
_IS_PAD = bytes(1 if i == 0x3D else 0 for i in range(256))
_NOT_PAD = bytes(0 if i == 0x3D else 1 for i in range(256))
_KEEP = bytes(0 if i == 0x3D else 0xFF for i in range(256))  # AND mask: "=" drops a digit
_BULK_PADS = 16  # fewer padded quanta than this in a feed: decode them one by one


def _decode_quanta(buf: bytes) -> tuple[bytes, int]:
    """Decode whole quanta (``len(buf) % 4 == 0``, no whitespace) of concatenated base64
    streams: ``(bytes, -1)``, or ``(b"", index of the first bad quantum)`` when a pad is
    misplaced (``=`` in position 0 or 1, or ``x=`` + a non-pad in positions 2-3).

    :func:`binascii.a2b_base64` stops at the first padded quantum, so a flood of ``AA==``
    would cost one call per 4 characters. Instead, with whole-string operations only: the
    pads are decoded as ``A`` (3 bytes per quantum), the bytes are written as hex digits
    (6 per quantum), the digits of bytes that stand for padding are zeroed (a big-integer
    AND per digit column, masked by the pad columns), deleted, and the hex decoded.
    """
    c2, c3 = buf[2::4], buf[3::4]
    bad = [i for i in (buf[0::4].find(b"="), buf[1::4].find(b"=")) if i >= 0]
    n = len(c2)
    if b"=" in c2:
        both = int.from_bytes(c2.translate(_IS_PAD), "big") & int.from_bytes(
            c3.translate(_NOT_PAD), "big"
        )
        if both:
            bad.append(both.to_bytes(n, "big").find(b"\x01"))
    if bad:
        return b"", min(bad)
    digits = bytearray(binascii.b2a_hex(binascii.a2b_base64(buf.translate(_PAD_TO_A))))
    for pads, column in ((c2, 2), (c3, 4)):  # quantum byte 1 / byte 2: hex digits 2-3 / 4-5
        if b"=" in pads:
            keep = int.from_bytes(pads.translate(_KEEP), "big")
            for at in (column, column + 1):
                digits[at::6] = (int.from_bytes(digits[at::6], "big") & keep).to_bytes(n, "big")
    return binascii.a2b_hex(digits.translate(None, b"\0")), -1


class _Positions:
    """Stream offsets of the significant (non-whitespace) characters of ``tail + data``,
    computed on demand: only errors and the few held-back characters need them."""

    __slots__ = ("base", "data", "nclean", "tail")

    def __init__(self, tail: list[int], data: bytes, base: int, nclean: int) -> None:
        self.tail = tail
        self.data = data
        self.base = base
        self.nclean = nclean

    def __getitem__(self, index: int) -> int:
        if index < len(self.tail):
            return self.tail[index]
        want = index - len(self.tail)  # the want-th significant byte of data
        data = self.data
        left = self.nclean - 1 - want  # significant bytes after it
        if 0 <= left <= 8:  # a held-back character: skip whitespace runs in C
            end = len(data)
            while True:
                end = len(data[:end].rstrip(_B64_WS))
                if left == 0:
                    return self.base + end - 1
                left -= 1
                end -= 1
        for i, byte in enumerate(data):  # an error position: reported once
            if byte not in _B64_WS:
                if want == 0:
                    return self.base + i
                want -= 1
        raise IndexError(index)  # pragma: no cover - callers stay in range

    def span(self, start: int, stop: int) -> list[int]:
        return [self[i] for i in range(start, stop)]


class Base64Decoder:
    """Incremental base64 decoder.

    Ignores CR, LF, SPACE and TAB anywhere. Any other byte outside the alphabet raises
    :class:`MalformedInput`; so does misplaced padding (``=`` in the first two positions of
    a quantum, or a pad followed by a non-pad inside the quantum) and a single leftover
    character at the end (it cannot carry a byte).

    ``strict=False`` (default) tolerates a missing final padding (``YQ`` decodes like
    ``YQ==``) and data after a padded quantum (concatenated base64 streams decode one after
    the other). ``strict=True`` rejects both. Linear time either way: a flood of padded
    quanta (``AA==AA==...``) is decoded in bulk, not quantum by quantum.
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

    def feed(self, data: bytes) -> bytes:
        base = self.consumed
        self.consumed += len(data)
        raw = bytes(data)
        clean = raw.translate(None, _B64_WS)
        if not clean:
            return b""
        if clean.translate(None, _B64_ALPHABET + b"="):
            # Decode the valid prefix first, so an earlier padding error wins.
            match = _B64_INVALID.search(raw)
            assert match is not None
            self.consumed = base
            self.feed(raw[: match.start()])
            self._raise_invalid(raw, base)
        positions = _Positions(self._tail_pos, raw, base, len(clean))
        if self._finished:
            raise MalformedInput("data after the base64 padding", offset=positions[0])
        buf = self._tail + clean
        whole = len(buf) - len(buf) % 4
        if b"=" not in buf:
            out = binascii.a2b_base64(buf[:whole]) if whole else b""
            self._tail = buf[whole:]
            self._tail_pos = positions.span(whole, len(buf))
            return out
        if self.strict:
            return self._feed_padded(buf, positions, 0)
        if buf.count(b"=", 0, whole) < _BULK_PADS:
            return self._feed_padded(buf, positions, 0)
        # Lenient, many padded quanta: whole quanta in bulk; the rest (and, if there is
        # one, the first bad quantum, for its exact error) one by one.
        head, bad = _decode_quanta(buf[:whole])
        if bad >= 0:  # the quanta before the bad one are fine
            head = _decode_quanta(buf[: 4 * bad])[0]
        return head + self._feed_padded(buf, positions, whole if bad < 0 else 4 * bad)

    def _feed_padded(self, buf: bytes, positions: _Positions, start: int) -> bytes:
        """Quantum by quantum from ``buf[start]`` (a quantum boundary): what strict mode
        does (it stops at the first padded quantum) and what finds the exact error."""
        out: list[bytes] = []
        while True:
            pad = buf.find(b"=", start)
            if pad < 0:
                rest = buf[start:]
                whole = len(rest) - len(rest) % 4
                if whole:
                    out.append(binascii.a2b_base64(rest[:whole]))
                self._tail = rest[whole:]
                self._tail_pos = positions.span(start + whole, len(buf))
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
                self._tail_pos = positions.span(quantum, len(buf))
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
