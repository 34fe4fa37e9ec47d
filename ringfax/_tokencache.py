"""A token cache shared by processes: one JSON file, mode 0600, replaced atomically.

Every ``ringfax`` command used to start with a JWT login, and RingCentral allows five of those
per minute (the Auth group). With :class:`FileTokenCache` a client reuses a cached, still valid
access token — or its refresh token — and stores every new token set it gets.

Entries are keyed by server URL + client id + SHA-256 of the JWT (:func:`cache_key`), so
different users, apps and servers never see each other's tokens and the JWT itself is never
written. The file is created with ``os.open(..., 0o600)`` in a directory created ``0o700``,
written to a temporary file and moved into place with ``os.replace`` (readers see the old or
the new file, never half of one); writers take an advisory lock (``fcntl.flock``) where the
platform has one, so concurrent processes do not drop each other's entries. A cache that
cannot be read or written is logged and ignored: it never breaks a call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._atomic import write_json_atomically
from ._token import Token

__all__ = ["FileTokenCache", "cache_key", "default_cache_path"]

log = logging.getLogger("ringfax")

_VERSION = 1


def cache_key(server_url: str, client_id: str, jwt: str) -> str:
    """The cache key of a (server, app, user JWT) triple; the JWT enters only as a SHA-256."""
    digest = hashlib.sha256(jwt.encode("utf-8")).hexdigest()
    return f"{server_url.rstrip('/')} {client_id} {digest}"


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


class FileTokenCache:
    """Tokens in a JSON file (mode 0600, atomic replace), shared by processes.

    ``path``: the file (its directory is created with mode 0700 when missing); see
    :func:`default_cache_path` for the CLI's default. ``clock`` (epoch seconds) is used to
    drop entries that can no longer be used.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], float] | None = None
    ) -> None:
        self.path = Path(path)
        self._clock = clock

    def __repr__(self) -> str:
        return f"FileTokenCache({str(self.path)!r})"

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> FileTokenCache:
        """A cache at :func:`default_cache_path`."""
        return cls(default_cache_path(environ))

    # ------------------------------------------------------------- public

    def load(self, key: str) -> Token | None:
        """The token set stored under ``key`` (None when absent or the file is unreadable)."""
        return _token_from_json(self._read().get(key))

    def store(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key`` (atomic; failures are logged, not raised)."""
        self._update(key, _token_to_json(token))

    def discard(self, key: str) -> None:
        """Remove the entry under ``key`` (failures are logged, not raised)."""
        self._update(key, None)

    # ------------------------------------------------------------ helpers

    def _now(self) -> float:
        if self._clock is not None:
            return float(self._clock())
        import time

        return time.time()

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("token cache %s unreadable (ignored): %s", self.path, exc.strerror)
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            log.warning("token cache %s is not valid JSON (ignored)", self.path)
            return {}
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            return {}
        tokens = data.get("tokens")
        return tokens if isinstance(tokens, dict) else {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: last writer wins
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _update(self, key: str, entry: dict[str, Any] | None) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._locked():
                now = self._now()
                tokens = {k: v for k, v in self._read().items() if _usable(v, now)}
                if entry is None:
                    tokens.pop(key, None)
                else:
                    tokens[key] = entry
                self._write({"version": _VERSION, "tokens": tokens})
        except OSError as exc:
            log.warning("token cache %s not updated (ignored): %s", self.path, exc)

    def _write(self, data: dict[str, Any]) -> None:
        write_json_atomically(self.path, data)  # mkstemp: the file is private (0600)
