"""The decoder kernel: one state machine that turns buffered input into events.

:class:`Scanner` holds the input (``_buf`` from ``_pos`` on, then the ``_pending`` chunks)
and :meth:`Scanner._run` decodes as far as it allows, appending events to a list or deque.
:class:`mimewire.Decoder` is a thin shell around it (``feed()`` and ``next_event()`` both
call ``_run``). The pieces, each in one place:

* the body scan (:meth:`Scanner._body`): one search for the delimiter per step
  (:func:`_find`); a chunk without one is passed on whole; only a possible delimiter
  *start* at its end is held back (by reference, see ``HOLD``). Where the buffer shows a
  whole part boundary in its commonest form (delimiter line, one plain header field) the
  next part is started right there, so a chunk of many small parts is one loop;
* :meth:`Scanner._emit` makes :class:`PartData` (size limit, transfer codec); its plain
  case (no limit, no codec) is inlined in the body scan and in ``Decoder.feed``'s
  pass-through, and a codec's last bytes come from :meth:`Scanner._end_part`;
* :meth:`Scanner._start_part` makes :class:`PartStart` and picks the codec; the body scan
  inlines it for one plain field without a codec to pick;
* header blocks: :mod:`mimewire._headerblock` (a complete block in one go, else line by line);
* the delimiter line, the preamble, the epilogue: :mod:`mimewire._framing`.

The fields and constants are in :mod:`mimewire._scanstate`.
"""

from __future__ import annotations

import re

from ._codecs import make_decoder
from ._errors import LimitExceeded, MalformedInput, UsageError
from ._events import (
    Headers,
    PartData,
    PartStart,
    _new,
    _set_body_offset,
    _set_headers,
    _set_index,
)
from ._framing import Framing
from ._scanstate import (
    BODY,
    BODYSTART,
    COUNT,
    CR,
    CRLF,
    DASH,
    DEAD,
    DEFER_MAX,
    DELIM,
    END,
    HEADERS,
    HOLD,
    HT,
    LF,
    NEAR,
    PREAMBLE,
    SP,
    Out,
    set_data,
)

__all__ = ["Scanner"]


# Bytes after ``[CR]LF--boundary`` that decide it is not a delimiter: anything but SP, HT,
# CR, LF and "-" (CR and "-" are decided by the byte after them: LF, "-").
_NEAR_MISS = tuple(c not in b" \t\n" for c in range(256))
# What may follow the key on a delimiter line (the order of the hits in _next_candidate).
_AFTER = (b"--", b"\r\n", b"\n", b" ", b"\t")
# From this key length on (boundary of 6 bytes), a forward two-way search for key + suffix
# skips a near-miss flood faster than rfind (2-6x at 33-70 bytes); below, rfind is faster.
_FORWARD = 10


def _find(buf: bytes, key: bytes, pos: int, n: int) -> int:
    """``buf.find(key, pos)``, the first ``NEAR`` bytes first: ``bytes.find`` preprocesses
    the key when it searches far (fast over megabytes, slow for the many small parts)."""
    i = buf.find(key, pos, pos + NEAR)
    if i < 0 and n > pos + NEAR:
        i = buf.find(key, pos + NEAR - len(key) + 1)
    return i


