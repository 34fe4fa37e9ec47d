"""Emulator configuration: credentials, token lifetimes, rate limits, strictness, timing."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = ["DEFAULT_SCENARIOS", "EmulatorConfig", "RateLimit", "Scenario"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class RateLimit:
    """One usage-plan group: ``limit`` requests per ``window`` seconds, then ``penalty`` s."""

    limit: int
    window: float = 60.0
    penalty: float = 60.0


@dataclass(frozen=True)
class Scenario:
    """What happens to a recipient whose number ends with a given suffix.

    ``fax_error_code``: None -> the fax is ``Sent``; otherwise ``SendingFailed`` with this
    ``faxErrorCode``. ``delay_factor`` scales the send delay. ``attempts_to_fail``: fail only
    the first N attempts (a resend chain counts attempts), 0 = always.
    """

    fax_error_code: str | None
    delay_factor: float = 1.0
    attempts_to_fail: int = 0


DEFAULT_SCENARIOS: dict[str, Scenario] = {
    "0001": Scenario("LineBusy"),
    "0002": Scenario("NoAnswer", delay_factor=2.0),
    "0003": Scenario("InvalidNumber", delay_factor=0.2),
    "0004": Scenario("AllLinesInUse"),
    "0005": Scenario("NoFaxMachine"),
    "0006": Scenario("LineBusy", attempts_to_fail=1),
    "0009": Scenario(None, delay_factor=10.0),
}
"""Scenario numbers, by the last four digits of the recipient's number:

======  ===============================================================
suffix  behaviour
======  ===============================================================
0001    ``SendingFailed``, ``faxErrorCode`` ``LineBusy``
0002    ``SendingFailed``, ``NoAnswer`` (after twice the usual delay)
0003    ``SendingFailed``, ``InvalidNumber`` (fails fast: 0.2 x delay)
0004    ``SendingFailed``, ``AllLinesInUse``
0005    ``SendingFailed``, ``NoFaxMachine``
0006    ``LineBusy`` on the first attempt, ``Sent`` when resent
0009    ``Sent``, but slowly (10 x the usual delay)
other   ``Sent`` (then ``Delivered`` when ``EmulatorConfig.delivered``)
======  ===============================================================
"""


def _default_limits() -> dict[str, RateLimit]:
    return {
        "Light": RateLimit(50),
        "Medium": RateLimit(40),
        "Heavy": RateLimit(10),
        "Auth": RateLimit(5),
    }


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything configurable about the emulator.

    Credentials (accepted by ``POST /restapi/oauth/token``):
        ``client_id``, ``client_secret`` (Basic client auth), ``jwt`` (the JWT assertion
        accepted by the jwt-bearer grant; any other assertion -> 400 ``invalid_grant``).
        ``account_id``/``extension_id``: the ids ``~`` stands for (both accepted in paths).
    Tokens:
        ``access_token_ttl`` (s, default 3600), ``refresh_token_ttl`` (s, default 604800),
        ``refresh_grace`` (s an already used refresh token keeps answering with the same new
        token pair, default 10).
    Rate limits:
        ``rate_limits``: group -> :class:`RateLimit` (Light 50, Medium 40, Heavy 10, Auth 5
        per 60 s window, 60 s penalty -- RingCentral's defaults); ``rate_limiting=False``
        disables counting (headers are still sent).
    Sizes:
        ``max_body_size`` (55 MiB gateway cap -> 413), ``max_attachment_size`` (50 MiB per
        attachment -> 400 MSG-337), ``max_message_size`` (50 MiB total -> 400 MSG-338),
        ``max_attachments`` (None = unlimited; RingCentral documents none), ``max_pages``
        (200 -> the fax fails with ``TooManyPages``).
    Strictness (the unknown server rules of docs/ringcentral.md §12), ``strict=True``:
        attachment parts need a Content-Disposition (400 MSG-350) with a ``filename``
        parameter, possibly empty (400 MSG-351); at least one attachment even with a cover page
        (400 CMN-101 ``attachment``); JSON-envelope ``to`` items must be objects (plain strings
        -> 400 CMN-101 ``to``); ``faxResolution`` must be exactly ``High``/``Low``; an
        attachment without filename extension must have a known media type
        (``application/octet-stream`` -> 415 MSG-348); base64 ``Content-Transfer-Encoding`` on
        a form-data file part -> 400 MSG-349. Lenient (default) accepts all of these.
    Timing (emulator clock):
        ``send_delay`` seconds from acceptance (or ``sendTime``) to the final status,
        plus ``page_delay`` per page; ``delivered``: a ``Sent`` recipient becomes
        ``Delivered`` ``delivered_delay`` seconds later.
    Scenarios:
        ``scenarios``: number suffix -> :class:`Scenario` (see :data:`DEFAULT_SCENARIOS`).
    Connections (real seconds, not the emulator clock; see :mod:`ringfax.emulator._httpd`):
        ``max_connections`` served at once (64), ``max_waiting_connections`` more accepted
        and queued (128; beyond: 503 + ``Retry-After``); ``idle_timeout`` for a request's
        first byte (30), ``header_timeout`` for the rest of its head (15), ``body_timeout``
        per body read / response write (60).
    Push notifications (``docs/push.md``; real seconds unless marked "emulator clock"):
        ``webhook_allowed_networks`` (the only addresses WebHooks are ever sent to;
        loopback), ``webhook_handshake_timeout`` (3), ``webhook_delivery_timeout`` (10),
        ``webhook_retry_delay`` (first retry after 1 s, doubling up to 60 s),
        ``webhook_blacklist_after`` (consecutive failed attempts, 10),
        ``webhook_queue_size`` (pending deliveries, 1000), ``max_subscriptions`` (30),
        ``ws_host``/``ws_port`` (WebSocket gateway, 127.0.0.1, 0 = any free port),
        ``ws_token_ttl`` (emulator clock, 30), ``ws_ping_interval`` (20),
        ``ws_ping_timeout`` (10), ``ws_idle_timeout`` (emulator clock, 1800),
        ``ws_absolute_timeout`` (emulator clock, 86400), ``ws_recovery_timeout``
        (emulator clock, 180), ``ws_recovery_buffer`` (100), ``push_poll_interval`` (how
        often timers and status changes are checked, 0.25).
    """

    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    jwt: str = "emulator-user-jwt"
    account_id: str = "401234567008"
    extension_id: str = "401234568008"
    owner_name: str = "Emulated User"
    from_number: str = "+16505550100"
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 604800
    refresh_grace: float = 10.0
    rate_limits: dict[str, RateLimit] = field(default_factory=_default_limits)
    rate_limiting: bool = True
    max_body_size: int = 55 * MIB
    max_attachment_size: int = 50 * MIB
    max_message_size: int = 50 * MIB
    max_attachments: int | None = None
    max_pages: int = 200
    strict: bool = False
    send_delay: float = 5.0
    page_delay: float = 0.0
    delivered: bool = False
    delivered_delay: float = 5.0
    scenarios: dict[str, Scenario] = field(default_factory=lambda: dict(DEFAULT_SCENARIOS))
    max_connections: int = 64
    max_waiting_connections: int = 128
    idle_timeout: float = 30.0
    header_timeout: float = 15.0
    body_timeout: float = 60.0
    webhook_allowed_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    webhook_handshake_timeout: float = 3.0
    webhook_delivery_timeout: float = 10.0
    webhook_retry_delay: float = 1.0
    webhook_blacklist_after: int = 10
    webhook_queue_size: int = 1000
    max_subscriptions: int = 30
    ws_host: str = "127.0.0.1"
    ws_port: int = 0
    ws_token_ttl: float = 30.0
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 10.0
    ws_idle_timeout: float = 1800.0
    ws_absolute_timeout: float = 86400.0
    ws_recovery_timeout: float = 180.0
    ws_recovery_buffer: int = 100
    push_poll_interval: float = 0.25

    def __post_init__(self) -> None:
        positive = (
            "max_connections",
            "idle_timeout",
            "header_timeout",
            "body_timeout",
            "webhook_handshake_timeout",
            "webhook_delivery_timeout",
            "webhook_retry_delay",
            "webhook_blacklist_after",
            "webhook_queue_size",
            "max_subscriptions",
            "ws_token_ttl",
            "ws_ping_interval",
            "ws_ping_timeout",
            "ws_idle_timeout",
            "ws_absolute_timeout",
            "ws_recovery_timeout",
            "ws_recovery_buffer",
            "push_poll_interval",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"EmulatorConfig.{name} must be a positive number, not {value!r}")
        waiting = self.max_waiting_connections
        if isinstance(waiting, bool) or not isinstance(waiting, int) or waiting < 0:
            raise ValueError(
                f"EmulatorConfig.max_waiting_connections must be an int >= 0, not {waiting!r}"
            )
        networks: object = self.webhook_allowed_networks
        if isinstance(networks, str) or not isinstance(networks, tuple | list):
            raise ValueError(
                "EmulatorConfig.webhook_allowed_networks must be a tuple of networks, "
                f"not {networks!r}"
            )
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except (TypeError, ValueError):
                raise ValueError(
                    f"EmulatorConfig.webhook_allowed_networks: {network!r} is not an IP network"
                ) from None
