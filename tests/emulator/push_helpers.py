"""Helpers for the push tests: a WebHook receiver on 127.0.0.1 whose behaviour each test
sets, and a fast push configuration (every timer scaled down; all loops bounded)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ringfax.emulator import EmulatorConfig

SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"
INBOUND_FILTER = "/restapi/v1.0/account/~/extension/~/fax?direction=Inbound"
STORE_FILTER = "/restapi/v1.0/account/~/extension/~/message-store"
WAIT = 10.0  # upper bound for anything asynchronous; tests never wait this long when green


def push_config(**overrides: Any) -> EmulatorConfig:
    """Rate limits off, timers in milliseconds."""
    values: dict[str, Any] = {
        "rate_limiting": False,
        "send_delay": 30.0,
        "webhook_handshake_timeout": 1.0,
        "webhook_delivery_timeout": 1.0,
        "webhook_retry_delay": 0.01,
        "webhook_blacklist_after": 3,
        "push_poll_interval": 0.02,
        "ws_ping_interval": 5.0,
        "ws_ping_timeout": 5.0,
    }
    values.update(overrides)
    return EmulatorConfig(**values)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    """How the receiver answers: ``status`` for events, whether it echoes the validation
    token (``echo``, or a fixed wrong value), a ``delay`` and ``padding`` bytes of body."""

    status: int = 200
    echo: bool = True
    wrong_echo: str | None = None
    delay: float = 0.0
    padding: int = 0
    handshake_status: int = 200
    gate: threading.Event | None = None  # events wait (at most WAIT s) until it is set


@dataclass
class Receiver:
    """A WebHook endpoint. ``handshakes`` and ``events`` collect what arrived."""

    behaviour: Behaviour = field(default_factory=Behaviour)
    handshakes: queue.Queue[Received] = field(default_factory=queue.Queue)
    events: queue.Queue[Received] = field(default_factory=queue.Queue)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def next_event(self, timeout: float = WAIT) -> Received:
        return self.events.get(timeout=timeout)


def start_receiver(behaviour: Behaviour | None = None) -> Receiver:
    receiver = Receiver(behaviour or Behaviour())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            b = receiver.behaviour
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            got = Received({k.lower(): v for k, v in self.headers.items()}, data)
            token = self.headers.get("Validation-Token")
            if b.delay:
                time.sleep(b.delay)
            body = b"x" * b.padding
            if token is not None:
                receiver.handshakes.put(got)
                self.send_response(b.handshake_status)
                if b.wrong_echo is not None:
                    self.send_header("Validation-Token", b.wrong_echo)
                elif b.echo:
                    self.send_header("Validation-Token", token)
            else:
                receiver.events.put(got)
                if b.gate is not None:
                    b.gate.wait(WAIT)
                self.send_response(b.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    receiver.server = server
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    if receiver.server is not None:
        receiver.server.shutdown()
        receiver.server.server_close()


def subscription_body(address: str, **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "eventFilters": [INBOUND_FILTER, STORE_FILTER],
        "deliveryMode": {"transportType": "WebHook", "address": address},
    }
    for key, value in extra.items():
        if key == "verificationToken":
            body["deliveryMode"]["verificationToken"] = value
        else:
            body[key] = value
    return json.dumps(body).encode()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll ``condition`` every 10 ms for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
