"""A durable local inbox: received faxes downloaded into a directory, each exactly once.

::

    from ringfax import FaxClient, Inbox

    with FaxClient.from_env() as client:
        for fax in Inbox(client, "faxes/").sync():
            print(fax.message.id, fax.message.from_, [str(p) for p in fax.files])

:meth:`Inbox.sync` runs RingCentral's message-sync (a full sync the first time, then
incremental syncs from the persisted ``syncToken``) for inbound faxes and downloads the
documents of every ``Received`` fax it has not downloaded before.

Durability (the state lives in ``DIR/.ringfax-inbox.json``, rewritten atomically):

1. before a fax's documents are fetched, the file names chosen for them are recorded as
   *pending* (names never overwrite an existing file);
2. each document is downloaded to a temporary file and renamed into place, so a file under its
   final name is always complete;
3. only when every document of the fax is in place (and, with ``mark_read``, the fax was
   marked read) is its id moved to *received*;
4. the sync token is stored only after the whole batch is done.

After a crash the next ``sync()`` finds the pending fax again, keeps the documents already in
place and fetches only the missing ones: no fax is downloaded twice and none is lost. A second
process on the same directory is refused (an ``flock`` on ``DIR/.ringfax-inbox.lock`` where
the platform has one).
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ._atomic import write_json_atomically
from ._errors import APIError, NotFound, RingFaxError
from ._models import FaxMessage, MessageAttachment, MessageStatus

try:  # POSIX only; elsewhere concurrent use of one directory is not detected
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # pragma: no cover - Windows
    _HAVE_FLOCK = False

__all__ = ["STATE_FILE", "Inbox", "ReceivedFax"]

STATE_FILE = ".ringfax-inbox.json"
LOCK_FILE = ".ringfax-inbox.lock"
_STATE_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 120


class _SyncResult(Protocol):
    records: tuple[FaxMessage, ...]
    sync_token: str
    full: bool
    older_records_exist: bool


class InboxClient(Protocol):
    """What :class:`Inbox` needs from a client (:class:`~ringfax.FaxClient` has it all)."""

    server_url: str

    def sync_faxes(
        self,
        sync_token: str | None = None,
        *,
        direction: str | None = None,
        date_from: datetime | None = None,
        record_count: int | None = None,
    ) -> Any: ...

    def get_fax(self, message_id: str | int) -> FaxMessage: ...

    def download(
        self,
        message_id: str | int,
        attachment_id: str | int,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
    ) -> Path: ...

    def mark_read(self, message_id: str | int) -> Any: ...


@dataclass(frozen=True)
class ReceivedFax:
    """A fax whose documents are now in the inbox directory (``files``, in attachment order)."""

    message: FaxMessage
    files: tuple[Path, ...]


class Inbox:
    """Received faxes of ``client`` kept in ``directory`` (created if missing).

    ``mark_read``: mark each fax read on the server once its documents are in place.
    ``since``: how far back the first (full) sync looks (default: the server's default).
    """

    def __init__(
        self,
        client: InboxClient,
        directory: str | os.PathLike[str],
        *,
        mark_read: bool = False,
        since: datetime | None = None,
    ) -> None:
        self.client = client
        self.directory = Path(directory)
        self.mark_read = mark_read
        self.since = since
        self.state_path = self.directory / STATE_FILE
        #: True when the last sync was a full one (first run, or the sync token was refused).
        self.last_full = False
        #: True when the server said older faxes exist beyond what a full sync returns.
        self.older_records_exist = False

    def __repr__(self) -> str:
        return f"Inbox({str(self.directory)!r})"

    # ----------------------------------------------------------------- public

    def received_ids(self) -> list[str]:
        """Ids of every fax already downloaded into the directory."""
        return list(self._load()["received"])

    def sync(self) -> list[ReceivedFax]:
        """Fetch new inbound faxes; returns those downloaded by this call (oldest first)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            _remove_partials(self.directory, time.time())
            state = self._load()
            batch = self._fetch(state)
            self.last_full = bool(batch.full)
            self.older_records_exist = bool(batch.older_records_exist)
            todo = self._todo(state, batch.records)
            done: list[ReceivedFax] = []
            for message in todo:
                done.append(self._receive(state, message))
            state["syncToken"] = batch.sync_token
            state["server"] = self.client.server_url
            self._save(state)
            return done

    # ------------------------------------------------------------ the steps

    def _fetch(self, state: dict[str, Any]) -> _SyncResult:
        token = state.get("syncToken")
        if not isinstance(token, str) or state.get("server") != self.client.server_url:
            token = None
        if token:
            try:
                result: _SyncResult = self.client.sync_faxes(token, direction="Inbound")
                return result
            except APIError as exc:
                if not _token_refused(exc):
                    raise
                # an expired/unknown token: start over with a full sync (ids already
                # received are skipped, so nothing is downloaded twice)
        full: _SyncResult = self.client.sync_faxes(None, direction="Inbound", date_from=self.since)
        return full

    def _todo(self, state: dict[str, Any], records: tuple[FaxMessage, ...]) -> list[FaxMessage]:
        received: dict[str, Any] = state["received"]
        pending: dict[str, Any] = state["pending"]
        todo: dict[str, FaxMessage] = {}
        for message in records:
            if message.id and not _seen(received, message) and _is_new_fax(message):
                todo[message.id] = message
        for message_id in list(pending):  # interrupted last time, and not in this batch
            if message_id in todo:
                continue
            try:
                message = self.client.get_fax(message_id)
            except NotFound:  # purged on the server since: nothing left to fetch
                del pending[message_id]
                continue
            if _seen(received, message):
                del pending[message_id]
            else:
                todo[message_id] = message
        return sorted(todo.values(), key=_age)

    def _receive(self, state: dict[str, Any], message: FaxMessage) -> ReceivedFax:
        pending: dict[str, dict[str, str]] = state["pending"]
        names = pending.get(message.id)
        if names is None or any(a.id not in names for a in message.attachments):
            names = self._plan(state, message, names or {})
            pending[message.id] = names
            self._save(state)  # the names are reserved before the first byte arrives
        files: list[Path] = []
        for att in message.attachments:
            target = self.directory / names[att.id]
            if not target.exists():  # present = complete (moved into place atomically)
                self.client.download(message.id, att.id, target, overwrite=False)
            files.append(target)
        if self.mark_read and message.read_status != "Read":
            self.client.mark_read(message.id)
        state["received"][message.id] = {
            "files": [p.name for p in files],
            "created": _created(message),
        }
        del pending[message.id]
        self._save(state)
        return ReceivedFax(message, tuple(files))

    def _plan(
        self, state: dict[str, Any], message: FaxMessage, known: dict[str, str]
    ) -> dict[str, str]:
        taken = {n for names in state["pending"].values() for n in names.values()}
        taken |= {n for entry in state["received"].values() for n in _files(entry)}
        planned = dict(known)
        taken |= set(planned.values())
        for index, att in enumerate(message.attachments):
            if att.id in planned:
                continue
            name = _unique(self.directory, attachment_name(message.id, att, index), taken)
            planned[att.id] = name
            taken.add(name)
        return planned

    # ---------------------------------------------------------------- state

    def _load(self) -> dict[str, Any]:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": _STATE_VERSION, "received": {}, "pending": {}}
        except OSError as exc:
            raise RingFaxError(f"cannot read {self.state_path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
                raise ValueError("not a version 1 inbox state")
            if not isinstance(data.get("received"), dict):
                raise ValueError("'received' is not an object")
            if not isinstance(data.setdefault("pending", {}), dict):
                raise ValueError("'pending' is not an object")
        except (ValueError, RecursionError) as exc:
            raise RingFaxError(
                f"{self.state_path} is not a ringfax inbox state file ({exc}); move it away to "
                f"start over (faxes already in the directory would then be downloaded again)"
            ) from None
        return data

    def _save(self, state: dict[str, Any]) -> None:
        write_json_atomically(self.state_path, state, sync_dir=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if not _HAVE_FLOCK:  # pragma: no cover - Windows
            yield
            return
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RingFaxError(
                    f"another process is receiving into {self.directory} (lock held on "
                    f"{LOCK_FILE}); wait for it to finish"
                ) from None
            yield
        finally:
            os.close(fd)  # releases the lock


# -------------------------------------------------------------------- helpers


def safe_name(text: str, limit: int = _MAX_NAME) -> str:
    """``text`` reduced to ``[A-Za-z0-9._-]`` (no directories, no leading dot), or ``""``."""
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._-")
    if len(cleaned) > limit:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            cleaned = stem[: limit - len(ext) - 1] + "." + ext
        else:
            cleaned = cleaned[:limit]
    return cleaned


def attachment_name(message_id: str, att: MessageAttachment, index: int) -> str:
    """``<message id>-<file name>``: the attachment's own name when it has one, else one
    built from its id and content type (``3000000000005-1.pdf``)."""
    prefix = safe_name(message_id, 40) or "fax"
    own = safe_name(att.filename or "")
    if own:
        return f"{prefix}-{own}"
    ext = _extension(att.content_type)
    return f"{prefix}-{safe_name(att.id, 40) or index + 1}{ext}"


def _extension(content_type: str | None) -> str:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in ("image/tiff", "image/tif"):
        return ".tiff"
    return (mimetypes.guess_extension(ctype) if ctype else None) or ".bin"


def _unique(directory: Path, name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate in taken or (directory / candidate).exists():
        n += 1
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    return candidate


def _remove_partials(directory: Path, now: float) -> None:
    """Temporary files of downloads killed half-way (``.ringfax-*.part``, an hour old)."""
    for stray in directory.glob(".ringfax-*.part"):
        with contextlib.suppress(OSError):
            if now - stray.stat().st_mtime > 3600:
                stray.unlink()


def _created(message: FaxMessage) -> str | None:
    return message.creation_time.isoformat() if message.creation_time else None


def _files(entry: Any) -> list[str]:
    files = entry.get("files") if isinstance(entry, dict) else entry
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def _seen(received: dict[str, Any], message: FaxMessage) -> bool:
    """Received already: same id and (when both are known) the same creation time — a
    restarted emulator reuses ids for other faxes, and those must not be skipped."""
    entry = received.get(message.id)
    if entry is None:
        return False
    created = entry.get("created") if isinstance(entry, dict) else None
    now = _created(message)
    return created is None or now is None or created == now


def _is_new_fax(message: FaxMessage) -> bool:
    """A received fax whose documents can be fetched."""
    if not message.attachments:  # not rendered yet: it comes back once it changes
        return False
    if message.direction not in (None, "Inbound"):
        return False
    if message.availability not in (None, "Alive"):
        return False
    return message.message_status in (None, MessageStatus.RECEIVED)


def _age(message: FaxMessage) -> tuple[float, str]:
    when = message.creation_time.timestamp() if message.creation_time else float("inf")
    return when, message.id


def _token_refused(exc: APIError) -> bool:
    if exc.status != 400:
        return False
    names = {(d.parameter_name or "").lower() for d in exc.errors}
    return "synctoken" in names or "synctoken" in str(exc).lower()
