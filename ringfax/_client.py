"""``FaxClient``: send, resend, status, wait, list, sync, read status, cancel, delete,
download, cover pages, revoke."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import random
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mimewire import MultipartBody, __version__

from ._atomic import choose_target, write_atomically
from ._auth import Auth, JWTAuth, StaticTokenAuth, TokenCacheLike
from ._errors import (
    APIError,
    AuthError,
    FaxMaybeSentError,
    LinkRefused,
    NotCancellable,
    RingFaxError,
    TransportError,
    ValidationError,
    redact_url,
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
from ._filenames import filename_from_disposition
from ._models import (
    CoverPage,
    FaxMessage,
    FaxSync,
    MessageAttachment,
    MessageStatus,
    RateLimitInfo,
    Recipient,
)
from ._pipeline import Call, Pipeline, WaitCallback, json_object, read_json
from ._retry import RetryPolicy
from ._tokencache import cache_key
from ._transport import Body, Response, Transport, Urllib3Transport
from ._validation import check_send_time, normalize_recipients
from ._waiting import FaxWait

__all__ = ["ENV_VARS", "FaxClient", "WireFormat"]

log = logging.getLogger("ringfax")

ENV_VARS = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT")
"""The environment variables :meth:`FaxClient.from_env` reads (RingCentral quick-start names)."""


class FaxClient:
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

    # ------------------------------------------------------------------ URLs

    @property
    def _ext_path(self) -> str:
        account = urllib.parse.quote(str(self.account), safe="~")
        extension = urllib.parse.quote(str(self.extension), safe="~")
        return f"/restapi/v1.0/account/{account}/extension/{extension}"

    def _url(
        self, path: str, params: Mapping[str, Any] | None = None, *, media: bool = False
    ) -> str:
        base = self.media_url if media else self.server_url
        url = base + path
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                url += "?" + urllib.parse.urlencode(clean, doseq=True)
        return url

    def _follow(self, current: str, uri: str) -> str:
        """A server-provided link resolved against ``current``; :class:`LinkRefused` unless it
        stays on the server (same scheme, host and port): the token never goes elsewhere."""
        target = urllib.parse.urljoin(current, uri)
        if _origin(target) is None or _origin(target) != _origin(self.server_url):
            shown = redact_url(target)
            raise LinkRefused(
                f"refusing to follow navigation.nextPage {shown!r}: it leaves the server "
                f"{self.server_url} (the access token is sent only there)",
                url=shown,
            )
        return target

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

    def _get(self, url: str) -> Response:
        return self._pipeline.run(Call("GET", url, group="light", idempotent=True))

    def _get_json(self, url: str) -> Any:
        return read_json(self._get(url))

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

    def get_fax(self, message_id: str | int) -> FaxMessage:
        """The current state of a message (``GET …/message-store/{id}``)."""
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        return FaxMessage.from_json(json_object(self._get(url)))

    def wait_for_fax(
        self,
        message_id: str | int,
        *,
        timeout: float = 600.0,
        poll: float = 10.0,
        on_update: Callable[[FaxMessage], None] | None = None,
    ) -> FaxMessage:
        """Poll until the fax reaches a final status (Sent, Delivered, SendingFailed,
        DeliveryFailed — or Received for an inbound fax) or is deleted, and return it.

        A cancelled fax stays ``Queued`` with ``availability`` ``Deleted``: the wait ends there
        too, and :attr:`FaxMessage.is_deleted` tells the two outcomes apart. ``Queued`` keeps
        polling every ``poll`` seconds; after ``timeout`` seconds :class:`WaitTimeout` is
        raised (its ``last`` holds the last state seen).
        """
        wait = FaxWait(
            message_id, timeout=timeout, poll=poll, clock=self._clock, on_update=on_update
        )
        while True:
            message = self.get_fax(message_id)
            delay = wait.after(message)
            if delay is None:
                return message
            self._sleep(delay)

    def iter_faxes(
        self,
        direction: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        per_page: int = 100,
        *,
        read_status: str | None = None,
        availability: str | None = None,
        phone_number: str | None = None,
    ) -> Iterator[FaxMessage]:
        """Every fax in the message store matching the filters, following
        ``navigation.nextPage.uri`` to the last page. ``date_from``/``date_to`` must be aware
        datetimes (RingCentral's default window is the last 24 hours). ``direction``:
        ``"Inbound"`` (received faxes), ``"Outbound"`` or None (both).

        A ``nextPage`` link is resolved against the page it came from and followed only when it
        stays on ``server_url`` (same scheme, host and port); anything else raises
        :class:`~ringfax.LinkRefused` instead of sending the access token to another host."""
        _check_direction(direction)
        if not 1 <= per_page <= 1000:
            raise ValidationError(f"per_page {per_page} must be within 1..1000", param="per_page")
        params: dict[str, Any] = {
            "messageType": "Fax",
            "direction": direction,
            "dateFrom": check_send_time(date_from, "date_from"),
            "dateTo": check_send_time(date_to, "date_to"),
            "readStatus": read_status,
            "availability": availability,
            "phoneNumber": phone_number,
            "perPage": per_page,
        }
        url: str | None = self._url(f"{self._ext_path}/message-store", params)
        for record in self._paginate(url):
            yield FaxMessage.from_json(record)

    def _paginate(self, url: str | None) -> Iterator[Mapping[str, Any]]:
        seen: set[str] = set()
        while url is not None and url not in seen:
            seen.add(url)
            data = self._get_json(url)
            if not isinstance(data, Mapping):
                raise APIError(200, f"expected a JSON object from {redact_url(url)}")
            records = data.get("records")
            if isinstance(records, list):
                for record in records:
                    if isinstance(record, Mapping):
                        yield record
            nav = data.get("navigation")
            nxt = nav.get("nextPage") if isinstance(nav, Mapping) else None
            uri = nxt.get("uri") if isinstance(nxt, Mapping) else None
            url = self._follow(url, uri) if isinstance(uri, str) and uri and records else None

    def sync_faxes(
        self,
        sync_token: str | None = None,
        *,
        direction: str | None = None,
        date_from: datetime | None = None,
        record_count: int | None = None,
    ) -> FaxSync:
        """RingCentral message-sync for faxes (``GET …/message-sync``).

        Without ``sync_token``: a full sync (``syncType=FSync``) of the current fax messages
        (``date_from``, ``record_count`` narrow it). With the ``sync_token`` of the previous
        :class:`FaxSync`: an incremental sync (``ISync``) — only messages created or changed
        since then. Persist ``result.sync_token`` between runs; a token the server no longer
        accepts raises :class:`~ringfax.BadRequest` (start over with a full sync).
        ``direction``: ``"Inbound"``, ``"Outbound"`` or None (both); records of other message
        types or directions are dropped.
        """
        _check_direction(direction)
        if record_count is not None and (
            isinstance(record_count, bool) or not isinstance(record_count, int) or record_count < 1
        ):
            raise ValidationError(
                f"record_count {record_count!r} must be a positive int", param="record_count"
            )
        params: dict[str, Any] = {}
        if sync_token is None:
            params["syncType"] = "FSync"
        else:
            if not isinstance(sync_token, str) or not sync_token.strip():
                raise ValidationError(
                    "sync_token is empty", param="sync_token", hint="pass None for a full sync"
                )
            if date_from is not None:
                raise ValidationError(
                    "date_from applies only to a full sync (sync_token=None)", param="date_from"
                )
            params["syncType"] = "ISync"
            params["syncToken"] = sync_token
        params["messageType"] = "Fax"
        params["direction"] = direction
        params["dateFrom"] = check_send_time(date_from, "date_from")
        params["recordCount"] = record_count
        response = self._get(self._url(f"{self._ext_path}/message-sync", params))
        try:
            result = FaxSync.from_json(json_object(response))
        except ValueError as exc:
            raise APIError(response.status, str(exc)) from None
        records = tuple(
            m
            for m in result.records
            if m.type in (None, "Fax") and (direction is None or m.direction in (None, direction))
        )
        return dataclasses.replace(result, records=records)

    def mark_read(self, message_id: str | int) -> FaxMessage:
        """Set ``readStatus`` to ``Read`` (``PUT …/message-store/{id}``); returns the message."""
        return self._set_read_status(message_id, "Read")

    def mark_unread(self, message_id: str | int) -> FaxMessage:
        """Set ``readStatus`` to ``Unread``; returns the updated message."""
        return self._set_read_status(message_id, "Unread")

    def _set_read_status(self, message_id: str | int, status: str) -> FaxMessage:
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        call = Call("PUT", url, group="medium", idempotent=True, json_body={"readStatus": status})
        return FaxMessage.from_json(json_object(self._pipeline.run(call)))

    def cancel_fax(self, message_id: str | int) -> FaxMessage:
        """Cancel a fax that is still ``Queued`` (e.g. scheduled with ``send_time``).

        Reads the message first; only a ``Queued``, not yet deleted fax is cancelled (``DELETE
        …/message-store/{id}``) — anything else raises :class:`~ringfax.NotCancellable` (use
        :meth:`delete_fax` to remove a sent, failed or received fax). Returns the message as it
        was just before it was cancelled. (RingCentral has no conditional delete: a fax that
        leaves ``Queued`` between the read and the delete is deleted.)
        """
        message = self.get_fax(message_id)
        availability = message.availability
        if message.message_status is not MessageStatus.QUEUED or availability not in (
            None,
            "Alive",
        ):
            status = message.message_status or message.raw.get("messageStatus")
            raise NotCancellable(str(message_id), status, availability=availability)
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        self._pipeline.run(Call("DELETE", url, group="medium", idempotent=True)).close()
        return message

    def delete_fax(self, message_id: str | int, *, purge: bool = False) -> None:
        """Delete a fax from the message store (``DELETE …/message-store/{id}``).

        A first delete moves it to ``Deleted`` (restorable), a second one purges it;
        ``purge=True`` purges at once. A still ``Queued`` fax is not sent once deleted.
        """
        params = {"purge": "true"} if purge else None
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}", params)
        self._pipeline.run(Call("DELETE", url, group="medium", idempotent=True)).close()

    def download(
        self,
        message_id: str | int,
        attachment_id: str | int | MessageAttachment,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
    ) -> Path:
        """Stream an attachment (e.g. the rendered PDF/TIFF) to ``path`` and return the file.

        ``attachment_id``: the id, or a :class:`~ringfax.MessageAttachment` from
        ``message.attachments`` (then its file name and content type are known up front).
        When ``path`` is an existing directory the file is named from the attachment —
        ``{message_id}-{file name}`` when the attachment (or the answer's
        ``Content-Disposition``) has a name, else ``{message_id}-{attachment_id}{ext}`` with
        the extension from the content type — using only ``[A-Za-z0-9._-]``, and always inside
        that directory. Written to a temporary file beside the target and moved into place when
        complete (never half-written). An existing file raises
        :class:`~ringfax.DownloadError` unless ``overwrite=True``.
        """
        filename: str | None = None
        known_type: str | None = None
        if isinstance(attachment_id, MessageAttachment):
            filename, known_type = attachment_id.filename, attachment_id.content_type
            attachment_id = attachment_id.id
        content = _id(attachment_id, "attachment_id")
        url = self._url(
            f"{self._ext_path}/message-store/{_id(message_id)}/content/{content}", media=True
        )
        response = self._pipeline.run(
            Call("GET", url, group="medium", idempotent=True, stream=True)
        )
        try:
            ctype = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            if not ctype or ctype == "application/octet-stream":
                ctype = known_type or ctype
            name = filename or filename_from_disposition(
                response.headers.get("Content-Disposition")
            )
            target = choose_target(
                Path(path), str(message_id), str(attachment_id), filename=name, content_type=ctype
            )
            return write_atomically(response.stream(), target, overwrite=overwrite)
        finally:
            response.close()

    def cover_pages(self) -> list[CoverPage]:
        """The cover pages available (``GET /restapi/v1.0/dictionary/fax-cover-page``)."""
        url = self._url("/restapi/v1.0/dictionary/fax-cover-page", {"perPage": 100})
        return [CoverPage.from_json(r) for r in self._paginate(url)]

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


def _id(value: str | int, param: str = "message_id") -> str:
    text = str(value).strip()
    if not text:
        raise ValidationError(f"{param} is empty", param=param)
    return urllib.parse.quote(text, safe="")


def _check_direction(direction: str | None) -> None:
    if direction is not None and direction not in ("Inbound", "Outbound"):
        raise ValidationError(
            f"direction {direction!r} must be 'Inbound', 'Outbound' or None", param="direction"
        )


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL without user info; None for anything else."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)
