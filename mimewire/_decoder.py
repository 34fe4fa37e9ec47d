"""The sans-I/O streaming multipart decoder.

:class:`Decoder` turns the bytes of a multipart body (RFC 2046) into the events
``(PartStart PartData* PartEnd)* MultipartEnd``. It never does I/O: the caller feeds bytes
with :meth:`Decoder.receive_data` and pulls events with :meth:`Decoder.next_event` (or does
both at once with :meth:`Decoder.feed`). The decoding itself is the kernel in
:mod:`mimewire._scan`; this module is its public shell.

The result is identical for every way the input is split into chunks. Memory held by a
decoder is bounded by :class:`Limits` plus one delimiter, whatever the input -- except that
a body chunk (of at most 1 MiB) that ends with what may be the start of a delimiter is kept
*by reference* until the next chunk decides, so that it can then be passed on whole
instead of being copied. Body data is never copied otherwise: a chunk without a delimiter
becomes one :class:`PartData` holding the very same ``bytes`` object.

Every :class:`PartStart` carries :attr:`PartStart.index` (0-based) and
:attr:`PartStart.body_offset` (the input offset of its first body byte).

Semantics (``strict=False`` is the lenient default, ``strict=True`` turns every oddity
into :class:`MalformedInput`):

==========================================  ==========================  =====================
input                                       lenient (default)           strict
==========================================  ==========================  =====================
preamble before the first delimiter         skipped, counted            skipped, counted
first delimiter at offset 0 (no CRLF)       accepted                    accepted
transport padding (SP/HT) after delimiter   accepted                    accepted
first delimiter line ends with CRLF         CRLF framing: only          (always CRLF framing)
                                            ``CRLF--boundary`` is a
                                            delimiter; ``LF--boundary``
                                            is body data (as Go)
first delimiter line ends with a bare LF    LF framing: ``LF--b`` and   error
                                            ``CRLF--b`` are delimiters
bare LF ending a header line or a later     accepted                    error
delimiter line
``CRLF--boundary`` followed by anything     body data                   error (the boundary
but padding+CRLF or ``--``                                              must not occur in a
                                                                        body)
two Content-Disposition, Content-Type or    error (part, offset)        error
Content-Transfer-Encoding fields in a part
obsolete header folding (SP/HT line start)  unfolded with one space     error
header name with whitespace before colon    whitespace dropped          error
header name with non-token characters       accepted (no CTL/space)     error
header line without colon / empty name      error                       error
CR or NUL inside a header line              error                       error
close delimiter before any part (``--b--``) zero parts                  error
bytes after the close delimiter other than  epilogue (counted, never    error
padding then CRLF                           parsed)
missing close delimiter / truncated body    error                       error
part with ``Content-Length: N``             its N bytes, then PartEnd   same
                                            at once; the delimiter
                                            must follow exactly there
a delimiter inside those N bytes, a bad or  error (part, offset)        error
duplicate Content-Length
``CRLF--boundary`` inside those N bytes,    body data                   error
not followed by padding+CRLF or ``--``
no delimiter, but lines with the boundary   error naming the mismatch   same
and other leading dashes                    and the fix
==========================================  ==========================  =====================

The epilogue is never parsed: :attr:`Decoder.epilogue_size` counts the bytes after the line
break that ends the close delimiter line. The kernel's design and the reasons behind these
rules: ``docs/decoder.md``.
"""

from __future__ import annotations

from typing import Any

from ._errors import LimitExceeded, MimeWireError, UsageError
from ._events import NEED_DATA, Event, NeedData, PartData, _new
from ._headers import boundary_from_content_type
from ._limits import DEFAULT_LIMITS, Limits
from ._scan import Scanner
from ._scanstate import BODY, CLOSE, CR, DEAD, key_absent, set_data

__all__ = ["Decoder", "Limits"]

# RFC 2046 bcharsnospace + space
_BCHARS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=? "


