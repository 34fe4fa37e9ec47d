"""Inbound (received) faxes: injected through :meth:`Emulator.inject_inbound_fax` or the
emulator-only control endpoint ``POST /emulator/v1/inbound-fax``.

The endpoint takes ``multipart/form-data`` with the text fields ``from`` (required),
``to`` and ``subject``, and one or more file parts named ``attachment`` (any part with a
filename counts as one). It needs no token and is not rate limited; errors are
RingCentral error bodies (400 ``CMN-101`` naming the field, 400 ``MSG-337``/``MSG-338``/
``MSG-347`` for sizes, 415 for a body that is not form-data).

A received fax is stored like a sent one (same tables, same files, same durability) with
``direction`` ``Inbound``, ``readStatus`` ``Unread`` and one ``to`` entry: the receiving
number (default: ``EmulatorConfig.from_number``, the emulated extension's fax number).
``subject`` defaults to the sender's number (RingCentral shows the remote station id
there). Its documents are served by the usual content endpoint; it can be listed
(``direction=Inbound``, ``readStatus``), marked read/unread, deleted, synced and
forwarded (``originalMessageId`` + ``to``).
"""

from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mimewire import LimitExceeded, Limits, MimeWireError, parse

from ._documents import EXTENSION_TYPES, extension_of, media_type_of
from ._errors import ApiError, too_large
from ._faxes import _PHONE, _PHONE_JUNK, FaxService, Upload, attachment_rows
from ._files import StorageFull
from ._store import FaxRow, RecipientRow

__all__ = ["InboundFaxes", "InboundInvalid"]

FIELDS = ("from", "to", "subject")
MAX_SUBJECT = 1024
MAX_FILENAME = 255
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TYPE_EXT = {v: k for k, v in reversed(EXTENSION_TYPES.items())}


class InboundInvalid(ApiError):
    """400 ``CMN-101`` for a bad inbound-fax field; ``reason`` says what is wrong."""

    def __init__(self, parameter: str, value: str | None, reason: str) -> None:
        super().__init__(
            400,
            "CMN-101",
            f"Parameter [{parameter}] value is invalid.",
            parameter_name=parameter,
            parameter_value=value,
        )
        self.reason = reason


def _phone(parameter: str, value: str) -> str:
    text = _PHONE_JUNK.sub("", value.strip())
    if not _PHONE.fullmatch(text):
        raise InboundInvalid(
            parameter,
            value,
            f"{parameter}: {value!r} is not a fax number (E.164, e.g. +16505550123)",
        )
    return text if text.startswith("+") else "+" + text


