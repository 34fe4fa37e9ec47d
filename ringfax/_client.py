"""``FaxClient``: credentials, settings and sending (send, resend, build a fax body, revoke);
the message-store calls (status, wait, list, sync, read status, cancel, delete, download,
cover pages) come from :class:`~ringfax._messages.MessageStore`, the push subscription calls
from :class:`~ringfax._subscriptions.SubscriptionCalls`."""

from __future__ import annotations

import base64
import logging
import os
import random
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from mimewire import MultipartBody, __version__

from ._auth import Auth, JWTAuth, StaticTokenAuth, TokenCacheLike
from ._errors import (
    APIError,
    AuthError,
    FaxMaybeSentError,
    RingFaxError,
    TransportError,
    ValidationError,
)
from ._faxbody import (
    AttachmentLike,
    FaxRequest,
    ProgressCallback,
    WireFormat,
    fax_request,
    prepare_fax,
    progress,
    render_body,
)
from ._messages import MessageStore
from ._models import (
    FaxMessage,
    RateLimitInfo,
    Recipient,
)
from ._pipeline import Call, Pipeline, WaitCallback, json_object, read_json
from ._retry import RetryPolicy
from ._subscriptions import SubscriptionCalls
from ._tokencache import cache_key
from ._transport import Body, Response, Transport, Urllib3Transport
from ._validation import check_send_time, normalize_recipients

__all__ = ["ENV_VARS", "FaxClient", "WireFormat"]

log = logging.getLogger("ringfax")

ENV_VARS = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT")
"""The environment variables :meth:`FaxClient.from_env` reads (RingCentral quick-start names)."""


