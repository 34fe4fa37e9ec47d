"""WebHook transport: the validation handshake and event deliveries (docs/push.md).

Only addresses inside ``EmulatorConfig.webhook_allowed_networks`` (loopback by default)
are ever contacted: the host of a WebHook address must be an IP literal in those networks
or ``localhost`` (mapped to 127.0.0.1); names are never resolved, so nothing leaves the
machine. Requests are plain HTTP/1.1 over a raw socket with ``Connection: close``, so the
size of the receiver's whole answer (status line, headers and body) is counted exactly.

Deliveries run on one background thread fed by a bounded queue: publishing an event costs
the API request that caused it one queue entry (the thread finds the subscriptions and
builds the notifications); a full queue drops the event or delivery and logs it. A
failed attempt (connection error, timeout, any status but 200) is retried after
``webhook_retry_delay`` seconds, doubling up to 60 s; after ``webhook_blacklist_after``
consecutive failed attempts the subscription is ``Blacklisted`` and receives nothing more.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._config import EmulatorConfig
from ._errors import ApiError, cmn101

__all__ = ["USER_AGENT", "WebhookDeliverer", "allowed_target", "handshake", "post_json"]

log = logging.getLogger("ringfax.emulator")

USER_AGENT = "RingCentral-Webhook/8.3"
HANDSHAKE_MAX_BYTES = 1024
MAX_ANSWER_BYTES = 64 * 1024
MAX_RETRY_DELAY = 60.0


@dataclass(frozen=True)
class Target:
    """Where a WebHook goes: an allowed IP, its port, and the request-target."""

    host: str
    port: int
    path: str
    host_header: str


def allowed_target(address: object, config: EmulatorConfig) -> Target:
    """Parse a WebHook address and check it against the allow-list; 400 ``CMN-101``
    (``deliveryMode.address``) for anything else (https included: no TLS here)."""
    if not isinstance(address, str) or not address or len(address) > 2048:
        raise cmn101("deliveryMode.address", str(address))
    url = urlsplit(address)
    try:
        port = url.port or 80
    except ValueError:
        raise cmn101("deliveryMode.address", address) from None
    host = url.hostname or ""
    if url.scheme != "http" or not host or url.username or url.password:
        raise cmn101("deliveryMode.address", address)
    try:
        ip = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        raise cmn101("deliveryMode.address", address) from None
    networks = [ipaddress.ip_network(n, strict=False) for n in config.webhook_allowed_networks]
    if not any(ip.version == n.version and ip in n for n in networks):
        raise cmn101("deliveryMode.address", address)
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return Target(str(ip), port, path, url.netloc.rpartition("@")[2])


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    size: int


class AnswerInvalid(Exception):
    """The receiver's answer could not be read (closed, timed out, too big, garbled)."""


def _exchange(
    target: Target, headers: dict[str, str], body: bytes, timeout: float, limit: int
) -> Answer:
    """POST ``body`` and read the answer until the connection closes or its
    Content-Length is complete; the whole exchange within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    request = "\r\n".join(lines).encode("latin-1") + body
    received = bytearray()
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
            sock.sendall(request)
            head_end = -1
            want: int | None = None
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AnswerInvalid("Read timed out")
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
                if len(received) > limit:
                    raise AnswerInvalid(f"answer longer than {limit} bytes")
                if head_end < 0:
                    head_end = received.find(b"\r\n\r\n")
                    if head_end >= 0:
                        want = _content_length(bytes(received[:head_end]))
                if want is not None and len(received) >= head_end + 4 + want:
                    break
    except TimeoutError:
        raise AnswerInvalid("Read timed out") from None
    except OSError as exc:
        raise AnswerInvalid(exc.strerror or str(exc)) from None
    head_end = received.find(b"\r\n\r\n")
    if head_end < 0:
        raise AnswerInvalid("incomplete answer")
    head = bytes(received[:head_end]).decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise AnswerInvalid("not an HTTP answer")
    fields: dict[str, str] = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return Answer(int(parts[1]), fields, len(received))


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def handshake(target: Target, token: str, timeout: float) -> None:
    """The creation handshake: 200 within ``timeout``, ``Validation-Token`` echoed, whole
    answer at most 1,024 bytes; else 400 ``SUB-525``."""
    headers = {
        "Validation-Token": token,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        answer = _exchange(target, headers, b"", timeout, HANDSHAKE_MAX_BYTES)
        ok = answer.status == 200 and answer.headers.get("validation-token") == token
    except AnswerInvalid as exc:
        log.info("WebHook handshake with %s failed: %s", target.host_header, exc)
        ok = False
    if not ok:
        raise ApiError(400, "SUB-525", "WebHook server response is invalid")


def post_json(
    target: Target, payload: dict[str, Any], verification_token: str | None, timeout: float
) -> str | None:
    """Deliver one event; None on success (200), else why it failed."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if verification_token:
        headers["Verification-Token"] = verification_token
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        answer = _exchange(target, headers, body, timeout, MAX_ANSWER_BYTES)
    except AnswerInvalid as exc:
        return str(exc)
    return None if answer.status == 200 else f"HTTP status {answer.status}"


