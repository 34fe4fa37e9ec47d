"""Typed models: frozen dataclasses built from RingCentral JSON (unknown keys are ignored).

Every ``from_json`` keeps the raw mapping on ``.raw`` (excluded from ``==`` and ``repr``), so a
field this library does not model yet is still reachable.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any, Union

from ._filenames import sanitize_filename

__all__ = [
    "DELETED_AVAILABILITIES",
    "FAX_ERROR_TABLE",
    "TERMINAL_STATUSES",
    "Attachment",
    "AttachmentSource",
    "Caller",
    "CoverPage",
    "FaxErrorInfo",
    "FaxMessage",
    "FaxResolution",
    "FaxSync",
    "MessageAttachment",
    "MessageStatus",
    "RateLimitInfo",
    "Recipient",
    "RecipientStatus",
    "fax_error_info",
    "format_datetime",
    "is_settled",
    "parse_datetime",
]


class MessageStatus(str, enum.Enum):
    """RingCentral ``messageStatus`` values (``MessageStatusEnum``)."""

    QUEUED = "Queued"
    SENT = "Sent"
    DELIVERED = "Delivered"
    DELIVERY_FAILED = "DeliveryFailed"
    SENDING_FAILED = "SendingFailed"
    RECEIVED = "Received"

    def __str__(self) -> str:
        """The wire value (``SendingFailed``), so logs and f-strings show what the API says."""
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def is_final(self) -> bool:
        """True for the outbound final states: Sent, Delivered, SendingFailed, DeliveryFailed.

        (``Received`` is the state of an inbound fax; ``Queued`` keeps changing.)
        """
        return self in TERMINAL_STATUSES

    @property
    def is_failure(self) -> bool:
        """True for SendingFailed and DeliveryFailed."""
        return self in (MessageStatus.SENDING_FAILED, MessageStatus.DELIVERY_FAILED)

    @classmethod
    def parse(cls, value: Any) -> MessageStatus | None:
        """The member for ``value``, or None when it is absent or not a known status."""
        if isinstance(value, MessageStatus):
            return value
        try:
            return cls(value)
        except ValueError:
            return None


TERMINAL_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.SENDING_FAILED,
        MessageStatus.DELIVERY_FAILED,
    }
)


DELETED_AVAILABILITIES = frozenset({"Deleted", "Purged"})
"""``availability`` values of a deleted message (``Alive`` is the other one)."""


class FaxResolution(str, enum.Enum):
    """``faxResolution``: High = 200 dpi, Low = 100 dpi."""

    HIGH = "High"
    LOW = "Low"

    def __str__(self) -> str:
        """The wire value (``High``)."""
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass(frozen=True)
class FaxErrorInfo:
    """What a per-recipient ``faxErrorCode`` means and whether re-sending may help."""

    code: str
    reason: str
    retryable: bool


# code -> (human-readable reason, worth retrying later?). "Retryable" means a later resend of
# the same fax to the same number may succeed without anyone changing anything (busy line,
# no answer, transient network/server trouble). Account, permission, number and content
# problems are not retryable: they need a human to fix something first.
_FAX_ERRORS: dict[str, tuple[str, bool]] = {
    "AllLinesInUse": ("all lines at the destination were in use", True),
    "Undefined": ("the fax failed for an unspecified reason", False),
    "NoFaxSendPermission": ("the extension has no permission to send faxes", False),
    "NoInternationalPermission": ("the extension may not send international faxes", False),
    "NoFaxMachine": ("no fax machine answered at the destination (voice or silence)", False),
    "NoAnswer": ("the destination did not answer", True),
    "LineBusy": ("the destination line was busy", True),
    "CallerHungUp": ("the receiving side hung up during the transmission", True),
    "NotEnoughCredits": ("the account has not enough credits", False),
    "SentPartially": ("only part of the pages were transmitted", True),
    "InternationalCallingDisabled": ("international calling is disabled for the account", False),
    "DestinationCountryDisabled": ("faxing to the destination country is disabled", False),
    "UnknownCountryCode": ("the number has an unknown country code", False),
    "NotAccepted": ("the receiving fax machine did not accept the fax", False),
    "InvalidNumber": ("the number is invalid", False),
    "CallDeclined": ("the call was declined by the destination", False),
    "TooManyCallsPerLine": ("too many simultaneous calls on the line", True),
    "CallFailed": ("the call failed (network problem)", True),
    "RenderingFailed": ("the attachments could not be rendered to fax pages", False),
    "TooManyPages": ("the fax has too many pages (limit 200)", False),
    "ReturnToDBQueue": ("the fax was returned to the queue for a later attempt", True),
    "NoCallTime": ("the account is out of fax minutes", False),
    "WrongNumber": ("the number is wrong (not a fax number or not in service)", False),
    "ProhibitedNumber": ("the number is prohibited", False),
    "InternalError": ("RingCentral internal error", True),
    "FaxSendingProhibited": ("fax sending is prohibited for the account", False),
    "ThePhoneIsBlacklisted": ("the number is blacklisted", False),
    "UserNotFound": ("the sending user was not found", False),
    "ConvertError": ("an attachment could not be converted", False),
    "DBGeneralError": ("RingCentral database error", True),
    "SkypeBillingFailed": ("billing for the call failed", False),
    "AccountSuspended": ("the account is suspended", False),
    "ProhibitedDestination": ("the destination is prohibited", False),
    "InternationalDisabled": ("international faxing is disabled", False),
}

FAX_ERROR_TABLE: Mapping[str, FaxErrorInfo] = {
    code: FaxErrorInfo(code, reason, retryable) for code, (reason, retryable) in _FAX_ERRORS.items()
}


def fax_error_info(code: str) -> FaxErrorInfo:
    """The :class:`FaxErrorInfo` for a ``faxErrorCode`` (unknown codes: not retryable)."""
    info = FAX_ERROR_TABLE.get(code)
    if info is not None:
        return info
    return FaxErrorInfo(code, f"unknown fax error code {code!r}", False)


def parse_datetime(value: Any) -> datetime | None:
    """Parse RingCentral ISO 8601 timestamps (``2026-08-20T17:02:11.519Z``); None if absent/bad."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_datetime(value: datetime) -> str:
    """An aware datetime as ISO 8601 UTC with milliseconds: ``YYYY-MM-DDTHH:MM:SS.sssZ``.

    Raises ValueError for a naive datetime (the caller must say which time zone it means).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware datetime (e.g. tzinfo=UTC)")
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class Recipient:
    """A fax recipient: an E.164 number and an optional name printed on the cover page."""

    phone_number: str
    name: str | None = None

    def to_json(self) -> dict[str, str]:
        """The ``FaxRequestTo`` JSON object."""
        out = {"phoneNumber": self.phone_number}
        if self.name:
            out["name"] = self.name
        return out


AttachmentSource = Union[
    bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes], Iterable[bytes]
]
"""Where attachment bytes come from: bytes, a path (``str`` or ``PathLike``), a binary file
object, or an iterable of bytes chunks (one-shot; cannot be replayed on a retry)."""


@dataclass(frozen=True)
class Attachment:
    """A document to fax.

    ``source`` is bytes, a path (``str``/``PathLike``), a binary file object (read from its
    current position) or an iterable of bytes. ``filename`` is the name for display (the
    basename of a path when not given); the name sent on the wire is :attr:`wire_filename`,
    with ``& @ # $ % ^ *`` replaced by ``_`` (RingCentral refuses them). ``size`` is the byte
    count when the caller knows it (required for an exact Content-Length with iterables).
    """

    source: Any = field(repr=False)
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None

    @property
    def display_name(self) -> str:
        """The filename as given (or derived from the path), for messages and display."""
        if self.filename is not None:
            return self.filename
        if isinstance(self.source, (str, os.PathLike)):
            return os.path.basename(os.fspath(self.source))
        name = getattr(self.source, "name", None)
        if isinstance(name, str) and name:
            return os.path.basename(name)
        return ""

    @property
    def wire_filename(self) -> str:
        """:attr:`display_name` with RingCentral's forbidden characters replaced by ``_``."""
        return sanitize_filename(self.display_name)


