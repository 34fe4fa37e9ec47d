"""Message sync (``GET …/extension/{e}/message-sync``), RingCentral's FSync/ISync protocol.

* ``syncType=FSync`` (the default without a ``syncToken``): the faxes created in
  ``[dateFrom, dateTo)`` (defaults: ``dateTo`` = now, ``dateFrom`` = ``dateTo`` - 24 h,
  as RingCentral documents), availability ``Alive`` or ``Deleted``, newest first; with
  ``recordCount`` only the newest N, and ``syncInfo.olderRecordsExist`` says whether more
  matched. Filters: ``direction`` (``Inbound``/``Outbound``), ``messageType`` (only
  ``Fax`` has records here).
* ``syncType=ISync`` with the ``syncToken`` of the previous answer: every fax created or
  changed since that answer -- new faxes (sent or received), status changes of outbound
  faxes (``Queued`` -> ``Sent``/``SendingFailed`` -> ``Delivered``; computed from stored
  times, so they count when they *happen*, without any write), ``readStatus`` changes,
  deletions (``Deleted``, then ``Purged``) and restores -- each record once, in its latest
  state, newest first, whatever its creation date. The frame's ``direction`` (from the
  FSync) carries over unless the ISync names one.

The token is ``base64url("v1:<change seq>:<sync time>:<direction>:<mac>")``: the store's
change counter and clock time at the answer, authenticated with an HMAC-SHA256 key kept in
the data directory -- so a token survives restarts, and a token from another data
directory, an edited one or garbage is a 400 ``CMN-101`` with ``parameterName``
``syncToken``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from typing import Any

from ._clock import format_time
from ._errors import ApiError, cmn101
from ._faxes import FaxService
from ._render import status_changes
from ._store import FaxRow

__all__ = ["SyncFrame", "SyncService"]

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]{8,400}")
_SEQ = re.compile(r"[0-9]{1,19}")
_DIRECTIONS = ("", "Inbound", "Outbound")


@dataclass(frozen=True)
class SyncFrame:
    """What an incremental sync continues from."""

    seq: int
    time: float
    direction: str | None


def _bad_token(token: str) -> ApiError:
    return cmn101("syncToken", token)


class SyncService:
    """Answers FSync and ISync requests from the store."""

    def __init__(self, faxes: FaxService) -> None:
        self.faxes = faxes

    # -- tokens -----------------------------------------------------------------------------

    def _mac(self, payload: str) -> str:
        key = self.faxes.store.sync_secret
        return hmac.new(key, payload.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def make_token(self, frame: SyncFrame) -> str:
        """An opaque, authenticated sync token for ``frame``."""
        payload = f"v1:{frame.seq}:{frame.time!r}:{frame.direction or ''}"
        raw = f"{payload}:{self._mac(payload)}".encode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def read_token(self, token: str) -> SyncFrame:
        """The frame a token stands for, or 400 ``CMN-101`` (``syncToken``)."""
        if not _TOKEN_CHARS.fullmatch(token):
            raise _bad_token(token)
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            raise _bad_token(token) from None
        fields = text.split(":")
        if len(fields) != 5 or fields[0] != "v1":
            raise _bad_token(token)
        version, seq_text, time_text, direction, mac = fields
        if not hmac.compare_digest(mac, self._mac(f"{version}:{seq_text}:{time_text}:{direction}")):
            raise _bad_token(token)
        if not _SEQ.fullmatch(seq_text) or direction not in _DIRECTIONS:
            raise _bad_token(token)
        try:
            when = float(time_text)
        except ValueError:
            raise _bad_token(token) from None
        seq = int(seq_text)
        if not math.isfinite(when) or seq > self.faxes.store.change_seq():
            raise _bad_token(token)
        return SyncFrame(seq, when, direction or None)

    # -- syncs ------------------------------------------------------------------------------

    def full(
        self,
        base: str,
        *,
        direction: str | None,
        faxes_wanted: bool,
        date_from: float | None,
        date_to: float | None,
        record_count: int | None,
    ) -> dict[str, Any]:
        """FSync answer (see the module docstring)."""
        store = self.faxes.store
        with store.locked():
            now = self.faxes.clock.now()
            seq = store.change_seq()
            upper = date_to if date_to is not None else now + 0.001
            lower = date_from if date_from is not None else upper - 86400
            rows: list[FaxRow] = []
            total = 0
            if faxes_wanted:
                total, rows = store.list_faxes(
                    date_from=lower,
                    date_to=upper,
                    direction=direction,
                    limit=record_count if record_count is not None else -1,
                )
        frame = SyncFrame(seq, now, direction)
        return self._answer(base, "FSync", frame, rows, older=total > len(rows))

    def incremental(
        self, base: str, *, token: str, direction: str | None, faxes_wanted: bool
    ) -> dict[str, Any]:
        """ISync answer (see the module docstring)."""
        since = self.read_token(token)
        wanted = direction or since.direction
        store = self.faxes.store
        with store.locked():
            now = self.faxes.clock.now()
            seq = store.change_seq()
            rows = store.changed_faxes(since.seq, since.time, now) if faxes_wanted else []
        rows = [
            r
            for r in rows
            if (wanted is None or r.direction == wanted)
            and (r.change_seq > since.seq or any(since.time < t <= now for t in status_changes(r)))
        ]
        frame = SyncFrame(seq, now, wanted)
        return self._answer(base, "ISync", frame, rows, older=False)

    def _answer(
        self, base: str, kind: str, frame: SyncFrame, rows: list[FaxRow], *, older: bool
    ) -> dict[str, Any]:
        faxes = self.faxes
        cfg = faxes.config
        return {
            "uri": (
                f"{base}/restapi/v1.0/account/{cfg.account_id}/extension/{cfg.extension_id}"
                "/message-sync"
            ),
            "records": [faxes.render(r, base, store_style=True, now=frame.time) for r in rows],
            "syncInfo": {
                "syncType": kind,
                "syncToken": self.make_token(frame),
                "syncTime": format_time(frame.time),
                "olderRecordsExist": older,
            },
        }
