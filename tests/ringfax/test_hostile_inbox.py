"""The inbox against hostile things on disk and failing faxes: names someone else took, a
state file that points outside the directory or has the wrong shape, symlinks where the inbox
keeps its own files, and one fax that fails while the others must still land."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfax import FaxClient, Inbox, RingFaxError, TransportError
from ringfax.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.network

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emu", config=EmulatorConfig(rate_limiting=False)) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[FaxClient]:
    with FaxClient(
        emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt
    ) as c:
        yield c


def inject(emu: Emulator, name: str = "scan.pdf") -> str:
    message = emu.inject_inbound_fax(
        from_number="+16505550150", documents=[(name, "application/pdf", PDF)]
    )
    return str(message["id"])


def visible(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def state_of(box: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((box / ".ringfax-inbox.json").read_text())
    return data


class Hooked:
    """A client whose download first runs ``before(message_id)`` (which may raise)."""

    def __init__(self, client: FaxClient, before: Callable[[str], None]) -> None:
        self.client = client
        self.server_url = client.server_url
        self.before = before

    def sync_faxes(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.sync_faxes(*args, **kwargs)

    def get_fax(self, message_id: str | int) -> Any:
        return self.client.get_fax(message_id)

    def download(self, message_id: Any, attachment_id: Any, path: Any, **kw: Any) -> Path:
        self.before(str(message_id))
        return self.client.download(message_id, attachment_id, path, **kw)

    def mark_read(self, message_id: Any) -> Any:
        return self.client.mark_read(message_id)


def test_a_dangling_symlink_under_the_name_does_not_wedge_the_inbox(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    fax = inject(emu)
    box = tmp_path / "inbox"
    box.mkdir()
    (box / f"{fax}-scan.pdf").symlink_to(tmp_path / "outside" / "planted.pdf")
    (got,) = Inbox(client, box).sync()
    assert got.files == (box / f"{fax}-scan-2.pdf",)
    assert (box / f"{fax}-scan-2.pdf").read_bytes() == PDF
    assert not (tmp_path / "outside").exists()  # the link was never followed
    later = inject(emu)
    assert [f.message.id for f in Inbox(client, box).sync()] == [later]


@pytest.mark.parametrize("planted", ["file", "dangling symlink", "symlink to a directory"])
def test_a_name_taken_after_it_was_reserved_gets_the_next_free_one(
    emu: Emulator, client: FaxClient, tmp_path: Path, planted: str
) -> None:
    fax = inject(emu)
    box = tmp_path / "inbox"
    outside = tmp_path / "outside"
    outside.mkdir()
    reserved = box / f"{fax}-scan.pdf"

    def squat(_message_id: str) -> None:  # another program takes the name mid-download
        if planted == "file":
            reserved.write_bytes(b"someone else's file")
        elif planted == "dangling symlink":
            reserved.symlink_to(outside / "planted.pdf")
        else:
            reserved.symlink_to(outside)

    (got,) = Inbox(Hooked(client, squat), box).sync()
    assert got.files == (box / f"{fax}-scan-2.pdf",)
    assert (box / f"{fax}-scan-2.pdf").read_bytes() == PDF
    assert list(outside.iterdir()) == []
    if planted == "file":
        assert reserved.read_bytes() == b"someone else's file"
    state = state_of(box)
    assert state["received"][fax]["files"] == [f"{fax}-scan-2.pdf"] and state["pending"] == {}
    assert Inbox(client, box).sync() == []


def test_one_failing_fax_does_not_hold_up_the_others_and_is_retried(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    bad, good = inject(emu, "bad.pdf"), inject(emu, "good.pdf")
    box = tmp_path / "inbox"

    def fail_bad(message_id: str) -> None:
        if message_id == bad:
            raise TransportError("connection reset while downloading", sent=True)

    inbox = Inbox(Hooked(client, fail_bad), box)
    assert [f.message.id for f in inbox.sync()] == [good]
    assert inbox.failures == {bad: "connection reset while downloading"}
    state = state_of(box)
    assert list(state["pending"]) == [bad] and state["failed"][bad]["attempts"] == 1
    assert "syncToken" in state  # nothing is lost: the failed fax is pending
    assert visible(box) == [f"{good}-good.pdf"]

    assert Inbox(Hooked(client, fail_bad), box).sync() == []  # still failing: still pending
    assert state_of(box)["failed"][bad]["attempts"] == 2
    newer = inject(emu, "newer.pdf")
    # the incremental sync no longer lists the failed fax: it is fetched as a pending one
    got = Inbox(client, box).sync()
    assert sorted(f.message.id for f in got) == sorted([bad, newer])
    state = state_of(box)
    assert state["pending"] == {} and state["failed"] == {} and state["placed"] == {}
    assert visible(box) == sorted([f"{bad}-bad.pdf", f"{good}-good.pdf", f"{newer}-newer.pdf"])


@pytest.mark.parametrize(
    "name", ["../escape.pdf", "ABSOLUTE", "sub/dir.pdf", ".ringfax-inbox.json"]
)
def test_file_names_in_the_state_file_must_stay_inside_the_directory(
    emu: Emulator, client: FaxClient, tmp_path: Path, name: str
) -> None:
    fax = inject(emu)
    attachment = client.get_fax(fax).attachments[0].id
    box = tmp_path / "inbox"
    box.mkdir()
    if name == "ABSOLUTE":
        name = str(tmp_path / "absolute.pdf")
    state = {"version": 1, "received": {}, "pending": {fax: {attachment: name}}}
    (box / ".ringfax-inbox.json").write_text(json.dumps(state))
    with pytest.raises(RingFaxError) as caught:
        Inbox(client, box).sync()
    text = str(caught.value)
    assert ".ringfax-inbox.json is not a ringfax inbox state file" in text
    assert f"pending[{fax!r}][{attachment!r}]" in text and "move it away" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emu", "inbox"]


@pytest.mark.parametrize(
    ("state", "key"),
    [
        ({"version": 1, "received": []}, "'received' is not an object"),
        ({"version": 1, "received": {"1": 5}}, "received['1'] has no list of files"),
        ({"version": 1, "received": {"1": {"files": "a.pdf"}}}, "received['1'] has no list"),
        ({"version": 1, "received": {"1": ["a.pdf", 7]}}, "received['1'] lists the file 7"),
        ({"version": 1, "received": {"1": {"files": [], "created": 5}}}, "['created']"),
        ({"version": 1, "received": {}, "pending": {"1": "a.pdf"}}, "pending['1'] is not"),
        ({"version": 1, "received": {}, "pending": []}, "'pending' is not an object"),
        ({"version": 1, "received": {}, "placed": {"1": "x"}}, "placed['1']"),
        ({"version": 1, "received": {}, "failed": {"1": {}}}, "failed['1']"),
        ({"version": 1, "received": {}, "syncToken": 5}, "'syncToken' is not a string"),
        ({"version": 1}, "'received' is missing"),
        ([1, 2], "the top level is not a JSON object"),
    ],
)
def test_a_state_file_of_the_wrong_shape_is_refused_naming_the_key(
    client: FaxClient, tmp_path: Path, state: Any, key: str
) -> None:
    box = tmp_path / "inbox"
    box.mkdir()
    (box / ".ringfax-inbox.json").write_text(json.dumps(state))
    with pytest.raises(RingFaxError, match="is not a ringfax inbox state file") as caught:
        Inbox(client, box).sync()
    assert key in str(caught.value) and "move it away" in str(caught.value)


@pytest.mark.parametrize("which", [".ringfax-inbox.json", ".ringfax-inbox.lock"])
def test_symlinks_in_place_of_the_inbox_files_are_not_followed(
    client: FaxClient, tmp_path: Path, which: str
) -> None:
    box = tmp_path / "inbox"
    box.mkdir()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"version": 1, "received": {}}))
    os.symlink(elsewhere, box / which)
    with pytest.raises(RingFaxError, match=which.replace(".", r"\.")):
        Inbox(client, box).sync()
    assert json.loads(elsewhere.read_text()) == {"version": 1, "received": {}}


class _Crash(BaseException):
    """The process dying: nothing after it runs, no handler sees it."""


def test_a_crash_between_the_link_and_the_state_write_leaves_one_copy(
    emu: Emulator, client: FaxClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fax = inject(emu)
    box = tmp_path / "inbox"
    reserved = box / f"{fax}-scan.pdf"
    save = Inbox._save

    def dying_save(self: Inbox, state: dict[str, Any]) -> None:
        if reserved.exists():  # the document is linked; its state write never happens
            raise _Crash
        save(self, state)

    monkeypatch.setattr(Inbox, "_save", dying_save)
    with pytest.raises(_Crash):
        Inbox(client, box).sync()
    monkeypatch.setattr(Inbox, "_save", save)
    assert visible(box) == [reserved.name] and fax in state_of(box)["pending"]

    (got,) = Inbox(client, box).sync()
    assert got.files == (reserved,) and visible(box) == [reserved.name]
    assert state_of(box)["received"][fax]["files"] == [reserved.name]


def test_another_file_at_the_reserved_name_is_not_taken_for_the_document(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    fax = inject(emu)
    box = tmp_path / "inbox"
    reserved = box / f"{fax}-scan.pdf"

    def squat(_message_id: str) -> None:  # same size, other bytes
        reserved.write_bytes(PDF[:-2] + b"X\n")

    (got,) = Inbox(Hooked(client, squat), box).sync()
    assert got.files == (box / f"{fax}-scan-2.pdf",)