@dataclass(frozen=True)
class Caller:
    """A ``from`` block: phone number, name, location, extension."""

    phone_number: str | None = None
    name: str | None = None
    location: str | None = None
    extension_number: str | None = None
    extension_id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Caller:
        """Build from JSON; unknown keys are ignored."""
        return cls(
            phone_number=_str(data.get("phoneNumber")),
            name=_str(data.get("name")),
            location=_str(data.get("location")),
            extension_number=_str(data.get("extensionNumber")),
            extension_id=_str(data.get("extensionId")),
        )


@dataclass(frozen=True)
class RecipientStatus:
    """One entry of a message's ``to[]``: per-recipient status and ``faxErrorCode``."""

    phone_number: str | None
    name: str | None = None
    message_status: MessageStatus | None = None
    fax_error_code: str | None = None
    recipient_id: str | None = None
    location: str | None = None
    raw_status: str | None = None

    @property
    def error(self) -> FaxErrorInfo | None:
        """The meaning of :attr:`fax_error_code`, or None when there is none."""
        return fax_error_info(self.fax_error_code) if self.fax_error_code else None

    @property
    def retryable(self) -> bool:
        """True when this recipient failed with a fax error worth retrying later."""
        return bool(
            self.message_status is not None
            and self.message_status.is_failure
            and self.error is not None
            and self.error.retryable
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecipientStatus:
        """Build from JSON; unknown keys are ignored."""
        return cls(
            phone_number=_str(data.get("phoneNumber")),
            name=_str(data.get("name")),
            message_status=MessageStatus.parse(data.get("messageStatus")),
            fax_error_code=_str(data.get("faxErrorCode")),
            recipient_id=_str(data.get("recipientId")),
            location=_str(data.get("location")),
            raw_status=_str(data.get("messageStatus")),
        )


@dataclass(frozen=True)
class MessageAttachment:
    """An attachment of a stored message (``attachments[]``)."""

    id: str
    uri: str | None = None
    type: str | None = None
    content_type: str | None = None
    filename: str | None = None
    size: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageAttachment:
        """Build from JSON (``filename`` or message-store's ``fileName``); unknown keys ignored."""
        return cls(
            id=_str(data.get("id")) or "",
            uri=_str(data.get("uri")),
            type=_str(data.get("type")),
            content_type=_str(data.get("contentType")),
            filename=_str(data.get("filename", data.get("fileName"))),
            size=_int(data.get("size")),
        )


@dataclass(frozen=True)
class FaxMessage:
    """A fax message (``FaxResponse`` / message-store record).

    ``id`` is a string (RingCentral sends an int64 number; a string keeps it exact everywhere).
    ``message_status`` is the aggregate status; per-recipient details are in ``to``.
    """

    id: str
    uri: str | None = None
    type: str | None = None
    direction: str | None = None
    message_status: MessageStatus | None = None
    read_status: str | None = None
    priority: str | None = None
    availability: str | None = None
    creation_time: datetime | None = None
    last_modified_time: datetime | None = None
    fax_resolution: str | None = None
    fax_page_count: int | None = None
    cover_index: int | None = None
    cover_page_text: str | None = None
    subject: str | None = None
    from_: Caller | None = None
    to: tuple[RecipientStatus, ...] = ()
    attachments: tuple[MessageAttachment, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        """True when the fax reached a final status (and no recipient is still ``Queued``)."""
        if self.message_status is None or not self.message_status.is_final:
            return False
        return all(r.message_status is not MessageStatus.QUEUED for r in self.to)

    @property
    def is_deleted(self) -> bool:
        """True when the message was deleted (``availability`` ``Deleted`` or ``Purged``).

        Cancelling a Queued fax deletes it: its ``messageStatus`` stays ``Queued`` for good,
        so this, not the status, says that it will not be sent.
        """
        return self.availability in DELETED_AVAILABILITIES

    @property
    def failed_recipients(self) -> tuple[RecipientStatus, ...]:
        """Recipients whose status is SendingFailed or DeliveryFailed."""
        return tuple(r for r in self.to if r.message_status and r.message_status.is_failure)

    @property
    def retryable_recipients(self) -> tuple[RecipientStatus, ...]:
        """Failed recipients whose ``faxErrorCode`` is worth retrying (see
        :data:`FAX_ERROR_TABLE`): the ones a resend can reach without anyone fixing anything."""
        return tuple(r for r in self.failed_recipients if r.retryable)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaxMessage:
        """Build from a ``FaxResponse`` / ``GetMessageInfoResponse``; unknown keys ignored."""
        from_ = data.get("from")
        return cls(
            id=_str(data.get("id")) or "",
            uri=_str(data.get("uri")),
            type=_str(data.get("type")),
            direction=_str(data.get("direction")),
            message_status=MessageStatus.parse(data.get("messageStatus")),
            read_status=_str(data.get("readStatus")),
            priority=_str(data.get("priority")),
            availability=_str(data.get("availability")),
            creation_time=parse_datetime(data.get("creationTime")),
            last_modified_time=parse_datetime(data.get("lastModifiedTime")),
            fax_resolution=_str(data.get("faxResolution")),
            fax_page_count=_int(data.get("faxPageCount")),
            cover_index=_int(data.get("coverIndex")),
            cover_page_text=_str(data.get("coverPageText")),
            subject=_str(data.get("subject")),
            from_=Caller.from_json(from_) if isinstance(from_, Mapping) else None,
            to=tuple(
                RecipientStatus.from_json(r)
                for r in _list(data.get("to"))
                if isinstance(r, Mapping)
            ),
            attachments=tuple(
                MessageAttachment.from_json(a)
                for a in _list(data.get("attachments"))
                if isinstance(a, Mapping)
            ),
            raw=dict(data),
        )


def is_settled(message: FaxMessage) -> bool:
    """Will this message's status change no more? True for a final outbound status
    (:attr:`FaxMessage.is_final`), a received fax, and a deleted message (a fax cancelled
    while ``Queued`` keeps that status for good)."""
    return (
        message.is_final or message.is_deleted or message.message_status is MessageStatus.RECEIVED
    )


@dataclass(frozen=True)
class FaxSync:
    """One answer of RingCentral's message-sync (``FaxClient.sync_faxes``).

    ``records``: the fax messages of this sync — for a full sync (``full=True``) the current
    messages, newest first; for an incremental sync those created or changed (status, read
    status, availability — a deleted message comes back with ``availability`` ``Deleted`` or
    ``Purged``) since the token. ``sync_token``: pass it to the next ``sync_faxes`` call (and
    persist it: that is what makes receiving incremental). ``sync_time``: the server time of
    this sync. ``older_records_exist``: a full sync was cut at ``record_count``.
    """

    records: tuple[FaxMessage, ...]
    sync_token: str
    sync_time: datetime | None = None
    full: bool = False
    older_records_exist: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaxSync:
        """Build from ``{"records": [...], "syncInfo": {...}}``; raises ValueError when the
        answer has no ``syncInfo.syncToken`` (without it the next sync cannot continue)."""
        info = data.get("syncInfo")
        info = info if isinstance(info, Mapping) else {}
        token = info.get("syncToken")
        if not isinstance(token, str) or not token:
            raise ValueError("the message-sync answer has no syncInfo.syncToken")
        return cls(
            records=tuple(
                FaxMessage.from_json(r)
                for r in _list(data.get("records"))
                if isinstance(r, Mapping)
            ),
            sync_token=token,
            sync_time=parse_datetime(info.get("syncTime")),
            full=_str(info.get("syncType")) == "FSync",
            older_records_exist=info.get("olderRecordsExist") is True,
        )


@dataclass(frozen=True)
class CoverPage:
    """A cover page from the ``dictionary/fax-cover-page`` endpoint."""

    id: int
    name: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CoverPage:
        """Build from JSON (``id`` is a string in the spec); unknown keys ignored."""
        ident = _int(data.get("id"))
        return cls(id=ident if ident is not None else -1, name=_str(data.get("name")) or "")


@dataclass(frozen=True)
class RateLimitInfo:
    """The ``X-Rate-Limit-*`` headers of a response (values as sent; None when absent)."""

    group: str | None
    limit: int | None
    remaining: int | None
    window: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Read the headers (case-insensitively); None when none of them is present."""
        lower = {k.lower(): v for k, v in headers.items()}
        keys = ("group", "limit", "remaining", "window")
        values = {k: lower.get(f"x-rate-limit-{k}") for k in keys}
        if all(v is None for v in values.values()):
            return None
        return cls(
            group=values["group"],
            limit=_int(values["limit"]),
            remaining=_int(values["remaining"]),
            window=_int(values["window"]),
        )
