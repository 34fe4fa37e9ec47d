"""Fax requests -> stored fax records, and stored records -> RingCentral JSON.

Parsing accepts every wire format of docs/ringcentral.md §2 (§9.2): ``multipart/form-data``
with a JSON envelope (any part whose Content-Type is ``application/json``, whatever its
name) or with field parts (``to`` repeatable, ``faxResolution``, ``sendTime``, ``isoCode``,
``coverIndex``, ``coverPageText``; no filename or ``filename=""``), ``multipart/mixed``
(JSON first, then attachments), and the ``application/json`` resend/forward body (§3).
Every other part is an attachment, in order, whatever its name. Request bodies are read in
64 KiB chunks and fed to :func:`mimewire.parse`, which spools each part (in memory up to
1 MiB, in an anonymous temporary file beyond); attachments are then copied into the upload
directory, so no large body is ever held in memory. Sizes are checked against
``EmulatorConfig`` (MSG-337 per attachment, MSG-338 in total, 413 for the whole body).
In lenient mode a delimiter not preceded by CRLF (ringcentral-extensible) is repaired first
(:func:`repair_bare_delimiters`).

Status progression (§4.2) is computed from stored times, so no background thread is
needed and a :class:`ManualClock` drives it deterministically: each recipient is
``Queued`` until ``done_at`` = max(acceptance, ``sendTime``) + (``send_delay`` +
``page_delay`` x pages) x scenario factor, then ``Sent`` or ``SendingFailed`` with a
``faxErrorCode`` (by scenario number), then optionally ``Delivered``. A deleted (cancelled)
fax freezes at the state it had when it was deleted.

Page count: the documents' pages (:func:`ringfax.emulator._documents.count_pages`) +1 for
a cover page (``coverIndex``
absent or not 0). ``faxPageCount`` is 0 while ``Queued`` and omitted when every recipient
failed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimewire import (
    LimitExceeded,
    Limits,
    MalformedInput,
    MimeWireError,
    parse,
    parse_header_params,
)

from ._clock import Clock, parse_time
from ._config import EmulatorConfig, Scenario
from ._documents import (
    EXTENSION_TYPES,
    SUPPORTED_EXTENSIONS,
    SUPPORTED_MEDIA_TYPES,
    count_pages,
    extension_of,
    media_type_of,
    repair_bare_delimiters,
)
from ._errors import ApiError, cmn101, cmn102, too_large
from ._input import load_json, parse_id, text_charset
from ._render import Renderer, aggregate_status, recipient_state
from ._store import AttachmentRow, FaxRow, RecipientRow, Store

__all__ = ["FaxService", "Upload", "attachment_rows"]

FIELD_NAMES = frozenset(
    {"to", "faxResolution", "sendTime", "isoCode", "coverIndex", "coverPageText"}
)
ENVELOPE_NAMES = frozenset({"json", "request.json"})
MAX_FIELD_BYTES = 1024 * 1024


# -- request model ----------------------------------------------------------------------------


@dataclass
class Upload:
    filename: str | None
    content_type: str
    size: int
    path: Path


@dataclass
class _Request:
    to: list[tuple[str, str | None]]
    resolution: str
    send_time: float | None
    iso_code: str | None
    cover_index: int | None
    cover_text: str | None


def _valid_cover(index: int) -> bool:
    return 0 <= index <= 13 or 15 <= index <= 28


_PHONE_JUNK = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"\+?[1-9][0-9]{6,14}")


def _phone(value: object, strict: bool) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise cmn101("to", str(value))
    text = str(value).strip()
    if not strict:
        text = _PHONE_JUNK.sub("", text)
    if not _PHONE.fullmatch(text):
        raise cmn101("to", str(value))
    return text if text.startswith("+") else "+" + text


def attachment_rows(
    fax_id: int, attachment_ids: Sequence[int], uploads: Sequence[Upload]
) -> tuple[list[AttachmentRow], int]:
    """The stored rows for one fax's uploaded documents, and their page count."""
    rows = []
    pages = 0
    for att_id, up in zip(attachment_ids, uploads, strict=True):
        n = count_pages(up.path, up.content_type, up.filename)
        pages += n
        rows.append(
            AttachmentRow(
                id=att_id,
                filename=up.filename,
                content_type=up.content_type,
                size=up.size,
                pages=n,
                path=f"attachments/{fax_id}/{att_id}",
            )
        )
    return rows, pages


