"""Fax request bodies: validate a fax once, then render its multipart body for each attempt.

:func:`prepare_fax` runs every pre-flight check (:mod:`ringfax._validation`) and fixes the JSON
envelope, the text fields and the attachment sources; :func:`render_body` builds a fresh
:class:`mimewire.MultipartBody` from that (file objects rewound), because urllib3 cannot rewind
an iterator body and a retried POST must send the same bytes again.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, Union

from mimewire import MimeWireError, MultipartBody, Part, validate_boundary

from ._errors import ValidationError
from ._filenames import default_filename
from ._models import Attachment, Recipient
from ._validation import (
    check_attachments,
    check_cover_index,
    check_cover_page_text,
    check_iso_code,
    check_resolution,
    check_send_time,
    normalize_recipients,
)

__all__ = [
    "WIRE_FORMATS",
    "AttachmentLike",
    "FaxRequest",
    "PreparedAttachment",
    "PreparedFax",
    "ProgressCallback",
    "WireFormat",
    "fax_request",
    "prepare_fax",
    "progress",
    "render_body",
]

log = logging.getLogger("ringfax")

WireFormat = Literal["form-data", "form-fields", "mixed"]
WIRE_FORMATS = ("form-data", "form-fields", "mixed")
"""The fax body layouts: JSON envelope + files, RingCentral's field style, multipart/mixed."""

AttachmentLike = Union[Attachment, str, "os.PathLike[str]", bytes, IO[bytes]]
"""What ``send_fax`` accepts per attachment: an :class:`Attachment`, a path or a binary file."""

ProgressCallback = Callable[[int, "int | None"], None]
"""``on_progress(sent, total)``: body bytes handed to the transport so far (total: or None)."""


@dataclass(frozen=True)
class PreparedAttachment:
    """One checked attachment: its source, wire name, type, size and where a file starts."""

    source: Any
    wire_filename: str
    content_type: str
    size: int | None
    start: int | None  # start offset of a seekable file object
    replayable: bool


@dataclass(frozen=True)
class PreparedFax:
    """A checked fax: recipients, attachments, text fields (wire order) and JSON envelope."""

    recipients: tuple[Recipient, ...]
    attachments: tuple[PreparedAttachment, ...]
    fields: tuple[tuple[str, str], ...]  # (field name, text value) in wire order
    envelope: bytes
    wire_format: str
    boundary: str | None

    @property
    def replayable(self) -> bool:
        return all(a.replayable for a in self.attachments)


@dataclass(frozen=True)
class FaxRequest:
    """Everything that defines a fax to send: recipients, documents and options.

    ``to``: E.164 strings or :class:`Recipient` (national numbers need ``default_country``).
    ``attachments``: paths, :class:`Attachment` objects, binary files. ``wire_format``: the
    body layout (:data:`WIRE_FORMATS`); ``boundary`` fixes the multipart boundary
    (reproducible bytes). Nothing is checked until the request is sent or rendered
    (:func:`prepare_fax`), so that every problem is reported as one :class:`ValidationError`.
    """

    to: str | Recipient | Sequence[str | Recipient]
    attachments: AttachmentLike | Sequence[AttachmentLike]
    cover_index: int | None = None
    cover_page_text: str | None = None
    resolution: str | None = None
    send_time: datetime | None = None
    iso_code: str | None = None
    wire_format: WireFormat = "form-data"
    boundary: str | None = None
    default_country: str | None = None


_OPTIONS = tuple(f.name for f in fields(FaxRequest))


def fax_request(
    to: FaxRequest | str | Recipient | Sequence[str | Recipient],
    attachments: AttachmentLike | Sequence[AttachmentLike] | None,
    options: Mapping[str, Any],
) -> FaxRequest:
    """The :class:`FaxRequest` of ``send_fax(to, attachments, **options)``: ``to`` is a
    FaxRequest (``options`` then replace its fields) or the recipients."""
    unknown = sorted(set(options) - set(_OPTIONS[2:]))
    if unknown:
        raise TypeError(
            f"unexpected keyword argument(s) {', '.join(unknown)}: a fax takes "
            f"{', '.join(_OPTIONS[2:])} (and on_progress when it is sent)"
        )
    if isinstance(to, FaxRequest):
        if attachments is not None:
            raise TypeError("pass the attachments in the FaxRequest, not beside it")
        return replace(to, **options) if options else to
    if attachments is None:
        raise TypeError("send_fax(to, attachments): the attachments are missing")
    return FaxRequest(to, attachments, **options)


