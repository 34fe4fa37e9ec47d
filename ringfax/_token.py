"""The OAuth token set (:class:`Token`): what the token endpoint answers, kept with absolute
expiry times so it can be cached and shared."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import AuthError

__all__ = ["Token"]


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
