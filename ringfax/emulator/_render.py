"""Stored fax rows -> RingCentral JSON (``FaxResponse`` and message-store records).

Outbound faxes: per-recipient status computed from stored times (see
:func:`recipient_state`), aggregated per docs/ringcentral.md §4.2; documents listed as
``SourceDocument`` attachments. Inbound faxes (§4.3 example): ``direction`` ``Inbound``,
``messageStatus`` ``Received``, ``from`` = the sender, ``to`` = the receiving number,
``subject``, ``faxPageCount``, documents as ``RenderedDocument`` attachments with
``fileName``. ``lastModifiedTime`` is the latest of creation, status changes and explicit
changes (``readStatus``, ``availability``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._clock import Clock, format_time
from ._config import EmulatorConfig
from ._store import FaxRow, RecipientRow

__all__ = ["Renderer", "aggregate_status", "recipient_state"]


def recipient_state(
    r: RecipientRow, now: float, deleted_at: float | None
) -> tuple[str, str | None, float | None]:
    """``(messageStatus, faxErrorCode, time of the last change)`` of one recipient at ``now``."""
    if r.outcome == "Received":
        return "Received", None, r.done_at
    t = now if deleted_at is None else min(now, deleted_at)
    if t < r.done_at:
        return "Queued", None, None
    if r.outcome == "SendingFailed":
        return "SendingFailed", r.error_code, r.done_at
    if r.delivered_at is not None and t >= r.delivered_at:
        return "Delivered", None, r.delivered_at
    return "Sent", None, r.done_at


def aggregate_status(statuses: Iterable[str]) -> str:
    """§4.2: any Queued -> Queued; any SendingFailed -> SendingFailed; all Delivered ->
    Delivered; otherwise Sent."""
    values = list(statuses)
    if not values or "Queued" in values:
        return "Queued"
    if "SendingFailed" in values:
        return "SendingFailed"
    if all(v == "Delivered" for v in values):
        return "Delivered"
    return "Sent"


def status_changes(row: FaxRow) -> list[float]:
    """Times at which the computed status of an outbound fax changes by itself (recipients
    finishing or being delivered), ignoring the freeze a deletion causes."""
    if row.direction != "Outbound":
        return []
    times = [r.done_at for r in row.recipients]
    times += [r.delivered_at for r in row.recipients if r.delivered_at is not None]
    if row.deleted_at is not None:
        times = [t for t in times if t <= row.deleted_at]
    return times


class Renderer:
    """Renders stored faxes as RingCentral JSON."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock

    def message_uri(self, base: str, fax_id: int) -> str:
        """Canonical message-store URI of a fax."""
        cfg = self.config
        return (
            f"{base}/restapi/v1.0/account/{cfg.account_id}/extension/{cfg.extension_id}"
            f"/message-store/{fax_id}"
        )

    def render(
        self, row: FaxRow, base: str, *, store_style: bool, now: float | None = None
    ) -> dict[str, Any]:
        """``FaxResponse`` (``store_style=False``) or message-store record JSON, as of
        ``now`` (default: the clock's time)."""
        if now is None:
            now = self.clock.now()
        if row.direction == "Inbound":
            return self._render_inbound(row, base, store_style=store_style)
        uri = self.message_uri(base, row.id)
        to = []
        statuses = []
        last = row.creation
        any_sent = False
        for r in row.recipients:
            status, code, when = recipient_state(r, now, row.deleted_at)
            statuses.append(status)
            if when is not None:
                last = max(last, when)
            any_sent = any_sent or status in ("Sent", "Delivered")
            item: dict[str, Any] = {"recipientId": str(r.id), "phoneNumber": r.phone_number}
            if r.name:
                item["name"] = r.name
            item["messageStatus"] = status
            if code:
                item["faxErrorCode"] = code
            to.append(item)
        aggregate = aggregate_status(statuses)
        if row.deleted_at is not None:
            last = max(last, row.deleted_at)
        if row.modified is not None:
            last = max(last, row.modified)
        out: dict[str, Any] = {"uri": uri, "id": row.id}
        if store_style:
            out["extensionId"] = self.config.extension_id
        out["to"] = to
        out["from"] = {"phoneNumber": self.config.from_number, "name": self.config.owner_name}
        out.update(
            {
                "type": "Fax",
                "creationTime": format_time(row.creation),
                "readStatus": row.read_status,
                "priority": "Normal",
                "attachments": self._attachments(row, uri, "SourceDocument", store_style),
                "direction": row.direction,
                "availability": row.availability,
                "messageStatus": aggregate,
                "faxResolution": row.fax_resolution,
            }
        )
        if aggregate == "Queued":
            out["faxPageCount"] = 0
        elif any_sent:
            out["faxPageCount"] = row.page_count
        out["lastModifiedTime"] = format_time(last)
        if row.cover_index is not None:
            out["coverIndex"] = row.cover_index
        if row.cover_page_text is not None:
            out["coverPageText"] = row.cover_page_text
        return out

    def _render_inbound(self, row: FaxRow, base: str, *, store_style: bool) -> dict[str, Any]:
        uri = self.message_uri(base, row.id)
        last = max(t for t in (row.creation, row.modified, row.deleted_at) if t is not None)
        to = []
        for r in row.recipients:
            item: dict[str, Any] = {"phoneNumber": r.phone_number}
            if r.name:
                item["name"] = r.name
            to.append(item)
        out: dict[str, Any] = {"uri": uri, "id": row.id}
        if store_style:
            out["extensionId"] = self.config.extension_id
        out["to"] = to
        out["from"] = {"phoneNumber": row.from_number or ""}
        out.update(
            {
                "type": "Fax",
                "creationTime": format_time(row.creation),
                "readStatus": row.read_status,
                "priority": "Normal",
                "attachments": self._attachments(row, uri, "RenderedDocument", True),
                "direction": "Inbound",
                "availability": row.availability,
            }
        )
        if row.subject is not None:
            out["subject"] = row.subject
        out.update(
            {
                "messageStatus": "Received",
                "faxResolution": row.fax_resolution,
                "faxPageCount": row.page_count,
                "lastModifiedTime": format_time(last),
            }
        )
        return out

    @staticmethod
    def _attachments(row: FaxRow, uri: str, kind: str, store_style: bool) -> list[dict[str, Any]]:
        attachments = []
        for att in row.attachments:
            a: dict[str, Any] = {
                "id": att.id,
                "uri": f"{uri}/content/{att.id}",
                "type": kind,
                "contentType": att.content_type,
            }
            if att.filename is not None:
                a["fileName" if store_style else "filename"] = att.filename
            a["size"] = att.size
            attachments.append(a)
        return attachments
