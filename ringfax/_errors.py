"""The ringfax exception tree and the one function that maps HTTP answers to it.

::

    RingFaxError
    ├── ValidationError            bad input caught before any byte is sent (also a ValueError)
    ├── TransportError             no usable HTTP answer; ``.sent``: may the request have arrived?
    ├── FaxMaybeSentError          a fax POST failed after its body may have reached the server
    │                              (no answer, a 3xx or a 5xx other than 503): never re-sent
    ├── LinkRefused                a server-provided link leads off the server: not followed
    ├── WaitTimeout                wait_for_fax() gave up before a final status
    ├── NotCancellable             cancel_fax() on a fax that is no longer Queued (``.status``)
    ├── DownloadError              download() refused: the target exists / would leave the dir
    └── APIError                   the server answered with an error status (or an unreadable one)
        ├── UnexpectedRedirect     3xx (never followed: ``.location``, redacted)
        ├── BadRequest             400
        ├── AuthError              401
        ├── Forbidden              403
        ├── NotFound               404
        ├── NotAcceptable          406 (e.g. MSG-343: resend not allowed in this state)
        ├── Conflict               409
        ├── PayloadTooLarge        413
        ├── UnsupportedMediaType   415
        ├── RateLimited            429 (``.retry_after`` seconds, or None)
        └── ServerError            5xx
"""

from __future__ import annotations

import email.utils
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # _models imports this module
    from ._models import FaxMessage, MessageStatus

__all__ = [
    "MAX_SERVER_WAIT",
    "APIError",
    "AuthError",
    "BadRequest",
    "Conflict",
    "DownloadError",
    "ErrorDetail",
    "FaxMaybeSentError",
    "Forbidden",
    "LinkRefused",
    "NotAcceptable",
    "NotCancellable",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RingFaxError",
    "ServerError",
    "TransportError",
    "UnexpectedRedirect",
    "UnsupportedMediaType",
    "ValidationError",
    "WaitTimeout",
    "bounded_wait",
    "error_from_response",
    "parse_retry_after",
    "redact_url",
]


class RingFaxError(Exception):
    """Base class of every error raised by ringfax."""


class ValidationError(RingFaxError, ValueError):
    """The request was refused before sending.

    ``param`` names the argument at fault (``"to"``, ``"attachments"``, ``"send_time"``, ...;
    None when no single one is) and ``index`` the item of a list argument (from 0); the
    ``reason`` then starts with :attr:`subject` (``recipient #0``, ``attachment #1``,
    ``cover_index``). ``hint`` says how to fix it in Python terms and ``hint_param`` names the
    argument the hint asks for (e.g. ``"default_country"``). The message is
    ``"{reason}; {hint}"``. A front end (the CLI) names its own flags from this structure
    instead of rewriting the text.
    """

    def __init__(
        self,
        reason: str,
        *,
        param: str | None = None,
        index: int | None = None,
        hint: str | None = None,
        hint_param: str | None = None,
    ) -> None:
        self.reason = reason
        self.param = param
        self.index = index
        self.hint = hint
        self.hint_param = hint_param
        super().__init__(f"{reason}; {hint}" if hint else reason)

    @property
    def subject(self) -> str | None:
        """The argument at fault as the library names it: ``recipient #0``, ``attachment
        #1``, ``send_time``; None when the error is not about one argument."""
        if self.param is None:
            return None
        if self.index is not None:
            item = _ITEM_NAMES.get(self.param, self.param)
            return f"{item} #{self.index}"
        return self.param


_ITEM_NAMES = {"to": "recipient", "attachments": "attachment"}


class TransportError(RingFaxError):
    """The HTTP exchange failed without a usable answer.

    ``sent`` is False when the request provably never left (connection refused, DNS failure,
    connect timeout, TLS handshake failure); True when it may have reached the server (read
    timeout, connection dropped after sending, ...).
    """

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent


class FaxMaybeSentError(RingFaxError):
    """A fax POST failed after its body may have reached the server — it was NOT re-sent.

    The fax may or may not have been queued. Check before sending again, e.g.::

        client.iter_faxes(direction="Outbound", date_from=err.attempted_at)

    ``attempted_at`` is the (aware, UTC) time the failing attempt started; ``cause`` the
    underlying :class:`TransportError` (no answer, or no readable one) or :class:`APIError`
    (a 3xx, or a 5xx other than 503).
    """

    def __init__(
        self,
        reason: str,
        *,
        attempted_at: datetime | None = None,
        cause: TransportError | APIError | None = None,
    ) -> None:
        when = f" at {attempted_at.isoformat()}" if attempted_at is not None else ""
        message = (
            f"the fax may have been sent: {reason}. It was NOT re-sent automatically "
            f"(a fax POST is not idempotent). Check the outbound message store before "
            f"retrying, e.g. client.iter_faxes(direction='Outbound', date_from=<attempt "
            f"time{when}>) or GET /restapi/v1.0/account/~/extension/~/message-store"
            f"?messageType=Fax&direction=Outbound"
        )
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.attempted_at = attempted_at
        self.cause = cause


class WaitTimeout(RingFaxError):
    """``wait_for_fax`` reached its timeout before the fax reached a final status.

    ``last`` is the last :class:`~ringfax.FaxMessage` seen (None if none was fetched).
    """

    def __init__(self, message_id: str, timeout: float, last: FaxMessage | None = None) -> None:
        status = getattr(getattr(last, "message_status", None), "value", None)
        super().__init__(
            f"fax {message_id} did not reach a final status within {timeout:g} s"
            + (f" (last status: {status})" if status else "")
        )
        self.message_id = message_id
        self.timeout = timeout
        self.last = last


class NotCancellable(RingFaxError):
    """``cancel_fax`` refused: only a ``Queued`` fax can be cancelled.

    ``message_id`` is the fax, ``status`` its current ``messageStatus`` (a
    :class:`~ringfax.MessageStatus`, the raw string for an unknown value, or None),
    ``availability`` its ``availability`` (``Deleted``: it was cancelled/deleted already). A
    fax that was already sent (or failed, or was received) is removed with ``delete_fax``.
    """

    def __init__(
        self,
        message_id: str,
        status: MessageStatus | str | None,
        *,
        availability: str | None = None,
    ) -> None:
        shown = getattr(status, "value", status) or "unknown"
        if availability and availability != "Alive":
            reason = f"it was already removed (availability {availability}, status {shown})"
        else:
            reason = f"its status is {shown}, and only a Queued fax can be cancelled"
        super().__init__(
            f"fax {message_id} cannot be cancelled: {reason}. To remove it from the message "
            f"store use delete_fax({message_id!r})"
        )
        self.message_id = message_id
        self.status = status
        self.availability = availability


class LinkRefused(RingFaxError):
    """A link the server sent (``navigation.nextPage``) leads off the server, so it is not
    followed: the access token is sent only to ``server_url``. ``url`` is the refused link
    (user info and query redacted)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class DownloadError(RingFaxError):
    """``download`` refused to write: the target file already exists (``exists``; pass
    ``overwrite=True``) or the computed path would leave the target directory. ``path`` is the
    refused path."""

    def __init__(
        self, message: str, *, path: os.PathLike[str] | str | None = None, exists: bool = False
    ) -> None:
        super().__init__(message)
        self.path = path
        self.exists = exists


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of a RingCentral ``errors[]`` array."""

    error_code: str | None
    message: str | None
    parameter_name: str | None = None
    parameter_value: str | None = None


