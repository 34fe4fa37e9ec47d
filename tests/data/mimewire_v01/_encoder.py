"""The sans-I/O multipart encoder: events in, wire bytes out.

Wire format (RFC 2046 §5.1.1)::

    [preamble CRLF] --boundary CRLF headers CRLF CRLF body
    CRLF --boundary CRLF headers CRLF CRLF body
    ...
    CRLF --boundary-- CRLF [epilogue]

The CRLF in front of every delimiter belongs to the delimiter, not to the body, so a body
that itself ends with CRLF shows up as a blank line before the next delimiter.

The framing helpers (:func:`render_header_block`, :func:`part_head`,
:func:`close_delimiter`) are shared with :class:`mimewire.MultipartBody`, which precomputes
the same bytes once instead of running an :class:`Encoder` per event.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._codecs import Codec, is_identity, make_encoder
from ._errors import UsageError
from ._events import MultipartEnd, PartData, PartEnd, PartStart
from ._headers import check_header, make_boundary, validate_boundary
from ._state import State, next_state

__all__ = ["Encoder", "close_delimiter", "part_head", "render_header_block"]

CRLF = b"\r\n"


def render_header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    """Render ``headers`` as ``Name: value CRLF`` lines followed by the blank line.

    Every header is checked with :func:`check_header` (token name; no CR, LF or NUL in the
    value). Values are encoded as UTF-8, which is what form-data uses for non-ASCII names.
    """
    lines = []
    for name, value in headers:
        check_header(name, value)
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


def part_head(
    boundary: bytes, header_block: bytes, *, first: bool, preamble: bytes | None = None
) -> bytes:
    """The bytes that open a part: (preamble or CRLF) + ``--boundary CRLF`` + headers."""
    lead = (b"" if preamble is None else preamble + CRLF) if first else CRLF
    return b"".join((lead, b"--", boundary, CRLF, header_block))


def close_delimiter(
    boundary: bytes,
    *,
    any_parts: bool,
    preamble: bytes | None = None,
    epilogue: bytes | None = None,
) -> bytes:
    """The bytes that close the body: ``CRLF --boundary-- CRLF`` + epilogue.

    With no parts at all, the close delimiter starts the body (after the preamble).
    """
    lead = CRLF if any_parts else (b"" if preamble is None else preamble + CRLF)
    return b"".join((lead, b"--", boundary, b"--", CRLF, epilogue or b""))


def _as_bytes(value: bytes | bytearray | memoryview | None, what: str) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise UsageError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


class Encoder:
    """Turn the event sequence ``(PartStart PartData* PartEnd)* MultipartEnd`` into bytes.

    ``send(event)`` returns the bytes to write for that event. For a part whose headers
    declare an identity transfer encoding (none, ``8bit``, ``binary``), ``PartData`` is
    returned as the very object given -- no copy. For ``base64``, ``quoted-printable``
    (binary-safe mode) and ``7bit`` (validated), the declared codec is applied
    incrementally, so the output never depends on how the data was chunked.

    A misordered event raises :class:`UsageError`; the encoder stays usable (the event is
    simply refused). ``boundary`` defaults to a fresh :func:`make_boundary`; a caller's
    boundary is validated against RFC 2046. The encoder cannot know whether part bodies
    contain the boundary -- :class:`MultipartBody` checks in-memory bodies for that.
    """

    def __init__(
        self,
        boundary: str | None = None,
        *,
        preamble: bytes | None = None,
        epilogue: bytes | None = None,
    ) -> None:
        self.boundary: str = make_boundary() if boundary is None else validate_boundary(boundary)
        self._boundary_bytes = self.boundary.encode("ascii")
        self._preamble = _as_bytes(preamble, "preamble")
        self._epilogue = _as_bytes(epilogue, "epilogue")
        self._state = State.BETWEEN_PARTS
        self._parts = 0
        self._codec: Codec | None = None

    @property
    def state(self) -> State:
        """The current :class:`State` of the event sequence."""
        return self._state

    def send(self, event: PartStart | PartData | PartEnd | MultipartEnd) -> bytes:
        """Return the wire bytes for ``event`` (see the class docstring)."""
        new_state = next_state(self._state, event)
        if new_state is None:
            raise UsageError(
                f"cannot send {type(event).__name__} while {self._state.value}"
                f" (expected {self._expected()})"
            )
        if isinstance(event, PartData):
            data = event.data
            codec = self._codec
            if codec is None:
                return data
            return codec.feed(data)
        if isinstance(event, PartStart):
            block = render_header_block(event.headers)
            cte = event.transfer_encoding
            codec = None if is_identity(cte) else make_encoder(cte or "", binary=True)
            out = part_head(
                self._boundary_bytes, block, first=self._parts == 0, preamble=self._preamble
            )
            self._codec = codec
            self._parts += 1
            self._state = new_state
            return out
        if isinstance(event, PartEnd):
            codec = self._codec
            self._codec = None
            self._state = new_state
            return codec.flush() if codec is not None else b""
        # MultipartEnd
        self._state = new_state
        return close_delimiter(
            self._boundary_bytes,
            any_parts=self._parts > 0,
            preamble=self._preamble,
            epilogue=self._epilogue,
        )

    def _expected(self) -> str:
        if self._state is State.BETWEEN_PARTS:
            return "PartStart or MultipartEnd"
        if self._state is State.IN_PART:
            return "PartData or PartEnd"
        return "nothing: the body is complete"
