"""The request pipeline: one logical API call = pacing, auth header, body (rebuilt for every
attempt), transport, 401 refresh, retries and the "maybe sent" rule of fax POSTs.

:class:`Pipeline` holds what every call shares (transport, auth, rate-limit state, clock);
:class:`Call` describes one call, including its rate-limit group, which the caller names
(``"auth"``, ``"heavy"``, ``"medium"``, ``"light"``: RingCentral's usage-plan groups,
docs/ringfax-limits.md) instead of the pipeline guessing it from the URL.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from mimewire import MimeWireError

from ._auth import Auth
from ._errors import (
    APIError,
    FaxMaybeSentError,
    TransportError,
    ValidationError,
    bounded_wait,
    error_from_response,
    parse_retry_after,
    redact_url,
)
from ._models import RateLimitInfo
from ._ratelimit import RateLimitPacer, describe_wait
from ._retry import (
    Decision,
    RetryPolicy,
    decide_after_status,
    decide_after_transport_error,
    fax_post_maybe_sent,
)
from ._transport import MAX_BUFFERED_BODY, Body, Request, Response, Transport

__all__ = [
    "MAX_JSON_ANSWER",
    "BodyFactory",
    "Call",
    "Pipeline",
    "WaitCallback",
    "WaitReason",
    "json_object",
    "read_json",
]

log = logging.getLogger("ringfax")

MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error answer read for its message."""

MAX_JSON_ANSWER = MAX_BUFFERED_BODY
"""Largest JSON answer read (bytes); a larger one is an :class:`APIError` "unreadable JSON"."""

WaitCallback = Callable[[float, str], None]
"""``on_wait(seconds, reason)``: told about every wait over 1 s the client imposes itself."""


class WaitReason(str):
    """The ``reason`` handed to ``on_wait``: readable text, and what it is made of.

    ``kind`` is ``"rate limit"`` (pacing, or a 429's wait; ``group`` names the usage-plan
    group, e.g. ``"Heavy"``) or ``"retry"`` (a backoff after a failure; ``cause`` says what
    failed, e.g. ``"GET https://…: HTTP 503"``).
    """

    kind: str
    group: str | None
    cause: str | None

    def __new__(
        cls, text: str, *, kind: str, group: str | None = None, cause: str | None = None
    ) -> WaitReason:
        reason = super().__new__(cls, text)
        reason.kind = kind
        reason.group = group
        reason.cause = cause
        return reason


def rate_limit_reason(group: str, seconds: float) -> WaitReason:
    """The reason of a wait on the rate limit of ``group``."""
    name = group[:1].upper() + group[1:] if group else "unknown"
    return WaitReason(describe_wait(group, seconds), kind="rate limit", group=name)


BodyFactory = Callable[[], tuple[Body, "int | None", str]]
"""Builds a fresh ``(body, length or None, content type)`` for each attempt."""

Credentials = Literal["bearer", "basic", "none"]


@dataclass(frozen=True)
class Call:
    """One logical API call.

    ``group``: the rate-limit group it counts against. Exactly one body source may be given:
    ``json_body``, ``form`` or ``body`` (a factory, called once per attempt). ``replayable``:
    the factory can produce the same bytes again (else a failed attempt is not retried).
    ``fax_post``: a fax POST, which is never sent twice (a failure after its body may have
    reached the server is :class:`FaxMaybeSentError`). ``credentials``: the bearer token,
    the app's Basic credentials (token endpoint, revoke) or none.
    """

    method: str
    url: str
    group: str
    idempotent: bool
    json_body: Any = None
    form: Mapping[str, str] | None = None
    body: BodyFactory | None = None
    replayable: bool = True
    fax_post: bool = False
    stream: bool = False
    credentials: Credentials = "bearer"
    retry: RetryPolicy | None = None

    def render(self) -> tuple[Body, int | None, str | None]:
        """This attempt's body, its length and content type (None, None, None: no body)."""
        if self.body is not None:
            return self.body()
        if self.json_body is not None:
            data = json.dumps(self.json_body, separators=(",", ":")).encode("utf-8")
            return data, len(data), "application/json"
        if self.form is not None:
            data = urllib.parse.urlencode(self.form).encode("ascii")
            return data, len(data), "application/x-www-form-urlencoded"
        return None, None, None