def _subject(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_SUBJECT:
        raise InboundInvalid(
            "subject", value, f"subject: longer than {MAX_SUBJECT} characters ({len(value)})"
        )
    return value


def _filename(value: str, index: int) -> str:
    if not value or len(value) > MAX_FILENAME or _CONTROL.search(value):
        raise InboundInvalid(
            "attachment",
            value,
            f"document {index}: file name {value!r} must be 1-{MAX_FILENAME} characters"
            " without control characters",
        )
    return value


def _media_type(value: str, index: int) -> str:
    media = media_type_of(value) or ""
    if not _MEDIA_TYPE.fullmatch(media):
        raise InboundInvalid(
            "attachment",
            value,
            f"document {index}: content type {value!r} is not a media type like application/pdf",
        )
    return media


class InboundFaxes:
    """Validates and stores received faxes (shares the :class:`FaxService`'s store)."""

    def __init__(self, faxes: FaxService) -> None:
        self.faxes = faxes

    # -- Python API -------------------------------------------------------------------------

    def inject(
        self,
        *,
        from_number: str,
        to_number: str | None,
        documents: Sequence[tuple[str, str, bytes]],
        subject: str | None,
    ) -> FaxRow:
        """Store a received fax from in-memory documents ``(filename, content_type, data)``.

        Raises ``TypeError`` for wrong argument types and ``ValueError`` (saying which
        argument and why) for invalid values, ``OSError`` (``ENOSPC``) when the data
        directory is full (nothing is stored then)."""
        if not isinstance(from_number, str):
            raise TypeError(f"from_number must be a str, not {type(from_number).__name__}")
        if to_number is not None and not isinstance(to_number, str):
            raise TypeError(f"to_number must be a str or None, not {type(to_number).__name__}")
        if subject is not None and not isinstance(subject, str):
            raise TypeError(f"subject must be a str or None, not {type(subject).__name__}")
        given: object = documents
        if isinstance(given, str | bytes) or not isinstance(given, Sequence):
            raise TypeError("documents must be a sequence of (filename, content_type, data)")
        cfg = self.faxes.config
        incoming = self.faxes.store.new_incoming_dir()
        try:
            try:
                sender = _phone("from", from_number)
                receiver = _phone("to", to_number) if to_number is not None else None
                if not documents:
                    raise InboundInvalid("attachment", None, "documents: at least one needed")
                uploads: list[Upload] = []
                total = 0
                for i, doc in enumerate(documents):
                    if not isinstance(doc, tuple | list) or len(doc) != 3:
                        raise TypeError(
                            f"documents[{i}] must be a (filename, content_type, data) tuple"
                        )
                    name, ctype, data = doc
                    if not isinstance(name, str) or not isinstance(ctype, str):
                        raise TypeError(f"documents[{i}]: filename and content_type must be str")
                    if not isinstance(data, bytes | bytearray | memoryview):
                        raise TypeError(f"documents[{i}]: data must be bytes")
                    size = len(memoryview(data).cast("B"))
                    self._check_size(i, size, total, cfg.max_attachment_size)
                    total += size
                    path = incoming / f"{i:04d}"
                    self.faxes.store.write_file(path, [bytes(data)])
                    uploads.append(Upload(_filename(name, i), _media_type(ctype, i), size, path))
                return self._store(sender, receiver, _subject(subject), uploads)
            except InboundInvalid as exc:
                raise ValueError(exc.reason) from None
            except StorageFull as exc:
                raise OSError(errno.ENOSPC, exc.message) from exc
            except ApiError as exc:
                raise ValueError(f"{exc.code}: {exc.message}") from None
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def _check_size(self, index: int, size: int, total: int, limit: int) -> None:
        cfg = self.faxes.config
        if size == 0:
            err = ApiError(400, "MSG-347", "Attachment body is empty")
            err.parameter_value = f"document {index}"
            raise err
        if size > limit:
            raise ApiError(400, "MSG-337", "Attachment size limit exceeded")
        if total + size > cfg.max_message_size:
            raise ApiError(400, "MSG-338", "Message size limit exceeded")

    # -- HTTP control endpoint --------------------------------------------------------------

    def inject_multipart(self, source: Iterable[bytes], content_type: str) -> FaxRow:
        """Store a received fax from a ``multipart/form-data`` body (raises ApiError)."""
        if media_type_of(content_type) != "multipart/form-data":
            raise ApiError(
                415,
                "CMN-415",
                "Unsupported Media Type",
                parameter_name="Content-Type",
                parameter_value=content_type,
            )
        faxes = self.faxes
        cfg = faxes.config
        incoming = faxes.store.new_incoming_dir()
        limits = Limits(
            max_part_size=cfg.max_attachment_size * 4 // 3 + 4096,
            max_total_size=cfg.max_body_size,
        )
        try:
            fields: dict[str, str] = {}
            uploads: list[Upload] = []
            total = 0
            try:
                for part in parse(
                    source,
                    content_type,
                    limits=limits,
                    spool_threshold=1 << 20,
                    decode_transfer=None if cfg.strict else True,
                ):
                    try:
                        upload = self._take_part(part, fields, incoming, len(uploads), total)
                    finally:
                        part.close()
                    if upload is not None:
                        total += upload.size
                        uploads.append(upload)
            except LimitExceeded as exc:
                if exc.limit == "max_total_size":
                    raise too_large(cfg.max_body_size) from None
                if exc.limit == "max_part_size":
                    raise ApiError(400, "MSG-337", "Attachment size limit exceeded") from None
                raise faxes._cannot_parse(exc) from None
            except MimeWireError as exc:
                raise faxes._cannot_parse(exc) from None
            if "from" not in fields:
                raise InboundInvalid("from", None, "from: missing")
            if not uploads:
                raise InboundInvalid("attachment", None, "attachment: at least one file needed")
            sender = _phone("from", fields["from"])
            receiver = _phone("to", fields["to"]) if fields.get("to") else None
            return self._store(sender, receiver, _subject(fields.get("subject")), uploads)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def _take_part(
        self, part: Any, fields: dict[str, str], incoming: Path, index: int, total: int
    ) -> Upload | None:
        name = part.name
        filename = part.filename
        if name in FIELDS and not filename:
            if name in fields:
                raise InboundInvalid(name, None, f"{name}: given twice")
            fields[name] = self.faxes._read_field(part)
            return None
        if name != "attachment" and not filename:
            shown = str(name) if name is not None else "(unnamed part)"
            raise InboundInvalid(shown, None, f"unknown field {shown!r}")
        declared = media_type_of(self.faxes._header(part, "Content-Type"))
        ext = extension_of(filename)
        if declared in (None, "application/octet-stream") and ext in EXTENSION_TYPES:
            ctype = EXTENSION_TYPES[str(ext)]
        else:
            ctype = _media_type(declared or "application/octet-stream", index)
        if not filename:
            filename = f"document-{index + 1}.{_TYPE_EXT.get(ctype, 'bin')}"
        size = int(part.size)
        self._check_size(index, size, total, self.faxes.config.max_attachment_size)
        path = incoming / f"{index:04d}"
        self.faxes.store.write_file(path, part.iter_bytes(1 << 20))
        return Upload(_filename(str(filename), index), ctype, size, path)

    # -- storing ----------------------------------------------------------------------------

    def _store(
        self, sender: str, receiver: str | None, subject: str | None, uploads: list[Upload]
    ) -> FaxRow:
        faxes = self.faxes
        cfg = faxes.config
        now = faxes.clock.now()
        ids = faxes.store.allocate_ids(2 + len(uploads))
        fax_id, recipient_id, attachment_ids = ids[0], ids[1], ids[2:]
        atts, pages = attachment_rows(fax_id, attachment_ids, uploads)
        to = RecipientRow(
            id=recipient_id,
            phone_number=receiver or cfg.from_number,
            name=cfg.owner_name,
            ready_at=now,
            done_at=now,
            outcome="Received",
            error_code=None,
            delivered_at=None,
            attempt=1,
        )
        row = FaxRow(
            id=fax_id,
            creation=now,
            direction="Inbound",
            read_status="Unread",
            availability="Alive",
            fax_resolution="High",
            cover_index=None,
            cover_page_text=None,
            iso_code=None,
            send_time=None,
            page_count=pages,
            original_id=None,
            deleted_at=None,
            wire_format="inbound",
            recipients=(to,),
            attachments=tuple(atts),
            from_number=sender,
            subject=subject if subject is not None else sender,
            modified=now,
        )
        faxes.store.insert_fax(row, [u.path for u in uploads])
        stored = faxes.store.get_fax(fax_id)
        assert stored is not None
        return stored
