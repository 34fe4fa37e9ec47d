"""HTTP-flavoured multipart: batch requests and responses, multipart/related, byte ranges.

* Batch (Google APIs' ``/batch/...`` endpoints, OData ``$batch``): :func:`build_batch` makes a
  ``multipart/mixed`` body of ``application/http`` parts from :class:`BatchRequest` objects;
  :func:`parse_batch_response` (:func:`aparse_batch_response`) streams the answer as
  :class:`BatchResponse` objects.
* multipart/related (RFC 2387) and Content-ID (RFC 2392): :func:`make_content_id`,
  :func:`cid_href`, :func:`content_id_from_cid`, :func:`related_root`,
  :func:`find_by_content_id`; build with ``MultipartBody(..., subtype="related",
  params={"type": ..., "start": ...})``.
* multipart/byteranges (RFC 9110 §14.6): :func:`parse_content_range`, :func:`write_ranges`
  (:func:`awrite_ranges`); decoded parts offer ``part.content_range``.

See docs/clients.md for the formats and how to decode answers of urllib3, requests, httpx and
aiohttp with :func:`mimewire.parse_stream` / :func:`mimewire.aparse_stream`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ._body import MultipartBody, Part
from ._byteranges import (
    ContentRange,
    RangesWritten,
    awrite_ranges,
    parse_content_range,
    write_ranges,
)
from ._decoder import Limits
from ._errors import MalformedInput, UsageError
from ._headers import check_header
from ._input import Source
from ._partview import PartView
from ._related import (
    cid_href,
    content_id_from_cid,
    find_by_content_id,
    make_content_id,
    normalize_content_id,
    related_root,
)
from ._stream import aparse_stream, parse_stream

__all__ = [
    "BatchHeaders",
    "BatchRequest",
    "BatchResponse",
    "ContentRange",
    "RangesWritten",
    "aparse_batch_response",
    "awrite_ranges",
    "build_batch",
    "build_batch_response",
    "cid_href",
    "content_id_from_cid",
    "find_by_content_id",
    "make_content_id",
    "normalize_content_id",
    "parse_batch_response",
    "parse_content_range",
    "related_root",
    "write_ranges",
]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?\Z")
_HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*\Z")
# The part-header prefix Google adds to the Content-ID of each answer.
_RESPONSE_PREFIX = "response-"


class BatchHeaders(Mapping[str, str]):
    """Headers of one answer inside a batch: case-insensitive lookup (``headers["etag"]``
    is the first value), :meth:`get_all` for repeated headers, :attr:`pairs` in wire order."""

    __slots__ = ("_index", "pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs: tuple[tuple[str, str], ...] = tuple(pairs)
        index: dict[str, str] = {}
        for name, value in self.pairs:
            index.setdefault(name.lower(), value)
        self._index = index

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` (case-insensitive), in wire order."""
        lowered = name.lower()
        return [value for key, value in self.pairs if key.lower() == lowered]

    def __repr__(self) -> str:
        return f"BatchHeaders({list(self.pairs)!r})"


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a batch: ``method``, ``target`` (a path such as
    ``/drive/v3/files/abc?fields=id`` or an OData resource ``Customers('A')``), ``headers``,
    ``body`` and the part's ``content_id`` (written as given: ``<item1@example.com>`` for
    Google, ``1`` for OData change sets). A body gets a ``Content-Length`` header unless the
    caller set one."""

    method: str
    target: str
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    body: bytes | str = b""
    content_id: str | None = None
    http_version: str = "HTTP/1.1"

    def to_bytes(self) -> bytes:
        """The request message: request line, headers, blank line, body."""
        if not isinstance(self.method, str) or not _TOKEN.match(self.method):
            raise UsageError(f"method {self.method!r} is not an HTTP token")
        target = self.target
        if not isinstance(target, str) or not target or not target.isprintable():
            raise UsageError(f"target {target!r} must be a non-empty printable str")
        if " " in target or not target.isascii():
            raise UsageError(f"target {target!r} contains a space or non-ASCII (%-encode it)")
        if self.http_version not in ("HTTP/1.1", "HTTP/1.0"):
            raise UsageError(
                f"http_version must be 'HTTP/1.1' or 'HTTP/1.0', not {self.http_version!r}"
            )
        body = self.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            raise UsageError(f"body must be bytes or str, not {type(body).__name__}")
        items = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        lines = [f"{self.method} {target} {self.http_version}"]
        sized = False
        for name, value in items:
            if not isinstance(name, str) or not isinstance(value, str):
                raise UsageError(f"header {name!r}: names and values must be str")
            check_header(name, value)
            sized = sized or name.lower() in ("content-length", "transfer-encoding")
            lines.append(f"{name}: {value}")
        if body and not sized:
            lines.append(f"Content-Length: {len(body)}")
        head = "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n"
        return head + body


def build_batch(
    requests: Iterable[BatchRequest | Sequence[BatchRequest]],
    *,
    boundary: str | None = None,
    transfer_encoding: str | None = "binary",
) -> MultipartBody:
    """A ``multipart/mixed`` batch body: one ``application/http`` part per request.

    A list (or tuple) of requests among ``requests`` becomes an OData change set (a nested
    ``multipart/mixed`` part). ``transfer_encoding="binary"`` writes the
    ``Content-Transfer-Encoding: binary`` OData asks for (Google ignores it; ``None`` omits
    it). Send the result with its ``headers`` (Content-Type with the boundary, and
    Content-Length).
    """
    parts = []
    for item in requests:
        if isinstance(item, BatchRequest):
            parts.append(_request_part(item, transfer_encoding))
        elif not isinstance(item, (list, tuple)):
            raise UsageError(
                f"a batch item must be a BatchRequest or a list of them, not {type(item).__name__}"
            )
        else:
            inner = []
            for request in item:
                if not isinstance(request, BatchRequest):
                    raise UsageError(
                        f"a change set holds BatchRequest objects, not {type(request).__name__}"
                    )
                inner.append(_request_part(request, transfer_encoding))
            parts.append(Part(MultipartBody(inner, subtype="mixed")))
    return MultipartBody(parts, subtype="mixed", boundary=boundary)


def _request_part(request: BatchRequest, transfer_encoding: str | None) -> Part:
    headers = []
    if request.content_id is not None:
        if not isinstance(request.content_id, str):
            raise UsageError(f"content_id must be a str, not {type(request.content_id).__name__}")
        headers.append(("Content-ID", request.content_id))
    return Part(
        request.to_bytes(),
        content_type="application/http",
        transfer_encoding=transfer_encoding,
        headers=headers,
    )


@dataclass(frozen=True)
class BatchResponse:
    """One answer inside a batch response."""

    index: int
    """0-based position of the part in the batch (of the change set part, for its answers)."""
    status: int
    reason: str
    headers: BatchHeaders
    body: bytes
    content_id: str | None
    """The part's Content-ID without brackets and without the ``response-`` prefix Google
    adds, so it equals the request's id (``<item1@x>`` -> ``item1@x``)."""
    changeset: int | None = None
    """Position of the answer inside its change set (OData), else ``None``."""
    part_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """The MIME part's own headers (Content-Type, Content-ID, ...)."""

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def to_bytes(self) -> bytes:
        """The answer as an HTTP message: status line, headers, blank line, body."""
        if type(self.status) is not int or not 100 <= self.status <= 999:
            raise UsageError(f"status must be an int from 100 to 999, not {self.status!r}")
        if not isinstance(self.reason, str) or not self.reason.isprintable():
            raise UsageError(f"reason {self.reason!r} must be a printable str")
        lines = [f"HTTP/1.1 {self.status} {self.reason}".rstrip(" ")]
        for name, value in self.headers.pairs:
            check_header(name, value)
            lines.append(f"{name}: {value}")
        head = "\r\n".join(lines)
        try:  # the parser reads header bytes as Latin-1: write only what reads back
            return head.encode("latin-1") + b"\r\n\r\n" + bytes(self.body)
        except UnicodeEncodeError as exc:
            raise UsageError(
                f"answer headers hold {head[exc.start]!r}, which is not Latin-1"
            ) from None


