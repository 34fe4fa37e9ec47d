"""``FaxClient``: send, resend, status, wait, list, cancel, download, cover pages, revoke."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import mimetypes
import os
import random
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Literal, Union

from mimewire import MimeWireError, MultipartBody, Part

from ._auth import Auth, JWTAuth, StaticTokenAuth
from ._errors import (
    APIError,
    AuthError,
    FaxMaybeSentError,
    RingFaxError,
    TransportError,
    ValidationError,
    WaitTimeout,
    error_from_response,
    redact_url,
)
from ._models import (
    Attachment,
    CoverPage,
    FaxMessage,
    MessageStatus,
    RateLimitInfo,
    Recipient,
)
from ._retry import (
    RetryPolicy,
    decide_after_status,
    decide_after_transport_error,
    fax_post_maybe_sent,
)
from ._transport import Body, Request, Response, Transport, Urllib3Transport
from ._validation import (
    check_attachments,
    check_cover_index,
    check_cover_page_text,
    check_iso_code,
    check_resolution,
    check_send_time,
    default_filename,
    normalize_recipients,
)

__all__ = ["ENV_VARS", "FaxClient", "WireFormat"]

log = logging.getLogger("ringfax")

__version__ = "0.1.0"

_MAX_ERROR_BODY = 64 * 1024

WireFormat = Literal["form-data", "form-fields", "mixed"]
WIRE_FORMATS = ("form-data", "form-fields", "mixed")

ENV_VARS = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT")
"""The environment variables :meth:`FaxClient.from_env` reads (RingCentral quick-start names)."""

AttachmentLike = Union[Attachment, str, "os.PathLike[str]", bytes, IO[bytes]]
"""What ``send_fax`` accepts per attachment: an :class:`Attachment`, a path or a binary file."""

ProgressCallback = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class _PreparedAttachment:
    source: Any
    wire_filename: str
    content_type: str
    size: int | None
    start: int | None  # start offset of a seekable file object
    replayable: bool


@dataclass(frozen=True)
class _PreparedFax:
    recipients: tuple[Recipient, ...]
    attachments: tuple[_PreparedAttachment, ...]
    fields: tuple[tuple[str, str], ...]  # (field name, text value) in wire order
    envelope: bytes

    @property
    def replayable(self) -> bool:
        return all(a.replayable for a in self.attachments)


class FaxClient:
    """A RingCentral fax API client.

    Authenticate with a JWT (``client_id`` + ``client_secret`` + ``jwt``) or a ready
    ``access_token``. ``timeout`` is ``(connect, read)`` seconds. ``retry`` decides retries
    (see :mod:`ringfax._retry`); ``clock`` (epoch seconds), ``sleep`` and ``rand`` are injectable
    for tests. ``media_url`` is the host for downloads (default: ``server_url``).

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
    ) -> None:
        parsed = urllib.parse.urlsplit(server_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValidationError(f"server_url {server_url!r} must be an http(s) URL")
        self.server_url = server_url.rstrip("/")
        self.media_url = (media_url or server_url).rstrip("/")
        self.account = account
        self.extension = extension
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self.user_agent = user_agent or f"ringfax/{__version__}"
        self._owns_transport = transport is None
        self.transport: Transport = transport or Urllib3Transport(timeout=timeout, verify=verify)
        self._basic: str | None = None
        if client_id and client_secret:
            raw = f"{client_id}:{client_secret}".encode()
            self._basic = "Basic " + base64.b64encode(raw).decode("ascii")
        self.auth: Auth
        if access_token:
            self.auth = StaticTokenAuth(access_token)
        elif jwt:
            if not self._basic:
                raise ValidationError("JWT auth needs client_id and client_secret as well")
            self.auth = JWTAuth(
                jwt, endpoint=self._token_endpoint, clock=clock, refresh_margin=refresh_margin
            )
        else:
            raise ValidationError(
                "no credentials: pass access_token=..., or client_id=, client_secret= and jwt="
            )
        self.rate_limits: dict[str, RateLimitInfo] = {}
        self.last_rate_limit: RateLimitInfo | None = None
        self.last_request_id: str | None = None

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

    def _same_host_url(self, uri: str) -> str:
        """A server-provided URI rebased on ``server_url`` (never send the token elsewhere)."""
        parts = urllib.parse.urlsplit(uri)
        path = parts.path or "/"
        return self.server_url + path + (f"?{parts.query}" if parts.query else "")

    # --------------------------------------------------------------- sending

    def _token_endpoint(self, form: dict[str, str]) -> Mapping[str, Any]:
        try:
            response = self._call(
                "POST",
                self._url("/restapi/oauth/token"),
                form=form,
                idempotent=True,
                authenticated=False,
            )
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
        data = response.json()
        if not isinstance(data, Mapping):
            raise APIError(response.status, "token endpoint returned no JSON object")
        return data

    def _record(self, response: Response) -> None:
        info = RateLimitInfo.from_headers(response.headers)
        if info is not None:
            self.last_rate_limit = info
            self.rate_limits[(info.group or "").lower()] = info
        self.last_request_id = response.headers.get("RCRequestId")

    def _call(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        body_factory: Callable[[], tuple[Body, int | None, str]] | None = None,
        replayable: bool = True,
        idempotent: bool,
        fax_post: bool = False,
        stream: bool = False,
        authenticated: bool = True,
        basic: bool = False,
        retry: RetryPolicy | None = None,
    ) -> Response:
        """One logical API call: auth, retries, 401 refresh, error mapping."""
        policy = retry or self.retry
        attempt = 0
        waited = 0.0
        renewed = False
        while True:
            attempt += 1
            accept = "*/*" if stream else "application/json"  # downloads are PDF/TIFF
            headers = {"Accept": accept, "User-Agent": self.user_agent}
            used_token: str | None = None
            if authenticated:
                used_token = self.auth.access_token()
                headers["Authorization"] = f"Bearer {used_token}"
            elif self._basic and (basic or form is not None):
                headers["Authorization"] = self._basic
            body: Body = None
            length: int | None = None
            if body_factory is not None:
                body, length, content_type = body_factory()
                headers["Content-Type"] = content_type
            elif json_body is not None:
                body = json.dumps(json_body, separators=(",", ":")).encode("utf-8")
                length = len(body)
                headers["Content-Type"] = "application/json"
            elif form is not None:
                body = urllib.parse.urlencode(form).encode("ascii")
                length = len(body)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            request = Request(
                method, url, headers, body, length, stream=stream, timeout=self.timeout
            )
            started = self._clock()
            log.debug("-> %s %s (attempt %d)", method, redact_url(url), attempt)
            try:
                response = self.transport.send(request)
            except MimeWireError as exc:
                # a body source misbehaved mid-stream (e.g. an iterable yielded more or fewer
                # bytes than declared): the body was cut short, so the server cannot accept it
                raise ValidationError(f"request body aborted: {exc}") from exc
            except TransportError as exc:
                if fax_post and exc.sent:
                    raise FaxMaybeSentError(
                        exc.message, attempted_at=_utc(started), cause=exc
                    ) from exc
                decision = decide_after_transport_error(
                    policy,
                    sent=exc.sent,
                    attempt=attempt,
                    waited=waited,
                    idempotent=idempotent,
                    rand=self._rand(),
                )
                log.info("%s %s: %s", method, redact_url(url), decision.reason)
                if not decision.retry or (not replayable and body_factory is not None):
                    raise
                self._sleep(decision.delay)
                waited += decision.delay
                continue
            self._record(response)
            log.debug(
                "<- %s %s %d (RCRequestId %s)",
                method,
                redact_url(url),
                response.status,
                self.last_request_id,
            )
            if response.status < 400:
                return response
            error = error_from_response(
                response.status, response.headers, response.read(_MAX_ERROR_BODY), now=self._clock()
            )
            if (
                response.status == 401
                and used_token is not None
                and not renewed
                and (replayable or body_factory is None)
                and self.auth.handle_unauthorized(used_token, error)
            ):
                renewed = True
                attempt -= 1  # the renewal retry does not count against max_attempts
                continue
            if fax_post and fax_post_maybe_sent(response.status):
                raise FaxMaybeSentError(
                    f"the server answered {error}", attempted_at=_utc(started), cause=error
                ) from error
            decision = decide_after_status(
                policy,
                status=response.status,
                attempt=attempt,
                waited=waited,
                idempotent=idempotent,
                retry_after=getattr(error, "retry_after", None)
                if response.status == 429
                else _retry_after(response, self._clock()),
                rand=self._rand(),
            )
            log.info("%s %s: %s", method, redact_url(url), decision.reason)
            if not decision.retry or (not replayable and body_factory is not None):
                raise error
            self._sleep(decision.delay)
            waited += decision.delay

    def _get_json(self, url: str) -> Any:
        return self._call("GET", url, idempotent=True).json()

    # -------------------------------------------------------------- fax API

    def send_fax(
        self,
        to: str | Recipient | Sequence[str | Recipient],
        attachments: AttachmentLike | Sequence[AttachmentLike],
        *,
        cover_index: int | None = None,
        cover_page_text: str | None = None,
        resolution: str | None = None,
        send_time: datetime | None = None,
        iso_code: str | None = None,
        wire_format: WireFormat = "form-data",
        boundary: str | None = None,
        on_progress: ProgressCallback | None = None,
        default_country: str | None = None,
    ) -> FaxMessage:
        """Send a fax to one or more recipients; returns the queued :class:`FaxMessage`.

        ``to``: E.164 strings or :class:`Recipient` (national numbers need
        ``default_country``). ``attachments``: paths, :class:`Attachment` objects (bytes, file
        objects, iterables — bytes need ``Attachment(data, filename=...)``). Everything is
        validated before a byte is sent (:class:`ValidationError`). The body is streamed with
        an exact Content-Length (when every size is known) and rebuilt for each attempt.

        ``wire_format``: ``"form-data"`` (JSON envelope part + ``attachment`` parts; default),
        ``"form-fields"`` (field style: repeated ``to`` parts and text fields — recipient
        names cannot be carried in this format and are dropped), ``"mixed"``
        (``multipart/mixed``: JSON part then ``Content-Disposition: attachment`` parts).
        ``boundary`` fixes the multipart boundary (reproducible bytes). ``on_progress(sent,
        total)`` is called as body bytes are handed to the transport.

        Raises :class:`FaxMaybeSentError` (never re-sends) when the POST failed after its body
        may have reached the server.
        """
        prepared = self._prepare_fax(
            to,
            attachments,
            cover_index=cover_index,
            cover_page_text=cover_page_text,
            resolution=resolution,
            send_time=send_time,
            iso_code=iso_code,
            wire_format=wire_format,
            default_country=default_country,
        )

        def factory() -> tuple[Body, int | None, str]:
            body = self._render_body(prepared, wire_format, boundary=boundary)
            length = body.content_length
            chunks: Iterable[bytes] = body
            if on_progress is not None:
                chunks = _progress(body, length, on_progress)
            return chunks, length, body.content_type

        response = self._call(
            "POST",
            self._url(self._ext_path + "/fax"),
            body_factory=factory,
            replayable=prepared.replayable,
            idempotent=False,
            fax_post=True,
        )
        return self._fax_answer(response)

    def _prepare_fax(
        self,
        to: str | Recipient | Sequence[str | Recipient],
        attachments: AttachmentLike | Sequence[AttachmentLike],
        *,
        cover_index: int | None,
        cover_page_text: str | None,
        resolution: str | None,
        send_time: datetime | None,
        iso_code: str | None,
        wire_format: str,
        default_country: str | None,
    ) -> _PreparedFax:
        if wire_format not in WIRE_FORMATS:
            raise ValidationError(
                f"wire_format {wire_format!r} is invalid: use one of {', '.join(WIRE_FORMATS)}"
            )
        recipients = normalize_recipients(to, default_country)
        if isinstance(attachments, (str, bytes, os.PathLike, Attachment)):
            attachments = [attachments]
        atts: list[Attachment] = []
        for index, item in enumerate(attachments):
            if isinstance(item, Attachment):
                att = item
            elif isinstance(item, (str, os.PathLike)):
                att = Attachment(item)
            elif isinstance(item, (bytes, bytearray)):
                raise ValidationError(
                    f"attachment #{index}: raw bytes need a filename: "
                    f"Attachment(data, filename='page.pdf')"
                )
            else:
                att = Attachment(item)
            if not att.display_name:
                name = default_filename(index, att.content_type)
                if name is not None:
                    att = Attachment(att.source, name, att.content_type, att.size)
            atts.append(att)
        sizes = check_attachments(atts)
        if wire_format == "form-fields" and any(r.name for r in recipients):
            log.warning("wire_format='form-fields' cannot carry recipient names; they are dropped")
        fields: list[tuple[str, str]] = []
        envelope: dict[str, Any] = {"to": [r.to_json() for r in recipients]}
        text = check_cover_page_text(cover_page_text)
        index_ = check_cover_index(cover_index)
        res = check_resolution(resolution)
        when = check_send_time(send_time)
        iso = check_iso_code(iso_code)
        if text is not None:
            fields.append(("coverPageText", text))
        if index_ is not None:
            fields.append(("coverIndex", str(index_)))
        if res is not None:
            fields.append(("faxResolution", res.value))
        if when is not None:
            fields.append(("sendTime", when))
        if iso is not None:
            fields.append(("isoCode", iso))
        for r in recipients:
            fields.append(("to", r.phone_number))
        if res is not None:
            envelope["faxResolution"] = res.value
        if when is not None:
            envelope["sendTime"] = when
        if iso is not None:
            envelope["isoCode"] = iso
        if index_ is not None:
            envelope["coverIndex"] = index_
        if text is not None:
            envelope["coverPageText"] = text
        prepared_atts = []
        for att, size in zip(atts, sizes, strict=True):
            source = att.source
            start: int | None = None
            replayable = True
            if isinstance(source, (bytearray, memoryview)):
                source = bytes(source)
            elif isinstance(source, (str, os.PathLike)):
                source = Path(source)
            elif isinstance(source, bytes):
                pass
            elif hasattr(source, "read"):
                seekable = getattr(source, "seekable", None)
                if callable(seekable) and seekable():
                    start = source.tell()
                else:
                    replayable = False
            else:
                replayable = False
            wire_name = att.wire_filename
            content_type = (
                att.content_type or mimetypes.guess_type(wire_name)[0] or "application/octet-stream"
            )
            prepared_atts.append(
                _PreparedAttachment(source, wire_name, content_type, size, start, replayable)
            )
        return _PreparedFax(
            recipients=tuple(recipients),
            attachments=tuple(prepared_atts),
            fields=tuple(fields),
            envelope=json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode(),
        )

    def build_fax_body(
        self,
        to: str | Recipient | Sequence[str | Recipient],
        attachments: AttachmentLike | Sequence[AttachmentLike],
        *,
        cover_index: int | None = None,
        cover_page_text: str | None = None,
        resolution: str | None = None,
        send_time: datetime | None = None,
        iso_code: str | None = None,
        wire_format: WireFormat = "form-data",
        boundary: str | None = None,
        default_country: str | None = None,
    ) -> MultipartBody:
        """The validated multipart body :meth:`send_fax` would POST, without sending it.

        Useful for dry runs and reproducible bytes (pass ``boundary``); iterate it or use
        ``.content_type``/``.content_length``. Same arguments and checks as :meth:`send_fax`.
        """
        prepared = self._prepare_fax(
            to,
            attachments,
            cover_index=cover_index,
            cover_page_text=cover_page_text,
            resolution=resolution,
            send_time=send_time,
            iso_code=iso_code,
            wire_format=wire_format,
            default_country=default_country,
        )
        return self._render_body(prepared, wire_format, boundary=boundary)

    @staticmethod
    def _render_body(
        prepared: _PreparedFax, wire_format: str, *, boundary: str | None = None
    ) -> MultipartBody:
        """The multipart body for one attempt (file objects are rewound to their start)."""
        try:
            return FaxClient._render_parts(prepared, wire_format, boundary)
        except MimeWireError as exc:
            raise ValidationError(f"cannot build the fax body: {exc}") from None
        except OSError as exc:
            raise ValidationError(f"cannot read an attachment: {exc}") from None

    @staticmethod
    def _render_parts(
        prepared: _PreparedFax, wire_format: str, boundary: str | None
    ) -> MultipartBody:
        parts: list[Part] = []
        if wire_format == "form-fields":
            for name, value in prepared.fields:
                parts.append(
                    Part(
                        value.encode("utf-8"),
                        name=name,
                        filename="",
                        # header order of RingCentral's documented example
                        headers=[
                            ("Content-Transfer-Encoding", "8bit"),
                            ("Content-Type", "text/plain"),
                        ],
                    )
                )
        elif wire_format == "form-data":
            parts.append(
                Part(
                    prepared.envelope,
                    name="json",
                    filename="request.json",
                    content_type="application/json",
                )
            )
        else:
            parts.append(Part(prepared.envelope, content_type="application/json"))
        for att in prepared.attachments:
            source = att.source
            if att.start is not None:
                source.seek(att.start)
            if wire_format == "mixed":
                parts.append(
                    Part(
                        source,
                        filename=att.wire_filename,
                        content_type=att.content_type,
                        disposition="attachment",
                        length=att.size,
                    )
                )
            else:
                parts.append(
                    Part(
                        source,
                        name="attachment",
                        filename=att.wire_filename,
                        content_type=att.content_type,
                        length=att.size,
                    )
                )
        subtype = "mixed" if wire_format == "mixed" else "form-data"
        return MultipartBody(parts, subtype=subtype, boundary=boundary)

    def resend_fax(
        self,
        original_message_id: str | int,
        to: str | Recipient | Sequence[str | Recipient] | None = None,
        send_time: datetime | None = None,
        *,
        default_country: str | None = None,
    ) -> FaxMessage:
        """Resend a failed fax, or forward a stored fax to ``to`` (JSON POST on ``/fax``)."""
        body: dict[str, Any] = {"originalMessageId": str(original_message_id)}
        if not str(original_message_id).strip():
            raise ValidationError("original_message_id is empty")
        if to is not None:
            body["to"] = [r.to_json() for r in normalize_recipients(to, default_country)]
        when = check_send_time(send_time)
        if when is not None:
            body["sendTime"] = when
        response = self._call(
            "POST",
            self._url(self._ext_path + "/fax"),
            json_body=body,
            idempotent=False,
            fax_post=True,
        )
        return self._fax_answer(response)

    def _fax_answer(self, response: Response) -> FaxMessage:
        """The FaxMessage of a successful fax POST; an unreadable answer is "maybe sent"."""
        try:
            return FaxMessage.from_json(_json_object(response))
        except (APIError, TransportError) as exc:
            raise FaxMaybeSentError(
                f"the server accepted the request (HTTP {response.status}) but its answer "
                f"could not be read: {exc}",
                attempted_at=_utc(self._clock()),
                cause=exc,
            ) from exc

    def get_fax(self, message_id: str | int) -> FaxMessage:
        """The current state of a message (``GET …/message-store/{id}``)."""
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        return FaxMessage.from_json(_json_object(self._call("GET", url, idempotent=True)))

    def wait_for_fax(
        self,
        message_id: str | int,
        *,
        timeout: float = 600.0,
        poll: float = 10.0,
        on_update: Callable[[FaxMessage], None] | None = None,
    ) -> FaxMessage:
        """Poll until the fax reaches a final status (Sent, Delivered, SendingFailed,
        DeliveryFailed — or Received for an inbound fax) and return it.

        ``Queued`` keeps polling every ``poll`` seconds; after ``timeout`` seconds
        :class:`WaitTimeout` is raised (its ``last`` holds the last state seen).
        """
        if poll <= 0:
            raise ValidationError("poll must be > 0 seconds")
        deadline = self._clock() + timeout
        while True:
            message = self.get_fax(message_id)
            if on_update is not None:
                on_update(message)
            if message.is_final or message.message_status is MessageStatus.RECEIVED:
                return message
            now = self._clock()
            if now >= deadline:
                raise WaitTimeout(str(message_id), timeout, message)
            self._sleep(min(poll, deadline - now))

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
        datetimes (RingCentral's default window is the last 24 hours)."""
        if direction is not None and direction not in ("Inbound", "Outbound"):
            raise ValidationError(f"direction {direction!r} must be 'Inbound' or 'Outbound'")
        if not 1 <= per_page <= 1000:
            raise ValidationError(f"per_page {per_page} must be within 1..1000")
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
            url = self._same_host_url(uri) if isinstance(uri, str) and records else None

    def cancel_fax(self, message_id: str | int) -> None:
        """Cancel a scheduled/queued fax by deleting it (``DELETE …/message-store/{id}``)."""
        url = self._url(f"{self._ext_path}/message-store/{_id(message_id)}")
        self._call("DELETE", url, idempotent=True).close()

    def download(
        self,
        message_id: str | int,
        attachment_id: str | int,
        path: str | os.PathLike[str],
    ) -> Path:
        """Stream an attachment (e.g. the rendered PDF/TIFF) to ``path`` and return it.

        Written to a temporary file in the same directory and renamed into place when
        complete, so ``path`` is never left half-written. When ``path`` is an existing
        directory the file is named ``{message_id}-{attachment_id}{ext}``.
        """
        url = self._url(
            f"{self._ext_path}/message-store/{_id(message_id)}/content/{_id(attachment_id)}",
            media=True,
        )
        response = self._call("GET", url, idempotent=True, stream=True)
        target = Path(path)
        try:
            if target.is_dir():
                ctype = (response.headers.get("Content-Type") or "").split(";")[0].strip()
                ext = mimetypes.guess_extension(ctype) or ".bin" if ctype else ".bin"
                target = target / f"{message_id}-{attachment_id}{ext}"
            fd, tmp_name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".part"
            )
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in response.stream():
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp_name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
        finally:
            response.close()
        return target

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
            self._call(
                "POST",
                self._url("/restapi/oauth/revoke"),
                form={"token": token},
                idempotent=False,
                authenticated=False,
                basic=True,
                retry=RetryPolicy.disabled(),
            ).close()
        except RingFaxError as exc:
            log.warning("token revoke failed (ignored): %s", exc)
        finally:
            self.auth.clear()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _id(value: str | int) -> str:
    text = str(value).strip()
    if not text:
        raise ValidationError("message/attachment id is empty")
    return urllib.parse.quote(text, safe="")


def _retry_after(response: Response, now: float) -> float | None:
    from ._errors import parse_retry_after

    return parse_retry_after(response.headers.get("Retry-After"), now)


def _json_object(response: Response) -> Mapping[str, Any]:
    try:
        data = response.json()
    except (UnicodeDecodeError, ValueError) as exc:
        raise APIError(response.status, f"invalid JSON in the answer: {exc}") from None
    if not isinstance(data, Mapping):
        raise APIError(response.status, "expected a JSON object in the answer")
    return data


def _progress(
    body: Iterable[bytes], total: int | None, callback: ProgressCallback
) -> Iterator[bytes]:
    sent = 0
    for chunk in body:
        sent += len(chunk)
        yield chunk
        callback(sent, total)
