"""Part header blocks: parse a complete block in one go, or line by line as it arrives.

Two ways in, one result:

* :func:`block_parser` -- the fast lane: a *complete*, plain header block (CRLF line breaks,
  no folding, no CR/LF/NUL in values, every line within the limits) already in the buffer.
  It returns ``None`` for anything else, and the caller falls back to
* :class:`BlockReader` -- reads the block line by line from the chunks as they come. A line
  cut by a chunk boundary is kept as a list of fragments and joined once, when its line
  break arrives, so a block fed in tiny chunks costs time linear in its size.

Both reject a part with two Content-Disposition, two Content-Type or two
Content-Transfer-Encoding fields (:func:`check_duplicates`: the parsers a WAF and
an application use must not pick different ones).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ._errors import LimitExceeded, MalformedInput
from ._events import Headers
from ._headers import decode_header_bytes
from ._limits import Limits

__all__ = [
    "BlockParser",
    "BlockReader",
    "block_parser",
    "check_duplicates",
    "delimiter_search",
    "next_part_matcher",
]

CR = 13
LF = 10
SP = 32
HT = 9
CRLF = b"\r\n"
BLANK_AFTER_CRLF = b"\r\n\r\n"  # the end of a CRLF line followed by the blank line

TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LAX_NAME = bytes(range(33, 127)).replace(b":", b"")

# One header line then the blank line: name ":" value CRLF CRLF (linear: neither group can
# contain what follows it).
_LAX_ONE = re.compile(rb"([!-9;-~]+):([^\r\n\x00]*)\r\n\r\n").match
_STRICT_ONE = re.compile(rb"([-!#$%&'*+.^_`|~0-9A-Za-z]+):([^\r\n\x00]*)\r\n\r\n").match
# A plain block of several lines (as decoded text, CRLF-joined, without the blank line).
_LAX_BLOCK = re.compile(r"(?:[!-9;-~]+:[^\r\n\x00]*\r\n)*[!-9;-~]+:[^\r\n\x00]*").fullmatch
_STRICT_BLOCK = re.compile(
    r"(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\r\n\x00]*\r\n)*[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\r\n\x00]*"
).fullmatch

# Fields a part may carry only once, keyed by the length of their name (a cheap first test).
_ONCE = {
    "content-type": 1,
    "content-disposition": 2,
    "content-transfer-encoding": 4,
}
_ONCE_LENGTHS = frozenset(len(name) for name in _ONCE)


def check_duplicates(headers: Headers, part: int, offsets: list[int]) -> None:
    """Raise :class:`MalformedInput` if a field of :data:`_ONCE` occurs twice in ``headers``
    (``offsets[k]``: the stream offset of field ``k``)."""
    seen = 0
    for k, (name, _) in enumerate(headers):
        if len(name) in _ONCE_LENGTHS:
            bit = _ONCE.get(name.lower(), 0)
            if seen & bit:
                raise MalformedInput(
                    f"duplicate {name} header (a part may have only one)",
                    offset=offsets[k],
                    part=part,
                )
            seen |= bit


def _maybe_duplicate(headers: Headers) -> bool:
    """Cheap pre-test for :func:`check_duplicates`: two fields with a watched name length."""
    hits = 0
    for name, _ in headers:
        if len(name) in _ONCE_LENGTHS:
            hits += 1
    return hits > 1


def next_part_matcher(strict: bool) -> Callable[..., re.Match[bytes] | None]:
    """``match(buf, j, end)``: at ``buf[j]`` the CRLF that ends a delimiter line, then a
    header block of one plain field (name ":" value CRLF CRLF): the commonest part boundary,
    in one call. Group 1 is the name, group 2 the value without leading whitespace (trailing
    whitespace is the caller's); the match ends where the body starts."""
    return _STRICT_NEXT if strict else _LAX_NEXT


# The value group starts with neither SP nor HT (or is empty), so giving back leading
# whitespace never lets it match again: linear even when the match fails.
_VALUE = rb":[ \t]*((?:[^ \t\r\n\x00][^\r\n\x00]*)?)\r\n\r\n"
_LAX_NAME = rb"[!-9;-~]+"
_STRICT_NAME = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_LAX_NEXT = re.compile(rb"\r\n(" + _LAX_NAME + rb")" + _VALUE).match
_STRICT_NEXT = re.compile(rb"\r\n(" + _STRICT_NAME + rb")" + _VALUE).match


def delimiter_search(delimiter: bytes, strict: bool) -> Callable[..., re.Match[bytes] | None]:
    """``search(buf, pos, end)``: the first ``delimiter`` in ``buf[pos:end]``, with the groups
    of :func:`next_part_matcher` when what follows it is that common part boundary
    (``lastindex`` is None when it is not)."""
    name = _STRICT_NAME if strict else _LAX_NAME
    return re.compile(re.escape(delimiter) + rb"(?:\r\n(" + name + rb")" + _VALUE + rb")?").search


BlockParser = Callable[[bytes, int, int, int], "tuple[Headers, int] | None"]


def block_parser(limits: Limits, strict: bool) -> BlockParser:
    """``parse(buf, hp, part, base)``: the fields of a complete plain header block starting
    at ``buf[hp]`` (``base``: stream offset of ``buf[0]``; ``part``: the part's index) and
    the index of its blank line; ``None`` when the block is incomplete or needs the
    line-by-line :class:`BlockReader` (which then gives the precise verdict). Duplicates
    raise (see :func:`check_duplicates`)."""
    one = _STRICT_ONE if strict else _LAX_ONE
    window = limits.max_header_bytes + 2
    maxline = limits.max_header_line + 2

    def parse(buf: bytes, hp: int, part: int, base: int) -> tuple[Headers, int] | None:
        m = one(buf, hp, hp + window)
        if m is None:
            return _parse_block(buf, hp, limits, strict, part, base)
        e = m.end() - 2  # the blank line
        if e - hp > maxline:
            return None
        name, value = m.groups()
        try:
            text = value.decode()
        except UnicodeDecodeError:
            return None
        return ((name.decode("ascii"), text.strip(" \t")),), e

    return parse


def _parse_block(
    buf: bytes, hp: int, limits: Limits, strict: bool, part: int, base: int
) -> tuple[Headers, int] | None:
    """:func:`block_parser` for an empty block or one of several lines."""
    if buf.startswith(CRLF, hp):
        return (), hp
    e = buf.find(BLANK_AFTER_CRLF, hp, hp + limits.max_header_bytes + 2)
    if e <= hp:
        return None
    block = buf[hp:e]
    headers = _plain_fields(block, strict)
    if headers is None or len(headers) > limits.max_headers:
        return None
    if len(block) > limits.max_header_line and _longest_bytes(block) > limits.max_header_line:
        return None
    if len(headers) > 1 and _maybe_duplicate(headers):
        offsets = []
        at = base + hp
        for raw in block.split(CRLF):
            offsets.append(at)
            at += len(raw) + 2
        check_duplicates(headers, part, offsets)
    return headers, e + 2


def _plain_fields(block: bytes, strict: bool) -> Headers | None:
    """The fields of CRLF-joined header lines that are all plain (UTF-8, no folding, valid
    names, no CR/NUL in values); None otherwise."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if (_STRICT_BLOCK if strict else _LAX_BLOCK)(text) is None:
        return None
    fields = []
    for line in text.split("\r\n"):
        name, _, value = line.partition(":")
        fields.append((name, value.strip(" \t")))
    return tuple(fields)


def _longest_bytes(block: bytes) -> int:
    return max(len(line) for line in block.split(CRLF))


class BlockReader:
    """Reads one header block line by line, from chunks of any size.

    :meth:`feed` consumes complete lines and keeps the fragments of a cut one; every limit
    is checked before the bytes it guards are kept.
    """

    __slots__ = (
        "blank",
        "count",
        "frag_len",
        "frag_start",
        "frags",
        "limits",
        "lines",
        "nbytes",
        "part",
        "strict",
    )

    def __init__(self, limits: Limits, strict: bool) -> None:
        self.limits = limits
        self.strict = strict
        self.reset(0)

    def reset(self, part: int) -> None:
        self.part = part
        self.lines: list[tuple[bytes, int]] = []
        self.frags: list[bytes] = []
        self.frag_len = 0
        self.frag_start = 0
        self.nbytes = 0
        self.count = 0
        self.blank = b""

    @property
    def idle(self) -> bool:
        """True while nothing of the block has been read."""
        return not self.lines and not self.frags

    def feed(self, buf: bytes, p: int, base: int) -> int:
        """Read lines from ``buf[p:]`` (``base``: stream offset of ``buf[0]``).

        Returns the index in ``buf`` just past the blank line that ends the block (its bytes
        are in :attr:`blank`), or -1 when ``buf`` is used up (the cut line is kept).
        """
        limits = self.limits
        maxline = limits.max_header_line
        maxbytes = limits.max_header_bytes
        maxh = limits.max_headers
        lines = self.lines
        n = len(buf)
        while p < n:
            if not self.frags:
                # the common case inline: a whole CRLF line within every limit
                nl = buf.find(b"\n", p, p + maxline + 2)
                if nl > p + 1 and buf[nl - 1] == CR and self.nbytes + nl + 1 - p <= maxbytes:
                    first = buf[p]
                    if first != SP and first != HT:
                        if self.count >= maxh:
                            self._line(buf[p : nl + 1], base + p, base + nl)  # raises
                        self.count += 1
                    self.nbytes += nl + 1 - p
                    lines.append((buf[p : nl - 1], base + p))
                    p = nl + 1
                    continue
            room = maxline + 2 - self.frag_len
            nl = buf.find(b"\n", p, p + room)
            if nl < 0:
                start = self.frag_start if self.frags else base + p
                if n - p >= room:
                    raise LimitExceeded("max_header_line", maxline, offset=start, part=self.part)
                if not self.frags:
                    self.frag_start = start
                self.frags.append(buf[p:])
                self.frag_len += n - p
                return -1
            if self.frags:
                start = self.frag_start
                self.frags.append(buf[p : nl + 1])
                line = b"".join(self.frags)
                self.frags = []
                self.frag_len = 0
            else:
                start = base + p
                line = buf[p : nl + 1]
            if self._line(line, start, base + nl):
                return nl + 1
            p = nl + 1
        return -1

    def _line(self, line: bytes, start: int, nl_offset: int) -> bool:
        """One line, its LF included. True: it was the blank line ending the block."""
        end = len(line) - 1
        if end and line[end - 1] == CR:
            end -= 1
        elif self.strict:
            raise MalformedInput(
                "header line ends with a bare LF", offset=nl_offset, part=self.part
            )
        if end == 0:
            self.blank = line
            return True
        limits = self.limits
        if end > limits.max_header_line:
            raise LimitExceeded(
                "max_header_line", limits.max_header_line, offset=start, part=self.part
            )
        self.nbytes += len(line)
        if self.nbytes > limits.max_header_bytes:
            raise LimitExceeded(
                "max_header_bytes", limits.max_header_bytes, offset=start, part=self.part
            )
        first = line[0]
        if first != SP and first != HT:  # a new field (not a continuation line)
            self.count += 1
            if self.count > limits.max_headers:
                raise LimitExceeded("max_headers", limits.max_headers, offset=start, part=self.part)
        self.lines.append((line[:end], start))
        return False

    def headers(self) -> Headers:
        """The fields of the block read so far (after its blank line)."""
        strict = self.strict
        if self.lines and len(self.lines) <= self.limits.max_headers:
            plain = _plain_fields(CRLF.join([raw for raw, _ in self.lines]), strict)
            if plain is not None:
                if len(plain) > 1 and _maybe_duplicate(plain):
                    check_duplicates(plain, self.part, [off for _, off in self.lines])
                return plain
        part = self.part
        maxh = self.limits.max_headers
        out: list[list[bytes]] = []
        offsets: list[int] = []
        for raw, off in self.lines:
            if b"\r" in raw or b"\x00" in raw:
                bad = raw.find(b"\r") if b"\r" in raw else raw.find(b"\x00")
                what = "CR" if raw[bad] == CR else "NUL"
                raise MalformedInput(f"{what} inside a header line", offset=off + bad, part=part)
            first = raw[0]
            if first in (SP, HT):
                if strict:
                    raise MalformedInput("obsolete header folding", offset=off, part=part)
                if not out:
                    raise MalformedInput(
                        "header continuation line before any header", offset=off, part=part
                    )
                prev = out[-1]
                prev[1] = (prev[1] + b" " + raw.strip(b" \t")).strip(b" \t")
                continue
            colon = raw.find(b":")
            if colon < 0:
                raise MalformedInput("header line without a colon", offset=off, part=part)
            name = raw[:colon]
            if not strict:
                name = name.rstrip(b" \t")
            if not name:
                raise MalformedInput("empty header name", offset=off, part=part)
            if name.translate(None, TCHAR if strict else LAX_NAME):
                raise MalformedInput(
                    f"invalid header name {decode_header_bytes(name)!r}", offset=off, part=part
                )
            if len(out) >= maxh:
                raise LimitExceeded("max_headers", maxh, offset=off, part=part)
            out.append([name, raw[colon + 1 :].strip(b" \t")])
            offsets.append(off)
        headers = tuple((n.decode("ascii"), decode_header_bytes(v)) for n, v in out)
        check_duplicates(headers, part, offsets)
        return headers
