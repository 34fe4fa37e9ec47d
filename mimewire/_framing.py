"""Framing: the delimiter line, the preamble before the first one and the epilogue after
the close delimiter (the part of the decoder kernel that is not about part bodies).

Line-ending lock: in lenient mode the first delimiter line decides the framing.
If it ends with CRLF the body is CRLF-framed and only ``CRLF--boundary`` is a delimiter (a
bare-LF ``LF--boundary`` is body data, as in Go's mime/multipart); if it ends with a bare
LF, ``LF--boundary`` (with or without a CR before it) is a delimiter. Header lines and the
ends of later delimiter lines keep accepting bare LF in lenient mode. Strict mode is always
CRLF-framed.
"""

from __future__ import annotations

import re
from typing import Literal, NoReturn

from ._errors import LimitExceeded, MalformedInput
from ._scanstate import (
    BODY,
    CLOSE,
    COUNT,
    CR,
    DASH,
    DELIM,
    EPILOGUE,
    HEADERS,
    HT,
    LF,
    MULTIPART_END,
    PREAMBLE,
    SP,
    Out,
    ScanState,
)

__all__ = ["Framing"]

# The dash-mismatch hint: what may follow the boundary on a delimiter-like line, how many
# more dashes than a delimiter has such a line may have, how far into the input to look.
_AFTER_BOUNDARY = frozenset(b"\r\n- \t")
_EXTRA_DASHES = 16
_HINT_SPAN = 64 * 1024


