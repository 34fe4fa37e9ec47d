"""Concurrent availability changes and downloads, and what a deleted fax looks like.

The race tests send real concurrent HTTP requests to 127.0.0.1 in a bounded loop; each
round checks the invariant that matters (no 500, no short 200, no live fax without files).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from emulator_helpers import STORE_PATH, Raw

from ringfax.emulator import Emulator

pytestmark = pytest.mark.network

ROUNDS = 40
DOCUMENT = bytes(range(256)) * 1024  # 256 KiB: a download takes several writes


class Conn:
    """One keep-alive connection with the bearer token, reconnecting when closed."""

    def __init__(self, emu: Emulator, token: str) -> None:
        parts = urlsplit(emu.url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._token = token
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(*self._address, timeout=30)
        headers = {"Authorization": f"Bearer {self._token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self._conn.request(method, path, body=body, headers=headers)
            reply = self._conn.getresponse()
            return reply.status, reply.read()  # IncompleteRead on a short body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _inject(emu: Emulator) -> tuple[int, int]:
    record = emu.inject_inbound_fax(
        from_number="+16505550199", documents=[("scan.pdf", "application/pdf", DOCUMENT)]
    )
    return int(record["id"]), int(record["attachments"][0]["id"])


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in parallel threads started at the same moment; their results (or the
    exception each raised)."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _assert_not_found(body: bytes, parameter: str) -> None:
    error = json.loads(body)
    assert error["errorCode"] == "CMN-102", error
    assert error["errors"][0]["errorCode"] == "CMN-102"
    assert error["errors"][0]["parameterName"] == parameter


def _files_of_live_faxes_exist(emu: Emulator) -> None:
    for row in emu.faxes():
        if row.availability != "Purged":
            for att in row.attachments:
                assert emu.store.path_of(att).is_file(), (row.id, row.availability)


def test_purge_racing_restore_never_revives_a_fax_without_files(
    emulator: Emulator, raw: Raw
) -> None:
    restorer, purger, reader = (Conn(emulator, raw.token()) for _ in range(3))
    outcomes: set[tuple[int, int]] = set()
    for _ in range(ROUNDS):
        fax_id, att_id = _inject(emulator)
        item = f"{STORE_PATH}/{fax_id}"
        assert purger.request("DELETE", item)[0] == 204  # Deleted: restorable
        restored, purged = _together(
            partial(restorer.request, "PUT", item, b'{"availability": "Alive"}'),
            partial(purger.request, "DELETE", f"{item}?purge=true"),
        )
        assert not isinstance(restored, BaseException), restored
        assert not isinstance(purged, BaseException), purged
        assert restored[0] in (200, 404) and purged[0] in (204, 404), (restored, purged)
        outcomes.add((restored[0], purged[0]))
        _files_of_live_faxes_exist(emulator)
        status, body = reader.request("GET", f"{item}/content/{att_id}")
        if status == 200:
            assert body == DOCUMENT
        else:
            assert status == 404, (status, body)
            _assert_not_found(body, "messageId")
    for c in (restorer, purger, reader):
        c.close()
    # whichever came first, the other saw the result: a restored fax is purged afterwards
    # (204), a purged one cannot be restored (404)
    assert outcomes <= {(200, 204), (404, 204)}


def test_download_racing_purge_answers_whole_document_or_404(emulator: Emulator, raw: Raw) -> None:
    downloader, purger = Conn(emulator, raw.token()), Conn(emulator, raw.token())
    seen: set[int] = set()
    for _ in range(ROUNDS):
        fax_id, att_id = _inject(emulator)
        item = f"{STORE_PATH}/{fax_id}"
        got, purged = _together(
            partial(downloader.request, "GET", f"{item}/content/{att_id}"),
            partial(purger.request, "DELETE", f"{item}?purge=true"),
        )
        assert not isinstance(got, BaseException), f"download failed: {got!r}"
        assert purged == (204, b"")
        status, body = got
        seen.add(status)
        if status == 200:
            assert body == DOCUMENT, f"a 200 with {len(body)} of {len(DOCUMENT)} bytes"
        else:
            assert status == 404, (status, body[:200])
            _assert_not_found(body, "messageId")
        _files_of_live_faxes_exist(emulator)
    downloader.close()
    purger.close()
    assert seen <= {200, 404}


def test_document_missing_from_disk_is_404_not_500(emulator: Emulator, raw: Raw) -> None:
    fax_id, att_id = _inject(emulator)
    (row,) = emulator.faxes()
    emulator.store.path_of(row.attachments[0]).unlink()
    reply = raw.request("GET", f"{STORE_PATH}/{fax_id}/content/{att_id}")
    assert reply.status == 404, reply.body
    _assert_not_found(reply.body, "attachmentId")
    assert "rcrequestid" in reply.headers


def test_restore_of_a_purged_fax_is_404_and_leaves_it_purged(emulator: Emulator, raw: Raw) -> None:
    fax_id, _ = _inject(emulator)
    item = f"{STORE_PATH}/{fax_id}"
    assert raw.request("DELETE", f"{item}?purge=true").status == 204
    reply = raw.request(
        "PATCH", item, b'{"availability": "Alive"}', {"Content-Type": "application/json"}
    )
    assert reply.status == 404
    _assert_not_found(reply.body, "messageId")
    assert [r.availability for r in emulator.faxes()] == ["Purged"]


# -- what clients see of deleted and received faxes ---------------------------------------


def test_cancelled_fax_answers_deleted_with_its_frozen_status(
    emulator: Emulator, raw: Raw, docs: dict[str, Path]
) -> None:
    body = (
        b'--b\r\nContent-Type: application/json\r\n\r\n{"to":[{"phoneNumber":"+16505550123"}],'
        b'"sendTime":"2099-01-01T00:00:00Z"}\r\n--b\r\nContent-Disposition: form-data; '
        b'name="attachment"; filename="note.txt"\r\n\r\n'
        + docs["txt"].read_bytes()
        + b"\r\n--b--\r\n"
    )
    sent = raw.post_fax(body, "multipart/form-data; boundary=b")
    assert sent.status == 200 and sent.json()["messageStatus"] == "Queued"
    item = f"{STORE_PATH}/{sent.json()['id']}"
    assert raw.request("DELETE", item).status == 204  # cancel = delete
    record = raw.request("GET", item).json()
    assert (record["availability"], record["messageStatus"]) == ("Deleted", "Queued")
    assert [t["messageStatus"] for t in record["to"]] == ["Queued"]
    assert raw.request("DELETE", item).status == 204  # the second delete purges
    gone = raw.request("GET", item)
    assert gone.status == 404
    _assert_not_found(gone.body, "messageId")


def test_received_fax_recipients_carry_no_message_status(emulator: Emulator, raw: Raw) -> None:
    fax_id, _ = _inject(emulator)
    record = raw.request("GET", f"{STORE_PATH}/{fax_id}").json()
    assert record["messageStatus"] == "Received"
    assert record["to"] and all("messageStatus" not in t for t in record["to"]), record["to"]
    listed = raw.request("GET", f"{STORE_PATH}?direction=Inbound").json()["records"]
    assert all("messageStatus" not in t for r in listed for t in r["to"])
