"""mimewire: a streaming MIME multipart encoder and decoder with a sans-I/O core.

Encode::

    body = MultipartBody([Part.field("to", "+16505550100"), Part.file("attachment", "fax.pdf")])
    urllib3.request("POST", url, body=body.reader(), headers=body.headers)

Decode::

    for part in parse(request_body, content_type):
        print(part.name, part.filename, len(part.read()))

The sans-I/O core (:class:`Encoder`, :class:`Decoder`) speaks the events :class:`PartStart`,
:class:`PartData`, :class:`PartEnd` and :class:`MultipartEnd`. Every error is a
:class:`MimeWireError`.
"""

from __future__ import annotations

from ._body import BodyReader, MultipartBody, Part
from ._decoder import Decoder, Limits
from ._encoder import Encoder
from ._errors import LimitExceeded, MalformedInput, MimeWireError, UsageError
from ._events import (
    NEED_DATA,
    Event,
    Headers,
    MultipartEnd,
    NeedData,
    PartData,
    PartEnd,
    PartStart,
)
from ._headers import make_boundary, parse_header_params, validate_boundary
from ._parse import ParsedPart, aparse, parse

__version__ = "0.1.0"

__all__ = [
    "NEED_DATA",
    "BodyReader",
    "Decoder",
    "Encoder",
    "Event",
    "Headers",
    "LimitExceeded",
    "Limits",
    "MalformedInput",
    "MimeWireError",
    "MultipartBody",
    "MultipartEnd",
    "NeedData",
    "ParsedPart",
    "Part",
    "PartData",
    "PartEnd",
    "PartStart",
    "UsageError",
    "__version__",
    "aparse",
    "make_boundary",
    "parse",
    "parse_header_params",
    "validate_boundary",
]
