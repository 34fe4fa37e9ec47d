"""RingCentral push subscriptions over REST (docs/push.md): the calls, the
:class:`Subscription` record, and :class:`WebhookSubscription`, which keeps one WebHook
subscription alive (created, renewed before it expires, recreated when it is blacklisted
or gone) for as long as a receiver runs.

:class:`SubscriptionCalls` is a mixin of :class:`~ringfax.FaxClient` (like the message-store
calls); every call goes through the client's pipeline with the rate-limit group RingCentral
documents for it (docs/ringcentral.md §13).
"""

from __future__ import annotations

import logging
import secrets
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._errors import APIError, NotFound, RingFaxError, ValidationError
from ._models import parse_datetime
from ._pipeline import Call, Pipeline, json_object

__all__ = [
    "INBOUND_FAX_FILTERS",
    "Subscription",
    "SubscriptionCalls",
    "WebSocketToken",
    "WebhookSubscription",
]

log = logging.getLogger("ringfax")

INBOUND_FAX_FILTERS = (
    "/restapi/v1.0/account/~/extension/~/fax?direction=Inbound",
    "/restapi/v1.0/account/~/extension/~/message-store?type=Fax&direction=Inbound",
)
"""The events a fax receiver listens to: a received fax (full record) and a change to the
inbound fax store. Both only trigger a message-sync; the sync decides what is new."""

SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"
MAX_EXPIRES_IN = 315_360_000  # WebHook maximum (10 years), docs/ringcentral.md §13


@dataclass(frozen=True)
class Subscription:
    """A push subscription as RingCentral describes it (``SubscriptionInfo``)."""

    id: str
    status: str
    event_filters: tuple[str, ...]
    transport_type: str | None
    address: str | None
    expires_in: int | None
    expiration_time: datetime | None
    creation_time: datetime | None
    blacklisted_reason: str | None = None

    @property
    def blacklisted(self) -> bool:
        """RingCentral stopped delivering for good: delete it and create a new one."""
        return self.status == "Blacklisted"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Subscription:
        sub_id = data.get("id")
        if not isinstance(sub_id, str) or not sub_id:
            raise APIError(200, "a subscription without an id in the answer")
        mode = data.get("deliveryMode")
        mode = mode if isinstance(mode, Mapping) else {}
        blacklisted = data.get("blacklistedData")
        reason = blacklisted.get("reason") if isinstance(blacklisted, Mapping) else None
        filters = data.get("eventFilters")
        expires_in = data.get("expiresIn")
        return cls(
            id=sub_id,
            status=str(data.get("status") or ""),
            event_filters=tuple(str(f) for f in filters) if isinstance(filters, list) else (),
            transport_type=_opt_str(mode.get("transportType")),
            address=_opt_str(mode.get("address")),
            expires_in=expires_in if type(expires_in) is int else None,
            expiration_time=parse_datetime(data.get("expirationTime")),
            creation_time=parse_datetime(data.get("creationTime")),
            blacklisted_reason=_opt_str(reason),
        )