def prepare_fax(request: FaxRequest, *, now: float) -> PreparedFax:
    """Run every pre-flight check and fix the envelope, fields and attachment sources.

    ``now`` (epoch seconds) is the client's clock: a ``send_time`` in the past is refused.
    """
    to, attachments, wire_format = request.to, request.attachments, request.wire_format
    if wire_format not in WIRE_FORMATS:
        raise ValidationError(
            f"wire_format {wire_format!r} is invalid: use one of {', '.join(WIRE_FORMATS)}"
        )
    if request.boundary is not None:
        try:
            validate_boundary(request.boundary)
        except MimeWireError as exc:
            raise ValidationError(
                f"boundary {request.boundary!r}: {exc}", param="boundary"
            ) from None
    recipients = normalize_recipients(to, request.default_country)
    if isinstance(attachments, (str, bytes, os.PathLike, Attachment)):
        attachments = [attachments]
    atts: list[Attachment] = []
    for index, item in enumerate(attachments):
        if isinstance(item, Attachment):
            att = item
        elif isinstance(item, (str, os.PathLike)):
            att = Attachment(item)
        elif isinstance(item, (bytes, bytearray)):
            raise ValidationError(
                f"attachment #{index}: raw bytes need a filename: "
                f"Attachment(data, filename='page.pdf')"
            )
        else:
            att = Attachment(item)
        if not att.display_name:
            name = default_filename(index, att.content_type)
            if name is not None:
                att = Attachment(att.source, name, att.content_type, att.size)
        atts.append(att)
    sizes = check_attachments(atts)
    if wire_format == "form-fields" and any(r.name for r in recipients):
        log.warning("wire_format='form-fields' cannot carry recipient names; they are dropped")
    text_fields: list[tuple[str, str]] = []
    envelope: dict[str, Any] = {"to": [r.to_json() for r in recipients]}
    text = check_cover_page_text(request.cover_page_text)
    index_ = check_cover_index(request.cover_index)
    res = check_resolution(request.resolution)
    when = check_send_time(request.send_time, now=now)
    iso = check_iso_code(request.iso_code)
    if text is not None:
        text_fields.append(("coverPageText", text))
    if index_ is not None:
        text_fields.append(("coverIndex", str(index_)))
    if res is not None:
        text_fields.append(("faxResolution", res.value))
    if when is not None:
        text_fields.append(("sendTime", when))
    if iso is not None:
        text_fields.append(("isoCode", iso))
    for r in recipients:
        text_fields.append(("to", r.phone_number))
    if res is not None:
        envelope["faxResolution"] = res.value
    if when is not None:
        envelope["sendTime"] = when
    if iso is not None:
        envelope["isoCode"] = iso
    if index_ is not None:
        envelope["coverIndex"] = index_
    if text is not None:
        envelope["coverPageText"] = text
    prepared_atts = []
    for att, size in zip(atts, sizes, strict=True):
        source = att.source
        start: int | None = None
        replayable = True
        if isinstance(source, (bytearray, memoryview)):
            source = bytes(source)
        elif isinstance(source, (str, os.PathLike)):
            source = Path(source)
        elif isinstance(source, bytes):
            pass
        elif hasattr(source, "read"):
            seekable = getattr(source, "seekable", None)
            if callable(seekable) and seekable():
                start = source.tell()
            else:
                replayable = False
        else:
            replayable = False
        wire_name = att.wire_filename
        content_type = (
            att.content_type or mimetypes.guess_type(wire_name)[0] or "application/octet-stream"
        )
        prepared_atts.append(
            PreparedAttachment(source, wire_name, content_type, size, start, replayable)
        )
    return PreparedFax(
        recipients=tuple(recipients),
        attachments=tuple(prepared_atts),
        fields=tuple(text_fields),
        envelope=json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode(),
        wire_format=wire_format,
        boundary=request.boundary,
    )


def render_body(prepared: PreparedFax) -> MultipartBody:
    """The multipart body for one attempt (file objects are rewound to their start)."""
    try:
        return _render_parts(prepared, prepared.wire_format, prepared.boundary)
    except MimeWireError as exc:
        raise ValidationError(f"cannot build the fax body: {exc}") from None
    except OSError as exc:
        raise ValidationError(f"cannot read an attachment: {exc}") from None


def _render_parts(prepared: PreparedFax, wire_format: str, boundary: str | None) -> MultipartBody:
    parts: list[Part] = []
    if wire_format == "form-fields":
        for name, value in prepared.fields:
            parts.append(
                Part(
                    value.encode("utf-8"),
                    name=name,
                    filename="",
                    # header order of RingCentral's documented example
                    headers=[
                        ("Content-Transfer-Encoding", "8bit"),
                        ("Content-Type", "text/plain"),
                    ],
                )
            )
    elif wire_format == "form-data":
        parts.append(
            Part(
                prepared.envelope,
                name="json",
                filename="request.json",
                content_type="application/json",
            )
        )
    else:
        parts.append(Part(prepared.envelope, content_type="application/json"))
    for att in prepared.attachments:
        source = att.source
        if att.start is not None:
            source.seek(att.start)
        if wire_format == "mixed":
            parts.append(
                Part(
                    source,
                    filename=att.wire_filename,
                    content_type=att.content_type,
                    disposition="attachment",
                    length=att.size,
                )
            )
        else:
            parts.append(
                Part(
                    source,
                    name="attachment",
                    filename=att.wire_filename,
                    content_type=att.content_type,
                    length=att.size,
                )
            )
    subtype = "mixed" if wire_format == "mixed" else "form-data"
    return MultipartBody(parts, subtype=subtype, boundary=boundary)


def progress(
    body: Iterable[bytes], total: int | None, callback: ProgressCallback
) -> Iterator[bytes]:
    """``body`` unchanged, calling ``callback(sent, total)`` after each chunk is handed on."""
    sent = 0
    for chunk in body:
        sent += len(chunk)
        yield chunk
        callback(sent, total)
