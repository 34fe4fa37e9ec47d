"""A token cache shared by processes: one JSON file, mode 0600, replaced atomically.

Every ``ringfax`` command would otherwise start with a JWT login, and RingCentral allows five
of those per minute (the Auth group). With :class:`FileTokenCache` a client reuses a cached,
still valid access token — or its refresh token — and stores every new token set it gets.
Beside the tokens (``<name>.pacing.json``) it keeps the rate-limit pacing state of exhausted
groups, so a new process paces as the previous one would have.

Entries are keyed by server URL + client id + the JWT's subject (:func:`cache_key`), so
different users, apps and servers never see each other's tokens and the JWT itself is never
written. The cache holds bearer tokens, so it is used only when it is safe (else
:class:`UnsafeTokenCache`, naming the path and the fix): its directory belongs to the user and
is writable by nobody else, and each file is a regular file (opened with ``O_NOFOLLOW`` and
``O_NONBLOCK``: never a symlink to someone else's cache, never a FIFO that blocks) owned by
the user with no group/other permissions. Files are written to a private temporary file and
moved into place with ``os.replace``; writers take an advisory lock (``fcntl.flock``) for at
most :data:`LOCK_TIMEOUT` seconds and otherwise skip the write (the token is still used, only
not shared). A file that is merely unreadable or not valid JSON is logged and ignored.
All of this is summarised in docs/ringfax-limits.md.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._atomic import write_json_atomically
from ._errors import RingFaxError
from ._token import Token

__all__ = [
    "LOCK_TIMEOUT",
    "FileTokenCache",
    "UnsafeTokenCache",
    "cache_key",
    "default_cache_path",
    "jwt_subject",
]

log = logging.getLogger("ringfax")

_VERSION = 1
LOCK_TIMEOUT = 5.0
"""Longest wait (seconds) for another process's lock on the cache before a write is skipped."""
_MAX_FILE = 1 << 20  # bytes read from a cache file at most
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafeTokenCache(RingFaxError):
    """The token cache (a file or its directory) could be read or replaced by someone else."""


def jwt_subject(jwt: str) -> str | None:
    """The ``sub`` claim of a JWT, read without verifying it (None when there is none).

    Only used to key the cache: the server verifies the JWT when it is exchanged."""
    parts = jwt.strip().split(".")
    if len(parts) != 3 or len(parts[1]) > 8192:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if isinstance(sub, int) and not isinstance(sub, bool):
        sub = str(sub)
    return sub if isinstance(sub, str) and sub.strip() else None


def cache_key(server_url: str, client_id: str, jwt: str) -> str:
    """The cache key of a (server, app, user) triple: the user is the JWT's ``sub`` claim, or —
    for a JWT without a readable one — its SHA-256 (the JWT itself is never stored)."""
    subject = jwt_subject(jwt)
    user = f"sub:{subject}" if subject else "jwt:" + hashlib.sha256(jwt.encode()).hexdigest()
    return f"{server_url.rstrip('/')} {client_id} {user}"


def default_cache_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/ringfax/tokens.json``, else ``~/.cache/ringfax/tokens.json``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "ringfax" / "tokens.json"


def _token_to_json(token: Token) -> dict[str, Any]:
    return {
        "access_token": token.access_token,
        "expires_at": token.expires_at,
        "token_type": token.token_type,
        "refresh_token": token.refresh_token,
        "refresh_expires_at": token.refresh_expires_at,
        "scope": token.scope,
        "owner_id": token.owner_id,
        "session_id": token.session_id,
    }


def _token_from_json(data: Any) -> Token | None:
    if not isinstance(data, Mapping):
        return None
    access = data.get("access_token")
    expires = data.get("expires_at")
    if not isinstance(access, str) or not access or not isinstance(expires, (int, float)):
        return None
    refresh = data.get("refresh_token")
    refresh_expires = data.get("refresh_expires_at")

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    return Token(
        access_token=access,
        expires_at=float(expires),
        token_type=text("token_type") or "bearer",
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_expires_at=float(refresh_expires)
        if isinstance(refresh_expires, (int, float))
        else None,
        scope=text("scope"),
        owner_id=text("owner_id"),
        session_id=text("session_id"),
    )


