"""Message sync: FSync (window, filters, recordCount) and ISync (new faxes, status changes
by the clock, read status, deletions, each once), tokens across restarts, bad tokens."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import STORE_PATH, Raw, sync

from ringfax._client import FaxClient
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock
from ringfax.emulator._samples import make_pdf

pytestmark = pytest.mark.network

PDF = make_pdf(["in"])


def _inject(emu: Emulator, number: str = "+14155550100") -> int:
    msg = emu.inject_inbound_fax(from_number=number, documents=[("in.pdf", "application/pdf", PDF)])
    return int(msg["id"])


def _ok(reply: Any, kind: str) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    assert reply.status == 200, reply.body
    body = reply.json()
    info = body["syncInfo"]
    assert info["syncType"] == kind
    assert set(info) == {"syncType", "syncToken", "syncTime", "olderRecordsExist"}
    return body["records"], info["syncToken"], info


def _isync(raw: Raw, token: str, **kw: str) -> tuple[list[dict[str, Any]], str]:
    records, token, _ = _ok(sync(raw, syncType="ISync", syncToken=token, **kw), "ISync")
    return records, token


def _bad(reply: Any, parameter: str = "syncToken") -> None:
    assert reply.status == 400, reply.body
    body = reply.json()
    assert body["errorCode"] == "CMN-101"
    assert body["parameterName"] == parameter
    assert body["errors"][0]["parameterName"] == parameter


def _put(raw: Raw, ident: int, body: dict[str, Any]) -> None:
    reply = raw.request(
        "PUT",
        f"{STORE_PATH}/{ident}",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    assert reply.status == 200, reply.body


def test_full_sync(
    emulator: Emulator, raw: Raw, client: FaxClient, docs: Any, clock: ManualClock
) -> None:
    a = _inject(emulator)
    clock.advance(1)
    sent = int(client.send_fax(["+16505550123"], [str(docs["txt"])]).id)
    clock.advance(1)
    b = _inject(emulator, "+14155550101")
    reply = sync(raw, syncType="FSync", messageType="Fax")
    records, token, info = _ok(reply, "FSync")
    assert [r["id"] for r in records] == [b, sent, a]  # newest first
    assert records[0]["direction"] == "Inbound" and records[1]["direction"] == "Outbound"
    assert info["olderRecordsExist"] is False
    assert info["syncTime"] == "2026-01-15T12:00:02.000Z"
    assert token
    assert reply.json()["uri"].endswith("/message-sync")
    assert reply.headers["x-rate-limit-group"] == "light"
    # syncType defaults to FSync; filters
    records, _, _ = _ok(sync(raw, direction="Inbound"), "FSync")
    assert [r["id"] for r in records] == [b, a]
    records, _, _ = _ok(sync(raw, syncType="FSync", messageType="SMS"), "FSync")
    assert records == []
    records, _, _ = _ok(sync(raw, syncType="FSync", messageType="SMS,Fax"), "FSync")
    assert len(records) == 3


def test_full_sync_record_count_and_window(
    emulator: Emulator, raw: Raw, clock: ManualClock
) -> None:
    ids = []
    for _ in range(3):
        ids.append(_inject(emulator))
        clock.advance(10)
    records, _, info = _ok(sync(raw, syncType="FSync", recordCount="2"), "FSync")
    assert [r["id"] for r in records] == [ids[2], ids[1]]
    assert info["olderRecordsExist"] is True
    older, _, info = _ok(
        sync(raw, syncType="FSync", recordCount="2", dateTo=records[-1]["creationTime"]), "FSync"
    )
    assert [r["id"] for r in older] == [ids[0]] and info["olderRecordsExist"] is False
    # RingCentral's default window: dateFrom = dateTo - 24 h
    clock.advance(25 * 3600)
    raw._token = None  # the access token expired meanwhile
    records, _, _ = _ok(sync(raw, syncType="FSync"), "FSync")
    assert records == []
    records, _, _ = _ok(sync(raw, syncType="FSync", dateFrom="2026-01-01T00:00:00Z"), "FSync")
    assert len(records) == 3
    _bad(sync(raw, syncType="FSync", recordCount="0"), "recordCount")
    _bad(sync(raw, syncType="FSync", dateFrom="yesterday"), "dateFrom")
    _bad(sync(raw, syncType="Sometimes"), "syncType")
    _bad(sync(raw, syncType="FSync", direction="Sideways"), "direction")


def test_incremental_new_faxes_each_once(emulator: Emulator, raw: Raw) -> None:
    old = _inject(emulator)
    _, token, _ = _ok(sync(raw, syncType="FSync"), "FSync")
    records, token = _isync(raw, token)
    assert records == []
    new = _inject(emulator, "+14155550101")
    records, token = _isync(raw, token)
    assert [r["id"] for r in records] == [new]
    assert records[0]["readStatus"] == "Unread"
    records, token = _isync(raw, token)
    assert records == []
    # syncType is implied by the token
    records, _, _ = _ok(sync(raw, syncToken=token), "ISync")
    assert records == [] and old


def test_incremental_outbound_status_changes_by_clock(
    tmp_path: Path, clock: ManualClock, docs: Any
) -> None:
    config = EmulatorConfig(rate_limiting=False, send_delay=30, delivered=True, delivered_delay=30)
    with Emulator(tmp_path / "d", config=config, clock=clock) as emu:
        raw = Raw(emu)
        with FaxClient(
            emu.url,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            jwt=emu.jwt,
            clock=clock.now,
            sleep=clock.sleep,
        ) as client:
            fax = int(client.send_fax(["+16505550123", "+16505550001"], [str(docs["txt"])]).id)
            ok = int(client.send_fax(["+16505550124"], [str(docs["txt"])]).id)
        records, token, _ = _ok(sync(raw, syncType="FSync"), "FSync")
        assert {r["messageStatus"] for r in records} == {"Queued"}
        clock.advance(10)
        records, token = _isync(raw, token)
        assert records == []  # nothing happened yet
        clock.advance(21)  # both done: one failed recipient, one sent
        records, token = _isync(raw, token)
        assert {r["id"]: r["messageStatus"] for r in records} == {
            fax: "SendingFailed",
            ok: "Sent",
        }
        records, token = _isync(raw, token)
        assert records == []
        clock.advance(30)  # delivered
        records, token = _isync(raw, token)
        # both changed: ``ok`` is Delivered; ``fax`` stays SendingFailed overall, but its
        # first recipient went from Sent to Delivered
        assert [(r["id"], r["messageStatus"]) for r in records] == [
            (ok, "Delivered"),
            (fax, "SendingFailed"),
        ]
        assert [t["messageStatus"] for t in records[1]["to"]] == ["Delivered", "SendingFailed"]
        clock.advance(3000)
        records, token = _isync(raw, token)
        assert records == []


def test_incremental_read_status_and_deletions(
    emulator: Emulator, raw: Raw, clock: ManualClock
) -> None:
    a = _inject(emulator)
    b = _inject(emulator)
    _, token, _ = _ok(sync(raw, syncType="FSync"), "FSync")
    clock.advance(1)
    _put(raw, a, {"readStatus": "Read"})
    _put(raw, a, {"readStatus": "Unread"})
    _put(raw, a, {"readStatus": "Read"})  # three changes, one record in its latest state
    records, token = _isync(raw, token)
    assert [(r["id"], r["readStatus"]) for r in records] == [(a, "Read")]
    _put(raw, a, {"readStatus": "Read"})  # no change: not reported
    records, token = _isync(raw, token)
    assert records == []
    assert raw.request("DELETE", f"{STORE_PATH}/{b}").status == 204
    records, token = _isync(raw, token)
    assert [(r["id"], r["availability"]) for r in records] == [(b, "Deleted")]
    assert raw.request("DELETE", f"{STORE_PATH}/{b}").status == 204
    records, token = _isync(raw, token)
    assert [(r["id"], r["availability"]) for r in records] == [(b, "Purged")]
    records, token = _isync(raw, token)
    assert records == []
    # a full sync no longer lists the purged fax
    records, _, _ = _ok(sync(raw, syncType="FSync"), "FSync")
    assert [r["id"] for r in records] == [a]


def test_deleted_queued_fax_freezes(
    emulator: Emulator, raw: Raw, client: FaxClient, clock: ManualClock, docs: Any
) -> None:
    fax = int(client.send_fax(["+16505550123"], [str(docs["txt"])]).id)
    _, token, _ = _ok(sync(raw, syncType="FSync"), "FSync")
    assert raw.request("DELETE", f"{STORE_PATH}/{fax}").status == 204
    records, token = _isync(raw, token)
    assert [(r["availability"], r["messageStatus"]) for r in records] == [("Deleted", "Queued")]
    clock.advance(100)  # its send time passes, but a deleted fax does not change any more
    records, token = _isync(raw, token)
    assert records == []


def test_direction_carries_over(emulator: Emulator, raw: Raw, client: FaxClient, docs: Any) -> None:
    _, token, _ = _ok(sync(raw, syncType="FSync", direction="Inbound"), "FSync")
    client.send_fax(["+16505550123"], [str(docs["txt"])])
    inbound = _inject(emulator)
    records, _ = _isync(raw, token)
    assert [r["id"] for r in records] == [inbound]
    records, _ = _isync(raw, token, direction="Outbound")
    assert [r["direction"] for r in records] == ["Outbound"]


def test_token_survives_restart_and_foreign_tokens_fail(tmp_path: Path, clock: ManualClock) -> None:
    config = EmulatorConfig(rate_limiting=False)
    data = tmp_path / "data"
    with Emulator(data, config=config, clock=clock) as emu:
        _inject(emu)
        _, token, _ = _ok(sync(Raw(emu), syncType="FSync"), "FSync")
    with Emulator(data, config=config, clock=clock) as emu:
        new = _inject(emu)
        records, _ = _isync(Raw(emu), token)
        assert [r["id"] for r in records] == [new]
    with Emulator(tmp_path / "other", config=config, clock=clock) as emu:
        _bad(sync(Raw(emu), syncType="ISync", syncToken=token))


def test_bad_tokens(emulator: Emulator, raw: Raw) -> None:
    _inject(emulator)
    _, token, _ = _ok(sync(raw, syncType="FSync"), "FSync")
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    seq_field = decoded.split(":")[1]
    forged = decoded.replace(f":{seq_field}:", ":0:", 1)
    forged_token = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    for bad in ["garbage", "x" * 5000, token[:-2], forged_token, "%%%", "é"]:
        _bad(sync(raw, syncType="ISync", syncToken=bad))
    _bad(sync(raw, syncType="ISync"))  # no token
    body = sync(raw, syncType="ISync", syncToken="x" * 5000).json()
    assert len(body["errors"][0]["parameterValue"]) < 300  # not echoed in full


def test_data_dir_of_the_previous_version_is_upgraded(tmp_path: Path, clock: ManualClock) -> None:
    """A data directory written before inbound faxes and message-sync existed (no
    from_number/subject/change_seq/modified columns, no change counter) opens, keeps its
    faxes, and syncs."""
    import sqlite3

    from ringfax.emulator._rows import SCHEMA  # the original tables, still created first

    data = tmp_path / "data"
    (data / "attachments" / "3000000000001").mkdir(parents=True)
    (data / "attachments" / "3000000000001" / "3000000000003").write_bytes(b"old page\n")
    db = sqlite3.connect(data / "emulator.sqlite3")
    db.executescript(SCHEMA)
    db.execute("INSERT INTO meta VALUES ('next_id', '3000000000004')")
    db.execute(
        "INSERT INTO faxes VALUES (3000000000001, ?, 'Outbound', 'Read', 'Alive', 'High',"
        " NULL, NULL, NULL, NULL, 1, NULL, NULL, 'form-data')",
        (clock.now() - 3600,),
    )
    db.execute(
        "INSERT INTO recipients VALUES (3000000000002, 3000000000001, 0, '+16505550123', NULL,"
        " ?, ?, 'Sent', NULL, NULL, 1)",
        (clock.now() - 3600, clock.now() - 3000),
    )
    db.execute(
        "INSERT INTO attachments VALUES (3000000000003, 3000000000001, 0, 'old.txt',"
        " 'text/plain', 9, 1, 'attachments/3000000000001/3000000000003')"
    )
    db.commit()
    db.close()
    with Emulator(data, config=EmulatorConfig(rate_limiting=False), clock=clock) as emu:
        raw = Raw(emu)
        records, token, _ = _ok(sync(raw, syncType="FSync"), "FSync")
        assert [(r["id"], r["messageStatus"]) for r in records] == [(3000000000001, "Sent")]
        _put(raw, 3000000000001, {"readStatus": "Unread"})
        new = _inject(emu)
        records, token = _isync(raw, token)
        assert [r["id"] for r in records] == [new, 3000000000001]
        assert new == 3000000000004