class FaxClient(MessageStore, SubscriptionCalls):
    """A RingCentral fax API client.

    Authenticate with a JWT (``client_id`` + ``client_secret`` + ``jwt``), a ready
    ``access_token``, or ``auth=``: a :class:`~ringfax.StaticTokenAuth`, a
    :class:`~ringfax.JWTAuth` (give ``client_id`` + ``client_secret`` too; the client supplies
    its token endpoint) or any object with the same methods. ``timeout`` is ``(connect, read)``
    seconds. ``retry`` decides retries (see :mod:`ringfax._retry`); ``clock`` (epoch seconds),
    ``sleep`` and ``rand`` are injectable for tests. ``media_url`` is the host for downloads
    (default: ``server_url``).

    ``token_cache`` (e.g. :class:`~ringfax.FileTokenCache`) lets JWT clients in different
    processes share tokens instead of each logging in (unused with ``access_token=``).
    ``on_wait(seconds, reason)`` is called before every wait longer than 1 s the client
    imposes itself — rate-limit pacing (``"rate limit (Heavy group): waiting 42 s"``), a 429's
    ``Retry-After``, retry backoff — but not for the polling interval of :meth:`wait_for_fax`.

    Rate limits: the client remembers ``X-Rate-Limit-Remaining/Window`` per group; when a
    group has no requests left it waits out the window before the next request of that group
    instead of provoking a 429 (whose penalty every further request resets). A 429 without
    ``Retry-After`` waits the group's ``X-Rate-Limit-Window`` (else 60 s).

    Use it as a context manager (or call :meth:`close`)::

        with FaxClient.from_env() as client:
            fax = client.send_fax(["+16505550100"], ["letter.pdf"])
            final = client.wait_for_fax(fax.id)
    """

    def __init__(
        self,
        server_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        jwt: str | None = None,
        access_token: str | None = None,
        account: str = "~",
        extension: str = "~",
        timeout: tuple[float, float] = (10.0, 120.0),
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        user_agent: str | None = None,
        media_url: str | None = None,
        verify: bool | str = True,
        refresh_margin: float = 60.0,
        token_cache: TokenCacheLike | None = None,
        on_wait: WaitCallback | None = None,
        auth: Auth | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(server_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValidationError(
                f"server_url {server_url!r} must be an http(s) URL", param="server_url"
            )
        self.server_url = server_url.rstrip("/")
        self.media_url = (media_url or server_url).rstrip("/")
        self.account = account
        self.extension = extension
        self._clock = clock
        self._sleep = sleep
        self._owns_transport = transport is None
        basic: str | None = None
        if client_id and client_secret:
            raw = f"{client_id}:{client_secret}".encode()
            basic = "Basic " + base64.b64encode(raw).decode("ascii")
        self._pipeline = Pipeline(
            transport or Urllib3Transport(timeout=timeout, verify=verify),
            timeout=timeout,
            user_agent=user_agent or f"ringfax/{__version__}",
            retry=retry or RetryPolicy(),
            clock=clock,
            sleep=sleep,
            rand=rand,
            basic=basic,
            on_wait=on_wait,
        )
        if auth is not None:
            if access_token or jwt:
                raise ValidationError(
                    "pass either auth= or access_token= / jwt=, not both", param="auth"
                )
            if isinstance(auth, JWTAuth) and not auth.bound:
                if not basic:
                    raise ValidationError(
                        "JWT auth needs client_id and client_secret as well", param="client_id"
                    )
                auth.bind(self._token_endpoint)
            self._pipeline.auth = auth
        elif access_token:
            self._pipeline.auth = StaticTokenAuth(access_token)
        elif jwt:
            if not basic:
                raise ValidationError("JWT auth needs client_id and client_secret as well")
            self._pipeline.auth = JWTAuth(
                jwt,
                endpoint=self._token_endpoint,
                clock=clock,
                refresh_margin=refresh_margin,
                cache=token_cache,
                cache_key=cache_key(self.server_url, client_id or "", jwt),
            )
        else:
            raise ValidationError(
                "no credentials: pass access_token=..., or client_id=, client_secret= and jwt="
            )

    # -------------------------------------------------- the pipeline's settings

    @property
    def auth(self) -> Auth:
        """How the client authenticates (:class:`JWTAuth` or :class:`StaticTokenAuth`)."""
        assert self._pipeline.auth is not None
        return self._pipeline.auth

    @property
    def transport(self) -> Transport:
        """What sends the requests."""
        return self._pipeline.transport

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` seconds."""
        return self._pipeline.timeout

    @property
    def user_agent(self) -> str:
        return self._pipeline.user_agent

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call (see :mod:`ringfax._retry`)."""
        return self._pipeline.retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self._pipeline.retry = policy

    @property
    def on_wait(self) -> WaitCallback | None:
        """Told ``(seconds, reason)`` before every wait over 1 s the client imposes itself."""
        return self._pipeline.on_wait

    @on_wait.setter
    def on_wait(self, callback: WaitCallback | None) -> None:
        self._pipeline.on_wait = callback

    @property
    def rate_limits(self) -> dict[str, RateLimitInfo]:
        """The last ``X-Rate-Limit-*`` report per group (lower-case group name)."""
        return self._pipeline.rate_limits

    @property
    def last_rate_limit(self) -> RateLimitInfo | None:
        """The last ``X-Rate-Limit-*`` report of any group."""
        return self._pipeline.last_rate_limit

    @property
    def last_request_id(self) -> str | None:
        """The ``RCRequestId`` of the last answer (quote it to RingCentral support)."""
        return self._pipeline.last_request_id

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> FaxClient:
        """Build a client from ``RC_SERVER_URL``, ``RC_APP_CLIENT_ID``, ``RC_APP_CLIENT_SECRET``,
        ``RC_USER_JWT`` (all required). Other keyword arguments go to the constructor."""
        env = os.environ if environ is None else environ
        missing = [name for name in ENV_VARS if not env.get(name)]
        if missing:
            raise ValidationError(f"missing environment variable(s): {', '.join(missing)}")
        return cls(
            env["RC_SERVER_URL"],
            client_id=env["RC_APP_CLIENT_ID"],
            client_secret=env["RC_APP_CLIENT_SECRET"],
            jwt=env["RC_USER_JWT"],
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"FaxClient(server_url={self.server_url!r}, auth={self.auth!r}, "
            f"account={self.account!r}, extension={self.extension!r})"
        )

    def __enter__(self) -> FaxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (a transport passed in by the caller is left open)."""
        if self._owns_transport:
            close = getattr(self.transport, "close", None)
            if callable(close):
                close()

    # --------------------------------------------------------------- sending

    def _token_endpoint(self, form: dict[str, str]) -> Mapping[str, Any]:
        call = Call(
            "POST",
            self._url("/restapi/oauth/token"),
            group="auth",
            idempotent=True,
            form=form,
            credentials="basic",
        )
        try:
            response = self._pipeline.run(call)
        except APIError as exc:
            if exc.status in (400, 401) and not isinstance(exc, AuthError):
                # invalid_grant / invalid_client are answered with 400: still an auth failure
                raise AuthError(
                    exc.status,
                    exc.message,
                    error_code=exc.error_code,
                    errors=tuple(exc.errors),
                    request_id=exc.request_id,
                    oauth_error=exc.oauth_error,
                    body=exc.body,
                    headers=exc.headers,
                ) from None
            raise
        data = read_json(response)
        if not isinstance(data, Mapping):
            raise APIError(response.status, "token endpoint returned no JSON object")
        return data

    # -------------------------------------------------------------- fax API

    def send_fax(
        self,
        to: FaxRequest | str | Recipient | Sequence[str | Recipient],
        attachments: AttachmentLike | Sequence[AttachmentLike] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> FaxMessage:
        """Send a fax to one or more recipients; returns the queued :class:`FaxMessage`.

        Pass a :class:`~ringfax.FaxRequest`, or its fields: ``send_fax(to, attachments,
        cover_index=..., cover_page_text=..., resolution=..., send_time=..., iso_code=...,
        wire_format=..., boundary=..., default_country=...)`` (keywords given beside a
        FaxRequest replace its fields). ``to``: E.164 strings or :class:`Recipient` (national
        numbers need ``default_country``). ``attachments``: paths, :class:`Attachment` objects
        (bytes, file objects, iterables — bytes need ``Attachment(data, filename=...)``).
        Everything is validated before a byte is sent (:class:`ValidationError`). The body is
        streamed with an exact Content-Length (when every size is known) and rebuilt for each
        attempt.

        ``wire_format``: ``"form-data"`` (JSON envelope part + ``attachment`` parts; default),
        ``"form-fields"`` (field style: repeated ``to`` parts and text fields — recipient
        names cannot be carried in this format and are dropped), ``"mixed"``
        (``multipart/mixed``: JSON part then ``Content-Disposition: attachment`` parts).
        ``boundary`` fixes the multipart boundary (reproducible bytes). ``on_progress(sent,
        total)`` is called as body bytes are handed to the transport.

        Raises :class:`FaxMaybeSentError` (never re-sends) when the POST failed after its body
        may have reached the server.
        """
        prepared = prepare_fax(fax_request(to, attachments, options), now=self._clock())

        def factory() -> tuple[Body, int | None, str]:
            body = render_body(prepared)
            length = body.content_length
            chunks: Iterable[bytes] = body
            if on_progress is not None:
                chunks = progress(body, length, on_progress)
            return chunks, length, body.content_type

        call = Call(
            "POST",
            self._url(self._ext_path + "/fax"),
            group="heavy",
            idempotent=False,
            body=factory,
            replayable=prepared.replayable,
            fax_post=True,
        )
        return self._fax_answer(self._pipeline.run(call))

    def build_fax_body(
        self,
        to: FaxRequest | str | Recipient | Sequence[str | Recipient],
        attachments: AttachmentLike | Sequence[AttachmentLike] | None = None,
        **options: Any,
    ) -> MultipartBody:
        """The validated multipart body :meth:`send_fax` would POST, without sending it.

        Useful for dry runs and reproducible bytes (pass ``boundary``); iterate it or use
        ``.content_type``/``.content_length``. Same arguments and checks as :meth:`send_fax`.
        """
        return render_body(prepare_fax(fax_request(to, attachments, options), now=self._clock()))

    def resend_fax(
        self,
        original_message_id: str | int,
        to: str | Recipient | Sequence[str | Recipient] | None = None,
        send_time: datetime | None = None,
        *,
        default_country: str | None = None,
    ) -> FaxMessage:
        """Resend a failed fax, or forward a stored fax — sent or received — to ``to`` (JSON
        POST on ``/fax`` with ``originalMessageId``). ``send_time`` must not be in the past.

        Without ``to`` the server picks the recipients (RingCentral's reference: "the original
        message recipient"; the emulator: every failed one), including those whose error a
        resend does not fix (``InvalidNumber``, ...). Pass
        ``to=[r.phone_number for r in message.retryable_recipients]`` to resend only where a
        retry may help (what ``ringfax resend`` does)."""
        body: dict[str, Any] = {"originalMessageId": str(original_message_id)}
        if not str(original_message_id).strip():
            raise ValidationError("original_message_id is empty", param="original_message_id")
        if to is not None:
            body["to"] = [r.to_json() for r in normalize_recipients(to, default_country)]
        when = check_send_time(send_time, now=self._clock())
        if when is not None:
            body["sendTime"] = when
        call = Call(
            "POST",
            self._url(self._ext_path + "/fax"),
            group="heavy",
            idempotent=False,
            json_body=body,
            fax_post=True,
        )
        return self._fax_answer(self._pipeline.run(call))

    def _fax_answer(self, response: Response) -> FaxMessage:
        """The FaxMessage of a successful fax POST; an unreadable answer is "maybe sent"."""
        try:
            return FaxMessage.from_json(json_object(response))
        except (APIError, TransportError) as exc:
            raise FaxMaybeSentError(
                f"the server accepted the request (HTTP {response.status}) but its answer "
                f"could not be read: {exc}",
                attempted_at=datetime.fromtimestamp(self._clock(), timezone.utc),
                cause=exc,
            ) from exc

    def revoke(self) -> None:
        """Revoke the session (``POST /restapi/oauth/revoke``) and forget the tokens.

        Per RingCentral's guidance a failed revoke is logged, not retried nor raised.
        """
        token = self.auth.tokens_to_revoke()
        if token is None:
            return
        try:
            call = Call(
                "POST",
                self._url("/restapi/oauth/revoke"),
                group="auth",
                idempotent=False,
                form={"token": token},
                credentials="basic",
                retry=RetryPolicy.disabled(),
            )
            self._pipeline.run(call).close()
        except RingFaxError as exc:
            log.warning("token revoke failed (ignored): %s", exc)
        finally:
            self.auth.clear()
