"""The emulator's services, built once per running emulator and handed to the API layer."""

from __future__ import annotations

from dataclasses import dataclass

from ._auth import Auth
from ._clock import Clock
from ._config import EmulatorConfig
from ._faxes import FaxService
from ._inbound import InboundFaxes
from ._push import PushService
from ._ratelimit import RateLimiter
from ._store import Store
from ._sync import SyncService

__all__ = ["Services"]


@dataclass
class Services:
    """Everything a request handler may use: no handler reaches for a global or for the
    HTTP server object."""

    config: EmulatorConfig
    store: Store
    clock: Clock
    auth: Auth
    faxes: FaxService
    inbound: InboundFaxes
    sync: SyncService
    limiter: RateLimiter
    push: PushService

    @classmethod
    def create(cls, config: EmulatorConfig, store: Store, clock: Clock) -> Services:
        faxes = FaxService(store, config, clock)
        return cls(
            config=config,
            store=store,
            clock=clock,
            auth=Auth(store, config, clock),
            faxes=faxes,
            inbound=InboundFaxes(faxes),
            sync=SyncService(faxes),
            limiter=RateLimiter(config.rate_limits, clock, enabled=config.rate_limiting),
            push=PushService(config, store, clock, faxes),
        )
