"""Token providers: a static access token, or the JWT bearer grant with refresh.

:class:`JWTAuth` gets a token with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``
(client id/secret go in a Basic header, added by the ``endpoint`` callable the client passes
in), refreshes it ``refresh_margin`` seconds before it expires and when the server answers 401
with an expired/invalid-token code, and does so *single-flight*: one lock, so concurrent threads
trigger one token request and the others reuse its result. Refresh tokens are single-use: the
new one from every answer replaces the old. A refresh answered with ``invalid_grant`` (or any
400/401) falls back to a fresh JWT grant.

Secrets (JWT, tokens, client secret) never appear in ``repr``/``str`` or error messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._errors import APIError, AuthError

__all__ = [
    "EXPIRED_TOKEN_CODES",
    "INVALID_TOKEN_CODES",
    "JWT_GRANT_TYPE",
    "Auth",
    "JWTAuth",
    "StaticTokenAuth",
    "Token",
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


@dataclass(frozen=True)
class Token:
    """An OAuth token set. ``expires_at``/``refresh_expires_at`` are epoch seconds."""

    access_token: str = field(repr=False)
    expires_at: float
    token_type: str = "bearer"
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: float | None = None
    scope: str | None = None
    owner_id: str | None = None
    session_id: str | None = None

    def __repr__(self) -> str:
        refresh = "'***'" if self.refresh_token else "None"
        return (
            f"Token(access_token='***', refresh_token={refresh}, expires_at={self.expires_at!r}, "
            f"scope={self.scope!r}, owner_id={self.owner_id!r})"
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any], now: float) -> Token:
        """Build from a ``TokenInfo`` answer received at ``now``."""
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthError(200, "token endpoint answer has no access_token")
        expires_in = _number(data.get("expires_in"), 3600.0)
        refresh = data.get("refresh_token")
        refresh_in = data.get("refresh_token_expires_in")
        return cls(
            access_token=access,
            expires_at=now + expires_in,
            token_type=str(data.get("token_type") or "bearer"),
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            refresh_expires_at=now + _number(refresh_in, 0.0) if refresh_in is not None else None,
            scope=_opt(data.get("scope")),
            owner_id=_opt(data.get("owner_id")),
            session_id=_opt(data.get("session_id")),
        )


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


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
            raise ValueError("access_token is empty")
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

    ``endpoint`` posts the token form (see :data:`TokenEndpoint`); ``clock`` returns epoch
    seconds. ``grants`` counts token requests by grant type (``"jwt"``, ``"refresh"``).
    """

    def __init__(
        self,
        jwt: str,
        *,
        endpoint: TokenEndpoint,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 60.0,
    ) -> None:
        if not jwt:
            raise ValueError("jwt is empty")
        self._jwt = jwt
        self._endpoint = endpoint
        self._clock = clock
        self.refresh_margin = refresh_margin
        self._lock = threading.Lock()
        self._token: Token | None = None
        self.grants: dict[str, int] = {"jwt": 0, "refresh": 0}

    def __repr__(self) -> str:
        return f"JWTAuth(jwt='***', token={self._token!r})"

    @property
    def token(self) -> Token | None:
        """The current token set (or None)."""
        return self._token

    def access_token(self) -> str:
        """A valid access token; fetches/refreshes under the lock when near expiry."""
        with self._lock:
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
            self._renew(prefer_refresh=expired)
            return True

    def tokens_to_revoke(self) -> str | None:
        """The refresh token when there is one, else the access token."""
        token = self._token
        if token is None:
            return None
        return token.refresh_token or token.access_token

    def clear(self) -> None:
        """Forget the tokens (the next call does a new JWT grant)."""
        with self._lock:
            self._token = None

    def _renew(self, *, prefer_refresh: bool) -> Token:
        old = self._token
        now = self._clock()
        if (
            prefer_refresh
            and old is not None
            and old.refresh_token
            and (old.refresh_expires_at is None or now < old.refresh_expires_at)
        ):
            try:
                self.grants["refresh"] += 1
                data = self._endpoint(
                    {"grant_type": "refresh_token", "refresh_token": old.refresh_token}
                )
                self._token = Token.from_json(data, self._clock())
                return self._token
            except APIError as exc:
                if exc.status not in (400, 401):
                    raise
                # invalid_grant / expired refresh token: start a new session below
        self._token = None
        self.grants["jwt"] += 1
        data = self._endpoint({"grant_type": JWT_GRANT_TYPE, "assertion": self._jwt})
        self._token = Token.from_json(data, self._clock())
        return self._token