class Framing(ScanState):
    """Delimiter lines, preamble and epilogue; part bodies are :class:`Scanner`'s."""

    __slots__ = ()

    def _emit(self, out: Out, data: bytes) -> None:
        raise NotImplementedError  # Scanner: the one place that makes PartData

    def _end_part(self, out: Out) -> None:
        raise NotImplementedError  # Scanner

    def _begin_headers(self, pos: int, dstart: int) -> None:
        raise NotImplementedError  # Scanner

    def _holdback(self, buf: bytes, pos: int, n: int) -> int:
        """Index from which ``buf[:n]`` may end with a proper prefix of a delimiter."""
        w = n - len(self._d1) + 1
        if w < pos:
            w = pos
        if not self._lf:
            t = buf.rfind(b"\r", w)
            if t >= 0 and self._d1.startswith(buf[t:n]):
                return t
            return n
        t = buf.rfind(b"\n", w)
        if t >= 0 and self._d2.startswith(buf[t:n]):
            if t > pos and buf[t - 1] == CR:
                return t - 1
            return t
        if buf[n - 1] == CR:
            return n - 1
        return n

    def _delim(self, out: Out) -> bool:
        """Decide what follows ``[CR]LF--boundary``. False: need more input."""
        buf = self._buf
        pos = self._pos
        n = len(buf)
        base = self._base
        maxline = self.limits.max_header_line
        j = self._dscan - base
        if j < pos:
            j = pos
        # transport padding (scanned no further than the line limit allows)
        stop = pos + maxline + 1
        if stop > n:
            stop = n
        while j < stop and (buf[j] == SP or buf[j] == HT):
            j += 1
        self._dscan = base + j
        if j - pos > maxline:
            raise LimitExceeded(
                "max_header_line",
                maxline,
                offset=base + j,
                part=self._where(),
                detail="transport padding after a delimiter",
            )
        if j >= n:
            return False
        c = buf[j]
        end = -1
        if c == CR:
            if j + 1 >= n:
                return False
            if buf[j + 1] == LF:
                end = j + 2
                if self._lf and not self._nparts:  # the first delimiter line: lock CRLF
                    self._lf = False
                    self._key = self._d1
                    self._tailc = b"\r"
        elif c == LF:
            if self.strict:
                raise MalformedInput(
                    "delimiter line ends with a bare LF", offset=base + j, part=self._where()
                )
            end = j + 1
        elif c == DASH and j == pos:  # a close delimiter?
            if j + 1 >= n:
                return False
            if buf[j + 1] == DASH:
                self._close_delimiter(out, j + 2)
                return True
        if end >= 0:
            if self._in_part:
                self._early_delimiter()
                self._end_part(out)
            elif not self._nparts:
                self._found_first()
            self._begin_headers(end, self._dstart)
            return True
        # [CR]LF--boundary followed by something else: not a delimiter
        if self._count_end >= 0 and not self._in_part:
            raise self._too_long(self._dstart)
        if self.strict:
            raise MalformedInput(
                "boundary delimiter not followed by CRLF or '--'",
                offset=self._dstart,
                part=self._where(),
            )
        if self._in_part:
            dbytes = self._dbytes
            if self._count_end >= 0:  # after the blank line of a counted part: its first bytes
                if self._body_start + len(dbytes) > self._count_end:
                    raise self._too_long(self._count_end)
                self._state = COUNT
            else:
                self._state = BODY
            self._emit(out, dbytes)
        else:
            self._state = PREAMBLE
        return True

    def _close_delimiter(self, out: Out, end: int) -> None:
        if self._in_part:
            self._early_delimiter()
            self._end_part(out)
        elif not self._nparts:
            if self.strict:
                raise MalformedInput("close delimiter before the first part", offset=self._dstart)
            self._found_first()
        self._count_end = -1
        out.append(MULTIPART_END)
        self._state = CLOSE
        self._pos = end
        self._post_off = self._base + end

    # ------------------------------------------------------------------ Content-Length

    def _counted(self, out: Out) -> bool:
        """COUNT: pass on the declared bytes as they arrive, end the part right after the
        last one (without waiting for the delimiter), then require the delimiter there.

        A delimiter inside the declared bytes is refused (other parsers would end the part
        there). The part end waits only while the last declared bytes may still turn out
        to be such a delimiter (``CRLF--boundary`` then padding, at most a line)."""
        buf = self._buf
        pos = self._pos
        n = len(buf)
        base = self._base
        if self._in_part:
            end = self._count_end - base
            stop = n if n < end else end
            cand = self._cand
            if cand:  # bytes held back from the previous chunk: a delimiter after all?
                if pos >= n:
                    return False
                at = self._cand_at
                self._cand = b""
                joined = cand + buf[pos : pos + len(self._key) + self.limits.max_header_line + 4]
                shift = len(cand) - pos  # joined[k] is buf[k - shift]
                err = self._judge(joined, 0, at, stop + shift, end + shift)
                if self._cand:  # still undecided: it now holds buf[pos:stop] too
                    self._pos = stop
                    return False
                if isinstance(err, MalformedInput):
                    if err.offset is not None and err.offset > at:
                        self._emit(out, cand[: err.offset - at])
                    raise err
                self._emit(out, cand)
            if stop > pos:
                err = self._check_counted(buf, pos, stop, n)
                upto = self._cand_at - base if self._cand else stop
                if err is not None and err.offset is not None and err.offset - base < upto:
                    upto = err.offset - base
                if upto > pos:  # data before a delimiter start (or an error) goes first
                    self._emit(out, buf if not pos and upto == n else buf[pos:upto])
                if err is not None:
                    raise err
                self._pos = stop
            if stop < end or self._cand:
                return False
            self._end_part(out)
            pos = stop
        d1 = self._d1
        if buf.startswith(d1, pos):
            j = pos + len(d1)
        elif self._lf and buf.startswith(self._d2, pos):
            j = pos + len(self._d2)
        elif n - pos < len(d1) and (
            d1.startswith(buf[pos:]) or (self._lf and self._d2.startswith(buf[pos:]))
        ):
            self._pos = pos
            return False  # too few bytes to tell (_pull joins them with the next chunk)
        else:
            raise self._too_long(base + pos)
        self._dstart = base + pos
        self._dbytes = buf[pos:j]
        self._dscan = base + j
        self._pos = j
        self._state = DELIM
        return True

    def _check_counted(self, buf: bytes, pos: int, stop: int, n: int) -> MalformedInput | None:
        """The error for a delimiter (or, strict, the boundary) that starts in the declared
        bytes ``buf[pos:stop]`` (looking ahead up to ``n``), if any; an undecided one that
        the buffer ends in is kept in ``_cand`` (its declared bytes, not passed on yet)."""
        key = self._key
        klen = len(key)
        base = self._base
        decl = self._count_end - base  # where the declared bytes end, in ``buf``
        i = buf.find(key, pos, stop + klen - 1)  # a key that starts before ``stop``
        if i >= 0:
            found = self._judge(buf, i, base + i, stop, decl)
            if found is not False:
                return found
            # near misses: the first real one (if any) in C, however many there are
            pad = self.limits.max_header_line
            real = re.compile(re.escape(key) + b"(?:--|[ \t]{0,%d}\r?\n)" % (pad - 1)).search
            m = real(buf, i + 1, n)
            if m is not None and m.start() < stop:
                found = self._judge(buf, m.start(), base + m.start(), stop, decl)
                if found is not False:
                    return found
            t = buf.rfind(key, max(i + 1, n - klen - pad - 2), stop + klen - 1)
            if t >= 0:
                found = self._judge(buf, t, base + t, stop, decl)  # undecided at the end?
                if found is not False:
                    return found
        h = self._holdback(buf, pos, n)  # a key cut by the end of the buffer
        if h < n and h < stop:
            self._cand = buf[h:stop]
            self._cand_at = base + h
        return None

    def _judge(
        self, data: bytes, i: int, at: int, keep: int, decl: int
    ) -> MalformedInput | Literal[False] | None:
        """Is there a delimiter at ``data[i]`` (absolute offset ``at``; the declared bytes
        end at ``data[decl]``)? The error to raise if there is (strict: if the boundary
        is there at all); False if not; None when ``data`` ends before that is known (then
        ``_cand`` keeps ``data[i:keep]``, the part of it already received)."""
        key = self._key
        klen = len(key)
        end = len(data)
        start = i  # where the delimiter would start: LF framing counts a CR before the key
        if self._lf:
            if i < end and data[i] == CR:
                i += 1
            elif i and data[i - 1] == CR:
                start = i - 1
                at -= 1
        verdict: bool | None = None
        if i >= decl:  # the key starts after the declared bytes: the delimiter (checked later)
            return False
        if end - i < klen:
            verdict = None if key.startswith(data[i:end]) else False
        elif not data.startswith(key, i):
            return False
        else:
            j = i + klen
            limit = j + self.limits.max_header_line
            while j < end and j < limit and (data[j] == SP or data[j] == HT):
                j += 1
            if j >= limit:
                verdict = False
            elif j < end:
                c = data[j]
                if c == LF:
                    verdict = not self.strict
                elif c == CR or (c == DASH and j == i + klen):
                    if j + 1 < end:
                        verdict = data[j + 1] == (LF if c == CR else DASH)
                else:
                    verdict = False
            if self.strict and verdict is False:
                return MalformedInput(
                    f"the boundary occurs inside the {self._count_len} bytes of the part's "
                    "Content-Length",
                    offset=at,
                    part=self._nparts - 1,
                )
        if verdict is None:
            self._cand = data[start:keep]
            self._cand_at = at
            return None
        if verdict:
            return MalformedInput(
                f"part declares Content-Length: {self._count_len} but its delimiter follows "
                f"after {max(0, at - self._body_start)} bytes",
                offset=at,
                part=self._nparts - 1,
            )
        return False

    def _too_long(self, offset: int) -> MalformedInput:
        """No delimiter right after the declared bytes (which end at ``offset``)."""
        return MalformedInput(
            f"part declares Content-Length: {self._count_len} but no delimiter follows its "
            f"{self._count_len} bytes (the body is longer, or its delimiter is malformed)",
            offset=offset,
            part=self._nparts - 1,
        )

    def _early_delimiter(self) -> None:
        """A delimiter at ``_dstart`` ends a part before its Content-Length: refuse it."""
        if self._count_end < 0 or self._dstart >= self._count_end or not self._count_len:
            return
        raise MalformedInput(
            f"part declares Content-Length: {self._count_len} but its delimiter follows "
            f"after {max(0, self._dstart - self._body_start)} bytes",
            offset=self._dstart,
            part=self._nparts - 1,
        )

    def _found_first(self) -> None:
        pre = self._dstart
        limit = self.limits.max_preamble
        if limit is not None and pre > limit:
            raise LimitExceeded("max_preamble", limit, offset=limit)
        self._preamble_size = pre

    def _preamble(self) -> bool:
        """Look for the first delimiter. False: need more input."""
        buf = self._buf
        pos = self._pos
        n = len(buf)
        base = self._base
        dash = self._dash
        if base + pos == 0:
            if buf.startswith(dash):
                self._dstart = 0
                self._dbytes = dash
                self._dscan = len(dash)
                self._pos = len(dash)
                self._state = DELIM
                return True
            if len(buf) < len(dash) and dash.startswith(buf):
                return False
        key = self._key
        i = buf.find(key, pos)
        limit = self.limits.max_preamble
        if self._near is None and self._core:
            self._look_for_dash_mismatch(buf, pos, i if i >= 0 else n, n)
        if i >= 0:
            s = i - 1 if (self._lf and i > pos and buf[i - 1] == CR) else i
            if limit is not None and base + s > limit:
                raise LimitExceeded("max_preamble", limit, offset=limit)
            self._dstart = base + s
            self._dbytes = self._d1 if s < i or not self._lf else self._d2
            self._dscan = base + i + len(key)
            self._pos = i + len(key)
            self._state = DELIM
            return True
        h = self._holdback(buf, pos, n) if n > pos else n
        keep = h
        if self._near is None and self._core:  # keep a line that may be cut by the chunk end
            keep = min(h, max(pos, n - len(self._dash) - _EXTRA_DASHES - 1))
        if limit is not None and base + h > limit:
            raise LimitExceeded(
                "max_preamble", limit, offset=limit, detail=self._dash_hint() or None
            )
        self._pos = keep
        self._preamble_size = base + h
        return False

    def _look_for_dash_mismatch(self, buf: bytes, pos: int, stop: int, n: int) -> None:
        """Remember the first line in ``buf[pos:stop]`` (``buf[:n]`` is known) that holds
        the boundary with another number of leading dashes (1 or more) than a delimiter has
        (``--`` + boundary), for the error that follows when no delimiter is ever found.
        Only the first ``_HINT_SPAN`` input bytes are looked at; the verdict is the same
        for every chunking (a line cut by the buffer's end is looked at again later)."""
        core = self._core
        want = len(self._dash) - len(core)
        most = want + _EXTRA_DASHES
        base = self._base
        span = min(stop, _HINT_SPAN - base) + len(core)  # cores that start before both
        k = buf.find(core, pos, span)
        while k >= 0:
            end = k + len(core)
            if end >= n:
                return  # what follows it is not known yet
            d = k
            while d > pos and k - d <= most and buf[d - 1] == DASH:
                d -= 1
            seen = k - d
            at_line_start = (d == 0 and base == 0) or (d > 0 and buf[d - 1] == LF)
            if at_line_start and 0 < seen <= most and seen != want and buf[end] in _AFTER_BOUNDARY:
                self._near = (base + d, seen)
                return
            k = buf.find(core, k + 1, span)

    def _dash_hint(self) -> str:
        """Why no delimiter was found, when a line had the boundary with other dashes."""
        if self._near is None:
            return ""
        offset, seen = self._near
        core = self._core.decode("ascii", "replace")
        want = len(self._dash) - len(self._core)
        declared = self.boundary.decode("ascii", "replace")
        fix = "the sender must write '--' + boundary"
        if seen >= 2:
            fix += f", or the Content-Type must declare boundary={'-' * (seen - 2) + core!r}"
        return (
            f"the Content-Type declares boundary={declared!r}, so a delimiter line is "
            f"'--' + boundary = {'-' * want + core!r} (RFC 2046), but the line at byte "
            f"offset {offset} is {'-' * seen + core!r} ({seen} leading dashes, not {want}); "
            f"{fix}"
        )

    # ------------------------------------------------------------------ after the close

    def _post(self) -> None:
        """Count (and drop) what follows the close delimiter."""
        if self._pos < len(self._buf):
            self._eat_post(self._buf, self._pos)
            self._buf = b""
            self._pos = 0
        while self._pending:
            self._eat_post(self._pending.popleft(), 0)
        if self._eof:
            self._finish_post()

    def _eat_post(self, data: bytes, pos: int) -> None:
        """Count (and discard) ``data[pos:]``, bytes after the close delimiter."""
        n = len(data)
        off = self._post_off - pos  # absolute offset of data[0]
        if self._state == CLOSE:
            j = pos
            if self._post_cr:
                self._post_cr = False
                if data[j] == LF:
                    j += 1
                else:
                    self._odd_post(off + j - 1)
                    self._epilogue_size += 1
                self._state = EPILOGUE
            else:
                while j < n and (data[j] == SP or data[j] == HT):
                    j += 1
                self._post_pad += j - pos
                if j < n:
                    c = data[j]
                    if c == CR:
                        if j + 1 >= n:
                            self._post_cr = True
                            j += 1
                        elif data[j + 1] == LF:
                            j += 2
                        else:
                            self._odd_post(off + j)
                    elif c == LF:
                        if self.strict:
                            raise MalformedInput(
                                "close delimiter line ends with a bare LF", offset=off + j
                            )
                        j += 1
                    else:
                        self._odd_post(off + j)
                    if not self._post_cr:
                        self._state = EPILOGUE
            pos = j
        if self._state == EPILOGUE:
            self._epilogue_size += n - pos
        self._post_off = off + n
        limit = self.limits.max_epilogue
        if limit is not None and self._epilogue_size + self._post_pad > limit:
            raise LimitExceeded(
                "max_epilogue", limit, offset=off + n, detail="too many bytes after the end"
            )

    def _odd_post(self, offset: int) -> None:
        if self.strict:
            raise MalformedInput("unexpected bytes after the close delimiter", offset=offset)

    def _finish_post(self) -> None:
        if self._post_cr:
            self._post_cr = False
            self._odd_post(self._post_off - 1)
            self._epilogue_size += 1
            self._state = EPILOGUE

    # ------------------------------------------------------------------ truncation

    def _at_eof(self) -> NoReturn:
        state = self._state
        if state == PREAMBLE:
            if self._received == 0:
                raise MalformedInput("empty multipart body", offset=0)
            hint = self._dash_hint()
            raise MalformedInput(
                "no multipart delimiter found" + (f": {hint}" if hint else ""),
                offset=self._received,
            )
        if state == HEADERS:
            raise MalformedInput(
                "body ends inside part headers", offset=self._received, part=self._nparts
            )
        raise MalformedInput(
            "body ends without a close delimiter", offset=self._received, part=self._where()
        )
