"""The sans-I/O streaming multipart decoder and its limits.

:class:`Decoder` turns the bytes of a multipart body (RFC 2046) into the events
``(PartStart PartData* PartEnd)* MultipartEnd``. It never does I/O: the caller feeds bytes
with :meth:`Decoder.receive_data` and pulls events with :meth:`Decoder.next_event`.

The result is identical for every way the input is split into chunks. Memory held by a
decoder is bounded by :class:`Limits` plus one delimiter, whatever the input -- except that
a body chunk (of at most 1 MiB) that ends with what may be the start of a delimiter is kept
*by reference* until the next chunk decides, so that it can then be passed on whole
instead of being copied. Body data is never copied otherwise: a chunk without a delimiter
becomes one :class:`PartData` holding the very same ``bytes`` object.

Semantics (``strict=False`` is the lenient default, ``strict=True`` turns every oddity
into :class:`MalformedInput`):

==========================================  ==========================  =====================
input                                       lenient (default)           strict
==========================================  ==========================  =====================
preamble before the first delimiter         skipped, counted            skipped, counted
first delimiter at offset 0 (no CRLF)       accepted                    accepted
transport padding (SP/HT) after delimiter   accepted                    accepted
bare-LF line breaks (delimiter preceded     accepted                    the LF-only
by LF only; header lines / delimiter line                               "delimiter" is body
ending in LF)                                                           data (RFC); a bare LF
                                                                        ending a delimiter
                                                                        line or header line
                                                                        is an error
``CRLF--boundary`` followed by anything     body data                   error (the boundary
but padding+CRLF or ``--``                                              must not occur in a
                                                                        body)
obsolete header folding (SP/HT line start)  unfolded with one space     error
header name with whitespace before colon    whitespace dropped          error
header name with non-token characters       accepted (no CTL/space)     error
header line without colon / empty name      error                       error
CR or NUL inside a header line              error                       error
close delimiter before any part (``--b--``) zero parts                  error
bytes after the close delimiter other than  epilogue (counted, never    error
padding then CRLF                           parsed)
missing close delimiter / truncated body    error                       error
==========================================  ==========================  =====================

The epilogue is never parsed: :attr:`Decoder.epilogue_size` counts the bytes after the line
break that ends the close delimiter line.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, fields
from typing import NoReturn

from ._codecs import Codec, make_decoder
from ._errors import LimitExceeded, MalformedInput, MimeWireError, UsageError
from ._events import NEED_DATA, Event, Headers, MultipartEnd, NeedData, PartData, PartEnd, PartStart
from ._headers import decode_header_bytes

__all__ = ["Decoder", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Resource limits of a :class:`Decoder` (and of :func:`mimewire.parse`).

    Every limit is checked *before* the bytes it guards are buffered; exceeding one raises
    :class:`LimitExceeded` naming it. ``None`` means unlimited (only where allowed).

    * ``max_header_line`` (8 KiB): bytes in one header line (without its line break); also
      bounds a delimiter line with transport padding.
    * ``max_header_bytes`` (16 KiB): bytes of one part's header block, line breaks included,
      the terminating blank line excluded.
    * ``max_headers`` (64): header fields per part (after unfolding).
    * ``max_parts`` (1000, like werkzeug's and starlette's defaults): parts per multipart
      body (nested bodies are counted by their own decoder).
    * ``max_part_size`` (None): encoded (wire) bytes of one part body. Set it on servers.
    * ``max_total_size`` (None): bytes of the whole input, preamble and epilogue included.
    * ``max_preamble`` (64 KiB): bytes before the first delimiter.
    * ``max_epilogue`` (64 KiB): bytes after the close delimiter (padding included).
    * ``max_depth`` (8): nesting depth of multipart parts inside multipart parts (the
      top-level body has depth 0).
    """

    max_header_line: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    max_headers: int = 64
    max_parts: int = 1000
    max_part_size: int | None = None
    max_total_size: int | None = None
    max_preamble: int | None = 64 * 1024
    max_epilogue: int | None = 64 * 1024
    max_depth: int = 8

    def __post_init__(self) -> None:
        optional = {"max_part_size", "max_total_size", "max_preamble", "max_epilogue"}
        may_be_zero = {"max_part_size", "max_preamble", "max_epilogue", "max_depth"}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in optional:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise UsageError(f"Limits.{f.name} must be an int, not {type(value).__name__}")
            lowest = 0 if f.name in may_be_zero else 1
            if value < lowest:
                raise UsageError(f"Limits.{f.name} must be >= {lowest}, got {value}")


# Parser states (ints: cheap comparisons in the hot loop).
_PREAMBLE = 0  # looking for the first delimiter
_HEADERS = 1  # reading a part's header block
_BODYSTART = 2  # headers done; is the blank line the CRLF of an immediate delimiter?
_BODY = 3  # scanning a part body for the next delimiter
_DELIM = 4  # saw CRLF--boundary; deciding: next part, close, or just data
_CLOSE = 6  # after the close delimiter: padding, then the line break
_EPILOGUE = 7  # counting and discarding the epilogue
_DEAD = 9  # after an error or close()
_BODYHOLD = 5  # body data with a possible delimiter start at its end, waiting for more

_DEFER_MAX = 1 << 20  # chunks up to this size are held whole rather than copied

_TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_LAX_NAME = bytes(range(33, 127)).replace(b":", b"")
# RFC 2046 bcharsnospace + space
_BCHARS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=? "
# A plain header block (lines joined by CRLF, no folding, no CR/LF/NUL in values), as
# decoded text: the fast lane parses these; anything else takes the general path.
_LAX_BLOCK = re.compile(r"(?:[!-9;-~]+:[^\r\n\x00]*\r\n)*[!-9;-~]+:[^\r\n\x00]*").fullmatch
_STRICT_BLOCK = re.compile(
    r"(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\r\n\x00]*\r\n)*[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\r\n\x00]*"
).fullmatch
# One header line after a delimiter: CRLF name ":" value CRLF CRLF (the lane's common case).
# Linear: neither group can contain what follows it.
_LAX_ONE = re.compile(rb"\r\n([!-9;-~]+):([^\r\n\x00]*)\r\n\r\n").match
_STRICT_ONE = re.compile(rb"\r\n([-!#$%&'*+.^_`|~0-9A-Za-z]+):([^\r\n\x00]*)\r\n\r\n").match
_END = PartEnd()
_new = object.__new__
# the slots' own setters: frozen events built without the generic __setattr__ lookup
_set_data = PartData.__dict__["data"].__set__
_set_headers = PartStart.__dict__["headers"].__set__
_set_parsed = PartStart.__dict__["_parsed"].__set__
_MULTIPART_END = MultipartEnd()


