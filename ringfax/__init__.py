"""ringfax: a RingCentral fax client that streams, retries safely and never sends a fax twice.

Built on mimewire (streaming multipart) and urllib3 — an optional extra:
``pip install 'mimewire[fax]'`` (without it ``import ringfax`` works, but creating a client
raises :class:`RingFaxError` saying how to install it). Example::

    from datetime import datetime, timedelta, timezone
    from ringfax import Attachment, FaxClient, Recipient

    # RC_SERVER_URL, RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET, RC_USER_JWT
    with FaxClient.from_env() as client:
        fax = client.send_fax(
            [Recipient("+16505550100", "Jane Doe"), "(650) 555-0101"],
            ["contract.pdf", Attachment(b"hello", filename="note.txt")],
            cover_index=0,
            resolution="High",
            send_time=datetime.now(timezone.utc) + timedelta(minutes=5),
            default_country="US",
        )
        final = client.wait_for_fax(fax.id, timeout=900)
        for r in final.failed_recipients:
            print(r.phone_number, r.error.reason, "retry" if r.retryable else "")

Receiving: ``client.sync_faxes()`` then ``client.sync_faxes(previous.sync_token)`` (message-sync,
:class:`FaxSync`), ``iter_faxes(direction="Inbound")``, ``download(...)``, ``mark_read(...)``,
``resend_fax(received.id, to=...)`` to forward. ``cancel_fax`` cancels only a Queued fax
(:class:`NotCancellable` otherwise); ``delete_fax(id, purge=...)`` removes one.
``FaxClient(..., token_cache=FileTokenCache(path))`` shares tokens between processes;
``on_wait=`` is told when the client waits on a rate limit. :class:`Inbox` receives durably
into a directory (sync token + done ids persisted; never downloads a fax twice);
:class:`PushReceiver` runs it on RingCentral's WebSocket notifications, and
:mod:`ringfax.webhook` with :class:`InboxSyncWorker` and :class:`WebhookSubscription` on
WebHook deliveries (push events only trigger message-sync, so none is missed).

A fax is described by a :class:`FaxRequest` (or its fields as keywords of ``send_fax``).
``FaxClient(server_url, auth=JWTAuth(...) | StaticTokenAuth(...))`` takes a ready auth object
instead of the credential keywords.

Errors are :class:`RingFaxError` subclasses: :class:`ValidationError` (refused before sending;
``.param``/``.index`` name the argument), :class:`TransportError` (``.sent``),
:class:`FaxMaybeSentError` (a fax POST that may have gone through — check the message store
before sending again), :class:`APIError` and its per-status subclasses
(:class:`UnexpectedRedirect` for a 3xx, which is never followed), :class:`LinkRefused` (a
server link off the server, not followed), :class:`WaitTimeout`, :class:`NotCancellable`,
:class:`DownloadError`. :class:`AsyncFaxClient`
is the asyncio twin (``await`` the same methods; ``async for`` over ``iter_faxes``).
"""

from __future__ import annotations

from mimewire import __version__  # one distribution, one version

from ._async import AsyncFaxClient
from ._auth import FileTokenCache, JWTAuth, StaticTokenAuth
from ._client import FaxClient
from ._errors import (
    APIError,
    AuthError,
    BadRequest,
    DownloadError,
    FaxMaybeSentError,
    LinkRefused,
    NotCancellable,
    NotFound,
    RateLimited,
    RingFaxError,
    ServerError,
    TransportError,
    UnexpectedRedirect,
    ValidationError,
    WaitTimeout,
)
from ._faxbody import FaxRequest
from ._inbox import Inbox, ReceivedFax
from ._models import (
    Attachment,
    CoverPage,
    FaxMessage,
    FaxSync,
    MessageAttachment,
    MessageStatus,
    Recipient,
    RecipientStatus,
)
from ._push import InboxSyncWorker, PushReceiver
from ._retry import RetryPolicy
from ._subscriptions import Subscription, WebhookSubscription
from ._transport import FunctionTransport, Request, Response, Transport, Urllib3Transport
from ._validation import normalize_number

__all__ = [
    "APIError",
    "AsyncFaxClient",
    "Attachment",
    "AuthError",
    "BadRequest",
    "CoverPage",
    "DownloadError",
    "FaxClient",
    "FaxMaybeSentError",
    "FaxMessage",
    "FaxRequest",
    "FaxSync",
    "FileTokenCache",
    "FunctionTransport",
    "Inbox",
    "InboxSyncWorker",
    "JWTAuth",
    "LinkRefused",
    "MessageAttachment",
    "MessageStatus",
    "NotCancellable",
    "NotFound",
    "PushReceiver",
    "RateLimited",
    "ReceivedFax",
    "Recipient",
    "RecipientStatus",
    "Request",
    "Response",
    "RetryPolicy",
    "RingFaxError",
    "ServerError",
    "StaticTokenAuth",
    "Subscription",
    "Transport",
    "TransportError",
    "UnexpectedRedirect",
    "Urllib3Transport",
    "ValidationError",
    "WaitTimeout",
    "WebhookSubscription",
    "__version__",
    "normalize_number",
]
