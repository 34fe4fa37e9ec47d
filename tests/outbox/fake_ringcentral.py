"""A scripted RingCentral for the outbox's crash-point tests: a FunctionTransport answering
fax POSTs, message-store listings and message-sync from an in-memory list of faxes, with
hooks that kill the "process" (raise :class:`Crash`) at a chosen request, before or after the
server has stored the fax."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mimewire import MultipartBody, Part
from ringfax import FaxClient, FunctionTransport, Request, Response, TransportError

RATE_HEADERS = {
    "X-Rate-Limit-Group": "heavy",
    "X-Rate-Limit-Limit": "1000",
    "X-Rate-Limit-Remaining": "999",
    "X-Rate-Limit-Window": "60",
}

REFUSED_SYNC = json.dumps(
    {
        "errorCode": "CMN-101",
        "message": "Parameter [syncToken] value is invalid",
        "errors": [{"errorCode": "CMN-101", "parameterName": "syncToken"}],
    }
).encode()

GONE = json.dumps(
    {
        "errorCode": "CMN-102",
        "message": "Resource for parameter [originalMessageId] is not found",
        "errors": [{"errorCode": "CMN-102", "parameterName": "originalMessageId"}],
    }
).encode()

NO_SYNC = json.dumps(
    {
        "errorCode": "CMN-408",
        "message": "In order to call this API endpoint, application needs to have "
        "[ReadMessages] permission",
    }
).encode()

NOT_FOUND = json.dumps(
    {"errorCode": "CMN-102", "message": "Resource for parameter [messageId] is not found"}
).encode()

BAD_TO = json.dumps(
    {
        "errorCode": "CMN-101",
        "message": "Parameter [to.phoneNumber] value is invalid",
        "errors": [{"errorCode": "CMN-101", "parameterName": "to.phoneNumber"}],
    }
).encode()


class Crash(BaseException):
    """The worker process dies here (nothing after this point runs)."""


@dataclass
class Fax:
    id: str
    numbers: tuple[str, ...]
    created: float
    original: str | None
    busy: frozenset[str]

    @property
    def number(self) -> str:
        """The recipient of a single-recipient fax."""
        assert len(self.numbers) == 1, self.numbers
        return self.numbers[0]


@dataclass
class FakeRingCentral:
    """``busy``: numbers that fail with LineBusy on every attempt.

    ``crash``: (kind, when, nth) -- on the nth request of ``kind`` ("post", "list",
    "sync", "read": a read by id), raise :class:`Crash` ``when`` "before" or "after" the
    server handled it, or with ``when`` "drop" answer the POST with a lost connection after
    storing the fax.
    """

    busy: set[str] = field(default_factory=set)
    id_base: int = 3_000_000
    sync_cap: int | None = None  # a full sync holds at most this many records
    refuse_syncs: int = 0  # answer this many message-syncs with 400 CMN-101 syncToken
    no_sync: bool = False  # answer every message-sync with 403 (not offered to this app)
    refused: str | None = None  # a POST naming this number is answered 400 CMN-101 `to`
    originals_gone: bool = False  # a resend's originalMessageId is answered with 404 CMN-102
    post_delay: float = 0.0  # seconds a POST takes (lets several workers overlap)
    faxes: list[Fax] = field(default_factory=list)
    crash: tuple[str, str, int] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    read_sizes: list[int] = field(default_factory=list)  # ids per read by id
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> FaxClient:
        return FaxClient(
            "http://rc.test", access_token="token", transport=FunctionTransport(self.handle)
        )

    def _hit(self, kind: str, when: str) -> bool:
        if self.crash is None or self.crash[0] != kind or self.crash[1] != when:
            return False
        return self.counts.get(kind, 0) == self.crash[2]

    def handle(self, request: Request) -> Response:
        path = urllib.parse.urlsplit(request.url).path
        kind = "post" if request.method == "POST" else "sync" if "message-sync" in path else "list"
        if kind == "list" and re.fullmatch(r"[0-9,]+", path.rsplit("/", 1)[-1]):
            kind = "read"  # GET …/message-store/{id} or the bulk read {id1},{id2},…
        if kind == "post" and self.post_delay:
            time.sleep(self.post_delay)
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if self._hit(kind, "before"):
                self.crash = None
                raise Crash(f"{kind} before")
            if kind == "sync" and self.no_sync:
                return Response(403, {"Content-Type": "application/json"}, NO_SYNC)
            if kind == "sync" and self.refuse_syncs > 0:
                self.refuse_syncs -= 1
                return Response(400, {"Content-Type": "application/json"}, REFUSED_SYNC)
            answer = self._answer(kind, request)
            if self._hit(kind, "after"):
                self.crash = None
                raise Crash(f"{kind} after")
            if kind == "post" and self._hit(kind, "drop"):
                self.crash = None
                raise TransportError("connection dropped after the body was sent", sent=True)
        return answer

    def _answer(self, kind: str, request: Request) -> Response:
        if kind == "post":
            return self._post(request)
        if kind == "read":
            return self._read(urllib.parse.urlsplit(request.url).path.rsplit("/", 1)[-1])
        now = datetime.now(timezone.utc).timestamp()
        records = [self._render(f) for f in sorted(self.faxes, key=lambda f: -f.created)]
        if kind == "list":
            body: dict[str, Any] = {"records": records, "navigation": {}}
        else:
            older = self.sync_cap is not None and len(records) > self.sync_cap
            body = {
                "records": records[: self.sync_cap] if older else records,
                "syncInfo": {
                    "syncType": "FSync",
                    "syncToken": f"t{now}",
                    "syncTime": _iso(now),
                    "olderRecordsExist": older,
                },
            }
        return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

    def _read(self, ids: str) -> Response:
        """One message (200 JSON), or several as 207 multipart/mixed (a 404 part per id not
        found), as RingCentral answers ``GET …/message-store/{ids}``."""
        by_id = {f.id: f for f in self.faxes}
        items = [(by_id.get(i), i) for i in ids.split(",")]
        self.read_sizes.append(len(items))
        if len(items) == 1:
            fax = items[0][0]
            if fax is None:
                return Response(404, {"Content-Type": "application/json"}, NOT_FOUND)
            return Response(
                200, {"Content-Type": "application/json"}, json.dumps(self._render(fax)).encode()
            )
        summary = {
            "response": [
                {"href": f"/message-store/{i}", "status": 200 if f else 404} for f, i in items
            ]
        }
        parts = [Part(json.dumps(summary).encode(), content_type="application/json")]
        for fax, _ in items:
            body = json.dumps(self._render(fax)).encode() if fax else NOT_FOUND
            parts.append(Part(body, content_type="application/json"))
        multi = MultipartBody(parts, subtype="mixed")
        return Response(207, {"Content-Type": multi.content_type}, b"".join(multi))

    def _post(self, request: Request) -> Response:
        raw = _body_bytes(request.body)
        original: str | None = None
        if raw.lstrip().startswith(b"{"):
            data = json.loads(raw)
            original = data["originalMessageId"]
            if self.originals_gone:
                return Response(404, {"Content-Type": "application/json"}, GONE)
            numbers = tuple(t["phoneNumber"] for t in data["to"])
        else:
            found = re.findall(rb'"phoneNumber":\s*"(\+[0-9]+)"', raw)
            assert found, raw[:400]
            numbers = tuple(n.decode() for n in found)
        if self.refused in numbers:
            return Response(400, {"Content-Type": "application/json"}, BAD_TO)
        ident = str(self.id_base + len(self.faxes) + 1)
        now = datetime.now(timezone.utc).timestamp()
        fax = Fax(ident, numbers, now, original, frozenset(self.busy & set(numbers)))
        self.faxes.append(fax)
        queued = {**self._render(fax), "messageStatus": "Queued"}
        queued["to"] = [{"phoneNumber": n, "messageStatus": "Queued"} for n in numbers]
        return Response(
            200, {"Content-Type": "application/json", **RATE_HEADERS}, json.dumps(queued).encode()
        )

    def _render(self, fax: Fax) -> dict[str, Any]:
        to: list[dict[str, Any]] = []
        for number in fax.numbers:
            if number in fax.busy:
                to.append(
                    {
                        "phoneNumber": number,
                        "messageStatus": "SendingFailed",
                        "faxErrorCode": "LineBusy",
                    }
                )
            else:
                to.append({"phoneNumber": number, "messageStatus": "Sent"})
        failed = any(t["messageStatus"] == "SendingFailed" for t in to)
        return {
            "id": fax.id,
            "type": "Fax",
            "direction": "Outbound",
            "messageStatus": "SendingFailed" if failed else "Sent",
            "availability": "Alive",
            "creationTime": _iso(fax.created),
            "to": to,
        }

    def sent_per_number(self) -> dict[str, int]:
        """Faxes (first sends and resends) each number got."""
        out: dict[str, int] = {}
        for fax in self.faxes:
            for number in fax.numbers:
                out[number] = out.get(number, 0) + 1
        return out


def _iso(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _body_bytes(body: bytes | Iterable[bytes] | Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        data: bytes = body.read()
        return data
    return b"".join(bytes(chunk) for chunk in body)
