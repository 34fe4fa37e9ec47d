"""Handlers of the push endpoints: ``/restapi/v1.0/subscription…`` (WebHook subscriptions)
and ``POST /restapi/oauth/wstoken`` (WebSocket gateway tokens); see docs/push.md."""

from __future__ import annotations

from typing import Any

from ._errors import ApiError
from ._exchange import ApiResponse, Exchange
from ._input import load_json

__all__ = ["PushHandlers"]

MAX_JSON = 256 * 1024


class PushHandlers(Exchange):
    """Subscription and wstoken handlers; ``self.owner`` is the caller's application
    (set by authentication: subscriptions are per extension and application)."""

    owner: str = ""

    def _json_body(self, *, empty_is_none: bool) -> Any:
        raw = self.body.read_all(MAX_JSON)
        if not raw.strip():
            if empty_is_none:
                return None
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        return load_json(raw, ApiError(400, "CMN-103", "JSON can't be parsed."))

    def _create_subscription(self) -> ApiResponse:
        body = self._json_body(empty_is_none=False)
        return self._json(200, self.svc.push.create(self.owner, body, self._base))

    def _list_subscriptions(self) -> ApiResponse:
        return self._json(200, self.svc.push.list_all(self.owner, self._base))

    def _get_subscription(self, sub_id: str) -> ApiResponse:
        return self._json(200, self.svc.push.get(self.owner, sub_id, self._base))

    def _update_subscription(self, sub_id: str) -> ApiResponse:
        body = self._json_body(empty_is_none=True)
        return self._json(200, self.svc.push.update(self.owner, sub_id, body, self._base))

    def _renew_subscription(self, sub_id: str) -> ApiResponse:
        return self._json(200, self.svc.push.renew(self.owner, sub_id, self._base))

    def _delete_subscription(self, sub_id: str) -> ApiResponse:
        self.svc.push.delete(self.owner, sub_id)
        return self._send(204)

    def _wstoken(self) -> ApiResponse:
        gateway = self.svc.push.gateway
        if gateway is None:
            raise ApiError(
                503, "EMU-503", "WebSocket gateway unavailable (install the websockets package)"
            )
        return self._json(200, gateway.issue_token(self.owner))