class Scanner(Framing):
    """The decoding state machine (see the module docstring); not used on its own."""

    __slots__ = ()

    # ------------------------------------------------------------------ the loop

    def _run(self, out: Out) -> None:
        """Decode as far as the buffered input allows, appending the events to ``out``.

        Raises :class:`MimeWireError` on bad input; the events before the problem are
        already in ``out``.
        """
        while True:
            state = self._state
            if state == BODY:
                progressed = self._body(out)
            elif state == HEADERS:
                progressed = self._headers(out)
            elif state == DELIM:
                progressed = self._delim(out)
            elif state == HOLD:
                if not self._pending:
                    if self._eof:
                        self._at_eof()
                    return
                self._resolve_hold(out, self._pending.popleft())
                continue
            elif state == BODYSTART:
                progressed = self._bodystart(out)
            elif state == COUNT:
                progressed = self._counted(out)
            elif state == PREAMBLE:
                progressed = self._preamble()
            elif state == DEAD:
                if self._error is not None:
                    raise self._error.with_traceback(None)
                raise UsageError("the Decoder is closed")
            else:  # CLOSE / EPILOGUE: nothing is parsed any more
                self._post()
                return
            if not progressed and not self._pull():
                return

    def _pull(self) -> bool:
        """Append the next pending chunk to the undecided rest of the buffer (a few bytes:
        every state consumes all it can first). False: no chunk (at the end of input, the
        truncation error is raised)."""
        pending = self._pending
        if not pending:
            if self._eof:
                self._at_eof()
            return False
        chunk = pending.popleft()
        buf = self._buf
        pos = self._pos
        if pos < len(buf):
            self._buf = buf[pos:] + chunk
            self._base += pos
        else:
            self._buf = chunk
            self._base += len(buf)
        self._pos = 0
        return True

    # ------------------------------------------------------------------ part bodies

    def _body(self, out: Out) -> bool:
        """Scan the body from ``_pos``; False when the buffer is used up.

        Where the buffer shows a whole part boundary in its common form (the delimiter
        line, a complete plain header block), the next part is started right here and the
        scan goes on: a chunk holding many small parts is decoded in one loop.
        """
        buf = self._buf
        pos = self._pos
        n = len(buf)
        if pos >= n:
            return False
        key = self._key
        klen = len(key)
        # At a chunk's start one full search: its set-up is paid once per chunk, and it
        # stays fast on data dense with delimiter prefixes (the windowed search does not).
        i = buf.find(key) if pos == 0 else _find(buf, key, pos, n)
        if i < 0:
            return self._body_tail(out, buf, pos, n)
        lf = self._lf
        d1 = self._d1
        dl = len(d1)
        base = self._base
        maxparts = self.limits.max_parts
        append = out.append
        plain = self._plain
        # No size limit, no codec: the commonest part boundary (the delimiter line, then a
        # header block of one plain field) is decoded inline. With CRLF framing the search
        # for the next delimiter matches that boundary too (one call per small part).
        quick = self._quick
        simple = self._simple
        fast = simple and self._codec is None
        search = self._search if simple and not lf else None
        qwindow = self._qwindow
        maxline = self.limits.max_header_line
        skip = not self.strict
        name = None
        while True:
            c = buf[i + klen] if skip and name is None and i + klen < n else LF
            if _NEAR_MISS[c]:
                if (c != CR and c != DASH) or (
                    i + klen + 1 < n and buf[i + klen + 1] != (LF if c == CR else DASH)
                ):
                    # key + a byte no delimiter line has: body data. Skip all such near
                    # misses in C, so that a flood of them is one PartData, not thousands.
                    i = self._next_candidate(buf, i + 1, n)
                    if i < 0:
                        return self._body_tail(out, buf, pos, n)
                    continue
            elif c in (SP, HT) and self._padded(buf, i) is None:
                # key + padding + a byte no delimiter line has there: data, skipped in C
                i = self._next_candidate(buf, i + 1, n)
                if i < 0:
                    return self._body_tail(out, buf, pos, n)
                continue
            s = i - 1 if (lf and i > pos and buf[i - 1] == CR) else i
            if s > pos:
                if plain:
                    event = _new(PartData)
                    set_data(event, buf[pos:s])
                    append(event)
                else:
                    self._emit(out, buf[pos:s])
            j = i + klen
            dbytes = None  # the delimiter's bytes, when not buf[s:j]
            while True:  # at a delimiter candidate buf[s:j]
                index = self._nparts
                if fast and index < maxparts:
                    if name is None:  # (not found with the delimiter)
                        m = quick(buf, j, j + qwindow)
                        if m is not None:
                            name, value = m.groups()
                            q = m.end() - 2
                    if name is not None:  # q: its blank line
                        # maybe a Content-Transfer-Encoding or Content-Length; too long
                        if len(name) == 25 or len(name) == 14 or q - j - 4 > maxline:
                            name = None
                        else:
                            try:
                                text = value.decode()
                            except UnicodeDecodeError:
                                name = None
                else:
                    name = None
                if name is not None:
                    append(END)
                    start = _new(PartStart)
                    _set_headers(start, ((name.decode(), text.rstrip(" \t")),))
                    _set_index(start, index)
                    _set_body_offset(start, base + q + 2)
                    append(start)
                    self._nparts = index + 1
                    name = None
                else:
                    if index >= maxparts or not buf.startswith(CRLF, j):
                        # anything else: the delimiter line is decided the general way
                        self._dstart = base + s
                        self._dbytes = buf[s:j] if dbytes is None else dbytes
                        self._dscan = base + j
                        self._pos = j
                        self._state = DELIM
                        return True
                    if self._codec is None:
                        append(END)
                    else:
                        self._end_part(out)
                    found = self._block(buf, j + 2, index, base)
                    if found is None:
                        self._in_part = False
                        self._begin_headers(j + 2, base + s)
                        return True
                    headers, q = found
                    self._start_part(out, headers, base + q + 2)
                    if self._count_end >= 0:  # a Content-Length: counted, not scanned
                        self._blank = CRLF
                        self._pos = q
                        self._state = BODYSTART
                        return True
                    plain = self._plain
                    fast = simple and self._codec is None
                if n - q < dl:  # too few bytes to tell whether the body is empty
                    self._blank = CRLF
                    self._pos = q
                    self._state = BODYSTART
                    return True
                if buf[q + 2] != DASH or not buf.startswith(d1, q):
                    break
                s = q  # an empty body: the blank line starts the next delimiter
                j = q + dl
                dbytes = d1[2:]
            pos = q + 2  # the next part's body: likely short, then a boundary again
            if search is not None:
                m = search(buf, pos, pos + NEAR)
                if m is not None:
                    i = m.start()
                    name, value = m.groups()
                    q = m.end() - 2
                    continue
            i = _find(buf, key, pos, n)
            if i < 0:
                return self._body_tail(out, buf, pos, n)

    def _next_candidate(self, buf: bytes, start: int, n: int) -> int:
        """The first key in ``buf[start:]`` that may start a delimiter (followed by ``--``,
        CRLF, LF, SP or HT, or too close to the end to tell); -1 if none.

        One C-level search per such suffix, and each hit is remembered for ``buf`` (the
        hits only move forward), so a chunk costs at most five scans however many near
        misses and candidates it holds."""
        key = self._key
        if self._nc_buf is not buf or self._nc_key is not key:
            self._nc_buf = buf
            self._nc_key = key
            self._nc_from = [n] * 5  # where each search started (n: not searched yet)
            self._nc_hit = [-1] * 5  # its first hit from there (n: none)
            self._nc_cr = True
        since = self._nc_from
        hits = self._nc_hit
        forward = len(key) >= _FORWARD
        best = n
        for k in range(5):
            hit = hits[k]
            if not since[k] <= start <= hit:  # (a hit, or none, found from here or before)
                after = _AFTER[k]
                if k >= 3:  # SP, HT: one memchr, rarely more
                    hit = buf.find(key + after, start) if after in buf else -1
                    if hit >= 0 and self._padded(buf, hit) is None:
                        # a padded near miss: the next padded candidate, in one C scan
                        m = self._nc_pad.search(buf, hit + 1) if self._nc_pad else None
                        hit = m.start() if m is not None else -1
                elif not forward:  # (rfind: no set-up, fast where it finds none)
                    ext = key + after
                    hit = buf.find(ext, start) if buf.rfind(ext, start) >= 0 else -1
                elif k == 1 and self._nc_cr:
                    # key + CR skips a flood twice as fast as key + CRLF; the first
                    # key + CR + other byte switches to key + CRLF for this buffer
                    hit = buf.find(key + b"\r", start)
                    h = hit + len(key) + 1
                    if hit >= 0 and h < n and buf[h] != LF:
                        self._nc_cr = False
                        hit = buf.find(key + after, hit + 1)
                else:
                    hit = buf.find(key + after, start)
                since[k] = start
                hits[k] = hit = hit if hit >= 0 else n
            if hit < best:
                best = hit
        if best < n:
            return best
        return buf.find(key, max(start, n - len(key) - 1))  # followed by at most one byte

    def _padded(self, buf: bytes, i: int) -> re.Match[bytes] | None:
        """The key at ``i`` with padding that may still end a delimiter line: then CRLF, LF,
        the end of ``buf`` (undecided), or more padding than ``max_header_line`` (refused
        by the delimiter state). None: body data. O(padding), bounded by the line limit."""
        key = self._key
        pad = self._nc_pad
        if pad is None or self._nc_padkey is not key:
            # (?=(P))\1 takes the whole padding run once (no backtracking into it)
            pad = self._nc_pad = re.compile(
                re.escape(key)
                + rb"(?:(?=([ \t]+))\1(?:\r?\n|\r?\Z)|[ \t]{%d})"
                % (self.limits.max_header_line + 1)
            )
            self._nc_padkey = key
        return pad.match(buf, i)

    def _body_tail(self, out: Out, buf: bytes, pos: int, n: int) -> bool:
        """No delimiter in ``buf[pos:]``: pass it on but for a possible delimiter start at
        its end. True when the chunk is held whole (state HOLD)."""
        self._nc_buf = None  # (the near-miss hits are for this buffer: do not keep it alive)
        w = n - self._dl1
        if buf.rfind(self._tailc, w if w > pos else pos) < 0 and buf[n - 1] != CR:
            h = n
        else:
            h = self._holdback(buf, pos, n)
            if pos < h < n and self._plain and n - pos <= DEFER_MAX:
                # Rather than copy all but the tail now, decide when the next chunk comes:
                # usually the chunk is then passed on whole.
                self._pos = pos
                self._hold = h
                self._state = HOLD
                return True
        if h > pos:
            self._emit(out, buf[pos:h] if pos or h < n else buf)
        self._pos = h
        return False

    def _resolve_hold(self, out: Out, chunk: bytes) -> None:
        """``_buf[_pos:]`` is body data whose tail ``_buf[_hold:]`` may start a delimiter;
        ``chunk`` arrived: emit the data (uncopied when the tail was not a delimiter)."""
        buf = self._buf
        pos = self._pos
        hold = self._hold
        tail = buf[hold:]
        d1 = self._d1
        joined = tail + chunk[: len(d1)]
        self._state = BODY
        self._pos = 0
        if (
            len(joined) >= len(d1)
            and not joined.startswith(d1)
            and not (self._lf and joined.startswith(self._d2))
        ):
            self._emit(out, buf[pos:] if pos else buf)
            self._base += len(buf)
            self._buf = chunk
            return
        # a delimiter (or a still undecided tiny chunk): carry the few tail bytes over
        if hold > pos:
            self._emit(out, buf[pos:hold])
        self._base += hold
        self._buf = tail + chunk

    def _emit(self, out: Out, data: bytes) -> None:
        """The one place that makes :class:`PartData`: size limit, then transfer decoding."""
        if self._plain:
            event = _new(PartData)
            set_data(event, data)
            out.append(event)
            return
        size = self._part_size + len(data)
        limit = self.limits.max_part_size
        codec = self._codec
        if limit is not None and size > limit:
            if codec is not None:  # a decoding error before the limit comes first
                try:
                    codec.feed(data[: limit - self._part_size])
                except MalformedInput as exc:
                    raise self._rebase(exc) from None
            raise LimitExceeded(
                "max_part_size", limit, offset=self._body_start + limit, part=self._nparts - 1
            )
        self._part_size = size
        if codec is not None:
            try:
                data = codec.feed(data)
            except MalformedInput as exc:
                raise self._rebase(exc) from None
            if not data:
                return
        out.append(PartData(data))

    def _rebase(self, exc: MalformedInput) -> MalformedInput:
        rel = exc.offset
        return MalformedInput(
            exc.reason,
            offset=None if rel is None else self._body_start + rel,
            part=self._nparts - 1,
        )

    # ------------------------------------------------------------------ part boundaries

    def _start_part(self, out: Out, headers: Headers, body_offset: int) -> None:
        """The one place that makes :class:`PartStart` (and picks the part's codec)."""
        event = _new(PartStart)
        _set_headers(event, headers)
        index = self._nparts
        _set_index(event, index)
        _set_body_offset(event, body_offset)
        out.append(event)
        self._nparts = index + 1
        self._in_part = True
        self._part_size = 0
        self._body_start = body_offset
        transfer = self.decode_transfer
        for name, value in headers:
            size = len(name)
            if size == 14 and name.lower() == "content-length":
                self._count(value, body_offset)
            elif size == 25 and transfer and name.lower() == "content-transfer-encoding":
                transfer = False  # the first one counts (a second one is refused earlier)
                cte = value.strip().lower()
                if cte == "base64" or cte == "quoted-printable":
                    self._codec = make_decoder(cte, strict=self.strict)
                    self._plain = False

    def _count(self, value: str, body_offset: int) -> None:
        """A part's ``Content-Length``: its body is exactly that many bytes (COUNT)."""
        part = self._nparts - 1
        if self._count_end >= 0:
            raise MalformedInput(
                "two Content-Length headers in one part: ambiguous", offset=body_offset, part=part
            )
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
            shown = digits if len(digits) <= 40 else digits[:40] + "..."
            raise MalformedInput(
                f"Content-Length {shown!r} is not a byte count (1 to 18 ASCII digits)",
                offset=body_offset,
                part=part,
            )
        size = int(digits)
        limit = self.limits.max_part_size
        if limit is not None and size > limit:
            raise LimitExceeded(
                "max_part_size",
                limit,
                offset=body_offset,
                part=part,
                detail=f"the part declares Content-Length: {size}",
            )
        if body_offset + size > self._max_total:
            raise LimitExceeded(
                "max_total_size",
                self._max_total,
                offset=body_offset,
                part=part,
                detail=f"the part declares Content-Length: {size}",
            )
        self._count_end = body_offset + size
        self._count_len = size
        self._plain = False

    def _end_part(self, out: Out) -> None:
        """The events that end the current part (data the codec still held, PartEnd)."""
        codec = self._codec
        self._plain = self._plain_default
        if codec is not None:
            self._codec = None
            try:
                rest = codec.flush()
            except MalformedInput as exc:
                raise self._rebase(exc) from None
            if rest:
                out.append(PartData(rest))
        out.append(END)
        self._in_part = False

    def _begin_headers(self, pos: int, dstart: int) -> None:
        self._count_end = -1
        self._dstart = dstart
        self._pos = pos
        self._reader.reset(self._nparts)
        self._state = HEADERS

    def _headers(self, out: Out) -> bool:
        """Read the header block; False when the buffer is used up before its end."""
        limits = self.limits
        part = self._nparts
        if part >= limits.max_parts:
            raise LimitExceeded("max_parts", limits.max_parts, offset=self._dstart, part=part)
        buf = self._buf
        pos = self._pos
        base = self._base
        reader = self._reader
        if reader.idle:
            found = self._block(buf, pos, part, base)
            if found is not None:
                headers, q = found
                self._start_part(out, headers, base + q + 2)
                self._blank = CRLF
                self._pos = q
                self._state = BODYSTART
                return True
        end = reader.feed(buf, pos, base)
        if end < 0:
            self._pos = len(buf)
            return False
        headers = reader.headers()
        blank = reader.blank
        self._start_part(out, headers, base + end)
        q = end - len(blank)
        if q >= pos:
            self._pos = q
        else:  # the blank line was cut by a chunk boundary: put it back together
            self._buf = blank + buf[end:]
            self._base = base + q
            self._pos = 0
        self._blank = blank
        self._state = BODYSTART
        return True

    def _bodystart(self, out: Out) -> bool:
        """Right after the headers: an immediate delimiter means an empty body."""
        buf = self._buf
        pos = self._pos
        blank = len(self._blank)
        d = self._d1 if blank == 2 else self._d2
        if (
            len(buf) - pos >= len(d)
            or not d.startswith(buf[pos:])
            or (self._eof and not self._pending)
        ):
            if buf.startswith(d, pos):
                self._dstart = self._base + pos
                self._dbytes = d[blank:]  # the blank line itself is never data
                self._pos = pos + len(d)
                self._dscan = self._base + self._pos
                self._state = DELIM
            else:
                self._pos = pos + blank
                self._state = BODY if self._count_end < 0 else COUNT
            return True
        if not self._pending:
            return False  # (_pull raises at the end of input)
        # decide with the first bytes of the next chunk, without copying it
        left = buf[pos:]
        chunk = self._pending[0]
        joined = left + chunk[: len(d)]
        if joined.startswith(d) or (len(joined) < len(d) and d.startswith(joined)):
            return False  # a delimiter, or still undecided: _pull joins (a few bytes)
        if self._count_end >= 0:
            self._pos = pos + blank
            self._state = COUNT
            return True
        self._pending.popleft()
        self._base += len(buf)
        self._buf = chunk
        self._pos = 0
        self._state = BODY
        if len(left) > blank:  # body bytes held with the blank line (never a delimiter)
            self._emit(out, left[blank:])
        return True