def build_batch_response(
    responses: Iterable[BatchResponse | Sequence[BatchResponse]],
    *,
    boundary: str | None = None,
    content_id_prefix: str = _RESPONSE_PREFIX,
) -> MultipartBody:
    """The server side of a batch: a ``multipart/mixed`` body of ``application/http``
    answers (a list of answers becomes a change set). An answer's ``content_id`` is written
    as ``<response-ID>`` the way Google does (``content_id_prefix=""`` echoes it as is), so
    :func:`parse_batch_response` gives back the request's id."""

    def part(response: BatchResponse) -> Part:
        if not isinstance(response, BatchResponse):
            raise UsageError(
                f"a batch answer must be a BatchResponse, not {type(response).__name__}"
            )
        headers = []
        if response.content_id is not None:
            headers.append(("Content-ID", f"<{content_id_prefix}{response.content_id}>"))
        return Part(
            response.to_bytes(),
            content_type="application/http",
            transfer_encoding="binary",
            headers=headers,
        )

    parts = []
    for item in responses:
        if isinstance(item, BatchResponse):
            parts.append(part(item))
        elif isinstance(item, (list, tuple)):
            parts.append(Part(MultipartBody([part(r) for r in item], subtype="mixed")))
        else:
            raise UsageError(f"a batch answer must be a BatchResponse, not {type(item).__name__}")
    return MultipartBody(parts, subtype="mixed", boundary=boundary)


def _response_content_id(value: str | None) -> str | None:
    if value is None:
        return None
    ident = normalize_content_id(value)
    if ident.startswith(_RESPONSE_PREFIX):
        ident = ident[len(_RESPONSE_PREFIX) :]
    return ident


def _where(index: int, changeset: int | None) -> str:
    return f"batch part {index}" + ("" if changeset is None else f", change set part {changeset}")


