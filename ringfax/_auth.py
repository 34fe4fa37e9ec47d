"""Token providers: a static access token, or the JWT bearer grant with refresh.

:class:`JWTAuth` gets a token with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``
(client id/secret go in a Basic header, added by the ``endpoint`` callable the client passes
in), refreshes it ``refresh_margin`` seconds before it expires and when the server answers 401
with an expired/invalid-token code, and does so *single-flight*: one lock, so concurrent threads
trigger one token request and the others reuse its result. Refresh tokens are single-use: the
new one from every answer replaces the old. A refresh answered with ``invalid_grant`` (or any
400/401) falls back to a fresh JWT grant.

With a ``cache`` (e.g. :class:`~ringfax.FileTokenCache`) and a ``cache_key``, a cached token set
is reused (its refresh token too) and every new one is stored, so separate processes do not
each log in; a token the server rejects is dropped from the cache. A cache that is unreadable
is ignored, but one that others could read or replace raises its ``UnsafeTokenCache``.

Secrets (JWT, tokens, client secret) never appear in ``repr``/``str`` or error messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._errors import APIError, AuthError, ValidationError
from ._ratelimit import PacingStore
from ._token import Token
from ._tokencache import FileTokenCache, UnsafeTokenCache

__all__ = [
    "EXPIRED_TOKEN_CODES",
    "INVALID_TOKEN_CODES",
    "JWT_GRANT_TYPE",
    "Auth",
    "FileTokenCache",
    "JWTAuth",
    "StaticTokenAuth",
    "Token",
    "TokenCacheLike",
    "TokenEndpoint",
]

JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"

EXPIRED_TOKEN_CODES = frozenset({"OAU-128", "TokenExpired"})
"""401 error codes meaning "the access token expired": refresh (refresh_token grant) and retry."""
INVALID_TOKEN_CODES = frozenset({"OAU-129", "OAU-149", "TokenInvalid"})
"""401 error codes meaning "token corrupted/unknown/revoked": new JWT grant and retry."""

TokenEndpoint = Callable[[dict[str, str]], Mapping[str, Any]]
"""POSTs a form to ``/restapi/oauth/token`` (with client auth) and returns the JSON answer;
raises :class:`~ringfax.APIError` on an error status."""


class TokenCacheLike(Protocol):
    """What :class:`JWTAuth` needs from a token cache (see :class:`~ringfax.FileTokenCache`)."""

    def load(self, key: str) -> Token | None:
        """The token set stored under ``key``, or None."""
        ...

    def store(self, key: str, token: Token) -> None:
        """Store the token set under ``key``."""
        ...

    def discard(self, key: str) -> None:
        """Forget the entry under ``key``."""
        ...


class Auth(Protocol):
    """What the client needs from a token provider."""

    def access_token(self) -> str:
        """A currently valid access token (may fetch or refresh one)."""
        ...

    def handle_unauthorized(self, used_token: str, error: APIError) -> bool:
        """React to a 401 answered to a request made with ``used_token``.

        Return True when a new token is available and the request should be re-sent once.
        """
        ...

    def tokens_to_revoke(self) -> str | None:
        """The token to send to ``/restapi/oauth/revoke`` (refresh token preferred), if any."""
        ...

    def clear(self) -> None:
        """Forget every token (after revoke)."""
        ...


class StaticTokenAuth:
    """A fixed access token (no refresh: a 401 is final)."""

    def __init__(self, access_token: str) -> None:
        if not access_token:
            raise ValidationError("access_token is empty", param="access_token")
        self._token: str | None = access_token

    def __repr__(self) -> str:
        return "StaticTokenAuth(access_token='***')"

    def access_token(self) -> str:
        """The token (AuthError after :meth:`clear`)."""
        if self._token is None:
            raise AuthError(401, "the access token was revoked; create a new client")
        return self._token

    def handle_unauthorized(self, used_token: str, error: APIError) -> bool:
        """A static token cannot be renewed."""
        return False

    def tokens_to_revoke(self) -> str | None:
        """The static token."""
        return self._token

    def clear(self) -> None:
        """Forget the token."""
        self._token = None


class JWTAuth:
    """JWT bearer grant + refresh, thread-safe and single-flight.

    ``endpoint`` posts the token form (see :data:`TokenEndpoint`); without one, the
    :class:`~ringfax.FaxClient` it is given to (``auth=``) provides its own. ``clock`` returns
    epoch seconds. ``grants`` counts token requests by grant type (``"jwt"``, ``"refresh"``).
    ``cache``/``cache_key``: share tokens with other processes (see the module docstring).
    """

    def __init__(
        self,
        jwt: str,
        *,
        endpoint: TokenEndpoint | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 60.0,
        cache: TokenCacheLike | None = None,
        cache_key: str | None = None,
    ) -> None:
        if not jwt:
            raise ValidationError("jwt is empty", param="jwt")
        if cache is not None and not cache_key:
            raise ValidationError("a token cache needs a cache_key", param="cache_key")
        self._jwt = jwt
        self._endpoint = endpoint
        self._clock = clock
        self.refresh_margin = refresh_margin
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._cache = cache
        self._cache_key = cache_key or ""
        self._cache_loaded = False
        self.grants: dict[str, int] = {"jwt": 0, "refresh": 0}

    def __repr__(self) -> str:
        return f"JWTAuth(jwt='***', token={self._token!r})"

    @property
    def bound(self) -> bool:
        """Does it have a token endpoint?"""
        return self._endpoint is not None

    def bind(self, endpoint: TokenEndpoint) -> None:
        """Use ``endpoint`` for token requests (what ``FaxClient(auth=...)`` does when none
        was given)."""
        self._endpoint = endpoint

    def _post(self, form: dict[str, str]) -> Mapping[str, Any]:
        if self._endpoint is None:
            raise ValidationError(
                "JWTAuth has no token endpoint: pass it to FaxClient(auth=...)", param="auth"
            )
        return self._endpoint(form)

    @property
    def token(self) -> Token | None:
        """The current token set (or None)."""
        return self._token

    def access_token(self) -> str:
        """A valid access token; fetches/refreshes under the lock when near expiry."""
        with self._lock:
            if self._token is None and not self._cache_loaded:
                self._cache_loaded = True
                self._token = self._cached()
            token = self._token
            if token is None or self._clock() >= token.expires_at - self.refresh_margin:
                token = self._renew(prefer_refresh=True)
            return token.access_token

    def handle_unauthorized(self, used_token: str, error: APIError) -> bool:
        """Renew after a 401 with an expired/invalid-token code (single-flight)."""
        codes = set(error.error_codes)
        expired = bool(codes & EXPIRED_TOKEN_CODES)
        invalid = bool(codes & INVALID_TOKEN_CODES)
        if not (expired or invalid):
            return False
        with self._lock:
            current = self._token
            if current is not None and current.access_token != used_token:
                return True  # another thread already renewed it
            if invalid and self._cache is not None:
                self._cache.discard(self._cache_key)
            # an expired token may already have been refreshed by another process
            self._renew(prefer_refresh=expired, use_cache=expired and not invalid)
            return True

    def tokens_to_revoke(self) -> str | None:
        """The refresh token when there is one, else the access token."""
        token = self._token
        if token is None:
            return None
        return token.refresh_token or token.access_token

    def clear(self) -> None:
        """Forget the tokens (the next call does a new JWT grant) — in the cache too."""
        with self._lock:
            self._token = None
            self._cache_loaded = True
            if self._cache is not None:
                self._cache.discard(self._cache_key)

    def _cached(self) -> Token | None:
        if self._cache is None:
            return None
        try:
            return self._cache.load(self._cache_key)
        except UnsafeTokenCache:
            raise  # others could read or plant tokens: say so, with the fix
        except Exception:  # a broken cache must never break a call
            return None

    def pacing_store(self) -> PacingStore | None:
        """Where the client keeps rate-limit pacing state between processes: beside the
        cached tokens, under the same key (None without a cache that supports it)."""
        factory = getattr(self._cache, "pacing", None)
        if self._cache is None or not callable(factory):
            return None
        store: PacingStore = factory(self._cache_key)
        return store

    def _keep(self, token: Token) -> Token:
        self._token = token
        if self._cache is not None:
            self._cache.store(self._cache_key, token)
        return token

    def _renew(self, *, prefer_refresh: bool, use_cache: bool = True) -> Token:
        now = self._clock()
        if use_cache:
            # another process may have refreshed already (and used up our refresh token)
            cached = self._cached()
            if (
                cached is not None
                and (self._token is None or cached.access_token != self._token.access_token)
                and now < cached.expires_at - self.refresh_margin
            ):
                self._token = cached
                return cached
        old = self._token
        if (
            prefer_refresh
            and old is not None
            and old.refresh_token
            and (old.refresh_expires_at is None or now < old.refresh_expires_at)
        ):
            try:
                self.grants["refresh"] += 1
                data = self._post(
                    {"grant_type": "refresh_token", "refresh_token": old.refresh_token}
                )
                return self._keep(Token.from_json(data, self._clock()))
            except APIError as exc:
                if exc.status not in (400, 401):
                    raise
                # invalid_grant / expired refresh token: start a new session below
        self._token = None
        self.grants["jwt"] += 1
        data = self._post({"grant_type": JWT_GRANT_TYPE, "assertion": self._jwt})
        return self._keep(Token.from_json(data, self._clock()))