class APIError(RingFaxError):
    """The server answered with an error status.

    Attributes: ``status`` (HTTP status), ``error_code`` (top-level ``errorCode``, else the
    first ``errors[].errorCode``, else the OAuth ``error``), ``oauth_error`` (the OAuth
    ``error`` field, e.g. ``invalid_grant``), ``message``, ``errors`` (list of
    :class:`ErrorDetail`), ``request_id`` (``RCRequestId`` response header), ``body`` (raw
    bytes, possibly truncated to 64 KiB), ``headers``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        errors: tuple[ErrorDetail, ...] = (),
        request_id: str | None = None,
        oauth_error: str | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.oauth_error = oauth_error
        self.error_code = error_code
        self.message = message
        self.errors = list(errors)
        self.request_id = request_id
        self.body = body
        self.headers = dict(headers or {})
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"HTTP {self.status}"
        if self.error_code:
            text += f" {self.error_code}"
        text += f": {self.message}"
        params = [e.parameter_name for e in self.errors if e.parameter_name]
        if params:
            text += f" (parameter: {', '.join(dict.fromkeys(params))})"
        if self.request_id:
            text += f" [RCRequestId {self.request_id}]"
        return text

    @property
    def error_codes(self) -> list[str]:
        """Every error code in the answer: the top-level one, then the ``errors[]`` ones."""
        codes = [self.error_code] if self.error_code else []
        codes += [e.error_code for e in self.errors if e.error_code]
        codes += [self.oauth_error] if self.oauth_error else []
        return list(dict.fromkeys(codes))


class BadRequest(APIError):
    """HTTP 400."""


class AuthError(APIError):
    """HTTP 401 (bad, expired or revoked credentials)."""


class Forbidden(APIError):
    """HTTP 403."""


class NotFound(APIError):
    """HTTP 404."""


class NotAcceptable(APIError):
    """HTTP 406 (RingCentral: MSG-343 "Fax resend is not allowed for message in current state")."""


class Conflict(APIError):
    """HTTP 409."""


class PayloadTooLarge(APIError):
    """HTTP 413."""


class UnsupportedMediaType(APIError):
    """HTTP 415 (RingCentral: MSG-348 "Unsupported attachment media type")."""


class RateLimited(APIError):
    """HTTP 429. ``retry_after``: seconds to wait from the ``Retry-After`` header, or None."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)

    def _render(self) -> str:
        text = super()._render()
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g} s)"
        return text


class ServerError(APIError):
    """HTTP 5xx."""


class UnexpectedRedirect(APIError):
    """HTTP 3xx: ringfax never follows redirects (a bearer token must not travel elsewhere, and
    a redirect page must never be saved as a fax document). ``location`` is the ``Location``
    header with token-like query values redacted (None when absent)."""

    def __init__(self, *args: Any, location: str | None = None, **kwargs: Any) -> None:
        self.location = location
        super().__init__(*args, **kwargs)


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    406: NotAcceptable,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: RateLimited,
}

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_MAX_BODY = 64 * 1024
_TAG_RE = re.compile(r"<[^>]{0,200}>")
_SPACE_RE = re.compile(r"\s+")
_TOKEN_QS_RE = re.compile(r"(?i)((?:access_token|refresh_token|token|assertion)=)[^&#\s]*")


def redact_url(url: str) -> str:
    """``url`` with any ``access_token=``/``token=``-style query values replaced by ``***``."""
    return _TOKEN_QS_RE.sub(r"\1***", url)


def _redact_location(value: str) -> str:
    """A ``Location`` for messages: token-like query values and user info replaced by ``***``."""
    text = redact_url(value.strip())[:500]
    scheme, sep, rest = text.partition("://")
    if sep:
        authority, slash, tail = rest.partition("/")
        if "@" in authority:
            text = f"{scheme}://***@{authority.rsplit('@', 1)[1]}{slash}{tail}"
    return text


MAX_SERVER_WAIT = 3600.0
"""Longest wait (seconds) ringfax takes from a server: ``Retry-After`` and the
``X-Rate-Limit-Window`` a pacing wait derives from are cut to it (docs/ringfax-limits.md)."""

_DELTA_SECONDS_RE = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,30})?")


