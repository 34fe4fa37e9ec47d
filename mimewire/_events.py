"""Events: the one vocabulary the encoder consumes and the decoder produces.

A multipart body is ``(PartStart PartData* PartEnd)* MultipartEnd``. The decoder also
returns the :data:`NEED_DATA` sentinel when it cannot make progress without more input.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ._encodedword import decode_encoded_words
from ._errors import MalformedInput, UsageError
from ._params import parse_header_params

__all__ = [
    "NEED_DATA",
    "Event",
    "Headers",
    "MultipartEnd",
    "NeedData",
    "PartData",
    "PartEnd",
    "PartStart",
]

Headers = tuple[tuple[str, str], ...]
"""Part headers as ``(name, value)`` pairs, in wire order, names as written."""


_Cache = dict[str, "tuple[str, dict[str, str]] | None"]


class _ParsedCache:
    """Holds the lazily filled parsed-header cache of :class:`PartStart` in a slot that is not
    a dataclass field (so ``fields()``, ``asdict()`` and pickling ignore it)."""

    __slots__ = ("_parsed",)
    _parsed: _Cache


@dataclass(frozen=True, slots=True)
class PartStart(_ParsedCache):
    """The start of a part, with its headers.

    ``headers`` is a sequence of ``(name, value)`` string pairs in wire order. The parsed
    views (:attr:`name`, :attr:`filename`, :attr:`content_type`, ...) are computed from the
    headers on first access. Header values the decoder could not read as UTF-8 are decoded
    as Latin-1. Ambiguous headers make the views raise :class:`MalformedInput` (naming the
    part index and body offset when known) instead of guessing: two Content-Disposition,
    Content-Type or Content-Transfer-Encoding headers, or ambiguous parameters (duplicate
    names, ``name*`` in form-data, a form-data ``filename*`` that disagrees with
    ``filename``; see :func:`mimewire.parse_header_params`).

    The decoder also sets :attr:`index` (the 0-based index of the part within its
    multipart) and :attr:`body_offset` (the absolute stream offset of the part's first body
    byte); both are ``None`` on events built by hand and take no part in ``==`` or ``repr``.
    """

    headers: Headers
    index: int | None = field(default=None, kw_only=True, compare=False, repr=False)
    body_offset: int | None = field(default=None, kw_only=True, compare=False, repr=False)

    def __init__(
        self,
        headers: Iterable[tuple[str, str]] = (),
        *,
        index: int | None = None,
        body_offset: int | None = None,
    ) -> None:
        pairs = []
        for pair in headers:
            if (
                not isinstance(pair, (tuple, list))
                or len(pair) != 2
                or not isinstance(pair[0], str)
                or not isinstance(pair[1], str)
            ):
                raise UsageError(
                    f"PartStart headers must be (name, value) pairs of str, got {pair!r}"
                )
            pairs.append((pair[0], pair[1]))
        _set_headers(self, tuple(pairs))
        _set_index(self, index)
        _set_body_offset(self, body_offset)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first header called ``name`` (case-insensitive), or ``default``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of the headers called ``name`` (case-insensitive), in order."""
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    def _malformed(self, message: str) -> MalformedInput:
        return MalformedInput(message, offset=self.body_offset, part=self.index)

    def _only(self, header: str, lname: str) -> str | None:
        """The value of the one ``header``; two or more are ambiguous: MalformedInput."""
        found = None
        count = 0
        for key, value in self.headers:
            if len(key) == len(lname) and key.lower() == lname:
                if count == 0:
                    found = value
                count += 1
        if count > 1:
            raise self._malformed(
                f"{count} {header} headers in one part: ambiguous (parsers disagree on "
                "which one counts)"
            )
        return found

    def _params(self, header: str, lname: str) -> tuple[str, dict[str, str]] | None:
        cache: _Cache | None = getattr(self, "_parsed", None)
        if cache is None:  # built by the decoder's fast constructor: no cache yet
            cache = {}
            _set_cache(self, cache)
        elif lname in cache:
            return cache[lname]
        value = self._only(header, lname)
        parsed = None
        if value is not None:
            form_data = (
                lname == "content-disposition"
                and value.partition(";")[0].strip().lower() == "form-data"
            )
            try:
                parsed = parse_header_params(value, form_data=form_data)
            except MalformedInput as exc:
                raise self._malformed(f"{header}: {exc.reason}") from None
        cache[lname] = parsed
        return parsed

    @property
    def disposition(self) -> str | None:
        """The Content-Disposition type, lowercased (``"form-data"``, ``"attachment"``...)."""
        parsed = self._params("Content-Disposition", "content-disposition")
        return parsed[0] if parsed else None

    @property
    def name(self) -> str | None:
        """The ``name`` parameter of Content-Disposition (form-data field name)."""
        parsed = self._params("Content-Disposition", "content-disposition")
        return parsed[1].get("name") if parsed else None

    @property
    def filename(self) -> str | None:
        """The file name from Content-Disposition.

        Outside form-data a decodable ``filename*`` wins over ``filename`` (RFC 6266); in
        form-data a ``filename*`` must agree with ``filename`` (else MalformedInput). A
        ``filename`` made only of RFC 2047 encoded words (``=?utf-8?B?...?=``, as mail
        clients send) is decoded when no ``filename*`` is present; one that cannot be
        decoded is returned as sent (see :mod:`mimewire._encodedword`).
        """
        parsed = self._params("Content-Disposition", "content-disposition")
        if not parsed:
            return None
        filename = parsed[1].get("filename")
        if filename is None or "=?" not in filename:
            return filename
        raw = self._only("Content-Disposition", "content-disposition") or ""
        if "filename*" in raw.lower():  # RFC 2231/8187 values are never RFC 2047
            return filename
        decoded = decode_encoded_words(filename)
        return filename if decoded is None else decoded

    @property
    def content_type(self) -> str | None:
        """The media type of the part, lowercased, without parameters; ``None`` if absent."""
        parsed = self._params("Content-Type", "content-type")
        return parsed[0] if parsed else None

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, if any."""
        parsed = self._params("Content-Type", "content-type")
        return parsed[1].get("charset") if parsed else None

    @property
    def transfer_encoding(self) -> str | None:
        """The declared Content-Transfer-Encoding, lowercased; ``None`` if absent."""
        value = self._only("Content-Transfer-Encoding", "content-transfer-encoding")
        return value.strip().lower() if value is not None else None


_new = object.__new__
# The slots' own setters: the decoder builds frozen events without __init__'s normalisation
# or the generic (frozen) __setattr__.
_set_headers = PartStart.__dict__["headers"].__set__
_set_index = PartStart.__dict__["index"].__set__
_set_body_offset = PartStart.__dict__["body_offset"].__set__
_set_cache = _ParsedCache.__dict__["_parsed"].__set__


def decoded_part_start(headers: Headers, index: int, body_offset: int | None) -> PartStart:
    """A :class:`PartStart` as the decoder emits it, built without ``__init__``.

    ``headers`` must already be a tuple of ``(str, str)`` pairs (nothing is checked or
    copied). Hot loops may inline this: ``e = _new(PartStart); _set_headers(e, headers);
    _set_index(e, index); _set_body_offset(e, body_offset)`` (the parsed-header cache is
    created on first use, so it need not be set).
    """
    event = _new(PartStart)
    _set_headers(event, headers)
    _set_index(event, index)
    _set_body_offset(event, body_offset)
    return event


@dataclass(frozen=True, slots=True)
class PartData:
    """A chunk of part body. Chunks are passed through as given, never joined."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    """The end of the current part."""


@dataclass(frozen=True, slots=True)
class MultipartEnd:
    """The close delimiter: the multipart body is complete."""


class NeedData(enum.Enum):
    """Type of the :data:`NEED_DATA` sentinel."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Literal[NeedData.NEED_DATA] = NeedData.NEED_DATA
"""Returned by :meth:`Decoder.next_event` when more input is needed."""

Event = PartStart | PartData | PartEnd | MultipartEnd
"""Any multipart event."""
