"""OAuth: JWT bearer grant, single-use refresh tokens with a grace window, revoke,
and bearer-token checks on API calls (docs/ringcentral.md §5)."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import replace
from typing import Any

from ._clock import Clock
from ._config import EmulatorConfig
from ._errors import ApiError, OAuthError
from ._store import Store, TokenRow

__all__ = ["JWT_GRANT", "Auth"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "Faxes ReadMessages EditMessages ReadAccounts"


def _new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


class Auth:
    """Issues, refreshes, revokes and checks tokens; all state lives in the :class:`Store`."""

    def __init__(self, store: Store, config: EmulatorConfig, clock: Clock) -> None:
        self._store = store
        self._config = config
        self._clock = clock

    # -- client authentication --------------------------------------------------------------

    def client_from_basic(self, header: str | None, form: dict[str, str]) -> str:
        """Check client credentials (Basic header, or ``client_id`` for public clients on
        refresh); return the client id."""
        if header is None:
            client_id = form.get("client_id")
            if client_id == self._config.client_id and form.get("grant_type") == "refresh_token":
                return client_id
            raise OAuthError(401, "invalid_client", "OAU-123", "Invalid Authorization header")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise OAuthError(401, "invalid_client", "OAU-123", "Invalid Authorization header")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(
                401, "invalid_client", "OAU-134", "Invalid Authorization header"
            ) from None
        client_id, sep, secret = decoded.partition(":")
        if (
            not sep
            or not secrets.compare_digest(client_id, self._config.client_id)
            or not secrets.compare_digest(secret, self._config.client_secret)
        ):
            raise OAuthError(401, "invalid_client", "OAU-146", "Invalid client credentials")
        return client_id

    # -- grants -----------------------------------------------------------------------------

    def token(self, auth_header: str | None, form: dict[str, str]) -> dict[str, Any]:
        """Handle ``POST /restapi/oauth/token``; return the ``TokenInfo`` body."""
        client_id = self.client_from_basic(auth_header, form)
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(
                400,
                "invalid_request",
                "OAU-101",
                "Parameter [grant_type] is missing",
                parameter_name="grant_type",
            )
        if grant == JWT_GRANT:
            assertion = form.get("assertion")
            if not assertion:
                raise OAuthError(
                    400,
                    "invalid_request",
                    "OAU-101",
                    "Parameter [assertion] is missing",
                    parameter_name="assertion",
                )
            if not secrets.compare_digest(assertion, self._config.jwt):
                raise OAuthError(
                    400, "invalid_grant", "OAU-140", "Invalid resource owner credentials"
                )
            return self._issue(client_id, _new_token("S"), form)
        if grant == "refresh_token":
            return self._refresh(client_id, form)
        raise OAuthError(
            401, "unsupported_grant_type", "OAU-125", "Grant type is not allowed for application."
        )

    def _ttls(self, form: dict[str, str]) -> tuple[int, int]:
        access = self._config.access_token_ttl
        refresh = self._config.refresh_token_ttl
        try:
            if "access_token_ttl" in form:
                access = max(1, min(access, int(form["access_token_ttl"])))
            if "refresh_token_ttl" in form:
                refresh = max(1, min(refresh, int(form["refresh_token_ttl"])))
        except ValueError:
            raise OAuthError(
                400, "invalid_request", "OAU-101", "Parameter [ttl] is invalid"
            ) from None
        return access, refresh

    def _issue(self, client_id: str, session_id: str, form: dict[str, str]) -> dict[str, Any]:
        now = self._clock.now()
        access_ttl, refresh_ttl = self._ttls(form)
        row = TokenRow(
            access_token=_new_token("U1BCMDF"),
            refresh_token=_new_token("U1BCMDFR"),
            session_id=session_id,
            client_id=client_id,
            issued_at=now,
            access_expires=now + access_ttl,
            refresh_expires=now + refresh_ttl,
            access_valid=True,
            refresh_valid=True,
            refreshed_at=None,
            successor=None,
        )
        self._store.insert_token(row)
        return self._info(row, now)

    def _info(self, row: TokenRow, now: float) -> dict[str, Any]:
        return {
            "access_token": row.access_token,
            "token_type": "bearer",
            "expires_in": max(0, int(row.access_expires - now)),
            "refresh_token": row.refresh_token,
            "refresh_token_expires_in": max(0, int(row.refresh_expires - now)),
            "scope": SCOPE,
            "owner_id": self._config.extension_id,
            "endpoint_id": row.session_id[:22],
            "session_id": row.session_id,
        }

    def _refresh(self, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError(
                400,
                "invalid_request",
                "OAU-101",
                "Parameter [refresh_token] is missing",
                parameter_name="refresh_token",
            )
        now = self._clock.now()
        with self._store.locked():
            row = self._store.token_by_refresh(token)
            if row is None or not row.refresh_valid or row.client_id != client_id:
                raise OAuthError(400, "invalid_grant", "OAU-211", "Token is revoked")
            if row.refresh_expires <= now:
                raise OAuthError(400, "invalid_grant", "OAU-213", "Token is expired")
            if row.refreshed_at is not None:
                # Single use: within the grace window the same new pair is returned again.
                successor = self._store.token_by_access(row.successor or "")
                if (
                    successor is not None
                    and successor.access_valid
                    and now - row.refreshed_at <= self._config.refresh_grace
                ):
                    return self._info(successor, now)
                raise OAuthError(400, "invalid_grant", "OAU-211", "Token is revoked")
            access_ttl, refresh_ttl = self._ttls(form)
            new = replace(
                row,
                access_token=_new_token("U1BCMDF"),
                refresh_token=_new_token("U1BCMDFR"),
                issued_at=now,
                access_expires=now + access_ttl,
                refresh_expires=now + refresh_ttl,
                access_valid=True,
                refresh_valid=True,
                refreshed_at=None,
                successor=None,
            )
            self._store.rotate_token(row, new, now)
        return self._info(new, now)

    def revoke(self, auth_header: str | None, form: dict[str, str]) -> None:
        """Handle ``POST /restapi/oauth/revoke``: kill the whole session of ``token``."""
        self.client_from_basic(auth_header, {**form, "grant_type": "refresh_token"})
        token = form.get("token")
        if not token:
            raise OAuthError(
                400,
                "invalid_request",
                "OAU-101",
                "Parameter [token] is missing",
                parameter_name="token",
            )
        row = self._store.token_by_access(token) or self._store.token_by_refresh(token)
        if row is not None:
            self._store.revoke_session(row.session_id)

    # -- API calls --------------------------------------------------------------------------

    def check_bearer(self, header: str | None, query_token: str | None) -> TokenRow:
        """Check an API call's credentials; return its token row or raise a 401."""
        if header is None:
            if query_token is None:
                raise ApiError(401, "AGW-401", "Authorization header is not specified")
            token = query_token
        else:
            scheme, _, value = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise ApiError(
                    401, "OAU-123", "Invalid Authorization header", top_code="InvalidAuthHeader"
                )
            token = value.strip()
        row = self._store.token_by_access(token)
        if row is None or not row.access_valid:
            raise ApiError(401, "OAU-149", "OAuth token is invalid", top_code="TokenInvalid")
        if row.access_expires <= self._clock.now():
            raise ApiError(401, "OAU-128", "Access token expired.", top_code="TokenExpired")
        return row