class FaxService:
    """Parses, validates and stores faxes; renders them as RingCentral JSON."""

    def __init__(self, store: Store, config: EmulatorConfig, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.renderer = Renderer(config, clock)

    # -- new faxes --------------------------------------------------------------------------

    def create_from_multipart(self, source: Iterable[bytes], content_type: str) -> FaxRow:
        """Parse a multipart fax request (form-data or mixed) and store it."""
        media = media_type_of(content_type)
        incoming = self.store.new_incoming_dir()
        try:
            envelope: dict[str, Any] | None = None
            fields: dict[str, list[str]] = {}
            uploads: list[Upload] = []
            total = 0
            # mimewire spools each part (memory up to 1 MiB, then an anonymous temp file);
            # max_part_size bounds the spool (wire bytes: room for base64), the decoded size
            # is checked exactly below (MSG-337/MSG-338).
            limits = Limits(
                max_part_size=self.config.max_attachment_size * 4 // 3 + 4096,
                max_total_size=self.config.max_body_size,
            )
            if not self.config.strict:
                # sniffing only: parse() below refuses ambiguous boundaries (CMN-104)
                _, params = parse_header_params(content_type, lenient=True)
                if params.get("boundary"):
                    source = repair_bare_delimiters(source, params["boundary"])
            try:
                # Lenient mode decodes base64/QP parts even in form-data (grokify's Ruby
                # SDK base64-encodes the JSON part); strict mode follows RFC 7578 §4.7.
                for index, part in enumerate(
                    parse(
                        source,
                        content_type,
                        limits=limits,
                        spool_threshold=1 << 20,
                        decode_transfer=None if self.config.strict else True,
                    )
                ):
                    try:
                        kind = self._classify(part, envelope is None)
                        if kind == "envelope":
                            envelope = self._read_envelope(part)
                        elif kind == "field":
                            fields.setdefault(str(part.name), []).append(self._read_field(part))
                        else:
                            upload = self._store_upload(part, len(uploads), incoming, media, total)
                            total += upload.size
                            uploads.append(upload)
                    finally:
                        part.close()
                    del index
            except LimitExceeded as exc:
                if exc.limit == "max_total_size":
                    raise too_large(self.config.max_body_size) from None
                if exc.limit == "max_part_size":
                    raise ApiError(400, "MSG-337", "Attachment size limit exceeded") from None
                raise self._cannot_parse(exc) from None
            except MalformedInput as exc:
                raise self._cannot_parse(exc) from None
            except MimeWireError as exc:
                raise self._cannot_parse(exc) from None
            request = self._build_request(envelope or {}, fields, from_fields=envelope is None)
            if not uploads and (self.config.strict or request.cover_index == 0):
                raise cmn101("attachment")
            if (
                self.config.max_attachments is not None
                and len(uploads) > self.config.max_attachments
            ):
                raise cmn101("attachment", str(len(uploads)))
            if media == "multipart/mixed":
                wire = "mixed"
            else:
                wire = "form-data" if envelope is not None else "form-fields"
            return self._store_fax(request, uploads, wire, original=None)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def _cannot_parse(self, exc: Exception) -> ApiError:
        err = ApiError(400, "CMN-104", "Cannot parse request")
        err.parameter_value = str(exc)
        return err

    @staticmethod
    def _header(part: Any, name: str) -> str | None:
        headers = getattr(part, "headers", ())
        getter = getattr(headers, "get", None)
        if callable(getter) and not isinstance(headers, tuple | list):
            value = getter(name)
            return None if value is None else str(value)
        lname = name.lower()
        for key, value in headers:
            if str(key).lower() == lname:
                return str(value)
        return None

    def _classify(self, part: Any, envelope_missing: bool) -> str:
        ctype = media_type_of(self._header(part, "Content-Type"))
        name = part.name
        filename = part.filename
        if ctype == "application/json" and envelope_missing:
            return "envelope"
        if envelope_missing and ctype is None and name in ENVELOPE_NAMES and not self.config.strict:
            return "envelope"
        if name in FIELD_NAMES and not filename and ctype in (None, "text/plain"):
            return "field"
        return "attachment"

    def _read_small(self, part: Any, what: str) -> bytes:
        data = bytearray()
        for chunk in part.iter_bytes():
            data += chunk
            if len(data) > MAX_FIELD_BYTES:
                raise cmn101(what)
        return bytes(data)

    def _read_envelope(self, part: Any) -> dict[str, Any]:
        raw = self._read_small(part, "json")
        charset = text_charset(getattr(part, "charset", None))
        unreadable = ApiError(400, "MSG-349", "Unable to parse fax envelope")
        if charset is None:
            raise unreadable
        value = load_json(raw, unreadable, charset=charset)
        if not isinstance(value, dict):
            raise unreadable
        return value

    def _read_field(self, part: Any) -> str:
        raw = self._read_small(part, str(part.name))
        charset = text_charset(getattr(part, "charset", None)) or "utf-8"
        try:
            return raw.decode(charset).strip()
        except (UnicodeDecodeError, LookupError):
            return raw.decode("latin-1").strip()

    def _store_upload(
        self, part: Any, index: int, incoming: Path, media: str | None, total: int
    ) -> Upload:
        cfg = self.config
        disposition_value = self._header(part, "Content-Disposition")
        filename = part.filename
        if cfg.strict:
            if disposition_value is None:
                raise ApiError(400, "MSG-350", "No content disposition")
            _, params = parse_header_params(disposition_value, lenient=True)
            if "filename" not in params and "filename*" not in params and filename is None:
                raise ApiError(400, "MSG-351", "No file name in content disposition")
            cte = (part.transfer_encoding or "").lower()
            if media == "multipart/form-data" and cte == "base64":
                raise ApiError(400, "MSG-349", "Unable to parse fax envelope")
        declared = media_type_of(self._header(part, "Content-Type"))
        ext = extension_of(filename)
        if ext is not None and ext in SUPPORTED_EXTENSIONS:
            ctype = declared if declared and declared != "application/octet-stream" else None
            ctype = ctype or EXTENSION_TYPES.get(ext, "application/octet-stream")
        elif ext is not None and (cfg.strict or declared not in SUPPORTED_MEDIA_TYPES):
            raise self._unsupported(index, filename)
        elif declared in SUPPORTED_MEDIA_TYPES:
            ctype = str(declared)
        elif declared in (None, "application/octet-stream") and not cfg.strict:
            ctype = "application/octet-stream" if declared else "text/plain"
        else:
            raise self._unsupported(index, filename)
        size = int(part.size)
        if size > cfg.max_attachment_size:
            raise ApiError(400, "MSG-337", "Attachment size limit exceeded")
        if total + size > cfg.max_message_size:
            raise ApiError(400, "MSG-338", "Message size limit exceeded")
        path = incoming / f"{index:04d}"
        self.store.write_file(path, part.iter_bytes(1 << 20))
        if size == 0:
            raise ApiError(400, "MSG-347", "Attachment body is empty")
        return Upload(filename or None, ctype, size, path)

    @staticmethod
    def _unsupported(index: int, filename: str | None) -> ApiError:
        return ApiError(
            415,
            "MSG-348",
            "Unsupported attachment media type",
            parameter_name="attachment",
            parameter_value=f"attachment [{index}]: [{filename or ''}]",
        )

    def _build_request(
        self, env: dict[str, Any], fields: dict[str, list[str]], *, from_fields: bool
    ) -> _Request:
        strict = self.config.strict
        merged: dict[str, Any] = {k: v[-1] for k, v in fields.items() if k != "to"}
        merged.update({k: v for k, v in env.items() if k != "to"})
        to_items: list[tuple[str, str | None]] = []
        raw_to = env.get("to")
        if raw_to is not None:
            if isinstance(raw_to, dict) and not strict:
                raw_to = [raw_to]
            if not isinstance(raw_to, list):
                raise cmn101("to")
            for item in raw_to:
                if isinstance(item, dict):
                    name = item.get("name")
                    to_items.append(
                        (
                            _phone(item.get("phoneNumber"), strict),
                            str(name) if name is not None else None,
                        )
                    )
                elif isinstance(item, str) and not strict:
                    to_items.append((_phone(item, strict), None))
                else:
                    raise cmn101("to", str(item))
        for value in fields.get("to", []):
            if value.startswith("{") and not strict:
                obj = load_json(value.encode("utf-8", "surrogatepass"), cmn101("to", value[:64]))
                if not isinstance(obj, dict):
                    raise cmn101("to", value)
                name = obj.get("name")
                to_items.append(
                    (_phone(obj.get("phoneNumber"), strict), str(name) if name else None)
                )
            else:
                to_items.append((_phone(value, strict), None))
        if not to_items:
            raise cmn101("to")
        return _Request(to=to_items, **self._common(merged, strict))

    def _common(self, merged: dict[str, Any], strict: bool) -> dict[str, Any]:
        resolution = merged.get("faxResolution", "High")
        if not isinstance(resolution, str):
            raise cmn101("faxResolution", str(resolution))
        if not strict:
            resolution = resolution.strip().capitalize()
        if resolution not in ("High", "Low"):
            raise cmn101("faxResolution", resolution)
        send_time: float | None = None
        raw_time = merged.get("sendTime")
        if raw_time not in (None, ""):
            try:
                send_time = parse_time(str(raw_time))
            except ValueError:
                raise cmn101("sendTime", str(raw_time)) from None
        iso = merged.get("isoCode")
        if iso in ("", None):
            iso = None
        elif not isinstance(iso, str) or not re.fullmatch(r"[A-Za-z]{2}", iso):
            raise cmn101("isoCode", str(iso))
        else:
            iso = iso.upper()
        cover: int | None = None
        raw_cover = merged.get("coverIndex")
        if raw_cover not in (None, ""):
            try:
                if isinstance(raw_cover, (bool, float)):
                    raise ValueError
                cover = int(str(raw_cover).strip())
            except ValueError:
                raise cmn101("coverIndex", str(raw_cover)) from None
            if not _valid_cover(cover):
                raise cmn101("coverIndex", str(raw_cover))
        text = merged.get("coverPageText")
        if text is not None and not isinstance(text, str):
            raise cmn101("coverPageText")
        if text is not None and len(text) > 1024:
            raise cmn101("coverPageText")
        return {
            "resolution": resolution,
            "send_time": send_time,
            "iso_code": iso,
            "cover_index": cover,
            "cover_text": text or None,
        }

    def _fate(
        self, number: str, attempt: int, ready_at: float, pages: int
    ) -> tuple[float, str, str | None, float | None]:
        cfg = self.config
        digits = number.lstrip("+")
        scenario: Scenario | None = None
        best = -1
        for suffix, candidate in cfg.scenarios.items():
            if digits.endswith(suffix) and len(suffix) > best:
                scenario, best = candidate, len(suffix)
        factor = scenario.delay_factor if scenario else 1.0
        done_at = ready_at + (cfg.send_delay + cfg.page_delay * pages) * factor
        error: str | None = None
        if (
            scenario is not None
            and scenario.fax_error_code is not None
            and (scenario.attempts_to_fail == 0 or attempt <= scenario.attempts_to_fail)
        ):
            error = scenario.fax_error_code
        if error is None and pages > cfg.max_pages:
            error = "TooManyPages"
        if error is not None:
            return done_at, "SendingFailed", error, None
        delivered_at = done_at + cfg.delivered_delay if cfg.delivered else None
        return done_at, "Sent", None, delivered_at

    def _store_fax(
        self,
        request: _Request,
        uploads: list[Upload],
        wire: str,
        *,
        original: FaxRow | None,
        attempts: dict[str, int] | None = None,
    ) -> FaxRow:
        now = self.clock.now()
        ids = self.store.allocate_ids(1 + len(request.to) + len(uploads))
        fax_id, recipient_ids, attachment_ids = (
            ids[0],
            ids[1 : 1 + len(request.to)],
            ids[1 + len(request.to) :],
        )
        atts, pages = attachment_rows(fax_id, attachment_ids, uploads)
        if request.cover_index != 0:
            pages += 1  # the cover page
        ready_at = max(now, request.send_time) if request.send_time is not None else now
        recips = []
        for rid, (number, name) in zip(recipient_ids, request.to, strict=False):
            attempt = (attempts or {}).get(number, 0) + 1
            done_at, outcome, code, delivered_at = self._fate(number, attempt, ready_at, pages)
            recips.append(
                RecipientRow(
                    id=rid,
                    phone_number=number,
                    name=name,
                    ready_at=ready_at,
                    done_at=done_at,
                    outcome=outcome,
                    error_code=code,
                    delivered_at=delivered_at,
                    attempt=attempt,
                )
            )
        row = FaxRow(
            id=fax_id,
            creation=now,
            direction="Outbound",
            read_status="Read",
            availability="Alive",
            fax_resolution=request.resolution,
            cover_index=request.cover_index,
            cover_page_text=request.cover_text,
            iso_code=request.iso_code,
            send_time=request.send_time,
            page_count=pages,
            original_id=original.id if original else None,
            deleted_at=None,
            wire_format=wire,
            recipients=tuple(recips),
            attachments=tuple(atts),
        )
        self.store.insert_fax(row, [u.path for u in uploads])
        return row

    # -- resend / forward -------------------------------------------------------------------

    def create_from_json(self, raw: bytes) -> FaxRow:
        """Resend or forward a stored fax (docs/ringcentral.md §3).

        Without ``to`` (resend): allowed only when the original's status is
        ``SendingFailed``; goes to the recipients that failed. With ``to`` (forward):
        allowed once the original is no longer ``Queued``. Otherwise 406 MSG-343.
        """
        unreadable = ApiError(400, "CMN-103", "JSON can't be parsed.")
        body = load_json(raw, unreadable)
        if not isinstance(body, dict):
            raise unreadable
        raw_id = body.get("originalMessageId")
        if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
            raise cmn101("originalMessageId")
        original_id = parse_id(str(raw_id).strip(), "originalMessageId")
        if original_id is None:
            raise cmn101("originalMessageId", str(raw_id)[:64])
        original = self.store.get_fax(original_id)
        if original is None or original.availability == "Purged":
            raise cmn102("originalMessageId", str(raw_id))
        now = self.clock.now()
        states = [recipient_state(r, now, original.deleted_at) for r in original.recipients]
        aggregate = aggregate_status([s for s, _, _ in states])
        forward = body.get("to") not in (None, [])
        not_allowed = ApiError(
            406, "MSG-343", "Fax resend is not allowed for message in current state"
        )
        if aggregate == "Queued" or original.availability != "Alive":
            raise not_allowed
        if original.direction == "Inbound" and not forward:
            raise cmn101("to")  # a received fax can be forwarded, not resent
        if forward:
            request = self._build_request({"to": body["to"]}, {}, from_fields=False)
        else:
            if aggregate != "SendingFailed":
                raise not_allowed
            request = _Request(
                to=[
                    (r.phone_number, r.name)
                    for r, (s, _, _) in zip(original.recipients, states, strict=False)
                    if s == "SendingFailed"
                ],
                resolution="High",
                send_time=None,
                iso_code=None,
                cover_index=None,
                cover_text=None,
            )
        common = self._common({"sendTime": body.get("sendTime")}, self.config.strict)
        request.send_time = common["send_time"]
        request.resolution = original.fax_resolution
        request.iso_code = original.iso_code
        request.cover_index = original.cover_index
        request.cover_text = original.cover_page_text
        incoming = self.store.new_incoming_dir()
        try:
            uploads = []
            for i, att in enumerate(original.attachments):
                copy = incoming / f"{i:04d}"
                with open(self.store.path_of(att), "rb") as source:
                    self.store.write_file(copy, iter(lambda: source.read(1 << 20), b""))
                uploads.append(Upload(att.filename, att.content_type, att.size, copy))
            attempts = {r.phone_number: r.attempt for r in original.recipients}
            return self._store_fax(request, uploads, "resend", original=original, attempts=attempts)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    # -- rendering --------------------------------------------------------------------------

    def message_uri(self, base: str, fax_id: int) -> str:
        """Canonical message-store URI of a fax."""
        return self.renderer.message_uri(base, fax_id)

    def render(
        self, row: FaxRow, base: str, *, store_style: bool, now: float | None = None
    ) -> dict[str, Any]:
        """``FaxResponse`` (``store_style=False``) or message-store record JSON."""
        return self.renderer.render(row, base, store_style=store_style, now=now)

    def get(self, fax_id_text: str) -> FaxRow:
        """A visible (not purged) fax by its path id, or 404 CMN-102 (400 CMN-101 for a
        number too large to be an id)."""
        fax_id = parse_id(fax_id_text, "messageId")
        if fax_id is None:
            raise cmn102("messageId", fax_id_text)
        row = self.store.get_fax(fax_id)
        if row is None or row.availability == "Purged":
            raise cmn102("messageId", fax_id_text)
        return row