@dataclass
class _Job:
    """One delivery, or (``event`` set) an event still to be expanded into deliveries."""

    subscription_id: str = ""
    payload: dict[str, Any] | None = None
    attempt: int = 0
    event: object = None


Lookup = Callable[[str], "tuple[Target, str | None] | None"]
Blacklist = Callable[[str, str], None]
Expand = Callable[[Any], "list[tuple[str, dict[str, Any]]]"]


class WebhookDeliverer:
    """The delivery thread (see the module docstring). ``expand(event)`` turns a published
    event into ``(subscription id, payload)`` deliveries (on this thread, so publishing
    costs the caller one queue entry); ``lookup(id)`` gives the current target and
    verification token of an active subscription (None: skip the job);
    ``blacklist(id, reason)`` is called once a subscription fails too often."""

    def __init__(
        self, config: EmulatorConfig, expand: Expand, lookup: Lookup, blacklist: Blacklist
    ) -> None:
        self._config = config
        self._expand = expand
        self._lookup = lookup
        self._blacklist = blacklist
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Job]] = []
        self._order = itertools.count()
        self._failures: dict[str, int] = {}
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
        self._thread.start()

    def submit(self, event: object) -> bool:
        """Queue an event for expansion and delivery; False (dropped, logged) when the
        queue is full."""
        return self._push(_Job(event=event), time.monotonic())

    def _push(self, job: _Job, ready: float) -> bool:
        with self._cond:
            if len(self._heap) >= self._config.webhook_queue_size:
                what = job.subscription_id or "an event"
                log.warning("WebHook queue full: delivery for %s dropped", what)
                return False
            heapq.heappush(self._heap, (ready, next(self._order), job))
            self._cond.notify()
        return True

    def idle(self) -> bool:
        """Nothing queued or in flight (tests)."""
        with self._cond:
            return not self._heap and not self._busy

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
        self._thread.join(self._config.webhook_delivery_timeout + 1)

    def _next(self) -> _Job | None:
        with self._cond:
            while not self._closed:
                if self._heap:
                    ready = self._heap[0][0] - time.monotonic()
                    if ready <= 0:
                        self._busy = True
                        return heapq.heappop(self._heap)[2]
                    self._cond.wait(ready)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            try:
                if job.event is not None:
                    now = time.monotonic()
                    for sub_id, payload in self._expand(job.event):
                        self._push(_Job(sub_id, payload), now)
                else:
                    self._deliver(job)
            except Exception:  # pragma: no cover - a bug; keep the thread alive
                log.exception("WebHook delivery failed")
            finally:
                with self._cond:
                    self._busy = False

    def _deliver(self, job: _Job) -> None:
        found = self._lookup(job.subscription_id)
        if found is None:
            return
        target, token = found
        if job.payload is None:  # pragma: no cover - deliveries always carry one
            return
        reason = post_json(target, job.payload, token, self._config.webhook_delivery_timeout)
        sub = job.subscription_id
        if reason is None:
            self._failures.pop(sub, None)
            return
        failures = self._failures.get(sub, 0) + 1
        self._failures[sub] = failures
        log.info("WebHook delivery to %s failed (%d in a row): %s", sub, failures, reason)
        if failures >= self._config.webhook_blacklist_after:
            self._failures.pop(sub, None)
            self._blacklist(sub, reason)
            with self._cond:  # drop what is still queued for it
                self._heap = [e for e in self._heap if e[2].subscription_id != sub]
                heapq.heapify(self._heap)
            return
        delay = min(MAX_RETRY_DELAY, self._config.webhook_retry_delay * 2**job.attempt)
        job.attempt += 1
        with self._cond:
            if not self._closed:
                heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), job))
                self._cond.notify()