class Decoder:
    """Sans-I/O multipart decoder: bytes in with :meth:`receive_data`, events out with
    :meth:`next_event`.

    ``boundary`` is the ``boundary`` parameter of the body's Content-Type (str or bytes).
    With ``decode_transfer`` (the default) base64 and quoted-printable part bodies are
    decoded; :attr:`PartStart.transfer_encoding` still tells what was declared. ``depth``
    is the nesting depth of this body (checked against ``limits.max_depth``).

    Errors are sticky: after a :class:`MimeWireError` every call raises it again.
    """

    __slots__ = (
        "_accepting",
        "_base",
        "_blank",
        "_body_start",
        "_buf",
        "_closed",
        "_codec",
        "_d1",
        "_d2",
        "_dash",
        "_dbytes",
        "_dl1",
        "_dscan",
        "_dstart",
        "_eof",
        "_epilogue_size",
        "_error",
        "_hbytes",
        "_hcount",
        "_hlines",
        "_hmax",
        "_hold",
        "_hscan",
        "_idle",
        "_in_part",
        "_key",
        "_max_total",
        "_maxh",
        "_maxline",
        "_names",
        "_nparts",
        "_offsets",
        "_part_size",
        "_pending",
        "_plain",
        "_pos",
        "_post_cr",
        "_post_off",
        "_post_pad",
        "_preamble_size",
        "_ready",
        "_received",
        "_state",
        "_tail",
        "_tailc",
        "boundary",
        "decode_transfer",
        "depth",
        "limits",
        "strict",
    )

    def __init__(
        self,
        boundary: str | bytes,
        *,
        limits: Limits | None = None,
        strict: bool = False,
        decode_transfer: bool = True,
        depth: int = 0,
    ) -> None:
        if limits is None:
            limits = _DEFAULT_LIMITS
        if not isinstance(limits, Limits):
            raise UsageError(f"limits must be a Limits instance, not {type(limits).__name__}")
        if isinstance(boundary, str):
            try:
                bnd = boundary.encode("ascii")
            except UnicodeEncodeError:
                raise UsageError(f"boundary {boundary!r} is not ASCII") from None
        elif isinstance(boundary, (bytes, bytearray)):
            bnd = bytes(boundary)
        else:
            raise UsageError(f"boundary must be str or bytes, not {type(boundary).__name__}")
        if not bnd:
            raise UsageError("empty boundary")
        if strict:
            if len(bnd) > 70 or bnd.endswith(b" ") or bnd.translate(None, _BCHARS):
                raise UsageError(f"boundary {bnd!r} is not valid (RFC 2046: 1-70 bchars)")
        elif len(bnd) > 256 or any(c in bnd for c in b"\r\n\x00"):
            raise UsageError(f"boundary {bnd!r} is not usable (CR/LF/NUL or > 256 bytes)")
        if not isinstance(depth, int) or depth < 0:
            raise UsageError(f"depth must be a non-negative int, got {depth!r}")
        if depth > limits.max_depth:
            raise LimitExceeded(
                "max_depth", limits.max_depth, detail=f"multipart nested {depth} levels deep"
            )
        self.boundary = bnd
        self.limits = limits
        self.strict = bool(strict)
        self.decode_transfer = bool(decode_transfer)
        self.depth = depth

        self._d1 = b"\r\n--" + bnd  # the RFC delimiter
        self._d2 = b"\n--" + bnd  # lenient: LF-only delimiter
        self._dash = b"--" + bnd  # the first delimiter at offset 0
        self._key = self._d1 if strict else self._d2  # what the body scan searches for

        self._state = _PREAMBLE
        self._buf = b""
        self._pos = 0
        self._base = 0  # absolute offset of self._buf[0]
        self._pending: deque[bytes] = deque()
        self._ready: deque[Event] = deque()
        self._received = 0
        self._eof = False
        self._closed = False
        self._accepting = True
        self._error: MimeWireError | None = None
        self._max_total = limits.max_total_size if limits.max_total_size is not None else 1 << 62
        self._plain = limits.max_part_size is None  # no size check, no codec: fast path
        self._dl1 = len(self._d1) - 1
        self._tail = -self._dl1  # rfind start: the last bytes that may start a delimiter
        self._tailc = b"\r" if strict else b"\n"
        self._hmax = limits.max_header_bytes + 2
        self._maxh = limits.max_headers
        self._maxline = limits.max_header_line
        self._names = _TCHAR if strict else _LAX_NAME

        self._in_part = False
        self._nparts = 0
        self._part_size = 0
        self._body_start = 0
        self._codec: Codec | None = None
        self._offsets: list[int] | None = None  # body offsets of the parts, when recorded
        # delimiter bookkeeping
        self._dstart = 0  # absolute offset where the pending delimiter starts
        self._dbytes = b""  # its bytes, re-emitted as data when it turns out not to be one
        self._dscan = 0  # absolute offset up to which padding was scanned
        # header bookkeeping
        self._hlines: list[tuple[bytes, int]] = []
        self._hbytes = 0
        self._hcount = 0
        self._hscan = 0
        self._blank = 2  # length of the blank line that ended the headers
        self._hold = 0  # _BODYHOLD: where the possible delimiter start begins
        # preamble / epilogue
        self._preamble_size = 0
        self._epilogue_size = 0
        self._post_pad = 0
        self._post_cr = False
        self._post_off = 0
        # True only while the state is exactly what feed()'s fast path leaves: a part body
        # being scanned, everything consumed (empty buffer), nothing queued, no limit on
        # the part size, no codec. Every entry point that may change the state clears it.
        self._idle = False

    # ------------------------------------------------------------------ public API

    @property
    def preamble_size(self) -> int:
        """Bytes before the first delimiter (the CRLF in front of it excluded)."""
        return self._preamble_size

    @property
    def epilogue_size(self) -> int:
        """Bytes after the line break that ends the close delimiter line."""
        return self._epilogue_size

    @property
    def offset(self) -> int:
        """Absolute input offset up to which bytes have been consumed."""
        if self._state >= _CLOSE and not self._ready:
            return self._post_off
        return self._base + self._pos

    @property
    def part_count(self) -> int:
        """Number of parts started so far."""
        return self._nparts

    @property
    def finished(self) -> bool:
        """True once the close delimiter has been decoded."""
        return self._state >= _CLOSE

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next chunk of input; ``b""`` signals the end of input.

        The chunk is not copied: body data is passed on as slices of it (the whole chunk
        when it holds no delimiter).
        """
        self._idle = False
        if type(data) is bytes and data and self._accepting:
            received = self._received + len(data)
            if received > self._max_total:
                self._fail(
                    LimitExceeded(
                        "max_total_size",
                        self._max_total,
                        offset=self._max_total,
                        detail="multipart body too large",
                    )
                )
            self._received = received
            if self._state < _CLOSE:
                if self._pos == len(self._buf) and not self._pending:
                    self._base += self._pos
                    self._buf = data
                    self._pos = 0
                else:
                    self._pending.append(data)
                return
        self._receive_slow(data)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """``receive_data(data)``, then every event available now (a convenience that
        costs one call per chunk; ``b""`` ends the input and returns the last events).

        When an error follows some events, those are returned and the (sticky) error is
        raised by the next call.
        """
        if self._idle and type(data) is bytes:
            # fastest path: a body chunk without any possible delimiter passes through whole
            received = self._received + len(data)
            if received <= self._max_total and data:
                i = data.find(self._key)
                if i < 0 and data.rfind(self._tailc, self._tail) < 0 and data[-1] != 13:
                    self._received = received
                    self._base = received
                    chunk_event = _new(PartData)
                    _set_data(chunk_event, data)
                    return [chunk_event]
                # (idle: the buffer is empty and _base is the offset of data[0])
                self._idle = False
                self._received = received
                self._buf = data
                return self._feed_body(data, i)
        self._idle = False
        if (
            type(data) is bytes
            and data
            and self._state == _BODY
            and self._plain
            and self._accepting
            and self._pos == len(self._buf)
            and not self._pending
            and not self._ready
        ):
            received = self._received + len(data)
            if received <= self._max_total:
                # fast path: a body chunk; no copy, one scan
                self._received = received
                self._base += self._pos
                self._buf = data
                self._pos = 0
                return self._feed_body(data, data.find(self._key))
        if (
            self._state == _BODYHOLD
            and type(data) is bytes
            and self._accepting
            and not self._pending
            and not self._ready
        ):
            # the last chunk ended with what may start a delimiter: if this chunk shows it
            # is not one, pass the last chunk on whole and scan this one (as _resolve_hold)
            received = self._received + len(data)
            d1 = self._d1
            buf = self._buf
            joined = buf[self._hold :] + data[: len(d1)]
            if (
                received <= self._max_total
                and len(joined) >= len(d1)
                and not joined.startswith(d1)
                and (self.strict or not joined.startswith(self._d2))
            ):
                pos = self._pos
                held = _new(PartData)
                _set_data(held, buf[pos:] if pos else buf)
                self._received = received
                self._base += len(buf)
                self._buf = data
                self._pos = 0
                self._state = _BODY
                try:
                    events = self._feed_body(data, data.find(self._key))
                except MimeWireError:
                    return [held]  # events before an error first; the sticky error comes next
                events.insert(0, held)
                return events
        out: list[Event] = []
        ready = self._ready
        next_event = self.next_event
        self.receive_data(data)
        try:
            while True:
                if ready:
                    out.extend(ready)
                    ready.clear()
                event = next_event()
                if event is NEED_DATA:
                    break
                out.append(event)
        except MimeWireError:
            if not out:
                raise
            return out  # the (sticky) error is raised by the next call
        self._check_idle()
        return out

    def _feed_body(self, data: bytes, i: int) -> list[Event]:
        """feed() of a body chunk that is now the whole buffer; ``i``: the first key in it."""
        out: list[Event] = []
        if i < 0:
            n = len(data)
            h = self._holdback(data, 0, n)
            if 0 < h < n and n <= _DEFER_MAX:
                self._hold = h
                self._state = _BODYHOLD
                return out
            self._pos = h
            if h == n:
                self._base += n
                self._buf = b""
                self._pos = 0
                self._idle = True
                return [PartData(data)]
            return [PartData(data[:h])] if h else out
        ready = self._ready
        next_event = self.next_event
        try:
            first = self._lane(data, 0, i)
            while first is not NEED_DATA:
                out.append(first)
                if ready:
                    out.extend(ready)
                    ready.clear()
                first = next_event()
        except MimeWireError:
            if not out:
                raise
            return out
        self._check_idle()
        return out

    def _check_idle(self) -> None:
        """Enter the idle state (see ``_idle``) if the decoder is in it."""
        if (
            self._state == _BODY
            and self._plain
            and self._accepting
            and self._pos == len(self._buf)
            and not self._pending
        ):
            self._base += self._pos
            self._buf = b""
            self._pos = 0
            self._idle = True

    def _receive_slow(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            raise self._error.with_traceback(None)
        if self._closed:
            raise UsageError("receive_data() called on a closed Decoder")
        if self._eof:
            raise UsageError("receive_data() called after the end of input (b'')")
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise UsageError(f"receive_data() needs bytes, not {type(data).__name__}")
            data = bytes(data)
            if data:
                self.receive_data(data)
                return
        if not data:
            self._eof = True
            self._accepting = False
            return
        # after the close delimiter: nothing is parsed, bytes are counted and dropped
        if self._pending or self._ready:
            self._pending.append(data)
            return
        try:
            if self._pos < len(self._buf):
                self._eat_post(self._buf, self._pos)
                self._buf = b""
                self._pos = 0
            self._eat_post(data, 0)
        except MimeWireError as exc:
            self._fail(exc)

    def _fail(self, exc: MimeWireError) -> NoReturn:
        self._error = exc
        self._accepting = False
        self._state = _DEAD
        self._ready.clear()
        self._pending.clear()
        self._buf = b""
        self._pos = 0
        raise exc

    def next_event(self) -> Event | NeedData:
        """Return the next event, or :data:`NEED_DATA` when more input is needed.

        :class:`MultipartEnd` is the last event; after it, ``NEED_DATA`` is returned (bytes
        that follow are counted as epilogue). Errors are raised once every event before the
        problem has been returned.
        """
        if self._ready:
            return self._ready.popleft()
        if self._state != _BODY:
            return self._next()
        # fast path: scanning a part body
        buf = self._buf
        pos = self._pos
        n = len(buf)
        if pos >= n:
            if not self._pending and not self._eof:
                return NEED_DATA
            return self._next()
        i = buf.find(self._key, pos)
        if i >= 0:
            return self._lane(buf, pos, i)
        # no delimiter: emit the chunk, holding back only what may start a delimiter
        w = n - self._dl1
        if buf.rfind(self._tailc, w if w > pos else pos) < 0 and buf[n - 1] != 13:
            h = n
        else:
            h = self._holdback(buf, pos, n)
            if pos < h < n and self._plain and n - pos <= _DEFER_MAX:
                # The chunk ends with what may start a delimiter. Rather than copy all but
                # that tail now, decide when the next chunk arrives: usually the chunk is
                # then passed on whole.
                self._hold = h
                self._state = _BODYHOLD
                return self._next()
        self._pos = h
        if h > pos:
            if self._plain:
                event = _new(PartData)
                _set_data(event, buf[pos:h] if pos or h < n else buf)
                return event
            return self._emit(buf[pos:h])
        return self._next()

    def _emit(self, data: bytes) -> Event | NeedData:
        try:
            event = self._data(data)
        except MimeWireError as exc:
            self._fail(exc)
        return event if event is not None else self._next()

    def _lane(self, buf: bytes, pos: int, i: int) -> Event | NeedData:
        """Decode as far as the buffer allows the common case, queueing the events: CRLF
        delimiter lines, plain CRLF header blocks without Content-Transfer-Encoding. Any
        other case leaves the state exactly as the general state machine would have it
        at that point, and the general machine (``_next``) carries on.

        ``buf[i:]`` starts with the search key, found scanning a part body from ``pos``.
        """
        ready = self._ready
        append = ready.append
        key = self._key
        klen = len(key)
        d1 = self._d1
        dl = len(d1)
        base = self._base
        n = len(buf)
        strict = self.strict
        plain = self._plain
        lf = not strict
        s = i - 1 if (lf and i > pos and buf[i - 1] == 13) else i
        j = i + klen
        dbytes = None  # the delimiter's bytes: buf[s:j] unless set
        try:
            if self._codec is None:
                limits = self.limits
                maxparts = limits.max_parts
                maxline = limits.max_header_line
                hmax2 = self._hmax + 2
                one = _STRICT_ONE if strict else _LAX_ONE
                offsets = self._offsets
                extra = offsets is not None or not plain
                while True:
                    if s > pos:
                        if plain:
                            data = _new(PartData)
                            _set_data(data, buf[pos:s])
                            append(data)
                        else:
                            event = self._data(buf[pos:s])
                            if event is not None:
                                append(event)
                    m = one(buf, j, j + hmax2) if self._nparts < maxparts else None
                    if m is not None:
                        # CRLF--boundary CRLF name: value CRLF CRLF, the most common case
                        append(_END)
                        name, value = m.groups()
                        e = m.end() - 4
                        if len(name) == 25 or e - j - 2 > maxline:  # maybe a CTE; long
                            return self._lane_headers(j + 2, base + s)
                        try:
                            text = value.decode("utf-8")
                        except UnicodeDecodeError:
                            return self._lane_headers(j + 2, base + s)
                        headers: Headers = ((name.decode("ascii"), text.strip(" \t")),)
                    else:
                        if not (j + 1 < n and buf[j] == 13 and buf[j + 1] == 10):
                            break
                        # CRLF--boundary CRLF: the part ends, the next one's headers follow
                        append(_END)
                        found = self._lane_block(buf, j + 2)
                        if found is None:
                            return self._lane_headers(j + 2, base + s)
                        headers, e = found
                    start = _new(PartStart)
                    _set_headers(start, headers)
                    _set_parsed(start, {})
                    append(start)
                    self._nparts += 1
                    q = e + 2
                    if extra:
                        if not plain:
                            self._part_size = 0
                            self._body_start = base + e + 4
                        if offsets is not None:
                            offsets.append(base + e + 4)
                    if n - q < dl:
                        self._blank = 2
                        self._pos = q
                        self._state = _BODYSTART
                        return ready.popleft()
                    if buf[q + 2] == 45 and buf.startswith(d1, q):  # empty body
                        pos = s = q
                        j = q + dl
                        dbytes = d1[2:]
                        continue
                    pos = q + 2
                    # a bounded search first: cheaper for the small parts this lane is for
                    i = buf.find(key, pos, pos + 4096)
                    if i < 0 and n > pos + 4096:
                        i = buf.find(key, pos + 4097 - klen)
                    if i < 0:
                        self._pos = pos
                        self._state = _BODY
                        return ready.popleft()
                    s = i - 1 if (lf and i > pos and buf[i - 1] == 13) else i
                    j = i + klen
                    dbytes = None
            elif s > pos:
                event = self._data(buf[pos:s])
                if event is not None:
                    append(event)
            self._dstart = base + s
            self._dbytes = buf[s:j] if dbytes is None else dbytes
            self._dscan = base + j
            self._pos = j
            self._state = _DELIM
        except MimeWireError as exc:
            self._defer(exc)
        if ready:
            return ready.popleft()
        return self._next()

    def _lane_block(self, buf: bytes, hp: int) -> tuple[Headers, int] | None:
        """The headers of a plain CRLF header block at ``buf[hp]`` without
        Content-Transfer-Encoding, and the index of its blank line; None otherwise."""
        if self._nparts >= self.limits.max_parts:
            return None
        e = buf.find(b"\r\n\r\n", hp, hp + self._hmax)
        if e <= hp:
            return None
        block = buf[hp:e]
        if len(block) > self._maxline:
            return None
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if (_STRICT_BLOCK if self.strict else _LAX_BLOCK)(text) is None:
            return None  # anything unusual: the general path
        if "\n" in text:
            fields = []
            for line in text.split("\r\n"):
                name, _, value = line.partition(":")
                if len(name) == 25:  # maybe Content-Transfer-Encoding
                    return None
                fields.append((name, value.strip(" \t")))
            if len(fields) > self._maxh:
                return None
            return tuple(fields), e
        name, _, value = text.partition(":")
        if len(name) == 25:
            return None
        return ((name, value.strip(" \t")),), e

    def _lane_headers(self, hp: int, dstart: int) -> Event | NeedData:
        """Leave the fast lane at the start of a header block (``buf[hp]``)."""
        self._dstart = dstart
        self._in_part = False
        self._pos = hp
        self._hscan = self._base + hp
        self._hbytes = 0
        self._hcount = 0
        self._hlines = []
        self._state = _HEADERS
        return self._ready.popleft()

    def _defer(self, exc: MimeWireError) -> None:
        """Record a sticky error, raised once the events queued before it are returned."""
        if not self._ready:
            self._fail(exc)
        self._error = exc
        self._accepting = False
        self._state = _DEAD
        self._pending.clear()
        self._buf = b""
        self._pos = 0

    def _next(self) -> Event | NeedData:
        ready = self._ready
        try:
            while True:
                if ready:
                    return ready.popleft()
                state = self._state
                if state == _BODY:
                    buf = self._buf
                    pos = self._pos
                    n = len(buf)
                    if pos < n:
                        i = buf.find(self._key, pos)
                        if i >= 0:
                            lf = not self.strict
                            s = i - 1 if (lf and i > pos and buf[i - 1] == 13) else i
                            self._dstart = self._base + s
                            self._dbytes = self._d1 if (s < i or self.strict) else self._d2
                            self._pos = j = i + len(self._key)
                            self._dscan = self._base + j
                            self._state = _DELIM
                            if s > pos:
                                if self._plain:
                                    return PartData(buf[pos:s])
                                event = self._data(buf[pos:s])
                                if event is not None:
                                    return event
                            continue
                        # no delimiter: hold back only what may start one
                        h = self._holdback(buf, pos, n)
                        if pos < h < n and self._plain and n - pos <= _DEFER_MAX:
                            self._hold = h  # decided when the next chunk comes (no copy)
                            self._state = _BODYHOLD
                            continue
                        self._pos = h
                        if h > pos:
                            if self._plain:
                                return PartData(buf[pos:h])
                            event = self._data(buf[pos:h])
                            if event is not None:
                                return event
                            continue
                    pending = self._pending
                    if not pending:
                        if self._eof:
                            self._at_eof()
                        return NEED_DATA
                    chunk = pending.popleft()
                    if pos >= n:
                        self._base += n
                        self._buf = chunk
                        self._pos = 0
                    else:
                        self._resolve_tail(buf[pos:], chunk)
                        if ready:
                            return ready.popleft()
                    continue

                if state == _DELIM:
                    buf = self._buf
                    p = self._pos
                    if (
                        p + 1 < len(buf)
                        and buf[p] == 13
                        and buf[p + 1] == 10
                        and self._in_part
                        and self._codec is None
                    ):  # the common case: CRLF--boundary CRLF ends a part
                        self._pos = p + 2
                        self._hscan = self._base + p + 2
                        self._hbytes = 0
                        self._hcount = 0
                        self._in_part = False
                        self._state = _HEADERS
                        return _END
                    done = self._delim(buf, p, len(buf))
                elif state == _HEADERS:
                    start = self._headers()
                    if start is not None:
                        return start
                    done = self._state != _HEADERS
                elif state == _BODYHOLD:
                    if not self._pending:
                        if self._eof:
                            self._at_eof()
                        return NEED_DATA
                    self._resolve_hold(self._pending.popleft())
                    done = True
                elif state == _BODYSTART:
                    done = self._bodystart(self._buf, self._pos, len(self._buf))
                elif state == _PREAMBLE:
                    done = self._preamble(self._buf, self._pos, len(self._buf))
                elif state == _DEAD:
                    if self._error is not None:
                        raise self._error.with_traceback(None)
                    raise UsageError("next_event() called on a closed Decoder")
                else:  # _CLOSE / _EPILOGUE
                    if self._pos < len(self._buf):
                        self._eat_post(self._buf, self._pos)
                        self._buf = b""
                        self._pos = 0
                    while self._pending:
                        self._eat_post(self._pending.popleft(), 0)
                    if self._eof:
                        self._finish_post()
                    return NEED_DATA
                if done:
                    if ready:
                        return ready.popleft()
                    continue
                # the state handler needs more input: join the leftover and the next chunk
                if not self._pending:
                    if self._eof:
                        self._at_eof()
                    return NEED_DATA
                chunk = self._pending.popleft()
                buf = self._buf
                pos = self._pos
                if state == _BODYSTART:
                    self._resolve_bodystart(buf[pos:], chunk)
                    continue
                self._buf = buf[pos:] + chunk if pos < len(buf) else chunk
                self._base += pos
                self._pos = 0
        except MimeWireError as exc:
            if self._state == _DEAD and exc is self._error:
                raise
            self._defer(exc)
            return ready.popleft()

    def close(self) -> None:
        """End the input and check that the body was complete.

        Events not yet pulled are decoded and discarded. Raises :class:`MalformedInput`
        if the close delimiter was never seen (a truncated body is never silent).
        """
        self._idle = False
        if self._closed:
            return
        if self._error is not None:
            raise self._error.with_traceback(None)
        self._eof = True
        self._accepting = False
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                break
        self._closed = True
        self._state = _DEAD

    # ------------------------------------------------------------------ internals

    def _where(self) -> int | None:
        return self._nparts - 1 if self._in_part else None

    def _holdback(self, buf: bytes, pos: int, n: int) -> int:
        """Index from which ``buf[:n]`` may end with a proper prefix of a delimiter."""
        w = n - len(self._d1) + 1
        if w < pos:
            w = pos
        if self.strict:
            t = buf.rfind(b"\r", w)
            if t >= 0 and self._d1.startswith(buf[t:]):
                return t
            return n
        t = buf.rfind(b"\n", w)
        if t >= 0 and self._d2.startswith(buf[t:]):
            if t > pos and buf[t - 1] == 13:
                return t - 1
            return t
        if buf[n - 1] == 13:
            return n - 1
        return n

    def _resolve_tail(self, tail: bytes, chunk: bytes) -> None:
        """A body tail that may start a delimiter was held back; ``chunk`` arrived."""
        tail_abs = self._base + self._pos
        d1 = self._d1
        joined = tail + chunk[: len(d1)]
        for d in (d1,) if self.strict else (d1, self._d2):
            if joined.startswith(d):
                self._dstart = tail_abs
                self._dbytes = d
                self._dscan = tail_abs + len(d)
                self._buf = chunk
                self._base = tail_abs + len(tail)
                self._pos = len(d) - len(tail)
                self._state = _DELIM
                return
        if len(joined) < len(d1) and (
            d1.startswith(joined) or (not self.strict and self._d2.startswith(joined))
        ):
            # still only a possible prefix (the chunk was tiny): keep holding it
            self._buf = joined
            self._base = tail_abs
            self._pos = 0
            return
        # the tail was body data after all
        self._buf = chunk
        self._base = tail_abs + len(tail)
        self._pos = 0
        event = self._data(tail)
        if event is not None:
            self._ready.append(event)

    def _resolve_hold(self, chunk: bytes) -> None:
        """``buf[pos:]`` is body data whose tail ``buf[hold:]`` may start a delimiter;
        ``chunk`` arrived: emit the data (uncopied when the tail was not a delimiter)."""
        buf = self._buf
        pos = self._pos
        hold = self._hold
        tail = buf[hold:]
        d1 = self._d1
        joined = tail + chunk[: len(d1)]
        self._state = _BODY
        if (
            len(joined) >= len(d1)
            and not joined.startswith(d1)
            and (self.strict or not joined.startswith(self._d2))
        ):
            # not a delimiter: the whole rest of the buffer is data
            self._ready.append(PartData(buf[pos:] if pos else buf))
            self._base += len(buf)
            self._buf = chunk
            self._pos = 0
            return
        # a delimiter (or a still-undecided tiny chunk): the old way, with a copy
        self._pos = hold
        if hold > pos:
            self._ready.append(PartData(buf[pos:hold]))
        self._resolve_tail(tail, chunk)

    def _resolve_bodystart(self, left: bytes, chunk: bytes) -> None:
        """After the headers, ``left`` (the blank line, maybe the start of a delimiter)
        was held back; decide with the first bytes of ``chunk``, without copying it."""
        blank = self._blank
        d = self._d1 if blank == 2 else self._d2
        left_abs = self._base + self._pos
        joined = left + chunk[: len(d)]
        if joined.startswith(d):  # an immediate delimiter: the body is empty
            self._dstart = left_abs
            self._dbytes = d[blank:]
            self._buf = chunk
            self._base = left_abs + len(left)
            self._pos = len(d) - len(left)
            self._dscan = self._base + self._pos
            self._state = _DELIM
        elif len(joined) < len(d) and d.startswith(joined):
            self._buf = joined  # the chunk was tiny: still undecided
            self._base = left_abs
            self._pos = 0
        else:
            self._buf = chunk
            self._base = left_abs + len(left)
            self._pos = 0
            self._state = _BODY
            if len(left) > blank:  # body bytes held with the blank line (never a delimiter)
                event = self._data(left[blank:])
                if event is not None:
                    self._ready.append(event)

    def _data(self, data: bytes) -> PartData | None:
        """Account for ``data`` of the current part; the PartData to emit (or None)."""
        size = self._part_size + len(data)
        limit = self.limits.max_part_size
        if limit is not None and size > limit:
            codec = self._codec
            if codec is not None:  # a decoding error before the limit comes first
                try:
                    codec.feed(data[: limit - self._part_size])
                except MalformedInput as exc:
                    raise self._rebase(exc) from None
            raise LimitExceeded(
                "max_part_size",
                limit,
                offset=self._body_start + limit,
                part=self._nparts - 1,
            )
        self._part_size = size
        codec = self._codec
        if codec is not None:
            try:
                data = codec.feed(data)
            except MalformedInput as exc:
                raise self._rebase(exc) from None
            if not data:
                return None
        return PartData(data)

    def _rebase(self, exc: MalformedInput) -> MalformedInput:
        rel = exc.offset
        return MalformedInput(
            exc.reason,
            offset=None if rel is None else self._body_start + rel,
            part=self._nparts - 1,
        )

    def _end_part(self) -> None:
        """Queue the events that end the current part (flushed codec data, PartEnd)."""
        codec = self._codec
        if codec is not None:
            self._codec = None
            try:
                rest = codec.flush()
            except MalformedInput as exc:
                raise self._rebase(exc) from None
            if rest:
                self._ready.append(PartData(rest))
        self._ready.append(_END)
        self._in_part = False

    def _delim(self, buf: bytes, pos: int, n: int) -> bool:
        """Decide what follows ``CRLF--boundary``. False: need more input."""
        j = self._dscan - self._base
        if j < pos:
            j = pos
        # transport padding (scanned no further than the line limit allows)
        stop = pos + self.limits.max_header_line + 1
        if stop > n:
            stop = n
        while j < stop and (buf[j] == 32 or buf[j] == 9):
            j += 1
        self._dscan = self._base + j
        if j - pos > self.limits.max_header_line:
            raise LimitExceeded(
                "max_header_line",
                self.limits.max_header_line,
                offset=self._base + j,
                part=self._where(),
                detail="transport padding after a delimiter",
            )
        if j >= n:
            return False
        c = buf[j]
        end = -1
        if c == 13:
            if j + 1 >= n:
                return False
            if buf[j + 1] == 10:
                end = j + 2
        elif c == 10:
            if self.strict:
                raise MalformedInput(
                    "delimiter line ends with a bare LF", offset=self._base + j, part=self._where()
                )
            end = j + 1
        elif c == 45 and j == pos:  # '-': a close delimiter?
            if j + 1 >= n:
                return False
            if buf[j + 1] == 45:
                self._close_delimiter(j + 2)
                return True
        if end >= 0:
            self._next_part(end)
            return True
        # CRLF--boundary followed by something else: not a delimiter
        if self.strict:
            raise MalformedInput(
                "boundary delimiter not followed by CRLF or '--'",
                offset=self._dstart,
                part=self._where(),
            )
        if self._in_part:
            self._state = _BODY
            event = self._data(self._dbytes)
            if event is not None:
                self._ready.append(event)
        else:
            self._state = _PREAMBLE
        return True

    def _next_part(self, end: int) -> None:
        if self._in_part:
            self._end_part()
        else:
            self._found_first()
        self._state = _HEADERS
        self._pos = end
        self._hscan = self._base + end
        self._hlines = []
        self._hbytes = 0
        self._hcount = 0

    def _close_delimiter(self, end: int) -> None:
        if self._in_part:
            self._end_part()
        else:
            if self.strict:
                raise MalformedInput("close delimiter before the first part", offset=self._dstart)
            self._found_first()
        self._ready.append(_MULTIPART_END)
        self._state = _CLOSE
        self._pos = end
        self._post_off = self._base + end

    def _found_first(self) -> None:
        pre = self._dstart
        limit = self.limits.max_preamble
        if limit is not None and pre > limit:
            raise LimitExceeded("max_preamble", limit, offset=limit)
        self._preamble_size = pre

    def _preamble(self, buf: bytes, pos: int, n: int) -> bool:
        """Look for the first delimiter. False: need more input."""
        dash = self._dash
        if self._base + pos == 0:
            if buf.startswith(dash):
                self._dstart = 0
                self._dbytes = dash
                self._dscan = len(dash)
                self._pos = len(dash)
                self._state = _DELIM
                return True
            if len(buf) < len(dash) and dash.startswith(buf):
                return False
        key = self._key
        i = buf.find(key, pos)
        limit = self.limits.max_preamble
        if i >= 0:
            lf = not self.strict
            s = i - 1 if (lf and i > pos and buf[i - 1] == 13) else i
            if limit is not None and self._base + s > limit:
                raise LimitExceeded("max_preamble", limit, offset=limit)
            self._dstart = self._base + s
            self._dbytes = self._d1 if s < i or self.strict else self._d2
            self._dscan = self._base + i + len(key)
            self._pos = i + len(key)
            self._state = _DELIM
            return True
        h = self._holdback(buf, pos, n) if n > pos else n
        if limit is not None and self._base + h > limit:
            raise LimitExceeded("max_preamble", limit, offset=limit)
        self._pos = h
        self._preamble_size = self._base + h
        return False

    def _headers(self) -> PartStart | None:
        """Read the header block; the PartStart once it is complete (else None)."""
        limits = self.limits
        if self._nparts >= limits.max_parts:
            raise LimitExceeded(
                "max_parts", limits.max_parts, offset=self._dstart, part=self._nparts
            )
        buf = self._buf
        base = self._base
        pos = self._pos
        if self._hscan == base + pos and not self._hlines:
            # fast path: the whole CRLF-only block is in the buffer
            e = buf.find(b"\r\n\r\n", pos, pos + self._hmax)
            if e > pos:
                block = buf[pos:e]
                lines = block.split(b"\r\n")
                k = len(lines) - 1
                if block.count(b"\n") == k and block.count(b"\r") == k and b"\0" not in block:
                    headers = self._fast_headers(lines)
                    if headers is not None:
                        return self._start_part(headers, e + 2, 2)
        n = len(buf)
        maxline = limits.max_header_line
        p = self._hscan - base
        hlines = self._hlines
        strict = self.strict
        while True:
            nl = buf.find(b"\n", p, p + maxline + 2)
            if nl < 0:
                if n - p >= maxline + 2:
                    raise LimitExceeded(
                        "max_header_line", maxline, offset=base + p, part=self._nparts
                    )
                self._hscan = base + p
                return None
            end = nl
            if end > p and buf[end - 1] == 13:
                end -= 1
            elif strict:
                raise MalformedInput(
                    "header line ends with a bare LF", offset=base + nl, part=self._nparts
                )
            if end == p:  # the blank line: end of the header block
                headers = self._parse_headers(hlines)
                return self._start_part(headers, p, nl + 1 - p)
            if end - p > maxline:
                raise LimitExceeded("max_header_line", maxline, offset=base + p, part=self._nparts)
            self._hbytes += nl + 1 - p
            if self._hbytes > limits.max_header_bytes:
                raise LimitExceeded(
                    "max_header_bytes", limits.max_header_bytes, offset=base + p, part=self._nparts
                )
            if buf[p] != 32 and buf[p] != 9:  # a new field (not a continuation line)
                self._hcount += 1
                if self._hcount > limits.max_headers:
                    raise LimitExceeded(
                        "max_headers", limits.max_headers, offset=base + p, part=self._nparts
                    )
            hlines.append((buf[p:end], base + p))
            p = nl + 1

    def _fast_headers(self, lines: list[bytes]) -> Headers | None:
        """Header fields of plain, valid lines; None when anything needs a closer look."""
        if len(lines) > self._maxh:
            return None
        maxline = self._maxline
        table = self._names
        out = []
        for line in lines:
            colon = line.find(b":")
            if colon <= 0 or len(line) > maxline:
                return None
            name = line[:colon]
            if name.translate(None, table):
                return None
            value = line[colon + 1 :].strip(b" \t")
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                text = value.decode("latin-1")
            out.append((name.decode("ascii"), text))
        return tuple(out)

    def _start_part(self, headers: Headers, q: int, blank: int) -> PartStart:
        """The header block ended with a blank line of ``blank`` bytes at ``buf[q]``."""
        self._hlines = []
        self._nparts += 1
        self._in_part = True
        self._part_size = 0
        event = _new(PartStart)
        _set_headers(event, headers)
        _set_parsed(event, {})
        codec = None
        if self.decode_transfer:
            for name, value in headers:
                if len(name) == 25 and name.lower() == "content-transfer-encoding":
                    cte = value.strip().lower()
                    if cte == "base64" or cte == "quoted-printable":
                        codec = make_decoder(cte, strict=self.strict)
                    break
        self._codec = codec
        self._plain = codec is None and self.limits.max_part_size is None
        buf = self._buf
        base = self._base
        self._body_start = base + q + blank
        if self._offsets is not None:
            self._offsets.append(base + q + blank)
        d = self._d1 if blank == 2 else self._d2
        if len(buf) - q >= len(d):
            if buf.startswith(d, q):  # empty body: the blank line is the delimiter's CRLF
                self._dstart = base + q
                self._dbytes = d[blank:]
                self._pos = q + len(d)
                self._dscan = base + self._pos
                self._state = _DELIM
            else:
                self._pos = q + blank
                self._state = _BODY
        else:
            self._blank = blank
            self._pos = q
            self._state = _BODYSTART
        return event

    def _parse_headers(self, lines: list[tuple[bytes, int]]) -> Headers:
        strict = self.strict
        part = self._nparts
        maxh = self.limits.max_headers
        out: list[list[bytes]] = []
        for raw, off in lines:
            if b"\r" in raw or b"\x00" in raw:
                bad = raw.find(b"\r") if b"\r" in raw else raw.find(b"\x00")
                what = "CR" if raw[bad] == 13 else "NUL"
                raise MalformedInput(f"{what} inside a header line", offset=off + bad, part=part)
            first = raw[0]
            if first == 32 or first == 9:
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
            if name.translate(None, _TCHAR if strict else _LAX_NAME):
                raise MalformedInput(
                    f"invalid header name {decode_header_bytes(name)!r}", offset=off, part=part
                )
            if len(out) >= maxh:
                raise LimitExceeded("max_headers", maxh, offset=off, part=part)
            out.append([name, raw[colon + 1 :].strip(b" \t")])
        return tuple((n.decode("ascii"), decode_header_bytes(v)) for n, v in out)

    def _bodystart(self, buf: bytes, pos: int, n: int) -> bool:
        """Right after the headers: an immediate delimiter means an empty body."""
        blank = self._blank
        d = self._d1 if blank == 2 else self._d2
        avail = n - pos
        if avail >= len(d) or not d.startswith(buf[pos:]) or (self._eof and not self._pending):
            if buf.startswith(d, pos):
                self._dstart = self._base + pos
                self._dbytes = d[blank:]  # the blank line itself is never data
                self._pos = pos + len(d)
                self._dscan = self._base + self._pos
                self._state = _DELIM
            else:
                self._pos = pos + blank
                self._state = _BODY
            return True
        return False

    def _eat_post(self, data: bytes, pos: int) -> None:
        """Count (and discard) ``data[pos:]``, bytes after the close delimiter."""
        n = len(data)
        off = self._post_off - pos  # absolute offset of data[0]
        if self._state == _CLOSE:
            j = pos
            if self._post_cr:
                self._post_cr = False
                if data[j] == 10:
                    j += 1
                else:
                    self._odd_post(off + j - 1)
                    self._epilogue_size += 1
                self._state = _EPILOGUE
            else:
                while j < n and (data[j] == 32 or data[j] == 9):
                    j += 1
                self._post_pad += j - pos
                if j < n:
                    c = data[j]
                    if c == 13:
                        if j + 1 >= n:
                            self._post_cr = True
                            j += 1
                        elif data[j + 1] == 10:
                            j += 2
                        else:
                            self._odd_post(off + j)
                    elif c == 10:
                        if self.strict:
                            raise MalformedInput(
                                "close delimiter line ends with a bare LF", offset=off + j
                            )
                        j += 1
                    else:
                        self._odd_post(off + j)
                    if not self._post_cr:
                        self._state = _EPILOGUE
            pos = j
        if self._state == _EPILOGUE:
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
            self._state = _EPILOGUE

    def _at_eof(self) -> None:
        state = self._state
        if state == _PREAMBLE:
            if self._received == 0:
                raise MalformedInput("empty multipart body", offset=0)
            raise MalformedInput("no multipart delimiter found", offset=self._received)
        if state == _HEADERS:
            raise MalformedInput(
                "body ends inside part headers", offset=self._received, part=self._nparts
            )
        if state == _BODYSTART:
            self._state = _BODY
            self._pos += self._blank
        raise MalformedInput(
            "body ends without a close delimiter",
            offset=self._received,
            part=self._where(),
        )


_DEFAULT_LIMITS = Limits()