@dataclass(frozen=True)
class WebSocketToken:
    """``POST /restapi/oauth/wstoken``: a single-use token and the gateway to use it on."""

    token: str
    uri: str
    expires_in: int | None

    def __repr__(self) -> str:  # the token is a credential: never shown
        return f"WebSocketToken(uri={self.uri!r}, expires_in={self.expires_in!r})"


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _sub_id(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("subscription_id is empty", param="subscription_id")
    return urllib.parse.quote(value, safe="")


class SubscriptionCalls:
    """Subscription calls of :class:`~ringfax.FaxClient` (``POST/GET/PUT/DELETE
    /restapi/v1.0/subscription``, ``POST /restapi/oauth/wstoken``)."""

    server_url: str
    _pipeline: Pipeline

    def _sub_call(self, method: str, path: str, group: str, body: Any = None) -> Any:
        call = Call(
            method,
            self.server_url + path,
            group=group,
            idempotent=method != "POST" or path.endswith("/renew"),
            json_body=body,
        )
        response = self._pipeline.run(call)
        if response.status == 204:
            response.close()
            return None
        return json_object(response)

    def create_subscription(
        self,
        event_filters: Sequence[str] = INBOUND_FAX_FILTERS,
        *,
        address: str,
        verification_token: str | None = None,
        expires_in: int | None = None,
    ) -> Subscription:
        """Create a WebHook subscription delivering to ``address`` (RingCentral first checks
        that the address answers its ``Validation-Token`` handshake: serve it before)."""
        if isinstance(event_filters, str) or not event_filters:
            raise ValidationError("give a list of event filters", param="event_filters")
        if expires_in is not None and not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise ValidationError(
                f"expires_in {expires_in} is outside 1 … {MAX_EXPIRES_IN} seconds",
                param="expires_in",
            )
        mode: dict[str, Any] = {"transportType": "WebHook", "address": address}
        if verification_token is not None:
            mode["verificationToken"] = verification_token
        body: dict[str, Any] = {"eventFilters": list(event_filters), "deliveryMode": mode}
        if expires_in is not None:
            body["expiresIn"] = expires_in
        return Subscription.from_json(self._sub_call("POST", SUBSCRIPTION_PATH, "medium", body))

    def get_subscription(self, subscription_id: str) -> Subscription:
        """One subscription; :class:`~ringfax.NotFound` once it is deleted or expired."""
        path = f"{SUBSCRIPTION_PATH}/{_sub_id(subscription_id)}"
        return Subscription.from_json(self._sub_call("GET", path, "light"))

    def list_subscriptions(self) -> list[Subscription]:
        """This application's subscriptions for the extension (at most 30)."""
        data = self._sub_call("GET", SUBSCRIPTION_PATH, "light")
        records = data.get("records") if isinstance(data, Mapping) else None
        if not isinstance(records, list):
            raise APIError(200, "a subscription list without records in the answer")
        return [Subscription.from_json(r) for r in records if isinstance(r, Mapping)]

    def renew_subscription(self, subscription_id: str) -> Subscription:
        """Extend the subscription by its own ``expiresIn`` from now."""
        path = f"{SUBSCRIPTION_PATH}/{_sub_id(subscription_id)}/renew"
        return Subscription.from_json(self._sub_call("POST", path, "light"))

    def delete_subscription(self, subscription_id: str) -> None:
        """Stop and remove the subscription."""
        self._sub_call("DELETE", f"{SUBSCRIPTION_PATH}/{_sub_id(subscription_id)}", "medium")

    def websocket_token(self) -> WebSocketToken:
        """A single-use token for the WebSocket gateway (``POST /restapi/oauth/wstoken``)."""
        data = self._sub_call("POST", "/restapi/oauth/wstoken", "auth")
        token, uri = data.get("ws_access_token"), data.get("uri")
        if not isinstance(token, str) or not token or not isinstance(uri, str):
            raise APIError(200, "the wstoken answer lacks ws_access_token or uri")
        if urllib.parse.urlsplit(uri).scheme not in ("ws", "wss"):
            raise APIError(200, f"the wstoken answer's uri {uri!r} is not ws:// or wss://")
        expires = data.get("expires_in")
        return WebSocketToken(token, uri, expires if type(expires) is int else None)


class WebhookSubscription:
    """Keeps one WebHook subscription to ``address`` alive while a receiver serves it.

    :meth:`open` removes this application's earlier subscriptions to the same address (a
    crashed receiver's, whose verification token is lost) and creates a new one with a
    random ``verification_token`` (or the one given). :meth:`maintain`, called now and then,
    renews it once less than ``renew_margin`` of its lifetime is left and recreates it when
    it was blacklisted or is gone (404); it returns True when it recreated, so the caller
    runs a catch-up sync for the events that were lost. :meth:`close` deletes it.
    """

    def __init__(
        self,
        client: SubscriptionCalls,
        address: str,
        *,
        event_filters: Sequence[str] = INBOUND_FAX_FILTERS,
        verification_token: str | None = None,
        expires_in: int | None = None,
        renew_margin: float = 0.25,
    ) -> None:
        if not 0 < renew_margin < 1:
            raise ValidationError("renew_margin must be between 0 and 1", param="renew_margin")
        self.client = client
        self.address = address
        self.event_filters = tuple(event_filters)
        self.verification_token = verification_token or secrets.token_urlsafe(32)
        self.expires_in = expires_in
        self.renew_margin = renew_margin
        self.current: Subscription | None = None
        self._lifetime: int | None = None  # expiresIn when created: what a renewal restores

    def __repr__(self) -> str:
        sub = self.current.id if self.current else None
        return f"WebhookSubscription({self.address!r}, id={sub!r})"

    def open(self) -> Subscription:
        """Delete stale subscriptions to :attr:`address`, then create this one."""
        for old in self.client.list_subscriptions():
            if old.address == self.address and old.transport_type == "WebHook":
                log.info("deleting the earlier subscription %s to %s", old.id, self.address)
                self._delete_quietly(old.id)
        return self._create()

    def _create(self) -> Subscription:
        self.current = self.client.create_subscription(
            self.event_filters,
            address=self.address,
            verification_token=self.verification_token,
            expires_in=self.expires_in,
        )
        self._lifetime = self.current.expires_in
        return self.current

    def maintain(self) -> bool:
        """Renew or recreate as needed; True when the subscription was recreated."""
        if self.current is None:
            self.open()
            return True
        try:
            sub = self.client.get_subscription(self.current.id)
        except NotFound:
            log.warning(
                "subscription %s is gone (expired or deleted): creating a new one", self.current.id
            )
            self._create()
            return True
        if sub.blacklisted:
            log.warning(
                "subscription %s was blacklisted (%s): creating a new one",
                sub.id,
                sub.blacklisted_reason or "no reason given",
            )
            self._delete_quietly(sub.id)
            self._create()
            return True
        lifetime = self._lifetime or sub.expires_in
        left = sub.expires_in
        if left is not None and lifetime and left < lifetime * self.renew_margin:
            try:
                sub = self.client.renew_subscription(sub.id)
            except NotFound:
                self._create()
                return True
        self.current = sub
        return False

    def close(self) -> None:
        """Delete the subscription (failures are logged: it expires on its own)."""
        if self.current is not None:
            self._delete_quietly(self.current.id)
            self.current = None

    def _delete_quietly(self, subscription_id: str) -> None:
        try:
            self.client.delete_subscription(subscription_id)
        except NotFound:
            pass
        except RingFaxError as exc:  # cleanup must not hide the real outcome
            log.warning("could not delete subscription %s: %s", subscription_id, exc)
