"""Edges of the durable inbox, driven through :class:`ringfax.Inbox` with a scripted client:
every shape of a damaged state file is refused with the key that is wrong, a refused sync
token (and only that) falls back to a full sync, and failing faxes are counted per attempt.
"""

from __future__ import annotations

import errno
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ringfax import BadRequest, FaxMessage, Inbox, NotFound, RingFaxError, ServerError
from ringfax._errors import ErrorDetail

SERVER = "https://rc.test"
STATE = ".ringfax-inbox.json"


@dataclass
class Batch:
    records: tuple[FaxMessage, ...] = ()
    sync_token: str = "token-2"
    full: bool = False
    older_records_exist: bool = False


def fax(message_id: str, *attachment_ids: str) -> FaxMessage:
    return FaxMessage.from_json(
        {
            "id": message_id,
            "type": "Fax",
            "direction": "Inbound",
            "messageStatus": "Received",
            "creationTime": "2026-12-01T10:00:00.000Z",
            "attachments": [
                {"id": a, "type": "RenderedDocument", "contentType": "application/pdf"}
                for a in attachment_ids or ("1",)
            ],
        }
    )


class Scripted:
    """A client answering from a script: ``refuse`` is raised by an incremental sync,
    ``records`` come with every sync, ``fail`` is raised by every download."""

    server_url = SERVER

    def __init__(
        self,
        *,
        refuse: Exception | None = None,
        records: tuple[FaxMessage, ...] = (),
        fail: Exception | None = None,
    ) -> None:
        self.refuse = refuse
        self.records = records
        self.fail = fail
        self.syncs: list[str | None] = []
        self.sync_args: list[dict[str, Any]] = []
        self.older = False

    def sync_faxes(self, sync_token: str | None = None, **kw: Any) -> Batch:
        self.syncs.append(sync_token)
        self.sync_args.append(kw)
        if sync_token is not None and self.refuse is not None:
            raise self.refuse
        return Batch(records=self.records, full=sync_token is None, older_records_exist=self.older)

    def get_fax(self, message_id: str | int) -> FaxMessage:
        return next(m for m in self.records if m.id == str(message_id))

    def download(self, message_id: Any, attachment_id: Any, path: Any, **kw: Any) -> Path:
        if self.fail is not None:
            raise self.fail
        Path(path).write_bytes(b"%PDF-1.4 " + str(attachment_id).encode())
        return Path(path)

    def mark_read(self, message_id: Any) -> None:
        pass


