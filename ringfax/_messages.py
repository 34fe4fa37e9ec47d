"""The message store half of :class:`~ringfax.FaxClient`: read, wait for, list, sync, mark,
cancel, delete and download faxes. :class:`MessageStore` holds these methods; the client
adds sending and the pipeline's settings.
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mimewire import Limits, MimeWireError, StreamedPart, parse_stream

from ._atomic import choose_target, write_atomically
from ._errors import (
    APIError,
    LinkRefused,
    NotCancellable,
    NotFound,
    ValidationError,
    error_from_response,
    redact_url,
)
from ._filenames import filename_from_disposition
from ._models import (
    CoverPage,
    FaxMessage,
    FaxSync,
    MessageAttachment,
    MessageStatus,
)
from ._pipeline import MAX_JSON_ANSWER, Call, Pipeline, json_object, read_json
from ._transport import Response
from ._validation import check_send_time
from ._waiting import FaxWait

__all__ = ["BULK_READ_MAX_IDS", "MessageStore"]

#: Ids per bulk read (one ``GET …/message-store/{id1},{id2},…``); longer lists are split.
#: RingCentral documents no maximum: 30 keeps the URL short (30 ids of 19 digits ≈ 600 bytes).
BULK_READ_MAX_IDS = 30


class MessageStore:
    """Message-store calls over a :class:`~ringfax._pipeline.Pipeline` (see FaxClient)."""

    server_url: str
    media_url: str
    account: str
    extension: str
    _pipeline: Pipeline
    _clock: Callable[[], float]
    _sleep: Callable[[float], None]

    # ------------------------------------------------------------------ URLs

    @property
    def _ext_path(self) -> str:
        account = urllib.parse.quote(str(self.account), safe="~")
        extension = urllib.parse.quote(str(self.extension), safe="~")
        return f"/restapi/v1.0/account/{account}/extension/{extension}"

    def _url(
        self, path: str, params: Mapping[str, Any] | None = None, *, media: bool = False
    ) -> str:
        base = self.media_url if media else self.server_url
        url = base + path
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                url += "?" + urllib.parse.urlencode(clean, doseq=True)
        return url

    def _follow(self, current: str, uri: str) -> str:
        """A server-provided link resolved against ``current``; :class:`LinkRefused` unless it
        stays on the server (same scheme, host and port): the token never goes elsewhere."""
        target = urllib.parse.urljoin(current, uri)
        if _origin(target) is None or _origin(target) != _origin(self.server_url):
            shown = redact_url(target)
            raise LinkRefused(
                f"refusing to follow navigation.nextPage {shown!r}: it leaves the server "
                f"{self.server_url} (the access token is sent only there)",
                url=shown,
            )
        return target

    def _get(self, url: str) -> Response:
        return self._pipeline.run(Call("GET", url, group="light", idempotent=True))

    def _get_json(self, url: str) -> Any:
        return read_json(self._get(url))

    def get_fax(self, message_id: str | int) -> FaxMessage:
        """The current state of a message (``GET …/message-store/{id}``)."""
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        return FaxMessage.from_json(json_object(self._get(url)))

    def get_faxes(self, message_ids: Iterable[str | int]) -> dict[str, FaxMessage | APIError]:
        """The current state of several messages, :data:`BULK_READ_MAX_IDS` ids per request
        (``GET …/message-store/{id1},{id2},…``, the Light group like :meth:`get_fax`).

        Returns ``{id: FaxMessage}`` for the ids found and ``{id: APIError}`` (e.g.
        :class:`~ringfax.NotFound`) for the ids the server reports as failed; one missing id
        never raises. Keys are the ids as strings, duplicates read once. The 207 Multi-Status
        answer (``multipart/mixed``: a ``response[]`` list, then one JSON part per id) is
        decoded streaming, one part in memory at a time; a single id gets the plain 200 JSON
        answer. An answer that breaks that shape (wrong status or Content-Type, part count
        not matching ``response[]``, unreadable JSON) raises :class:`~ringfax.APIError` naming
        the part (0 = the ``response[]`` part). Errors of the whole request (401, 429 after
        the retries, …) raise as for :meth:`get_fax`.
        """
        if isinstance(message_ids, (str, bytes, int)):
            raise ValidationError(
                "message_ids must be a list of ids, not a single id", param="message_ids"
            )
        ids = list(dict.fromkeys(_id_text(i, "message_ids") for i in message_ids))
        for ident in ids:
            if "," in ident:
                raise ValidationError(
                    f"message id {ident!r} contains a comma (the bulk read's separator)",
                    param="message_ids",
                )
        found: dict[str, FaxMessage | APIError] = {}
        for start in range(0, len(ids), BULK_READ_MAX_IDS):
            found.update(self._read_batch(ids[start : start + BULK_READ_MAX_IDS]))
        return found

    def _read_batch(self, ids: list[str]) -> dict[str, FaxMessage | APIError]:
        if len(ids) == 1:
            try:
                return {ids[0]: self.get_fax(ids[0])}
            except NotFound as exc:
                return {ids[0]: exc}
        joined = ",".join(urllib.parse.quote(i, safe="") for i in ids)
        url = self._url(f"{self._ext_path}/message-store/{joined}")
        response = self._pipeline.run(Call("GET", url, group="light", idempotent=True, stream=True))
        try:
            return _decode_multi_status(response, ids)
        finally:
            response.close()

    def wait_for_fax(
        self,
        message_id: str | int,
        *,
        timeout: float = 600.0,
        poll: float = 10.0,
        on_update: Callable[[FaxMessage], None] | None = None,
    ) -> FaxMessage:
        """Poll until the fax reaches a final status (Sent, Delivered, SendingFailed,
        DeliveryFailed — or Received for an inbound fax) or is deleted, and return it.

        A cancelled fax stays ``Queued`` with ``availability`` ``Deleted``: the wait ends there
        too, and :attr:`FaxMessage.is_deleted` tells the two outcomes apart. ``Queued`` keeps
        polling every ``poll`` seconds; after ``timeout`` seconds :class:`WaitTimeout` is
        raised (its ``last`` holds the last state seen).
        """
        wait = FaxWait(
            message_id, timeout=timeout, poll=poll, clock=self._clock, on_update=on_update
        )
        while True:
            message = self.get_fax(message_id)
            delay = wait.after(message)
            if delay is None:
                return message
            self._sleep(delay)

    def iter_faxes(
        self,
        direction: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        per_page: int = 100,
        *,
        read_status: str | None = None,
        availability: str | None = None,
        phone_number: str | None = None,
    ) -> Iterator[FaxMessage]:
        """Every fax in the message store matching the filters, following
        ``navigation.nextPage.uri`` to the last page. ``date_from``/``date_to`` must be aware
        datetimes (RingCentral's default window is the last 24 hours). ``direction``:
        ``"Inbound"`` (received faxes), ``"Outbound"`` or None (both).

        A ``nextPage`` link is resolved against the page it came from and followed only when it
        stays on ``server_url`` (same scheme, host and port); anything else raises
        :class:`~ringfax.LinkRefused` instead of sending the access token to another host."""
        _check_direction(direction)
        if not 1 <= per_page <= 1000:
            raise ValidationError(f"per_page {per_page} must be within 1..1000", param="per_page")
        params: dict[str, Any] = {
            "messageType": "Fax",
            "direction": direction,
            "dateFrom": check_send_time(date_from, "date_from"),
            "dateTo": check_send_time(date_to, "date_to"),
            "readStatus": read_status,
            "availability": availability,
            "phoneNumber": phone_number,
            "perPage": per_page,
        }
        url: str | None = self._url(f"{self._ext_path}/message-store", params)
        for record in self._paginate(url):
            yield FaxMessage.from_json(record)

    def _paginate(self, url: str | None) -> Iterator[Mapping[str, Any]]:
        seen: set[str] = set()
        while url is not None and url not in seen:
            seen.add(url)
            data = self._get_json(url)
            if not isinstance(data, Mapping):
                raise APIError(200, f"expected a JSON object from {redact_url(url)}")
            records = data.get("records")
            if isinstance(records, list):
                for record in records:
                    if isinstance(record, Mapping):
                        yield record
            nav = data.get("navigation")
            nxt = nav.get("nextPage") if isinstance(nav, Mapping) else None
            uri = nxt.get("uri") if isinstance(nxt, Mapping) else None
            url = self._follow(url, uri) if isinstance(uri, str) and uri and records else None

    def sync_faxes(
        self,
        sync_token: str | None = None,
        *,
        direction: str | None = None,
        date_from: datetime | None = None,
        record_count: int | None = None,
    ) -> FaxSync:
        """RingCentral message-sync for faxes (``GET …/message-sync``).

        Without ``sync_token``: a full sync (``syncType=FSync``) of the current fax messages
        (``date_from``, ``record_count`` narrow it). With the ``sync_token`` of the previous
        :class:`FaxSync`: an incremental sync (``ISync``) — only messages created or changed
        since then. Persist ``result.sync_token`` between runs; a token the server no longer
        accepts raises :class:`~ringfax.BadRequest` (start over with a full sync).
        ``direction``: ``"Inbound"``, ``"Outbound"`` or None (both); records of other message
        types or directions are dropped.
        """
        _check_direction(direction)
        if record_count is not None and (
            isinstance(record_count, bool) or not isinstance(record_count, int) or record_count < 1
        ):
            raise ValidationError(
                f"record_count {record_count!r} must be a positive int", param="record_count"
            )
        params: dict[str, Any] = {}
        if sync_token is None:
            params["syncType"] = "FSync"
        else:
            if not isinstance(sync_token, str) or not sync_token.strip():
                raise ValidationError(
                    "sync_token is empty", param="sync_token", hint="pass None for a full sync"
                )
            if date_from is not None:
                raise ValidationError(
                    "date_from applies only to a full sync (sync_token=None)", param="date_from"
                )
            params["syncType"] = "ISync"
            params["syncToken"] = sync_token
        params["messageType"] = "Fax"
        params["direction"] = direction
        params["dateFrom"] = check_send_time(date_from, "date_from")
        params["recordCount"] = record_count
        response = self._get(self._url(f"{self._ext_path}/message-sync", params))
        try:
            result = FaxSync.from_json(json_object(response))
        except ValueError as exc:
            raise APIError(response.status, str(exc)) from None
        records = tuple(
            m
            for m in result.records
            if m.type in (None, "Fax") and (direction is None or m.direction in (None, direction))
        )
        return dataclasses.replace(result, records=records)

    def mark_read(self, message_id: str | int) -> FaxMessage:
        """Set ``readStatus`` to ``Read`` (``PUT …/message-store/{id}``); returns the message."""
        return self._set_read_status(message_id, "Read")

    def mark_unread(self, message_id: str | int) -> FaxMessage:
        """Set ``readStatus`` to ``Unread``; returns the updated message."""
        return self._set_read_status(message_id, "Unread")

    def _set_read_status(self, message_id: str | int, status: str) -> FaxMessage:
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        call = Call("PUT", url, group="medium", idempotent=True, json_body={"readStatus": status})
        return FaxMessage.from_json(json_object(self._pipeline.run(call)))

    def cancel_fax(self, message_id: str | int) -> FaxMessage:
        """Cancel a fax that is still ``Queued`` (e.g. scheduled with ``send_time``).

        Reads the message first; only a ``Queued``, not yet deleted fax is cancelled (``DELETE
        …/message-store/{id}``) — anything else raises :class:`~ringfax.NotCancellable` (use
        :meth:`delete_fax` to remove a sent, failed or received fax). Returns the message as it
        was just before it was cancelled. (RingCentral has no conditional delete: a fax that
        leaves ``Queued`` between the read and the delete is deleted.)
        """
        message = self.get_fax(message_id)
        availability = message.availability
        if message.message_status is not MessageStatus.QUEUED or availability not in (
            None,
            "Alive",
        ):
            status = message.message_status or message.raw.get("messageStatus")
            raise NotCancellable(str(message_id), status, availability=availability)
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        self._pipeline.run(Call("DELETE", url, group="medium", idempotent=True)).close()
        return message

    def delete_fax(self, message_id: str | int, *, purge: bool = False) -> None:
        """Delete a fax from the message store (``DELETE …/message-store/{id}``).

        A first delete moves it to ``Deleted`` (restorable), a second one purges it;
        ``purge=True`` purges at once. A still ``Queued`` fax is not sent once deleted.
        """
        params = {"purge": "true"} if purge else None
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}", params)
        self._pipeline.run(Call("DELETE", url, group="medium", idempotent=True)).close()

    def download(
        self,
        message_id: str | int,
        attachment_id: str | int | MessageAttachment,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
    ) -> Path:
        """Stream an attachment (e.g. the rendered PDF/TIFF) to ``path`` and return the file.

        ``attachment_id``: the id, or a :class:`~ringfax.MessageAttachment` from
        ``message.attachments`` (then its file name and content type are known up front).
        When ``path`` is an existing directory the file is named from the attachment —
        ``{message_id}-{file name}`` when the attachment (or the answer's
        ``Content-Disposition``) has a name, else ``{message_id}-{attachment_id}{ext}`` with
        the extension from the content type — using only ``[A-Za-z0-9._-]``, and always inside
        that directory. Written to a temporary file beside the target and moved into place when
        complete (never half-written). An existing file raises
        :class:`~ringfax.DownloadError` unless ``overwrite=True``.
        """
        filename: str | None = None
        known_type: str | None = None
        if isinstance(attachment_id, MessageAttachment):
            filename, known_type = attachment_id.filename, attachment_id.content_type
            attachment_id = attachment_id.id
        content = _id(attachment_id, "attachment_id")
        url = self._url(
            f"{self._ext_path}/message-store/{_id(message_id)}/content/{content}", media=True
        )
        response = self._pipeline.run(
            Call("GET", url, group="medium", idempotent=True, stream=True)
        )
        try:
            ctype = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            if not ctype or ctype == "application/octet-stream":
                ctype = known_type or ctype
            name = filename or filename_from_disposition(
                response.headers.get("Content-Disposition")
            )
            target = choose_target(
                Path(path), str(message_id), str(attachment_id), filename=name, content_type=ctype
            )
            return write_atomically(response.stream(), target, overwrite=overwrite)
        finally:
            response.close()

    def cover_pages(self) -> list[CoverPage]:
        """The cover pages available (``GET /restapi/v1.0/dictionary/fax-cover-page``)."""
        url = self._url("/restapi/v1.0/dictionary/fax-cover-page", {"perPage": 100})
        return [CoverPage.from_json(r) for r in self._paginate(url)]


def _id(value: str | int, param: str = "message_id") -> str:
    return urllib.parse.quote(_id_text(value, param), safe="")


def _id_text(value: str | int, param: str = "message_id") -> str:
    text = str(value).strip()
    if not text:
        raise ValidationError(f"{param} is empty", param=param)
    return text


def _decode_multi_status(response: Response, ids: list[str]) -> dict[str, FaxMessage | APIError]:
    """The 207 answer to a bulk read of ``ids``, decoded part by part (see get_faxes)."""
    status = response.status
    ctype = response.headers.get("Content-Type") or ""
    what = f"bulk read of {len(ids)} ids"
    if status != 207 or ctype.split(";")[0].strip().lower() != "multipart/mixed":
        raise APIError(
            status, f"{what}: expected 207 multipart/mixed, got {status} {ctype or 'no type'!r}"
        )
    limits = Limits(max_part_size=MAX_JSON_ANSWER)
    summary: list[Mapping[str, Any]] = []
    found: dict[str, FaxMessage | APIError] = {}
    at = 0  # the part being decoded, for the error message
    try:
        parts = parse_stream(
            response.stream(),
            ctype,
            limits=limits,
            content_length=response.headers.get("Content-Length"),
        )
        for index, part in enumerate(parts):
            at = index
            if index > len(ids):
                raise APIError(status, f"{what}: part {index} is beyond the {len(ids)} ids")
            raw, data = _json_part(part, index, status, what)
            at = index + 1
            if index == 0:
                summary = _summary(data, status, what, len(ids))
                continue
            ident = ids[index - 1]
            item_status = int(summary[index - 1]["status"])
            if 200 <= item_status < 300:
                try:
                    found[ident] = FaxMessage.from_json(_mapping(data, index, status, what))
                except (ValueError, TypeError) as exc:
                    raise APIError(status, f"{what}: part {index} (id {ident}): {exc}") from None
            else:
                found[ident] = error_from_response(item_status, response.headers, raw)
    except MimeWireError as exc:
        raise APIError(status, f"{what}: malformed multipart at part {at}: {exc}") from None
    if len(found) != len(ids):
        raise APIError(
            status,
            f"{what}: {len(found) + 1 if summary else 0} parts, expected {len(ids) + 1} "
            f"(the response[] part and one per id)",
        )
    return found


def _json_part(part: StreamedPart, index: int, status: int, what: str) -> tuple[bytes, Any]:
    media = (part.content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise APIError(
            status, f"{what}: part {index} has Content-Type {part.content_type!r}, not JSON"
        )
    raw = part.read()
    try:
        return raw, json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise APIError(status, f"{what}: part {index}: JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise APIError(status, f"{what}: part {index}: unreadable JSON: {exc}") from None


def _mapping(data: Any, index: int, status: int, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise APIError(status, f"{what}: part {index} is not a JSON object")
    return data


def _summary(data: Any, status: int, what: str, count: int) -> list[Mapping[str, Any]]:
    items = _mapping(data, 0, status, what).get("response")
    if not isinstance(items, list) or not all(
        isinstance(i, Mapping) and isinstance(i.get("status"), int) for i in items
    ):
        raise APIError(
            status, f"{what}: part 0 has no response[] list of entries with an int status"
        )
    if len(items) != count:
        raise APIError(
            status, f"{what}: part 0 lists {len(items)} responses for {count} ids requested"
        )
    return items


def _check_direction(direction: str | None) -> None:
    if direction is not None and direction not in ("Inbound", "Outbound"):
        raise ValidationError(
            f"direction {direction!r} must be 'Inbound', 'Outbound' or None", param="direction"
        )


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL without user info; None for anything else."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)
