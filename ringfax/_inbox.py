"""A durable local inbox: received faxes downloaded into a directory, each exactly once.

::

    from ringfax import FaxClient, Inbox

    with FaxClient.from_env() as client:
        inbox = Inbox(client, "faxes/")
        for fax in inbox.sync():
            print(fax.message.id, fax.message.from_, [str(p) for p in fax.files])
        for message_id, reason in inbox.failures.items():
            print("not yet:", message_id, reason)  # retried by the next sync

:meth:`Inbox.sync` runs RingCentral's message-sync (a full sync the first time, then
incremental syncs from the persisted ``syncToken``) for inbound faxes and downloads the
documents of every ``Received`` fax it has not downloaded before.

Durability (the state lives in ``DIR/.ringfax-inbox.json``, rewritten atomically):

1. before a fax's documents are fetched, the fax is recorded as *pending* with the file names
   chosen for its documents;
2. each document is downloaded into a private temporary directory inside DIR and hard-linked
   to its name (``link`` neither follows nor replaces anything there: a name someone took in
   the meantime — a file, a dangling symlink — gets the next free name), then recorded as
   *placed*;
3. only when every document of the fax is placed (and, with ``mark_read``, the fax was marked
   read) is its id moved to *received*;
4. the sync token is stored after the batch, when every fax of it is either received or
   pending — a fax that failed (its download, its link, its ``mark_read``) stays pending, is
   listed in :attr:`Inbox.failures` and in the state's ``failed`` (with the error and the
   number of attempts), and is fetched again by every later sync until it lands or the server
   no longer has it. One bad fax never holds up the others.

After a crash the next ``sync()`` finds the pending fax again, keeps the documents already
placed and fetches only the others. (A crash in the instant between a link and the state
write leaves that document under its reserved name unrecorded: the next sync fetches it again,
finds a regular file with the same bytes at that name and records it instead of saving a
second copy.) A second process on the same directory is refused (an
``flock`` on ``DIR/.ringfax-inbox.lock`` where the platform has one).

The state file is checked in full when read: every file name in it must be a plain name
inside DIR, and a file of the wrong shape is refused with an error naming the file, the bad
key and the fix (docs/ringfax-limits.md).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ._atomic import TEMP_PREFIX, TEMP_SUFFIX, write_json_atomically
from ._errors import APIError, NotFound, RingFaxError
from ._filenames import attachment_name
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
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
_MAX_STATE = 64 << 20  # bytes of state file read at most
_MAX_NAME_TRIES = 1000  # free names tried for one document before giving up on it
_TEMP_PREFIX = ".ringfax-dl-"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


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
        #: Faxes the last sync could not complete (message id -> why); each stays pending and
        #: is tried again by the next sync.
        self.failures: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Inbox({str(self.directory)!r})"

    # ----------------------------------------------------------------- public

    def received_ids(self) -> list[str]:
        """Ids of every fax already downloaded into the directory."""
        return list(self._load()["received"])

    def sync(self) -> list[ReceivedFax]:
        """Fetch new inbound faxes; returns those downloaded by this call (oldest first).

        A fax that cannot be completed does not stop the others: see :attr:`failures`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            _remove_partials(self.directory, time.time())
            state = self._load()
            batch = self._fetch(state)
            self.last_full = bool(batch.full)
            self.older_records_exist = bool(batch.older_records_exist)
            self.failures = {}
            todo = self._todo(state, batch.records)
            done: list[ReceivedFax] = []
            for message in todo:
                self._reserve(state, message)  # pending and saved before anything can fail
                try:
                    done.append(self._receive(state, message))
                except (RingFaxError, OSError) as exc:
                    self._failed(state, message.id, exc)
            # every fax of the batch is received or durably pending: the token may advance
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
        for message_id in list(pending):  # failed or interrupted before, not in this batch
            if message_id in todo:
                continue
            try:
                message = self.client.get_fax(message_id)
            except NotFound:  # purged on the server since: nothing left to fetch
                _forget(state, message_id)
                continue
            except RingFaxError as exc:  # stays pending: the next sync asks again
                self._failed(state, message_id, exc)
                continue
            if _seen(received, message):
                _forget(state, message_id)
            else:
                todo[message_id] = message
        return sorted(todo.values(), key=_age)

    def _reserve(self, state: dict[str, Any], message: FaxMessage) -> None:
        pending: dict[str, dict[str, str]] = state["pending"]
        names = pending.get(message.id)
        if names is None or any(a.id not in names for a in message.attachments):
            pending[message.id] = self._plan(state, message, names or {})
            self._save(state)  # the names are reserved before the first byte arrives

    def _receive(self, state: dict[str, Any], message: FaxMessage) -> ReceivedFax:
        names: dict[str, str] = state["pending"][message.id]
        placed: list[str] = state["placed"].setdefault(message.id, [])
        files: list[Path] = []
        for att in message.attachments:
            if att.id in placed and os.path.lexists(self.directory / names[att.id]):
                files.append(self.directory / names[att.id])
                continue
            name = self._fetch_document(state, message, att)
            names[att.id] = name
            if att.id not in placed:
                placed.append(att.id)
            self._save(state)
            files.append(self.directory / name)
        if self.mark_read and message.read_status != "Read":
            self.client.mark_read(message.id)
        state["received"][message.id] = {
            "files": [p.name for p in files],
            "created": _created(message),
        }
        _forget(state, message.id)
        self._save(state)
        return ReceivedFax(message, tuple(files))

    def _fetch_document(
        self, state: dict[str, Any], message: FaxMessage, att: MessageAttachment
    ) -> str:
        """Download one document into a private temporary directory, then link it into DIR
        under its reserved name, or the next free one; returns the name it got."""
        scratch = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=self.directory))
        try:
            document = scratch / "document"
            self.client.download(message.id, att.id, document, overwrite=False)
            wanted = state["pending"][message.id][att.id]
            if _same_document(document, self.directory / wanted):
                return str(wanted)  # our own link: a crash came between it and the state write
            taken = _taken(state)
            for _ in range(_MAX_NAME_TRIES):
                if _link_new(document, self.directory / wanted):
                    return str(wanted)
                taken.add(wanted)
                wanted = _unique(self.directory, wanted, taken)
            raise RingFaxError(
                f"no free file name for document {att.id} of fax {message.id} in "
                f"{self.directory} after {_MAX_NAME_TRIES} tries"
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _failed(self, state: dict[str, Any], message_id: str, exc: BaseException) -> None:
        """Record that ``message_id`` could not be completed (it stays pending)."""
        reason = str(exc) or type(exc).__name__
        self.failures[message_id] = reason
        previous = state["failed"].get(message_id) or {}
        state["failed"][message_id] = {
            "error": reason[:1000],
            "attempts": int(previous.get("attempts", 0)) + 1,
            "last": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self._save(state)

    def _plan(
        self, state: dict[str, Any], message: FaxMessage, known: dict[str, str]
    ) -> dict[str, str]:
        taken = _taken(state)
        planned = dict(known)
        taken |= set(planned.values())
        for index, att in enumerate(message.attachments):
            if att.id in planned:
                continue
            own = attachment_name(
                message.id,
                att.id or str(index + 1),
                filename=att.filename,
                content_type=att.content_type,
            )
            name = _unique(self.directory, own, taken)
            planned[att.id] = name
            taken.add(name)
        return planned

    # ---------------------------------------------------------------- state

    def _load(self) -> dict[str, Any]:
        try:
            raw = _read_regular(self.state_path, _MAX_STATE)
        except FileNotFoundError:
            return _empty_state()
        except OSError as exc:
            raise RingFaxError(f"cannot read {self.state_path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise self._bad_state(f"it is not JSON ({exc})") from None
        problem = _state_problem(data)
        if problem is not None:
            raise self._bad_state(problem)
        for key in ("pending", "placed", "failed"):
            data.setdefault(key, {})
        return dict(data)

    def _bad_state(self, problem: str) -> RingFaxError:
        return RingFaxError(
            f"{self.state_path} is not a ringfax inbox state file: {problem}; move it away to "
            f"start over (faxes already in the directory would then be downloaded again)"
        )

    def _save(self, state: dict[str, Any]) -> None:
        write_json_atomically(self.state_path, state, sync_dir=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if not _HAVE_FLOCK:  # pragma: no cover - Windows
            yield
            return
        path = self.directory / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK, 0o600)
        except OSError as exc:
            raise RingFaxError(
                f"cannot open the inbox lock {path}: {exc.strerror or exc} (a symbolic link or "
                f"another kind of file there is refused; remove it)"
            ) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise RingFaxError(f"the inbox lock {path} is not a regular file; remove it")
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


def _unique(directory: Path, name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``...: the first not reserved in ``taken`` and
    not present in ``directory`` in any form (a dangling symlink counts as present)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate in taken or os.path.lexists(directory / candidate):
        n += 1
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    return candidate


def _same_document(document: Path, target: Path) -> bool:
    """Whether ``target`` (the name reserved for ``document``) is a regular file, not a link,
    that holds exactly ``document``'s bytes: the document landed before a crash cut the state
    write, so saving it again would put it on disk twice."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != document.stat().st_size:
            return False
        with open(document, "rb") as ours, os.fdopen(os.dup(fd), "rb") as theirs:
            while True:
                a, b = ours.read(1 << 16), theirs.read(1 << 16)
                if a != b:
                    return False
                if not a:
                    return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _link_new(source: Path, target: Path) -> bool:
    """Give ``source`` the new name ``target``; False when the name exists in any form.

    ``link`` never follows or replaces what is at ``target``. Where hard links are not
    supported the name is claimed with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and our own empty
    file is then replaced."""
    try:
        os.link(source, target, follow_symlinks=False)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    os.replace(source, target)
    return True


def _remove_partials(directory: Path, now: float) -> None:
    """Leftovers of downloads killed half-way: the inbox's private download directories (no
    other process uses them while the lock is held) and ``.ringfax-*.part`` files an hour
    old (``ringfax download`` writes those too)."""
    for scratch in directory.glob(_TEMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(os.lstat(scratch).st_mode):
                shutil.rmtree(scratch, ignore_errors=True)
    for stray in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - stray.lstat().st_mtime > 3600:
                stray.unlink()


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` — a regular file, not reached through a symlink, at most
    ``limit`` bytes — else ``OSError``."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (remove it)")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes")
    return data


def _empty_state() -> dict[str, Any]:
    return {"version": _STATE_VERSION, "received": {}, "pending": {}, "placed": {}, "failed": {}}


def _name_problem(name: Any) -> str | None:
    if not isinstance(name, str):
        return "not a string"
    if not _PLAIN_NAME.fullmatch(name):
        return "not a plain file name inside the directory"
    return None


def _state_problem(data: Any) -> str | None:
    """What is wrong with a parsed state file (naming the key), or None."""
    if not isinstance(data, dict):
        return "the top level is not a JSON object"
    if data.get("version") != _STATE_VERSION:
        return f"'version' is {data.get('version')!r}, not {_STATE_VERSION}"
    for key in ("syncToken", "server"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"{key!r} is not a string"
    if "received" not in data:
        return "'received' is missing"
    sections = {key: data.get(key, {}) for key in ("received", "pending", "placed", "failed")}
    for key, section in sections.items():
        if not isinstance(section, dict):
            return f"{key!r} is not an object"
    for message_id, entry in sections["received"].items():
        where = f"received[{message_id!r}]"
        files = entry
        if isinstance(entry, dict):
            files = entry.get("files", [])
            created = entry.get("created")
            if created is not None and not isinstance(created, str):
                return f"{where}['created'] is not a string"
        if not isinstance(files, list):
            return f"{where} has no list of files"
        for name in files:
            problem = _name_problem(name)
            if problem is not None:
                return f"{where} lists the file {name!r}: {problem}"
    for message_id, names in sections["pending"].items():
        if not isinstance(names, dict):
            return f"pending[{message_id!r}] is not an object"
        for attachment_id, name in names.items():
            problem = _name_problem(name)
            if problem is not None:
                return f"pending[{message_id!r}][{attachment_id!r}] is {name!r}: {problem}"
    for message_id, ids in sections["placed"].items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return f"placed[{message_id!r}] is not a list of attachment ids"
    for message_id, failure in sections["failed"].items():
        attempts = failure.get("attempts") if isinstance(failure, dict) else None
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            return f"failed[{message_id!r}] has no count of attempts"
    return None


def _taken(state: Mapping[str, Any]) -> set[str]:
    """Every file name the state reserves or records."""
    taken = {n for names in state["pending"].values() for n in names.values()}
    taken |= {n for entry in state["received"].values() for n in _files(entry)}
    return taken


def _forget(state: dict[str, Any], message_id: str) -> None:
    """Drop ``message_id`` from the pending bookkeeping (received, or gone on the server)."""
    for key in ("pending", "placed", "failed"):
        state[key].pop(message_id, None)


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