def state(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": 1,
        "syncToken": "token-1",
        "server": SERVER,
        "received": {},
        "pending": {},
        "placed": {},
        "failed": {},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def write_state(box: Path, data: Any) -> None:
    box.mkdir(parents=True, exist_ok=True)
    (box / STATE).write_text(json.dumps(data))


# --------------------------------------------------------------------------- the state file

BAD_STATES = [
    ([], "the top level is not a JSON object"),
    (state(version=2), "'version' is 2, not 1"),
    (state(version=_DROP), "'version' is None, not 1"),
    (state(syncToken=5), "'syncToken' is not a string"),
    (state(server=["x"]), "'server' is not a string"),
    (state(received=_DROP), "'received' is missing"),
    (state(received=[]), "'received' is not an object"),
    (state(pending=[]), "'pending' is not an object"),
    (state(placed="x"), "'placed' is not an object"),
    (state(failed=1), "'failed' is not an object"),
    (state(received={"7": {"files": "a.pdf"}}), "received['7'] has no list of files"),
    (state(received={"7": 5}), "received['7'] has no list of files"),
    (
        state(received={"7": {"files": ["a.pdf"], "created": 5}}),
        "received['7']['created'] is not a string",
    ),
    (
        state(received={"7": {"files": ["../a.pdf"]}}),
        "received['7'] lists the file '../a.pdf': not a plain file name inside the directory",
    ),
    (state(received={"7": [5]}), "received['7'] lists the file 5: not a string"),
    (state(pending={"7": ["a.pdf"]}), "pending['7'] is not an object"),
    (
        state(pending={"7": {"1": ".ringfax-inbox.json"}}),
        "pending['7']['1'] is '.ringfax-inbox.json': not a plain file name inside the directory",
    ),
    (state(pending={"7": {"1": None}}), "pending['7']['1'] is None: not a string"),
    (state(placed={"7": "1"}), "placed['7'] is not a list of attachment ids"),
    (state(placed={"7": [1]}), "placed['7'] is not a list of attachment ids"),
    (state(failed={"7": {"attempts": -1}}), "failed['7'] has no count of attempts"),
    (state(failed={"7": {"attempts": True}}), "failed['7'] has no count of attempts"),
    (state(failed={"7": {"attempts": "1"}}), "failed['7'] has no count of attempts"),
    (state(failed={"7": {}}), "failed['7'] has no count of attempts"),
    (state(failed={"7": 3}), "failed['7'] has no count of attempts"),
    (
        state(received={"7": ["x" * 256]}),
        f"received['7'] lists the file {'x' * 256!r}: not a plain file name inside the directory",
    ),
]


@pytest.mark.parametrize(("data", "problem"), BAD_STATES, ids=[p[:60] for _, p in BAD_STATES])
def test_damaged_state_file_is_refused_naming_the_key(
    tmp_path: Path, data: Any, problem: str
) -> None:
    write_state(tmp_path, data)
    with pytest.raises(RingFaxError) as info:
        Inbox(Scripted(), tmp_path).received_ids()
    message = str(info.value)
    assert f"is not a ringfax inbox state file: {problem}; move it away" in message


GOOD_STATES = [
    state(),
    state(syncToken=None, server=None),
    state(pending=_DROP, placed=_DROP, failed=_DROP),
    state(received={"7": ["7-a.pdf", "7-b.pdf"]}),  # a list of files, no creation time
    state(received={"7": {"files": ["7-a.pdf"], "created": None}}),
    state(received={"7": {"files": ["x" * 255]}}),
    state(received={"7": {}}),  # no files listed
    state(pending={"7": {"1": "7-a.pdf"}}, placed={"7": ["1"]}, failed={"7": {"attempts": 0}}),
]


@pytest.mark.parametrize("data", GOOD_STATES)
def test_valid_state_files_are_read(tmp_path: Path, data: dict[str, Any]) -> None:
    write_state(tmp_path, data)
    assert Inbox(Scripted(), tmp_path).received_ids() == list(data["received"])


# --------------------------------------------------------------------------- sync token


@pytest.mark.parametrize(
    "refusal",
    [
        BadRequest(400, "Parameter is invalid", errors=(ErrorDetail("CMN-101", "x", "syncToken"),)),
        BadRequest(400, "bad", errors=(ErrorDetail("CMN-101", "x", "SYNCTOKEN"),)),
        BadRequest(400, "Invalid syncToken value", errors=(ErrorDetail("CMN-101", "x", None),)),
    ],
)
def test_refused_token_falls_back_to_a_full_sync(tmp_path: Path, refusal: Exception) -> None:
    write_state(tmp_path, state())
    client = Scripted(refuse=refusal)
    box = Inbox(client, tmp_path)
    assert box.sync() == []
    assert client.syncs == ["token-1", None] and box.last_full
    assert json.loads((tmp_path / STATE).read_text())["syncToken"] == "token-2"


@pytest.mark.parametrize(
    "error",
    [
        BadRequest(400, "Parameter is invalid", errors=(ErrorDetail("CMN-101", "x", "dateFrom"),)),
        ServerError(500, "syncToken store unavailable"),
    ],
)
def test_other_sync_errors_are_not_taken_for_a_refused_token(
    tmp_path: Path, error: Exception
) -> None:
    write_state(tmp_path, state())
    client = Scripted(refuse=error)
    with pytest.raises(type(error)):
        Inbox(client, tmp_path).sync()
    assert client.syncs == ["token-1"]
    assert json.loads((tmp_path / STATE).read_text())["syncToken"] == "token-1"


def test_token_of_another_server_is_not_used(tmp_path: Path) -> None:
    write_state(tmp_path, state(server="https://other.test"))
    client = Scripted()
    Inbox(client, tmp_path).sync()
    assert client.syncs == [None]


# --------------------------------------------------------------------------- failures


def test_failed_fax_is_counted_per_attempt_and_its_error_kept(tmp_path: Path) -> None:
    client = Scripted(records=(fax("101"),), fail=RingFaxError("e" * 1500))
    box = Inbox(client, tmp_path)
    for attempt in (1, 2):
        assert box.sync() == []
        assert box.failures == {"101": "e" * 1500}
        saved = json.loads((tmp_path / STATE).read_text())
        entry = saved["failed"]["101"]
        assert entry["attempts"] == attempt and entry["error"] == "e" * 1000
        assert entry["last"].endswith("+00:00") and "T" in entry["last"]
        assert list(saved["pending"]) == ["101"]
    client.fail = None
    (got,) = box.sync()
    assert [p.name for p in got.files] == ["101-1.pdf"]
    saved = json.loads((tmp_path / STATE).read_text())
    assert saved["failed"] == {} and saved["pending"] == {} and box.failures == {}


def test_failure_without_a_message_is_named_by_its_type(tmp_path: Path) -> None:
    client = Scripted(records=(fax("102"),), fail=OSError())
    box = Inbox(client, tmp_path)
    assert box.sync() == []
    assert box.failures == {"102": "OSError"}


def test_one_failing_fax_does_not_hold_up_the_others(tmp_path: Path) -> None:
    class FailOne(Scripted):
        def download(self, message_id: Any, attachment_id: Any, path: Any, **kw: Any) -> Path:
            if str(message_id) == "201":
                raise RingFaxError("broken document")
            return super().download(message_id, attachment_id, path, **kw)

    client = FailOne(records=(fax("201"), fax("202", "1", "2")))
    box = Inbox(client, tmp_path)
    (got,) = box.sync()
    assert got.message.id == "202"
    assert [p.name for p in got.files] == ["202-1.pdf", "202-2.pdf"]
    assert [p.read_bytes() for p in got.files] == [b"%PDF-1.4 1", b"%PDF-1.4 2"]
    assert box.failures == {"201": "broken document"}
    assert box.received_ids() == ["202"]


# --------------------------------------------------------------------------- placing documents


class Watching(Scripted):
    """Records each download (where it went, with which flags, what the saved state said at
    that moment) and can run ``during`` inside the download."""

    def __init__(self, box: Path, *, during: Any = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.box = box
        self.during = during
        self.seen: list[tuple[Path, dict[str, Any], Any]] = []
        self.marked: list[str] = []

    def download(self, message_id: Any, attachment_id: Any, path: Any, **kw: Any) -> Path:
        saved = json.loads((self.box / STATE).read_text())
        self.seen.append((Path(path), kw, saved))
        if self.during is not None:
            self.during(str(message_id), str(attachment_id))
        return super().download(message_id, attachment_id, path, **kw)

    def mark_read(self, message_id: Any) -> None:
        self.marked.append(str(message_id))


def test_documents_are_downloaded_inside_the_directory_then_the_scratch_is_gone(
    tmp_path: Path,
) -> None:
    client = Watching(tmp_path, records=(fax("101", "1", "2"),))
    (got,) = Inbox(client, tmp_path).sync()
    assert [p.name for p in got.files] == ["101-1.pdf", "101-2.pdf"]
    for path, kw, _ in client.seen:
        assert kw == {"overwrite": False}
        assert path.parent.parent == tmp_path and path.parent.name.startswith(".ringfax-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [STATE, ".ringfax-inbox.lock", "101-1.pdf", "101-2.pdf"]
    )
    assert repr(Inbox(client, tmp_path)) == f"Inbox({str(tmp_path)!r})"


def test_state_is_saved_before_each_download(tmp_path: Path) -> None:
    client = Watching(tmp_path, records=(fax("101", "1", "2"), fax("102")))
    Inbox(client, tmp_path).sync()
    (_, _, first), (_, _, second), (_, _, third) = client.seen
    assert first["pending"] == {"101": {"1": "101-1.pdf", "2": "101-2.pdf"}}
    assert second["placed"] == {"101": ["1"]}  # the first document is recorded as placed
    assert list(third["received"]) == ["101"]
    assert third["received"]["101"]["files"] == ["101-1.pdf", "101-2.pdf"]
    assert third["pending"] == {"102": {"1": "102-1.pdf"}}


def test_a_name_taken_during_the_download_gives_the_next_free_name(tmp_path: Path) -> None:
    def squat(message_id: str, attachment_id: str) -> None:
        (tmp_path / f"{message_id}-{attachment_id}.pdf").write_bytes(b"someone else's")
        (tmp_path / f"{message_id}-{attachment_id}-2.pdf").write_bytes(b"and this one")

    client = Watching(tmp_path, records=(fax("101"),), during=squat)
    (got,) = Inbox(client, tmp_path).sync()
    assert [p.name for p in got.files] == ["101-1-3.pdf"]
    assert (tmp_path / "101-1.pdf").read_bytes() == b"someone else's"
    saved = json.loads((tmp_path / STATE).read_text())
    assert saved["received"]["101"]["files"] == ["101-1-3.pdf"]


def test_names_recorded_for_other_faxes_are_not_reused(tmp_path: Path) -> None:
    """Files of received faxes (list or object form) and pending reservations stay theirs,
    even when the files themselves are gone from the directory."""
    write_state(
        tmp_path,
        state(
            received={"7": ["101-1.pdf"], "8": {"files": ["102-1.pdf"], "created": None}},
            pending={"9": {"1": "103-1.pdf"}},
            syncToken=None,
        ),
    )

    class Three(Watching):
        def get_fax(self, message_id: str | int) -> FaxMessage:
            raise RingFaxError("fax 9 is elsewhere")

    client = Three(tmp_path, records=(fax("101"), fax("102"), fax("103")))
    got = Inbox(client, tmp_path).sync()
    assert [p.name for f in got for p in f.files] == ["101-1-2.pdf", "102-1-2.pdf", "103-1-2.pdf"]


def test_an_empty_or_partial_reservation_is_completed(tmp_path: Path) -> None:
    write_state(tmp_path, state(pending={"101": {}, "102": {"1": "102-1.pdf"}}, syncToken=None))
    client = Watching(tmp_path, records=(fax("101"), fax("102", "1", "2")))
    got = Inbox(client, tmp_path).sync()
    assert [[p.name for p in f.files] for f in got] == [["101-1.pdf"], ["102-1.pdf", "102-2.pdf"]]


def test_a_placed_document_whose_file_is_gone_is_fetched_again(tmp_path: Path) -> None:
    (tmp_path / "101-1.pdf").write_bytes(b"%PDF-1.4 1")
    write_state(
        tmp_path,
        state(
            pending={"101": {"1": "101-1.pdf", "2": "101-2.pdf"}},
            placed={"101": ["1", "2"]},  # the file of document 2 was removed since
            syncToken=None,
        ),
    )
    client = Watching(tmp_path, records=(fax("101", "1", "2"),))
    (got,) = Inbox(client, tmp_path).sync()
    assert [path.name for path, _, _ in client.seen] == ["document"]  # only document 2
    assert [p.read_bytes() for p in got.files] == [b"%PDF-1.4 1", b"%PDF-1.4 2"]


@pytest.mark.parametrize(
    ("mark_read", "status", "marked"),
    [(False, "Unread", []), (True, "Unread", ["101"]), (True, "Read", [])],
)
def test_mark_read_only_when_asked_and_not_yet_read(
    tmp_path: Path, mark_read: bool, status: str, marked: list[str]
) -> None:
    message = FaxMessage.from_json({**fax("101").raw, "readStatus": status})
    client = Watching(tmp_path, records=(message,))
    Inbox(client, tmp_path, mark_read=mark_read).sync()
    assert client.marked == marked


def test_fax_without_a_creation_time_is_received(tmp_path: Path) -> None:
    raw = {k: v for k, v in fax("101").raw.items() if k != "creationTime"}
    client = Watching(tmp_path, records=(FaxMessage.from_json(raw),))
    assert len(Inbox(client, tmp_path).sync()) == 1
    saved = json.loads((tmp_path / STATE).read_text())
    assert saved["received"]["101"] == {"files": ["101-1.pdf"], "created": None}
    assert Inbox(client, tmp_path).sync() == []  # and not received twice


# --------------------------------------------------------------------------- syncing


def test_full_then_incremental_sync_arguments_flags_and_saved_token(tmp_path: Path) -> None:
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    client = Scripted()
    client.older = True
    box = Inbox(client, tmp_path / "new" / "dir", since=since)
    assert (box.mark_read, box.last_full, box.older_records_exist, box.failures) == (
        False,
        False,
        False,
        {},
    )
    assert box.sync() == []  # the directory is created, parents included
    assert client.syncs == [None] and client.sync_args == [
        {"direction": "Inbound", "date_from": since}
    ]
    assert box.last_full is True and box.older_records_exist is True
    saved = json.loads((tmp_path / "new" / "dir" / STATE).read_text())
    assert (saved["syncToken"], saved["server"]) == ("token-2", SERVER)
    client.older = False
    box.sync()
    assert client.syncs == [None, "token-2"] and client.sync_args[1] == {"direction": "Inbound"}
    assert box.last_full is False and box.older_records_exist is False


def test_state_without_optional_sections_syncs(tmp_path: Path) -> None:
    write_state(tmp_path, state(pending=_DROP, placed=_DROP, failed=_DROP))
    client = Scripted(records=(fax("101"),))
    (got,) = Inbox(client, tmp_path).sync()
    assert got.message.id == "101" and client.syncs == ["token-1"]


def test_pending_faxes_outside_the_batch_are_each_looked_up(tmp_path: Path) -> None:
    """Every pending fax is asked for again, whatever happened to the one before it: gone on
    the server (forgotten), failing (stays pending, counted), already received (forgotten),
    or still there (fetched)."""
    write_state(
        tmp_path,
        state(
            received={"104": {"files": ["104-1.pdf"], "created": "2026-12-01T10:00:00+00:00"}},
            pending={
                "101": {"1": "101-1.pdf"},
                "102": {"1": "102-1.pdf"},
                "103": {"1": "103-1.pdf"},
                "104": {"1": "104-1.pdf"},
                "105": {"1": "105-1.pdf"},
            },
            failed={"101": {"attempts": 2}, "102": {"attempts": 1}},
        ),
    )

    class Lookup(Scripted):
        def get_fax(self, message_id: str | int) -> FaxMessage:
            if message_id in ("101", "103"):
                raise NotFound(404, "gone")
            if message_id == "102":
                raise RingFaxError("try later")
            return fax(str(message_id))

    box = Inbox(Lookup(), tmp_path)
    got = box.sync()
    assert [f.message.id for f in got] == ["105"]
    assert box.failures == {"102": "try later"}
    saved = json.loads((tmp_path / STATE).read_text())
    assert sorted(saved["pending"]) == ["102"]
    assert saved["failed"] == {"102": {**saved["failed"]["102"], "attempts": 2}}
    assert sorted(saved["received"]) == ["104", "105"]


def test_faxes_are_received_oldest_first(tmp_path: Path) -> None:
    def at(message_id: str, when: str | None) -> FaxMessage:
        raw = {**fax(message_id).raw, "creationTime": when}
        return FaxMessage.from_json({k: v for k, v in raw.items() if v is not None})

    records = (
        at("5", None),
        at("4", "2026-12-03T00:00:00Z"),
        at("3", "2026-12-01T00:00:00Z"),
        at("2", "2026-12-03T00:00:00Z"),
        at("1", None),
    )
    got = Inbox(Scripted(records=records), tmp_path).sync()
    assert [f.message.id for f in got] == ["3", "2", "4", "1", "5"]


# --------------------------------------------------------------------------- the directory


def test_unreadable_state_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / STATE).mkdir()
    with pytest.raises(RingFaxError, match=r"cannot read \S+\.ringfax-inbox\.json: \w"):
        Inbox(Scripted(), tmp_path).received_ids()
    (tmp_path / STATE).rmdir()
    (tmp_path / "elsewhere.json").write_text(json.dumps(state()))
    (tmp_path / STATE).symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(RingFaxError, match="cannot read "):
        Inbox(Scripted(), tmp_path).received_ids()
    (tmp_path / STATE).unlink()
    (tmp_path / STATE).write_bytes(b"\xff{}")
    with pytest.raises(RingFaxError, match=r"is not a ringfax inbox state file: it is not JSON \("):
        Inbox(Scripted(), tmp_path).received_ids()


def test_leftover_download_directories_are_removed(tmp_path: Path) -> None:
    client = Watching(tmp_path, records=(fax("101"),))
    Inbox(client, tmp_path).sync()
    ((path, _, _),) = client.seen
    prefix = path.parent.name[:-8]  # mkdtemp adds 8 random characters
    stale = tmp_path / f"{prefix}crashed1"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "document").write_bytes(b"half")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-kept"
    elsewhere.mkdir()
    (elsewhere / "keep").write_bytes(b"not ours")
    (tmp_path / f"{prefix}link").symlink_to(elsewhere)
    Inbox(client, tmp_path).sync()
    assert not stale.exists()
    assert (elsewhere / "keep").read_bytes() == b"not ours"  # a symlink is not followed


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK])
def test_without_hard_links_the_document_is_moved_into_a_claimed_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    import ringfax._inbox as inbox_module

    def no_link(*args: Any, **kw: Any) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(inbox_module.os, "link", no_link)
    (tmp_path / "101-1.pdf").write_bytes(b"taken")
    (got,) = Inbox(Scripted(records=(fax("101", "1", "2"),)), tmp_path).sync()
    assert [p.name for p in got.files] == ["101-1-2.pdf", "101-2.pdf"]
    assert [p.read_bytes() for p in got.files] == [b"%PDF-1.4 1", b"%PDF-1.4 2"]
    assert (tmp_path / "101-1.pdf").read_bytes() == b"taken"


