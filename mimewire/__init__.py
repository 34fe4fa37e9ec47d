"""mimewire: a streaming MIME multipart encoder and decoder with a sans-I/O core.

Encode::

    body = MultipartBody([Part.field("to", "+16505550100"), Part.file("attachment", "fax.pdf")])
    urllib3.request("POST", url, body=body.reader(), headers=body.headers)

Decode::

    for part in parse(request_body, content_type):       # bodies spooled (memory, then temp file)
        print(part.name, part.filename, len(part.read()))
    for part in parse_stream(chunks, content_type):      # bodies streamed from the source
        part.save(f"/tmp/{part.index}.bin")

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
from ._headers import (
    boundary_from_content_type,
    make_boundary,
    parse_header_params,
    validate_boundary,
)
from ._parse import ParsedPart, aparse, parse
from ._stream import AsyncStreamedPart, StreamedPart, aparse_stream, parse_stream

__version__ = "0.1.0"

__all__ = [
    "NEED_DATA",
    "AsyncStreamedPart",
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
    "StreamedPart",
    "UsageError",
    "__version__",
    "aparse",
    "aparse_stream",
    "boundary_from_content_type",
    "make_boundary",
    "parse",
    "parse_header_params",
    "parse_stream",
    "validate_boundary",
]