def _parse_message(
    message: bytes, index: int, changeset: int | None, offset: int | None
) -> tuple[int, str, BatchHeaders, bytes]:
    """Split one ``application/http`` answer: status line, headers, body."""
    where = _where(index, changeset)
    head, sep, rest = message.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = message.partition(b"\n\n")
        if not sep:  # headers ending with the part (a body-less answer without its blank line)
            head, rest = message.rstrip(b"\r\n"), b""
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    status_line = lines[0]
    m = _STATUS_LINE.match(status_line)
    if m is None:
        raise MalformedInput(
            f"{where}: {bytes(status_line[:80])!r} is not an HTTP status line ('HTTP/1.1 200 OK')",
            offset=offset,
            part=index,
        )
    status = int(m.group(3))
    reason = (m.group(4) or b"").decode("latin-1")
    pairs = []
    for number, line in enumerate(lines[1:], start=2):
        h = _HEADER_LINE.match(line)
        if h is None:
            raise MalformedInput(
                f"{where}: line {number} of the HTTP answer, {bytes(line[:80])!r}, is not a header",
                offset=offset,
                part=index,
            )
        pairs.append((h.group(1).decode("ascii"), h.group(2).decode("latin-1")))
    headers = BatchHeaders(pairs)
    if "transfer-encoding" in headers:
        raise MalformedInput(
            f"{where}: Transfer-Encoding {headers['transfer-encoding']!r} inside a batch part"
            " is not supported (the part's own framing delimits the answer)",
            offset=offset,
            part=index,
        )
    declared = headers.get_all("content-length")
    if declared:
        text = declared[0].strip()
        if len(set(declared)) > 1 or not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise MalformedInput(
                f"{where}: Content-Length {', '.join(declared)[:80]!r} is not one byte count",
                offset=offset,
                part=index,
            )
        size = int(text)
        if len(rest) < size:
            raise MalformedInput(
                f"{where}: body has {len(rest)} bytes, its Content-Length says {size}",
                offset=offset,
                part=index,
            )
        if rest[size:].strip(b"\r\n"):
            raise MalformedInput(
                f"{where}: {len(rest) - size} bytes follow the {size}-byte body its"
                " Content-Length declares",
                offset=offset,
                part=index,
            )
        rest = rest[:size]
    return status, reason, headers, rest


def parse_batch_response(
    source: Source,
    content_type: str | bytes,
    *,
    content_length: int | str | bytes | None = None,
    limits: Limits | None = None,
) -> Iterator[BatchResponse]:
    """Decode a batch answer, yielding each :class:`BatchResponse` as soon as its part has
    arrived (``source`` is bytes, a binary file such as an HTTP client's response, or an
    iterable of chunks; reading stops at the close delimiter).

    One answer is held in memory at a time (bound it with ``limits.max_part_size``). A part
    that is not ``application/http`` (or a change set, ``multipart/mixed``), a bad status
    line, a bad header line, or a body that disagrees with its Content-Length is
    :class:`MalformedInput` naming the part.
    """
    for part in parse_stream(source, content_type, limits=limits, content_length=content_length):
        yield from _answers(part, part.read(), limits)


async def aparse_batch_response(
    source: AsyncIterable[bytes] | bytes,
    content_type: str | bytes,
    *,
    content_length: int | str | bytes | None = None,
    limits: Limits | None = None,
) -> AsyncIterator[BatchResponse]:
    """:func:`parse_batch_response` over an async iterable of chunks (httpx
    ``resp.aiter_bytes()``, aiohttp ``resp.content.iter_any()``)."""
    parts = aparse_stream(source, content_type, limits=limits, content_length=content_length)
    async for part in parts:
        for answer in _answers(part, await part.aread(), limits):
            yield answer


def _answers(part: PartView, data: bytes, limits: Limits | None) -> Iterator[BatchResponse]:
    """The answer a part holds, or the answers of a change set (a nested multipart/mixed)."""
    if part.content_type != "multipart/mixed":
        yield _answer(part.index, None, data, part, part.offset)
        return
    nested = part.header("Content-Type") or ""
    try:
        for inner in parse_stream(data, nested, limits=limits):
            yield _answer(inner.index, part.index, inner.read(), inner, None)
    except MalformedInput as exc:
        if exc.reason.startswith(_where(part.index, None)):
            raise
        where = "" if exc.part is None else f" part {exc.part}"
        raise MalformedInput(
            f"batch part {part.index}: change set{where}: {exc.reason}",
            offset=part.offset,
            part=part.index,
        ) from None


def _answer(
    index: int, outer: int | None, message: bytes, part: PartView, offset: int | None
) -> BatchResponse:
    position, changeset = (index, None) if outer is None else (outer, index)
    if part.content_type != "application/http":
        shown = part.header("Content-Type")
        raise MalformedInput(
            f"{_where(position, changeset)}: Content-Type {shown!r} is not application/http",
            offset=offset,
            part=position,
        )
    status, reason, headers, body = _parse_message(message, position, changeset, offset)
    return BatchResponse(
        index=position,
        status=status,
        reason=reason,
        headers=headers,
        body=body,
        content_id=_response_content_id(part.header("Content-ID")),
        changeset=changeset,
        part_headers=part.headers,
    )