def test_a_link_error_other_than_no_hard_links_fails_the_fax(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ringfax._inbox as inbox_module

    def broken(*args: Any, **kw: Any) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(inbox_module.os, "link", broken)
    box = Inbox(Scripted(records=(fax("101"),)), tmp_path)
    assert box.sync() == []
    assert "I/O error" in box.failures["101"]
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("filename", "taken", "expected"),
    [
        ("a.b.pdf", "101-a.b.pdf", "101-a.b-2.pdf"),
        ("README", "101-README", "101-README-2"),
    ],
)
def test_next_free_name_keeps_the_extension(
    tmp_path: Path, filename: str, taken: str, expected: str
) -> None:
    (tmp_path / taken).write_bytes(b"taken")
    message = FaxMessage.from_json(
        {**fax("101").raw, "attachments": [{"id": "1", "filename": filename}]}
    )
    (got,) = Inbox(Scripted(records=(message,)), tmp_path).sync()
    assert [p.name for p in got.files] == [expected]


# --------------------------------------------------------------------------- what counts


def test_only_received_inbound_faxes_with_documents_are_fetched(tmp_path: Path) -> None:
    base = dict(fax("1").raw)
    records = tuple(
        FaxMessage.from_json({**base, "id": message_id, **change})
        for message_id, change in (
            ("1", {"attachments": []}),  # not rendered yet
            ("2", {"direction": "Outbound"}),
            ("3", {"availability": "Deleted"}),
            ("4", {"messageStatus": "Sent"}),
            ("5", {}),
        )
    )
    got = Inbox(Scripted(records=records), tmp_path).sync()
    assert [f.message.id for f in got] == ["5"]