class Pipeline:
    """Runs :class:`Call` values; thread-safe as far as its transport and auth are.

    ``clock`` is epoch seconds, ``sleep`` and ``rand`` are injectable for tests. The last
    rate-limit report per group is kept in :attr:`rate_limits` (and the last one of any group
    in :attr:`last_rate_limit`), the last ``RCRequestId`` in :attr:`last_request_id`.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        timeout: tuple[float, float],
        user_agent: str,
        retry: RetryPolicy,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rand: Callable[[], float],
        basic: str | None = None,
        on_wait: WaitCallback | None = None,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.user_agent = user_agent
        self.retry = retry
        self.clock = clock
        self.sleep = sleep
        self.rand = rand
        self.basic = basic
        self.on_wait = on_wait
        self.auth: Auth | None = None
        self.pacer = RateLimitPacer(clock)
        self.rate_limits: dict[str, RateLimitInfo] = {}
        self.last_rate_limit: RateLimitInfo | None = None
        self.last_request_id: str | None = None

    # ------------------------------------------------------------------ waiting

    def wait(self, seconds: float, reason: str) -> None:
        """Sleep ``seconds``; tell ``on_wait`` first when it is over a second."""
        if seconds <= 0:
            return
        if seconds > 1.0 and self.on_wait is not None:
            self.on_wait(seconds, reason)
        log.info("waiting %.3g s: %s", seconds, reason)
        self.sleep(seconds)

    def _pace(self, group: str, budget: float) -> float:
        """Wait out an exhausted rate-limit group before sending; returns the seconds waited.

        :class:`~ringfax.RateLimited` (nothing sent) when the wait exceeds ``budget``, the part
        of ``RetryPolicy.max_total_wait`` the call has left. The first call loads the pacing
        state other processes left in the token cache (see docs/ringfax-limits.md)."""
        self.pacer.attach_for(self.auth)
        delay = self.pacer.delay(group)
        if delay > budget:
            raise self.pacer.over_budget(group, delay, budget)
        if delay > 0:
            self.wait(delay, rate_limit_reason(group, delay))
        return max(0.0, delay)

    def _rate_limit_wait(self, group: str, error: APIError, response: Response) -> float | None:
        """How long a 429 asks to wait: Retry-After, else the window (None: policy default)."""
        retry_after = bounded_wait(getattr(error, "retry_after", None))
        if retry_after is not None:
            return retry_after
        info = RateLimitInfo.from_headers(response.headers)
        window = bounded_wait(info.window) if info is not None else None
        if window:
            return window
        return self.pacer.window_of(group)

    def _record(self, documented: str, response: Response) -> None:
        info = RateLimitInfo.from_headers(response.headers)
        if info is not None:
            self.last_rate_limit = info
            self.rate_limits[(info.group or "").lower()] = info
            if response.status == 429:
                # the 429's own wait decides (Retry-After / window); keep only the window
                info = dataclasses.replace(info, remaining=None)
            self.pacer.observe(documented, info)
        self.last_request_id = response.headers.get("RCRequestId")

    # ------------------------------------------------------------------ the call

    def _headers(self, call: Call) -> tuple[dict[str, str], str | None]:
        accept = "*/*" if call.stream else "application/json"  # downloads are PDF/TIFF
        headers = {"Accept": accept, "User-Agent": self.user_agent}
        used_token: str | None = None
        if call.credentials == "bearer":
            if self.auth is None:
                raise ValidationError("the client has no credentials")
            used_token = self.auth.access_token()
            headers["Authorization"] = f"Bearer {used_token}"
        elif call.credentials == "basic" and self.basic:
            headers["Authorization"] = self.basic
        return headers, used_token

    def run(self, call: Call) -> Response:
        """Send ``call`` until it succeeds (2xx, returned) or the retry policy gives up
        (the mapped :class:`~ringfax.APIError` / :class:`~ringfax.TransportError` raised)."""
        policy = call.retry or self.retry
        method, url = call.method, call.url
        group = self.pacer.group_of(call.group)
        retryable_body = call.replayable or call.body is None
        attempt = 0
        waited = 0.0
        renewed = False
        while True:
            attempt += 1
            waited += self._pace(group, policy.max_total_wait - waited)
            headers, used_token = self._headers(call)
            body, length, content_type = call.render()
            if content_type is not None:
                headers["Content-Type"] = content_type
            request = Request(
                method, url, headers, body, length, stream=call.stream, timeout=self.timeout
            )
            started = self.clock()
            log.debug("-> %s %s (attempt %d)", method, redact_url(url), attempt)
            try:
                response = self.transport.send(request)
            except MimeWireError as exc:
                # a body source misbehaved mid-stream (e.g. an iterable yielded more or fewer
                # bytes than declared): the body was cut short, so the server cannot accept it
                raise ValidationError(f"request body aborted: {exc}") from exc
            except TransportError as exc:
                if call.fax_post and exc.sent:
                    raise FaxMaybeSentError(
                        exc.message, attempted_at=_utc(started), cause=exc
                    ) from exc
                decision = decide_after_transport_error(
                    policy,
                    sent=exc.sent,
                    attempt=attempt,
                    waited=waited,
                    idempotent=call.idempotent,
                    rand=self.rand(),
                )
                log.info("%s %s: %s", method, redact_url(url), decision.reason)
                if not decision.retry or not retryable_body:
                    raise
                self.wait(decision.delay, _retry_reason(method, url, decision))
                waited += decision.delay
                continue
            self._record(call.group, response)
            log.debug(
                "<- %s %s %d (RCRequestId %s)",
                method,
                redact_url(url),
                response.status,
                self.last_request_id,
            )
            if 200 <= response.status < 300:
                return response
            error = error_from_response(
                response.status, response.headers, response.read(MAX_ERROR_BODY), now=self.clock()
            )
            if response.status < 400:  # 1xx/3xx: never followed, never taken as success
                if call.fax_post:
                    raise FaxMaybeSentError(
                        f"the server answered {error}", attempted_at=_utc(started), cause=error
                    ) from error
                raise error
            if (
                response.status == 401
                and used_token is not None
                and self.auth is not None
                and not renewed
                and retryable_body
                and self.auth.handle_unauthorized(used_token, error)
            ):
                renewed = True
                attempt -= 1  # the renewal retry does not count against max_attempts
                continue
            if call.fax_post and fax_post_maybe_sent(response.status):
                raise FaxMaybeSentError(
                    f"the server answered {error}", attempted_at=_utc(started), cause=error
                ) from error
            limited = response.status == 429
            decision = decide_after_status(
                policy,
                status=response.status,
                attempt=attempt,
                waited=waited,
                idempotent=call.idempotent,
                retry_after=self._rate_limit_wait(group, error, response)
                if limited
                else parse_retry_after(response.headers.get("Retry-After"), self.clock()),
                rand=self.rand(),
            )
            log.info("%s %s: %s", method, redact_url(url), decision.reason)
            if limited:
                wait = self._rate_limit_wait(group, error, response)
                self.pacer.block(group, policy.rate_limit_default if wait is None else wait)
            if not decision.retry or not retryable_body:
                raise error
            if limited:
                reason = rate_limit_reason(group, decision.delay)
            else:
                reason = _retry_reason(method, url, decision)
            self.wait(decision.delay, reason)
            waited += decision.delay


def _retry_reason(method: str, url: str, decision: Decision) -> WaitReason:
    where = f"{method} {redact_url(url)}"
    return WaitReason(
        f"{where}: {decision.reason}", kind="retry", cause=f"{where}: {decision.cause}"
    )


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def read_json(response: Response) -> Any:
    """The answer's JSON (None for an empty body); :class:`APIError` "unreadable JSON" for
    anything that is not JSON, nested too deeply, or larger than :data:`MAX_JSON_ANSWER`."""
    data = response.read(MAX_JSON_ANSWER + 1)
    if len(data) > MAX_JSON_ANSWER:
        raise APIError(
            response.status,
            f"unreadable JSON in the answer: larger than {MAX_JSON_ANSWER} bytes",
        )
    if not data.strip():
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise APIError(
            response.status, "unreadable JSON in the answer: nested too deeply"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise APIError(response.status, f"unreadable JSON in the answer: {exc}") from None


def json_object(response: Response) -> Mapping[str, Any]:
    """The answer's JSON object; :class:`APIError` for anything else."""
    data = read_json(response)
    if not isinstance(data, Mapping):
        raise APIError(response.status, "expected a JSON object in the answer")
    return data