def _usable(entry: Any, now: float) -> bool:
    token = _token_from_json(entry)
    if token is None:
        return False
    if token.expires_at > now:
        return True
    return bool(
        token.refresh_token and (token.refresh_expires_at is None or token.refresh_expires_at > now)
    )


def _owner_problem(st: os.stat_result, what: str, path: Path, fix: str) -> str | None:
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and st.st_uid != geteuid():
        return f"token cache {what} {path} belongs to uid {st.st_uid}, not to you; {fix}"
    return None


def check_directory(directory: Path) -> None:
    """:class:`UnsafeTokenCache` unless ``directory`` is a directory of the user's that no
    one else may write to (``OSError`` when it cannot be examined)."""
    st = os.stat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(directory))
    fix = "use a directory of your own (FileTokenCache(path)) or no token cache"
    problem = _owner_problem(st, "directory", directory, fix)
    if problem is None and st.st_mode & 0o022:
        mode = stat.S_IMODE(st.st_mode)
        problem = (
            f"token cache directory {directory} is writable by other users (mode {mode:04o}); "
            f"run `chmod 700 {directory}`"
        )
    if problem is not None:
        raise UnsafeTokenCache(problem)


def open_private(path: Path, flags: int, *, create: bool = False) -> int:
    """A descriptor of ``path``, refused (:class:`UnsafeTokenCache`) unless it is a regular file
    of the user's without group/other permissions. Never follows a symlink, never blocks on a
    FIFO; ``FileNotFoundError`` when it does not exist (and ``create`` is False)."""
    extra = os.O_CREAT if create else 0
    try:
        fd = os.open(path, flags | extra | _NOFOLLOW | _NONBLOCK | _CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and _NOFOLLOW):
            raise UnsafeTokenCache(
                f"token cache file {path} is a symbolic link; remove it (`rm {path}`)"
            ) from None
        raise
    try:
        st = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(st.st_mode):
            problem = f"token cache file {path} is not a regular file; remove it (`rm {path}`)"
        else:
            problem = _owner_problem(st, "file", path, f"remove it (`rm {path}`)")
        if problem is None and st.st_mode & 0o077:
            mode = stat.S_IMODE(st.st_mode)
            problem = (
                f"token cache file {path} is open to other users (mode {mode:04o}); run "
                f"`chmod 600 {path}` (and revoke its tokens if others may have read them)"
            )
        if problem is not None:
            raise UnsafeTokenCache(problem)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private_json(path: Path) -> Any:
    """The JSON in ``path`` (None when absent, unreadable or not JSON — logged); refuses an
    unsafe file or directory with :class:`UnsafeTokenCache`."""
    try:
        check_directory(path.parent)
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("token cache %s unreadable (ignored): %s", path, exc.strerror or exc)
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(_MAX_FILE + 1)
    except OSError as exc:
        log.warning("token cache %s unreadable (ignored): %s", path, exc.strerror or exc)
        return None
    if len(raw) > _MAX_FILE:
        log.warning("token cache %s is larger than %d bytes (ignored)", path, _MAX_FILE)
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        log.warning("token cache %s is not valid JSON (ignored)", path)
        return None


