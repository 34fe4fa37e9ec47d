"""Push notifications: the subscription operations behind the REST endpoints, the events
(inbound faxes, message-store changes) and their fan-out to WebHooks and the WebSocket
gateway (docs/push.md).

Events come from the API handlers (a fax sent, received, marked read/unread, deleted or
restored) and from a watcher thread that notices, every ``push_poll_interval`` real
seconds, outbound recipients whose status changed on the emulator clock (``Sent``,
``SendingFailed``, ``Delivered``): status progression is computed from stored times, so
nothing else would notice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ._clock import Clock, format_time
from ._config import EmulatorConfig
from ._errors import ApiError, cmn101, cmn102
from ._faxes import FaxService
from ._rows import FaxRow
from ._store import Store
from ._subscriptions import (
    FaxEvent,
    Subscription,
    SubscriptionStore,
    expires_in_of,
    limit_reached,
    new_id,
    parse_filters,
    renewed,
)
from ._webhook import Target, WebhookDeliverer, allowed_target, handshake

if TYPE_CHECKING:
    from ._wsgateway import WebSocketGateway

__all__ = ["PushService"]

log = logging.getLogger("ringfax.emulator")

MAX_VERIFICATION_TOKEN = 1024


class PushService:
    """Subscriptions and event delivery; :meth:`start` binds the WebSocket gateway and
    starts the delivery and watcher threads, :meth:`stop` ends them."""

    def __init__(
        self, config: EmulatorConfig, store: Store, clock: Clock, faxes: FaxService
    ) -> None:
        self.config = config
        self.clock = clock
        self.faxes = faxes
        self.store = store
        self.subscriptions = SubscriptionStore(store, config)
        self._gateway: WebSocketGateway | None = None
        self.base_url = "http://127.0.0.1"
        self._webhooks: WebhookDeliverer | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._watched_until = clock.now()

    def start(self, base_url: str) -> None:
        self.base_url = base_url
        try:
            from ._wsgateway import WebSocketGateway
        except ImportError:  # the optional ``websockets`` package is missing
            log.info("WebSocket gateway disabled: the websockets package is not installed")
        else:
            gateway = WebSocketGateway(self.config, self.clock, self.notifications)
            gateway.start()
            self._gateway = gateway
        self._webhooks = WebhookDeliverer(
            self.config, self._deliveries, self._target_of, self._blacklist
        )
        self._watched_until = self.clock.now()
        self._watcher = threading.Thread(target=self._watch, name="emulator-push", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(10)
            self._watcher = None
        if self._webhooks is not None:
            self._webhooks.close()
            self._webhooks = None
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None

    @property
    def gateway(self) -> WebSocketGateway | None:
        """The running WebSocket gateway; None without the ``websockets`` package."""
        return self._gateway

    # -- REST operations --------------------------------------------------------------------

    def create(self, owner: str, body: Any, base: str) -> dict[str, Any]:
        """``POST /restapi/v1.0/subscription`` (WebHook): validate, handshake, store."""
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        filters = parse_filters(body.get("eventFilters"), self.config)
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict) or mode.get("transportType") != "WebHook":
            value = mode.get("transportType") if isinstance(mode, dict) else None
            raise cmn101("deliveryMode.transportType", None if value is None else str(value))
        address = mode.get("address")
        target = allowed_target(address, self.config)
        token = mode.get("verificationToken")
        if token is not None and (
            not isinstance(token, str) or len(token) > MAX_VERIFICATION_TOKEN
        ):
            raise cmn101("deliveryMode.verificationToken")
        expires_in = expires_in_of(body.get("expiresIn"))
        limit = self.config.max_subscriptions
        if self.subscriptions.count(owner, self.clock.now()) >= limit:
            raise limit_reached(limit)
        handshake(target, new_id(), self.config.webhook_handshake_timeout)
        now = self.clock.now()
        sub = Subscription(
            id=new_id(),
            owner=owner,
            filters=filters,
            transport="WebHook",
            address=str(address),
            verification_token=token,
            expires_in=expires_in,
            creation=now,
            expiration=now + expires_in,
        )
        if not self.subscriptions.insert(sub, limit):
            raise limit_reached(limit)
        return sub.info(base, now)

    def list_all(self, owner: str, base: str) -> dict[str, Any]:
        now = self.clock.now()
        records = self.subscriptions.select(owner, now)[: self.config.max_subscriptions]
        return {
            "uri": f"{base}/restapi/v1.0/subscription",
            "records": [s.info(base, now) for s in records],
        }

    def _owned(self, owner: str, sub_id: str) -> Subscription:
        sub = self.subscriptions.get(sub_id, self.clock.now())
        if sub is None or sub.owner != owner:
            raise cmn102("subscriptionId", sub_id)
        return sub

    def get(self, owner: str, sub_id: str, base: str) -> dict[str, Any]:
        return self._owned(owner, sub_id).info(base, self.clock.now())

    def update(self, owner: str, sub_id: str, body: Any, base: str) -> dict[str, Any]:
        """``PUT …/subscription/{id}``: an empty body renews; otherwise new
        ``eventFilters``/``expiresIn``/``deliveryMode`` (a new address is handshaken)."""
        sub = self._owned(owner, sub_id)
        if body is None or body == {}:
            return self.renew(owner, sub_id, base)
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        if "eventFilters" in body:
            sub = replace(sub, filters=parse_filters(body["eventFilters"], self.config))
        if "expiresIn" in body:
            sub = replace(sub, expires_in=expires_in_of(body["expiresIn"]))
        mode = body.get("deliveryMode")
        if isinstance(mode, dict):
            address = mode.get("address", sub.address)
            target = allowed_target(address, self.config)
            if address != sub.address:
                handshake(target, new_id(), self.config.webhook_handshake_timeout)
            token = mode.get("verificationToken", sub.verification_token)
            if token is not None and not isinstance(token, str):
                raise cmn101("deliveryMode.verificationToken")
            sub = replace(sub, address=str(address), verification_token=token)
        now = self.clock.now()
        sub = renewed(sub, now)
        if not self.subscriptions.save(sub):
            raise cmn102("subscriptionId", sub_id)
        return sub.info(base, now)

    def renew(self, owner: str, sub_id: str, base: str) -> dict[str, Any]:
        now = self.clock.now()
        sub = renewed(self._owned(owner, sub_id), now)
        if not self.subscriptions.save(sub):
            raise cmn102("subscriptionId", sub_id)
        return sub.info(base, now)

    def delete(self, owner: str, sub_id: str) -> None:
        self._owned(owner, sub_id)
        if not self.subscriptions.delete(sub_id):
            raise cmn102("subscriptionId", sub_id)

    # -- events -----------------------------------------------------------------------------

    def fax_changed(self, kind: str, row: FaxRow) -> None:
        """A fax was created (``new``) or changed (``updated``): notify subscribers."""
        record: dict[str, Any] = {}
        if kind == "new" and row.direction == "Inbound":
            record = self.faxes.render(row, self.base_url, store_style=True)
        self.publish(FaxEvent(kind, row.direction, row.id, record, self.clock.now()))

    def publish(self, event: FaxEvent) -> None:
        """Hand an event to the WebHook thread and the gateway: one queue entry each, never
        a wait for a receiver."""
        if self._webhooks is not None:
            self._webhooks.submit(event)
        if self._gateway is not None:
            self._gateway.publish(event)

    def _deliveries(self, event: FaxEvent) -> list[tuple[str, dict[str, Any]]]:
        """Every active WebHook subscription's notifications for ``event``."""
        out: list[tuple[str, dict[str, Any]]] = []
        for sub in self.subscriptions.select(None, self.clock.now()):
            if sub.status == "Active":
                out += [(sub.id, payload) for payload in self.notifications(sub, event)]
        return out

    def notifications(self, sub: Subscription, event: FaxEvent) -> list[dict[str, Any]]:
        """What ``sub`` gets for ``event``: one notification per matching event kind (the
        inbound-fax event and the message-store event are separate), none if no filter
        matches."""
        cfg = self.config
        now = event.at
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for matched in sub.wants(event):
            if matched.resource in seen:
                continue
            seen.add(matched.resource)
            body: dict[str, Any]
            if matched.resource == "fax":
                body = event.record
            else:
                new = event.kind == "new"
                body = {
                    "accountId": cfg.account_id,
                    "extensionId": cfg.extension_id,
                    "lastUpdated": format_time(now),
                    "changes": [
                        {
                            "type": "Fax",
                            "newCount": 1 if new else 0,
                            "updatedCount": 0 if new else 1,
                            "newMessageIds": [event.fax_id] if new else [],
                        }
                    ],
                }
            out.append(
                {
                    "uuid": new_id(),
                    "event": matched.event_name(cfg),
                    "timestamp": format_time(now),
                    "subscriptionId": sub.id,
                    "ownerId": cfg.extension_id,
                    "body": body,
                }
            )
        return out

    def _target_of(self, sub_id: str) -> tuple[Target, str | None] | None:
        sub = self.subscriptions.get(sub_id, self.clock.now())
        if sub is None or sub.status != "Active" or sub.address is None:
            return None
        return allowed_target(sub.address, self.config), sub.verification_token

    def _blacklist(self, sub_id: str, reason: str) -> None:
        text = f"I/O operation is failed. Details: [{reason}]"
        self.subscriptions.blacklist(sub_id, self.clock.now(), text)
        log.warning("subscription %s blacklisted: %s", sub_id, text)

    def _watch(self) -> None:
        while not self._stop.wait(self.config.push_poll_interval):
            try:
                self._check_statuses()
            except Exception:  # pragma: no cover - a bug; keep watching
                log.exception("push status watcher")

    def _check_statuses(self) -> None:
        since, until = self._watched_until, self.clock.now()
        if until <= since:
            return
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT DISTINCT r.fax_id FROM recipients r JOIN faxes f ON f.id = r.fax_id "
                "WHERE f.direction = 'Outbound' AND f.availability = 'Alive' AND "
                "((r.done_at > ? AND r.done_at <= ?) OR "
                "(r.delivered_at > ? AND r.delivered_at <= ?)) ORDER BY r.fax_id",
                (since, until, since, until),
            ).fetchall()
        self._watched_until = until
        for (fax_id,) in rows:
            self.publish(FaxEvent("updated", "Outbound", int(fax_id), {}, until))
