"""The durable inbox (``ringfax receive``): each received fax is downloaded once, crash-safe."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfax import BadRequest, FaxClient, Inbox, RingFaxError
from ringfax.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.network

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TIFF = b"II*\x00" + b"\x00" * 60


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


def inject(emu: Emulator, *docs: tuple[str, str, bytes], sender: str = "+16505550150") -> str:
    message = emu.inject_inbound_fax(
        from_number=sender, documents=list(docs) or [("scan.pdf", "application/pdf", PDF)]
    )
    return str(message["id"])


def visible(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


class Counting:
    """Wraps a client: counts downloads and can fail the n-th download or mark_read."""

    def __init__(self, client: FaxClient, *, fail_download_at: int = 0, fail_mark: bool = False):
        self.client = client
        self.server_url = client.server_url
        self.downloads: list[tuple[str, str]] = []
        self.fail_download_at = fail_download_at
        self.fail_mark = fail_mark

    def sync_faxes(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.sync_faxes(*args, **kwargs)

    def get_fax(self, message_id: str | int) -> Any:
        return self.client.get_fax(message_id)

    def download(self, message_id: Any, attachment_id: Any, path: Any, **kw: Any) -> Path:
        self.downloads.append((str(message_id), str(attachment_id)))
        if len(self.downloads) == self.fail_download_at:
            raise KeyboardInterrupt  # the process dies half-way through a fax
        return self.client.download(message_id, attachment_id, path, **kw)

    def mark_read(self, message_id: Any) -> Any:
        if self.fail_mark:
            raise RingFaxError("network went away")
        return self.client.mark_read(message_id)


def test_first_sync_downloads_then_only_new_faxes(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    first = inject(emu, ("letter.pdf", "application/pdf", PDF), ("scan.tiff", "image/tiff", TIFF))
    box = tmp_path / "inbox"
    got = Inbox(client, box).sync()
    assert [f.message.id for f in got] == [first]
    assert [p.name for p in got[0].files] == [f"{first}-letter.pdf", f"{first}-scan.tiff"]
    assert (box / f"{first}-letter.pdf").read_bytes() == PDF
    assert (box / f"{first}-scan.tiff").read_bytes() == TIFF

    assert Inbox(client, box).sync() == []  # incremental: nothing new, nothing twice
    second = inject(emu, ("note.pdf", "application/pdf", PDF), sender="+16505550151")
    got = Inbox(client, box).sync()
    assert [f.message.id for f in got] == [second]
    assert got[0].message.from_ is not None
    assert got[0].message.from_.phone_number == "+16505550151"
    assert visible(box) == sorted(
        [f"{first}-letter.pdf", f"{first}-scan.tiff", f"{second}-note.pdf"]
    )
    state = json.loads((box / ".ringfax-inbox.json").read_text())
    assert set(state["received"]) == {first, second} and state["pending"] == {}
    assert Inbox(client, box).received_ids() == [first, second]


def test_outbound_and_read_changes_are_not_received(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    pdf = tmp_path / "out.pdf"
    pdf.write_bytes(PDF)
    client.send_fax("+16505550123", [str(pdf)])
    fax = inject(emu)
    box = tmp_path / "inbox"
    assert [f.message.id for f in Inbox(client, box, mark_read=True).sync()] == [fax]
    assert client.get_fax(fax).read_status == "Read"
    client.mark_unread(fax)  # a change: ISync returns it again, but it was received already
    assert Inbox(client, box).sync() == []
    assert visible(box) == [f"{fax}-scan.pdf"]


def test_crash_half_way_resumes_without_downloading_twice(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    fax = inject(emu, ("a.pdf", "application/pdf", PDF), ("b.tiff", "image/tiff", TIFF))
    box = tmp_path / "inbox"
    crashing = Counting(client, fail_download_at=2)
    with pytest.raises(KeyboardInterrupt):
        Inbox(crashing, box).sync()
    assert visible(box) == [f"{fax}-a.pdf"]  # first document complete, second never started
    state = json.loads((box / ".ringfax-inbox.json").read_text())
    assert state["received"] == {} and list(state["pending"]) == [fax]
    assert "syncToken" not in state  # the batch was not finished

    resumed = Counting(client)
    got = Inbox(resumed, box).sync()
    assert [f.message.id for f in got] == [fax]
    assert [a for _m, a in resumed.downloads] == [got[0].message.attachments[1].id]
    assert visible(box) == [f"{fax}-a.pdf", f"{fax}-b.tiff"]
    assert (box / f"{fax}-b.tiff").read_bytes() == TIFF
    assert not list(box.glob(".ringfax-*.part"))


def test_mark_read_failing_after_the_files_is_retried_alone(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    fax = inject(emu)
    box = tmp_path / "inbox"
    failing = Inbox(Counting(client, fail_mark=True), box, mark_read=True)
    assert failing.sync() == []
    assert failing.failures == {fax: "network went away"}
    state = json.loads((box / ".ringfax-inbox.json").read_text())
    assert list(state["pending"]) == [fax] and state["failed"][fax]["attempts"] == 1
    assert visible(box) == [f"{fax}-scan.pdf"]
    again = Counting(client)
    got = Inbox(again, box, mark_read=True).sync()
    assert [f.message.id for f in got] == [fax] and again.downloads == []
    assert client.get_fax(fax).read_status == "Read"
    assert visible(box) == [f"{fax}-scan.pdf"]


def test_refused_sync_token_falls_back_to_a_full_sync(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    first = inject(emu)
    box = tmp_path / "inbox"
    Inbox(client, box).sync()
    state_path = box / ".ringfax-inbox.json"
    state = json.loads(state_path.read_text())
    state["syncToken"] = "garbage-token"
    state_path.write_text(json.dumps(state))
    with pytest.raises(BadRequest):
        client.sync_faxes("garbage-token", direction="Inbound")
    second = inject(emu)
    got = Inbox(client, box).sync()
    assert [f.message.id for f in got] == [second]  # the first one is not downloaded again
    assert visible(box) == sorted([f"{first}-scan.pdf", f"{second}-scan.pdf"])


def test_names_are_safe_and_never_overwrite(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    fax = inject(
        emu,
        ("../../etc/evil name?.pdf", "application/pdf", PDF),
        ("..\\..\\x.pdf", "application/pdf", PDF),
    )
    box = tmp_path / "inbox"
    box.mkdir()
    (box / f"{fax}-evil_name_.pdf").write_bytes(b"someone else's file")
    (got,) = Inbox(client, box).sync()
    names = [p.name for p in got.files]
    assert names == [f"{fax}-evil_name_-2.pdf", f"{fax}-x.pdf"]
    assert all(p.parent == box for p in got.files)
    assert (box / f"{fax}-evil_name_.pdf").read_bytes() == b"someone else's file"
    assert not (tmp_path / "etc").exists()


def test_corrupt_state_and_second_process_are_refused(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    box = tmp_path / "inbox"
    box.mkdir()
    (box / ".ringfax-inbox.json").write_text("{not json")
    with pytest.raises(RingFaxError, match="not a ringfax inbox state file"):
        Inbox(client, box).sync()
    (box / ".ringfax-inbox.json").unlink()
    fd = os.open(box / ".ringfax-inbox.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(RingFaxError, match="another process is receiving"):
            Inbox(client, box).sync()
    finally:
        os.close(fd)
    assert Inbox(client, box).sync() == []


def test_document_names_are_one_safe_component() -> None:
    from ringfax._filenames import attachment_name, safe_component

    assert safe_component("c d?.pdf") == "c_d_.pdf"
    assert safe_component("...", fallback="") == ""
    long_name = safe_component("x" * 500 + ".pdf")
    assert len(long_name) == 120 and long_name.endswith(".pdf")
    assert attachment_name("3000", "7", filename=None, content_type="image/tiff") == "3000-7.tif"
    assert attachment_name("3000", "7", filename="../a b/c d?.pdf", content_type=None) == (
        "3000-c_d_.pdf"
    )
    odd = attachment_name("../1", "../9", filename=None, content_type="application/x-unknown")
    assert odd == "1-9.bin"


def test_pending_fax_purged_on_the_server_is_dropped(
    emu: Emulator, client: FaxClient, tmp_path: Path
) -> None:
    fax = inject(emu, ("a.pdf", "application/pdf", PDF), ("b.tiff", "image/tiff", TIFF))
    box = tmp_path / "inbox"
    with pytest.raises(KeyboardInterrupt):
        Inbox(Counting(client, fail_download_at=2), box).sync()
    client.delete_fax(fax, purge=True)
    assert Inbox(client, box).sync() == []
    state = json.loads((box / ".ringfax-inbox.json").read_text())
    assert state["pending"] == {} and state["received"] == {}


def test_a_new_server_reusing_ids_is_not_mistaken_for_received_faxes(tmp_path: Path) -> None:
    box = tmp_path / "inbox"
    got: list[str] = []
    for run in range(2):  # e.g. an emulator restarted on a fresh temporary data dir
        config = EmulatorConfig(rate_limiting=False)
        with Emulator(tmp_path / f"emu{run}", config=config) as emu:
            with FaxClient(
                emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt
            ) as client:
                fax = inject(emu)
                got += [f.message.id for f in Inbox(client, box).sync()]
                assert Inbox(client, box).sync() == []
        time.sleep(0.01)
    assert got == [fax, fax]  # same id, two different faxes: both kept
    assert visible(box) == [f"{fax}-scan-2.pdf", f"{fax}-scan.pdf"]
