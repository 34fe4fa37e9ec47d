"""What every decoded part offers whatever holds its body: header views and text decoding.

:class:`PartView` is the base of :class:`ParsedPart` (spooled body), :class:`StreamedPart`
and :class:`AsyncStreamedPart` (body pulled from the source).
"""

from __future__ import annotations

import codecs

from ._errors import MalformedInput, MimeWireError, UsageError
from ._events import Headers, PartStart
from ._headers import check_charset

__all__ = ["PartView", "refuse_ambiguous"]


def refuse_ambiguous(start: PartStart) -> None:
    """Raise :class:`MalformedInput` now if the part's Content-Disposition or Content-Type
    parameters are ambiguous (duplicates, ``name*`` in form-data, ...), so that parse() and
    parse_stream() never hand out a part that other parsers would read differently."""
    _ = start.disposition, start.content_type


def _header_name(name: object) -> str:
    if not isinstance(name, str):
        raise UsageError(f"header name must be a str, not {type(name).__name__}")
    return name


def _shown(charset: str) -> str:
    return repr(charset if len(charset) <= 40 else charset[:40] + "...")


class PartView:
    """Headers, position and parsed header views of one decoded part."""

    __slots__ = ("_start", "index", "offset")

    def __init__(self, start: PartStart, index: int, offset: int | None) -> None:
        refuse_ambiguous(start)
        self._start = start
        self.index = index
        """0-based position of the part in its multipart body."""
        self.offset = offset
        """Absolute input offset of the first body byte (``None`` when not knowable, e.g.
        inside a transfer-decoded nested body)."""

    @property
    def start(self) -> PartStart:
        """The :class:`PartStart` event of the part."""
        return self._start

    @property
    def headers(self) -> Headers:
        """``(name, value)`` header pairs in wire order, names as written (a tuple: look
        headers up with :meth:`header` and :meth:`header_all`)."""
        return self._start.headers

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of the part header ``name`` (case-insensitive), or ``default``.

        When the header is repeated, the first value; Content-Disposition, Content-Type
        and Content-Transfer-Encoding are never repeated in a decoded part (the decoder
        refuses that as ambiguous).
        """
        return self._start.get(_header_name(name), default)

    def header_all(self, name: str) -> list[str]:
        """Every value of the part header ``name`` (case-insensitive), in wire order."""
        return self._start.get_all(_header_name(name))

    @property
    def name(self) -> str | None:
        """Form-data field name (Content-Disposition ``name``)."""
        return self._start.name

    @property
    def filename(self) -> str | None:
        """File name from Content-Disposition."""
        return self._start.filename

    @property
    def content_type(self) -> str | None:
        """Media type, lowercased, without parameters."""
        return self._start.content_type

    @property
    def charset(self) -> str | None:
        """``charset`` parameter of the Content-Type."""
        return self._start.charset

    @property
    def transfer_encoding(self) -> str | None:
        """Declared Content-Transfer-Encoding, lowercased."""
        return self._start.transfer_encoding

    @property
    def content_id(self) -> str | None:
        """The Content-ID without its angle brackets (``<a@b>`` -> ``"a@b"``), or ``None``."""
        from ._related import normalize_content_id

        value = self._start.get("Content-ID")
        return None if value is None else normalize_content_id(value)

    @property
    def content_range(self) -> tuple[int, int, int | None] | None:
        """A byteranges part's ``Content-Range`` as ``(first, last, complete)`` (inclusive;
        ``complete`` is ``None`` for ``*``), or ``None`` without one. A malformed value is
        :class:`MalformedInput` naming the part."""
        from ._byteranges import parse_content_range

        value = self._start.get("Content-Range")
        if value is None:
            return None
        return parse_content_range(value, part=self.index, offset=self.offset)

    # text ------------------------------------------------------------------------
    def _text_codec(self, encoding: str | None, errors: str) -> str:
        """The codec :meth:`text` uses, checked before any body byte is read.

        A charset from the part's headers is remote input (refused with
        :class:`MalformedInput`); ``encoding`` and ``errors`` come from the caller
        (refused with :class:`UsageError`).
        """
        if not isinstance(errors, str):
            raise UsageError(f"errors must be a str, not {type(errors).__name__}")
        try:
            codecs.lookup_error(errors)
        except LookupError:
            raise UsageError(f"unknown error handler {errors!r}") from None
        if encoding is not None:
            if not isinstance(encoding, str):
                raise UsageError(f"encoding must be a str, not {type(encoding).__name__}")
            try:
                return check_charset(encoding)
            except MimeWireError as exc:
                raise UsageError(f"text(encoding={_shown(encoding)}): {exc.message}") from None
        charset = self.charset or "utf-8"
        try:
            return check_charset(charset)
        except MimeWireError as exc:
            reason = exc.reason if isinstance(exc, MalformedInput) else exc.message
            raise MalformedInput(
                f"cannot decode the body as text: {reason}",
                offset=self.offset,
                part=self.index,
            ) from None

    def _decode_text(self, data: bytes, codec: str, errors: str) -> str:
        try:
            return data.decode(codec, errors)
        except UnicodeDecodeError as exc:
            raise MalformedInput(
                f"body is not valid {codec}: {exc.reason} at body byte {exc.start}",
                offset=self.offset,
                part=self.index,
            ) from None
        except (UnicodeError, LookupError, ValueError, TypeError) as exc:
            # a text codec that fails otherwise (or an error handler that raises)
            raise MalformedInput(
                f"body cannot be decoded as {codec}: {type(exc).__name__}: {exc}",
                offset=self.offset,
                part=self.index,
            ) from None
