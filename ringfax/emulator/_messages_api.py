"""Handlers of the fax and message-store endpoints (sending, reading, bulk reads,
delete/restore, downloads, listing, message-sync, cover pages, inbound injection)."""

from __future__ import annotations

import json
import logging
import os
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from mimewire import MultipartBody, Part

from ._documents import COVER_PAGES, media_type_of
from ._errors import ApiError, cmn101, cmn102
from ._exchange import ApiResponse, Exchange
from ._input import load_json, parse_id
from ._store import FaxRow

__all__ = ["API", "MessageHandlers"]

log = logging.getLogger("ringfax.emulator")

API = "/restapi/v1.0"
MAX_FORM = 64 * 1024


class MessageHandlers(Exchange):
    """The fax endpoints' handlers (routing and auth: :mod:`ringfax.emulator._api`)."""

    # -- fax --------------------------------------------------------------------------------

    def _send_fax(self) -> ApiResponse:
        content_type = self.header("content-type") or ""
        media = media_type_of(content_type)
        faxes = self.svc.faxes
        if media in ("multipart/form-data", "multipart/mixed"):
            row = faxes.create_from_multipart(self.body, content_type)
        elif media == "application/json":
            row = faxes.create_from_json(self.body.read_all(MAX_FORM))
        else:
            raise ApiError(
                415,
                "CMN-415",
                "Unsupported Media Type",
                parameter_name="Content-Type",
                parameter_value=content_type,
            )
        self.svc.push.fax_changed("new", row)
        return self._json(200, faxes.render(row, self._base, store_style=False))

    def _get_message(self, ident: str) -> ApiResponse:
        faxes = self.svc.faxes
        if "," in ident:
            return self._bulk(ident.split(","))
        row = faxes.get(ident)
        return self._json(200, faxes.render(row, self._base, store_style=True))

    def _bulk(self, ids: list[str]) -> ApiResponse:
        """Bulk read (§4.5): 207 Multi-Status as ``multipart/mixed`` (first part: the
        ``response[]`` summary, then one JSON part per id), or a JSON array of
        ``{resourceId, status, body}`` with
        ``Accept: application/vnd.ringcentral.multipart+json``."""
        faxes = self.svc.faxes
        items: list[tuple[str, int, dict[str, Any]]] = []
        for ident in (i.strip() for i in ids):
            try:
                row = faxes.get(ident)
                items.append((ident, 200, faxes.render(row, self._base, store_style=True)))
            except ApiError as exc:
                items.append((ident, exc.status, exc.body()))
        accept = (self.header("accept") or "").lower()
        if "application/vnd.ringcentral.multipart+json" in accept:
            return self._json(
                207, [{"resourceId": i, "status": st, "body": b} for i, st, b in items]
            )

        def href(ident: str) -> str:
            try:
                number = parse_id(ident, "messageId")
            except ApiError:
                number = None
            return ident if number is None else faxes.message_uri(self._base, number)

        summary = {
            "response": [
                {
                    "href": href(i),
                    "status": st,
                    "responseDescription": HTTPStatus(st).phrase,
                }
                for i, st, _ in items
            ]
        }

        def dump(obj: Any) -> bytes:
            return json.dumps(obj, indent=2, separators=(",", " : ")).encode("utf-8")

        parts = [Part(dump(summary), content_type="application/json")]
        parts += [Part(dump(b), content_type="application/json") for _, _, b in items]
        body = MultipartBody(parts, subtype="mixed")
        return self._send(207, b"".join(body), content_type=body.content_type)

    def _delete_message(self, ident: str) -> ApiResponse:
        faxes = self.svc.faxes
        row = faxes.get(ident)
        purge = (self._q("purge") or "").lower() == "true"
        if faxes.store.delete_fax(row.id, purge=purge, now=faxes.clock.now()) is None:
            raise cmn102("messageId", ident)  # purged meanwhile
        self.svc.push.fax_changed("updated", row)
        return self._send(204)

    def _update_message(self, ident: str) -> ApiResponse:
        faxes = self.svc.faxes
        row = faxes.get(ident)
        unreadable = ApiError(400, "CMN-103", "JSON can't be parsed.")
        body = load_json(self.body.read_all(MAX_FORM) or b"{}", unreadable)
        if not isinstance(body, dict):
            raise unreadable
        read = body.get("readStatus")
        if read is not None and read not in ("Read", "Unread"):
            raise cmn101("readStatus", str(read))
        availability = body.get("availability")
        if availability is not None and availability != "Alive":
            raise cmn101("availability", str(availability))
        restore = availability is not None
        now = faxes.clock.now()
        if not faxes.store.update_fax(row.id, read_status=read, restore=restore, now=now):
            raise cmn102("messageId", ident)  # purged meanwhile
        before, row = row, faxes.get(ident)
        if (before.read_status, before.availability) != (row.read_status, row.availability):
            self.svc.push.fax_changed("updated", row)
        return self._json(200, faxes.render(row, self._base, store_style=True))

    def _content(self, ident: str, att_ident: str) -> ApiResponse:
        """Serve a document from a descriptor opened before the headers go out: a purge
        after that cannot shorten the answer; a document purged (or lost) before it is a
        404 ``CMN-102``, never a 500."""
        faxes = self.svc.faxes
        row = faxes.get(ident)
        for att in row.attachments:
            if str(att.id) == att_ident:
                break
        else:
            raise cmn102("attachmentId", att_ident)
        try:
            document = open(faxes.store.path_of(att), "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            faxes.get(ident)  # 404 messageId when purged meanwhile
            log.warning(
                "document %s of message %s is missing from the data directory", att.id, ident
            )
            raise cmn102("attachmentId", att_ident) from None
        try:
            faxes.get(ident)  # opened just as a purge committed: answer as purged
        except BaseException:
            document.close()
            raise
        disposition = (self._q("contentDisposition") or "").lower()
        headers = {}
        if disposition in ("inline", "attachment"):
            name = self._q("contentDispositionFilename") or att.filename or str(att.id)
            safe = name.replace('"', "").replace("\r", "").replace("\n", "")
            headers["Content-Disposition"] = (
                f'{disposition}; filename="{safe.encode("ascii", "replace").decode()}"'
                f"; filename*=UTF-8''{quote(safe)}"
            )
        return self._send(
            200,
            content_type=att.content_type,
            headers=headers,
            stream=document,
            length=os.fstat(document.fileno()).st_size,
        )

    def _list(self) -> ApiResponse:
        faxes = self.svc.faxes
        now = faxes.clock.now()
        page = self._int_param("page", 1, 1, 1_000_000)
        per_page = self._int_param("perPage", 100, 1, 1000)
        date_to = self._time_param("dateTo", now + 0.001)
        date_from = self._time_param("dateFrom", date_to - 86400)
        types = [t for v in self.query.get("messageType", []) for t in v.split(",") if t]
        direction = self._q("direction")
        if direction not in (None, "", "Inbound", "Outbound"):
            raise cmn101("direction", direction)
        avail = [a for v in self.query.get("availability", []) for a in v.split(",") if a]
        for a in avail:
            if a not in ("Alive", "Deleted", "Purged"):
                raise cmn101("availability", a)
        read_status = self._q("readStatus") or None
        if read_status not in (None, "Read", "Unread"):
            raise cmn101("readStatus", read_status)
        rows: list[FaxRow] = []
        if types and "Fax" not in types:
            total = 0
        else:
            total, rows = faxes.store.list_faxes(
                date_from=date_from,
                date_to=date_to,
                direction=direction or None,
                availability=avail or ("Alive", "Deleted"),
                read_status=read_status,
                offset=(page - 1) * per_page,
                limit=per_page,
            )
        path = self.path.rstrip("/")
        meta = self._paging(path, page, per_page, total, len(rows))
        return self._json(
            200,
            {
                "uri": meta["self"],
                "records": [faxes.render(r, self._base, store_style=True) for r in rows],
                "paging": meta["paging"],
                "navigation": meta["navigation"],
            },
        )

    # -- message sync and inbound faxes -----------------------------------------------------

    def _message_sync(self) -> ApiResponse:
        sync_type = self._q("syncType") or None
        token = self._q("syncToken") or None
        if sync_type is None:
            sync_type = "ISync" if token else "FSync"
        if sync_type not in ("FSync", "ISync"):
            raise cmn101("syncType", sync_type)
        types = [t for v in self.query.get("messageType", []) for t in v.split(",") if t]
        direction = self._q("direction") or None
        if direction not in (None, "Inbound", "Outbound"):
            raise cmn101("direction", direction)
        server = self.svc
        if sync_type == "ISync":
            if token is None:
                raise cmn101("syncToken")
            answer = server.sync.incremental(
                self._base, token=token, direction=direction, faxes_wanted=self._wants_fax(types)
            )
        else:
            count = self._q("recordCount")
            answer = server.sync.full(
                self._base,
                direction=direction,
                faxes_wanted=self._wants_fax(types),
                date_from=self._maybe_time("dateFrom"),
                date_to=self._maybe_time("dateTo"),
                record_count=None if not count else self._int_param("recordCount", 0, 1, 10**6),
            )
        return self._json(200, answer)

    @staticmethod
    def _wants_fax(types: list[str]) -> bool:
        return not types or "Fax" in types

    def _inject_inbound(self) -> ApiResponse:
        content_type = self.header("content-type") or ""
        row = self.svc.inbound.inject_multipart(self.body, content_type)
        self.svc.push.fax_changed("new", row)
        return self._json(200, self.svc.faxes.render(row, self._base, store_style=True))

    def _cover_pages(self) -> ApiResponse:
        page = self._int_param("page", 1, 1, 1_000_000)
        per_page = self._int_param("perPage", 100, 1, 1000)
        records = [{"id": str(i), "name": n} for i, n in enumerate(COVER_PAGES) if i]
        chunk = records[(page - 1) * per_page : page * per_page]
        meta = self._paging(
            f"{API}/dictionary/fax-cover-page", page, per_page, len(records), len(chunk)
        )
        return self._json(
            200,
            {
                "uri": meta["self"],
                "records": chunk,
                "paging": meta["paging"],
                "navigation": meta["navigation"],
            },
        )