def bounded_wait(value: float | int | None) -> float | None:
    """A server-supplied wait in seconds as a float within ``[0, MAX_SERVER_WAIT]``; None for
    anything that is not a finite number >= 0 (NaN, infinities, negatives, non-numbers)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return None if value < 0 else float(min(value, int(MAX_SERVER_WAIT)))
    if value != value or value < 0 or value == float("inf"):
        return None
    return min(value, MAX_SERVER_WAIT)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date.

    ``now`` is the current time in epoch seconds (used for HTTP-dates). Returns None when the
    value is absent or unparsable (a sign, ``inf``, ``nan``, more than 30 digits); a date in
    the past gives 0; anything longer than :data:`MAX_SERVER_WAIT` gives that maximum.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 100:
        return None
    if _DELTA_SECONDS_RE.fullmatch(value):
        return bounded_wait(float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" dates: treat as UTC
        from datetime import timezone

        when = when.replace(tzinfo=timezone.utc)
    try:
        delta = when.timestamp() - now
    except (OverflowError, ValueError, OSError):
        return None
    return bounded_wait(max(0.0, delta))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _details(items: Any) -> tuple[ErrorDetail, ...]:
    if not isinstance(items, list):
        return ()
    out = []
    for item in items:
        if isinstance(item, Mapping):
            out.append(
                ErrorDetail(
                    error_code=_text(item.get("errorCode")),
                    message=_text(item.get("message")),
                    parameter_name=_text(item.get("parameterName")),
                    parameter_value=_text(item.get("parameterValue")),
                )
            )
        elif isinstance(item, str):
            out.append(ErrorDetail(error_code=None, message=item))
    return tuple(out)


def _snippet(body: bytes) -> str:
    text = body[:2000].decode("utf-8", "replace")
    if "<" in text and ">" in text:
        title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
        has_title = title is not None and title.group(1).strip()
        text = title.group(1) if title is not None and has_title else _TAG_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    return text[:300] + ("…" if len(text) > 300 else "")


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> APIError:
    """Map an error answer to the matching :class:`APIError` subclass.

    Understands RingCentral bodies (top-level ``errorCode``/``message``/``errors[]`` with
    ``parameterName``), the spec's ``{errors:[...]}`` model, OAuth bodies
    (``error``/``error_description``), and falls back to the HTML title / text snippet / HTTP
    reason for anything else (including an empty body). ``now`` (epoch seconds) is needed only
    to turn an HTTP-date ``Retry-After`` into seconds.
    """
    body = bytes(body[:_MAX_BODY])
    request_id = _header(headers, "RCRequestId")
    error_code: str | None = None
    oauth_error: str | None = None
    message: str | None = None
    errors: tuple[ErrorDetail, ...] = ()
    data: Any = None
    if body.strip():
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = None
    if isinstance(data, Mapping):
        errors = _details(data.get("errors"))
        error_code = _text(data.get("errorCode"))
        message = _text(data.get("message"))
        oauth_error = _text(data.get("error"))
        description = _text(data.get("error_description"))
        if not error_code:
            first = next((e.error_code for e in errors if e.error_code), None)
            error_code = first or oauth_error
        if not message:
            message = description or next((e.message for e in errors if e.message), None)
        if oauth_error and oauth_error != error_code and oauth_error not in (message or ""):
            message = f"{message} ({oauth_error})" if message else oauth_error
        if not errors and error_code and message and data.get("parameterName"):
            errors = (
                ErrorDetail(error_code, message, parameter_name=_text(data["parameterName"])),
            )
    elif body.strip():
        message = _snippet(body) or None
    if not message:
        message = _REASONS.get(status, "HTTP error")
        if not body.strip():
            message += " (empty response body)"
    cls = _BY_STATUS.get(status)
    if cls is None:
        if 300 <= status < 400:
            cls = UnexpectedRedirect
        else:
            cls = ServerError if status >= 500 else APIError
    kwargs: dict[str, Any] = {
        "error_code": error_code,
        "errors": errors,
        "request_id": request_id,
        "oauth_error": oauth_error,
        "body": body,
        "headers": headers,
    }
    if cls is RateLimited:
        import time

        kwargs["retry_after"] = parse_retry_after(
            _header(headers, "Retry-After"), time.time() if now is None else now
        )
    if cls is UnexpectedRedirect:
        raw_location = _header(headers, "Location")
        location = _redact_location(raw_location) if raw_location else None
        kwargs["location"] = location
        message = (
            f"unexpected redirect to {location or '(no Location header)'}: ringfax does not "
            f"follow redirects; check server_url/media_url"
        )
    return cls(status, message, **kwargs)