@pytest.mark.parametrize(
    "entry",
    [["101-1.pdf"], {"files": ["101-1.pdf"], "created": None}],
    ids=["list", "no-creation-time"],
)
def test_a_received_fax_is_not_fetched_again(tmp_path: Path, entry: Any) -> None:
    write_state(tmp_path, state(received={"101": entry}, syncToken=None))
    client = Scripted(records=(fax("101"),))
    assert Inbox(client, tmp_path).sync() == []


def test_received_entry_without_files_does_not_stop_a_sync(tmp_path: Path) -> None:
    write_state(tmp_path, state(received={"7": {}}, syncToken=None))
    (got,) = Inbox(Scripted(records=(fax("101"),)), tmp_path).sync()
    assert [p.name for p in got.files] == ["101-1.pdf"]


def test_pending_faxes_after_one_in_the_batch_are_still_looked_up(tmp_path: Path) -> None:
    write_state(tmp_path, state(pending={"101": {"1": "101-1.pdf"}, "102": {"1": "102-1.pdf"}}))

    class Lookup(Scripted):
        def get_fax(self, message_id: str | int) -> FaxMessage:
            return fax(str(message_id))

    got = Inbox(Lookup(records=(fax("101"),)), tmp_path).sync()
    assert sorted(f.message.id for f in got) == ["101", "102"]