class Decoder(Scanner):
    """Sans-I/O multipart decoder: bytes in with :meth:`receive_data`, events out with
    :meth:`next_event`.

    ``boundary`` is the ``boundary`` parameter of the body's Content-Type (str or bytes);
    :meth:`from_content_type` takes it from the header. With ``decode_transfer`` (the
    default) base64 and quoted-printable part bodies are decoded;
    :attr:`PartStart.transfer_encoding` still tells what was declared. ``depth`` is the
    nesting depth of this body (checked against ``limits.max_depth``).

    Errors are sticky: after a :class:`MimeWireError` every call raises it again.
    """

    __slots__ = ()

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
            limits = DEFAULT_LIMITS
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
        self._setup(bnd)

    @classmethod
    def from_content_type(cls, content_type: str | bytes, **kwargs: Any) -> Decoder:
        """A decoder for a body whose Content-Type header is ``content_type``.

        The boundary is taken with :func:`boundary_from_content_type` (which raises
        :class:`MalformedInput` for a non-multipart type or a missing, duplicate or invalid
        boundary); ``kwargs`` are passed on to :class:`Decoder`.
        """
        return cls(boundary_from_content_type(content_type), **kwargs)

    # ------------------------------------------------------------------ properties

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
        if self._state >= CLOSE and not self._ready:
            return self._post_off
        return self._base + self._pos

    @property
    def part_count(self) -> int:
        """Number of parts started so far."""
        return self._nparts

    @property
    def finished(self) -> bool:
        """True once the close delimiter has been decoded."""
        return self._state >= CLOSE

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next chunk of input; ``b""`` signals the end of input.

        The chunk is not copied: body data is passed on as slices of it (the whole chunk
        when it holds no delimiter).
        """
        self._idle = False
        if type(data) is bytes and data and self._accepting:
            received = self._received + len(data)
            if received > self._max_total:
                exc = LimitExceeded(
                    "max_total_size",
                    self._max_total,
                    offset=self._max_total,
                    detail="multipart body too large",
                )
                self._failed(exc)
                raise exc
            self._received = received
            if self._state < CLOSE:
                if self._pos == len(self._buf) and not self._pending:
                    self._base += self._pos
                    self._buf = data
                    self._pos = 0
                else:
                    self._pending.append(data)
                return
        self._receive_slow(data)

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
            self._failed(exc)
            raise

    # ------------------------------------------------------------------ output

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """``receive_data(data)``, then every event available now (a convenience that
        costs one call per chunk; ``b""`` ends the input and returns the last events).

        When an error follows some events, those are returned and the (sticky) error is
        raised by the next call.
        """
        if self._idle and type(data) is bytes and data:
            # a body chunk without a possible delimiter (start) passes through whole
            received = self._received + len(data)
            if (
                received <= self._max_total
                and data.rfind(self._tailc, -self._dl1) < 0
                and data[-1] != CR
                and key_absent(data, self._key)
            ):
                self._received = received
                self._base = received
                event = _new(PartData)
                set_data(event, data)
                return [event]
        self.receive_data(data)
        ready = self._ready
        out: list[Event] = list(ready)
        ready.clear()
        try:
            self._run(out)
        except MimeWireError as exc:
            self._failed(exc)
            if not out:
                raise
            return out  # the (sticky) error is raised by the next call
        if (
            self._state == BODY
            and self._plain
            and self._accepting
            and self._pos == len(self._buf)
            and not self._pending
        ):
            self._base += self._pos
            self._buf = b""
            self._pos = 0
            self._idle = True
        return out

    def next_event(self) -> Event | NeedData:
        """Return the next event, or :data:`NEED_DATA` when more input is needed.

        :class:`MultipartEnd` is the last event; after it, ``NEED_DATA`` is returned (bytes
        that follow are counted as epilogue). Errors are raised once every event before the
        problem has been returned.
        """
        ready = self._ready
        if ready:
            return ready.popleft()
        if self._state == BODY and self._plain and not self._pos and not self._pending:
            # a fresh body chunk without a possible delimiter (start) passes through whole
            buf = self._buf
            n = len(buf)
            if (
                n
                and buf.rfind(self._tailc, -self._dl1) < 0
                and buf[-1] != CR
                and key_absent(buf, self._key)
            ):
                self._pos = n
                event = _new(PartData)
                set_data(event, buf)
                return event
        self._idle = False
        try:
            self._run(ready)
        except MimeWireError as exc:
            self._failed(exc)
            if not ready:
                raise
        if ready:
            return ready.popleft()
        return NEED_DATA

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
        self._ready.clear()
        try:
            self._run(self._ready)  # decodes everything left (or raises)
        except MimeWireError as exc:
            self._failed(exc)
            raise
        self._ready.clear()
        self._closed = True
        self._state = DEAD