class FileTokenCache:
    """Tokens in a JSON file (mode 0600, atomic replace), shared by processes.

    ``path``: the file (its directory is created with mode 0700 when missing); see
    :func:`default_cache_path` for the CLI's default. ``clock`` (epoch seconds) is used to
    drop entries that can no longer be used. ``lock_timeout``: seconds to wait for another
    process's lock before a write is skipped (default :data:`LOCK_TIMEOUT`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self.pacing_path = self.path.with_name(self.path.stem + ".pacing.json")
        self._clock = clock
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"FileTokenCache({str(self.path)!r})"

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> FileTokenCache:
        """A cache at :func:`default_cache_path`."""
        return cls(default_cache_path(environ))

    # ------------------------------------------------------------- public

    def load(self, key: str) -> Token | None:
        """The token set stored under ``key`` (None when absent or the file is unreadable)."""
        return _token_from_json(self._entries(self.path, "tokens").get(key))

    def store(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key`` (atomic; failures are logged, not raised)."""
        entry = _token_to_json(token)
        self._update(self.path, "tokens", lambda tokens, now: _put(tokens, key, entry, now))

    def discard(self, key: str) -> None:
        """Remove the entry under ``key`` (failures are logged, not raised)."""
        self._update(self.path, "tokens", lambda tokens, now: _put(tokens, key, None, now))

    def pacing(self, key: str) -> _PacingFile:
        """The rate-limit pacing store of ``key`` (see :class:`~ringfax._ratelimit.PacingStore`),
        kept in :attr:`pacing_path` under the same rules as the tokens."""
        return _PacingFile(self, key)

    # ------------------------------------------------------------ helpers

    def _now(self) -> float:
        return float(self._clock()) if self._clock is not None else time.time()

    def _entries(self, path: Path, section: str) -> dict[str, Any]:
        data = read_private_json(path)
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            return {}
        entries = data.get(section)
        return entries if isinstance(entries, dict) else {}

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[bool]:
        """Hold the lock of ``path`` (yields False when it could not be had in time)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: last writer wins
            yield True
            return
        fd = open_private(path.with_name(path.name + ".lock"), os.O_RDWR, create=True)
        try:
            deadline = time.monotonic() + max(0.0, self.lock_timeout)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.05)
            yield True
        finally:
            os.close(fd)  # closing releases the lock

    def _update(
        self,
        path: Path,
        section: str,
        change: Callable[[dict[str, Any], float], dict[str, Any]],
    ) -> None:
        """Rewrite ``section`` of ``path`` as ``change(entries, now)`` under the lock."""
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_directory(path.parent)
            with self._locked(path) as locked:
                if not locked:
                    log.warning(
                        "token cache %s not updated: another process held its lock for more "
                        "than %g s",
                        path,
                        self.lock_timeout,
                    )
                    return
                entries = change(self._entries(path, section), self._now())
                write_json_atomically(path, {"version": _VERSION, section: entries})
        except OSError as exc:
            log.warning("token cache %s not updated (ignored): %s", path, exc)


def _put(
    tokens: dict[str, Any], key: str, entry: dict[str, Any] | None, now: float
) -> dict[str, Any]:
    kept = {k: v for k, v in tokens.items() if _usable(v, now)}
    if entry is None:
        kept.pop(key, None)
    else:
        kept[key] = entry
    return kept


class _PacingFile:
    """One key's rate-limit pacing state in :attr:`FileTokenCache.pacing_path`."""

    def __init__(self, cache: FileTokenCache, key: str) -> None:
        self._cache = cache
        self._key = key

    def load(self) -> Mapping[str, Any]:
        """The groups persisted for this key (``{}`` when none)."""
        groups = self._cache._entries(self._cache.pacing_path, "pacing").get(self._key)
        return groups if isinstance(groups, dict) else {}

    def save(self, groups: Mapping[str, Mapping[str, float | None]]) -> None:
        """Merge ``groups`` in (a newer report wins; a block lasts until its end), dropping
        every state that no longer asks anyone to wait."""
        key = self._key

        def change(entries: dict[str, Any], now: float) -> dict[str, Any]:
            merged: dict[str, Any] = {}
            for other, saved in entries.items():
                if isinstance(saved, dict):
                    merged[other] = {g: v for g, v in saved.items() if _pending(v, now)}
            mine = merged.setdefault(key, {})
            for group, update in groups.items():
                old = mine.get(group)
                new = dict(update)
                if isinstance(old, dict) and _num(old.get("observed_at")) > _num(
                    new.get("observed_at")
                ):
                    new = dict(old)
                blocks = (_num(new.get("blocked_until")), _num(_get(old, "blocked_until")))
                new["blocked_until"] = max(blocks)
                mine[group] = new
            return {
                k: {g: v for g, v in m.items() if _pending(v, now)} for k, m in merged.items() if m
            }

        self._cache._update(self._cache.pacing_path, "pacing", change)


def _get(data: Any, name: str) -> Any:
    return data.get(name) if isinstance(data, dict) else None


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    number = float(value)
    return number if number == number and abs(number) != float("inf") else 0.0


def _pending(state: Any, now: float) -> bool:
    """Does a persisted group state still ask for a wait at ``now``?"""
    if not isinstance(state, dict):
        return False
    until = _num(state.get("blocked_until"))
    remaining = state.get("remaining")
    if isinstance(remaining, int) and not isinstance(remaining, bool) and remaining <= 0:
        until = max(until, _num(state.get("observed_at")) + _num(state.get("window")))
    return until > now