def test_document_without_an_id_is_named_by_its_position(tmp_path: Path) -> None:
    message = FaxMessage.from_json(
        {**fax("101").raw, "attachments": [{"contentType": "application/pdf"}]}
    )
    (got,) = Inbox(Scripted(records=(message,)), tmp_path).sync()
    assert [p.name for p in got.files] == ["101-1.pdf"]


def test_stale_partial_files_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    stale, fresh = tmp_path / ".ringfax-old.part", tmp_path / ".ringfax-new.part"
    for path in (stale, fresh):
        path.write_bytes(b"half")
    hour_ago = time.time() - 3600.5
    os.utime(stale, (hour_ago, hour_ago))
    Inbox(Scripted(), tmp_path).sync()
    assert not stale.exists() and fresh.exists()


def test_state_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / STATE)
    with pytest.raises(RingFaxError) as info:
        Inbox(Scripted(), tmp_path).received_ids()
    assert str(info.value) == (f"cannot read {tmp_path / STATE}: not a regular file (remove it)")


def test_state_file_size_limit_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ringfax._inbox as inbox_module

    data = json.dumps(state()).encode()
    monkeypatch.setattr(inbox_module, "_MAX_STATE", len(data))
    (tmp_path / STATE).write_bytes(data)
    assert Inbox(Scripted(), tmp_path).received_ids() == []
    (tmp_path / STATE).write_bytes(data + b" ")
    with pytest.raises(RingFaxError) as info:
        Inbox(Scripted(), tmp_path).received_ids()
    assert str(info.value) == f"cannot read {tmp_path / STATE}: larger than {len(data)} bytes"


def test_without_hard_links_a_name_taken_mid_download_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ringfax._inbox as inbox_module

    def no_link(*args: Any, **kw: Any) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    def squat(message_id: str, attachment_id: str) -> None:
        (tmp_path / f"{message_id}-{attachment_id}.pdf").write_bytes(b"someone else's")

    monkeypatch.setattr(inbox_module.os, "link", no_link)
    client = Watching(tmp_path, records=(fax("101"),), during=squat)
    (got,) = Inbox(client, tmp_path).sync()
    assert [p.name for p in got.files] == ["101-1-2.pdf"]
    assert (tmp_path / "101-1.pdf").read_bytes() == b"someone else's"


def test_running_out_of_free_names_fails_the_fax_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every name tried is taken by the time it is linked (here: the link always loses)."""
    import ringfax._inbox as inbox_module

    monkeypatch.setattr(inbox_module, "_MAX_NAME_TRIES", 2)
    monkeypatch.setattr(inbox_module, "_link_new", lambda source, target: False)
    box = Inbox(Scripted(records=(fax("101"),)), tmp_path)
    assert box.sync() == []
    assert box.failures == {
        "101": f"no free file name for document 1 of fax 101 in {tmp_path} after 2 tries"
    }
