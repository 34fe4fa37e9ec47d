"""Events: the one vocabulary the encoder consumes and the decoder produces.

A multipart body is ``(PartStart PartData* PartEnd)* MultipartEnd``. The decoder also
returns the :data:`NEED_DATA` sentinel when it cannot make progress without more input.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

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


@dataclass(frozen=True, slots=True)
class PartStart:
    """The start of a part, with its headers.

    ``headers`` is a sequence of ``(name, value)`` string pairs in wire order. The parsed
    views (:attr:`name`, :attr:`filename`, :attr:`content_type`, ...) are computed from the
    headers on first access. Header values the decoder could not read as UTF-8 are decoded
    as Latin-1, so they never raise.
    """

    headers: Headers
    _parsed: dict[str, tuple[str, dict[str, str]] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __init__(self, headers: Iterable[tuple[str, str]] = ()) -> None:
        object.__setattr__(self, "headers", tuple((str(k), str(v)) for k, v in headers))
        object.__setattr__(self, "_parsed", {})

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

    def _params(self, header: str) -> tuple[str, dict[str, str]] | None:
        key = header.lower()
        if key not in self._parsed:
            value = self.get(header)
            if value is None:
                self._parsed[key] = None
            else:
                from ._headers import parse_header_params

                form_data = False
                if key == "content-disposition":
                    form_data = value.lstrip().lower().startswith("form-data")
                self._parsed[key] = parse_header_params(value, form_data=form_data)
        return self._parsed[key]

    @property
    def disposition(self) -> str | None:
        """The Content-Disposition type, lowercased (``"form-data"``, ``"attachment"``...)."""
        parsed = self._params("Content-Disposition")
        return parsed[0] if parsed else None

    @property
    def name(self) -> str | None:
        """The ``name`` parameter of Content-Disposition (form-data field name)."""
        parsed = self._params("Content-Disposition")
        return parsed[1].get("name") if parsed else None

    @property
    def filename(self) -> str | None:
        """The file name from Content-Disposition (``filename*`` wins over ``filename``)."""
        parsed = self._params("Content-Disposition")
        return parsed[1].get("filename") if parsed else None

    @property
    def content_type(self) -> str | None:
        """The media type of the part, lowercased, without parameters; ``None`` if absent."""
        parsed = self._params("Content-Type")
        return parsed[0] if parsed else None

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, if any."""
        parsed = self._params("Content-Type")
        return parsed[1].get("charset") if parsed else None

    @property
    def transfer_encoding(self) -> str | None:
        """The declared Content-Transfer-Encoding, lowercased; ``None`` if absent."""
        value = self.get("Content-Transfer-Encoding")
        return value.strip().lower() if value is not None else None


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
