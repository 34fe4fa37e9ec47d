"""``AsyncFaxClient``: the asyncio twin of :class:`~ringfax.FaxClient`.

Every HTTP call runs the thread-safe synchronous client in a worker thread
(:func:`asyncio.to_thread`), so the event loop never blocks on the network, the upload stays
streamed, and retries, token refresh and error mapping behave exactly as in the sync client.
Waiting (``wait_for_fax``) happens on the event loop with ``asyncio.sleep``::

    async with AsyncFaxClient.from_env() as client:
        fax = await client.send_fax(["+16505550100"], ["letter.pdf"])
        final = await client.wait_for_fax(fax.id)
        async for message in client.iter_faxes(direction="Outbound"):
            print(message.id, message.message_status)
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ._client import FaxClient
from ._errors import APIError, ValidationError
from ._faxbody import AttachmentLike, FaxRequest, ProgressCallback, fax_request
from ._models import CoverPage, FaxMessage, FaxSync, MessageAttachment, Recipient
from ._subscriptions import INBOUND_FAX_FILTERS, Subscription, WebSocketToken
from ._waiting import FaxWait

__all__ = ["AsyncFaxClient"]

T = TypeVar("T")
_DONE = object()


class AsyncFaxClient:
    """Async API over a :class:`FaxClient` (pass ``client=``, or the FaxClient arguments).

    :meth:`wait_for_fax` measures its timeout with ``wait_clock`` (seconds, default
    :func:`time.monotonic`) and awaits ``async_sleep`` between polls (both injectable for
    tests); the sync client's clock and sleep are not used for it.
    """

    def __init__(
        self,
        server_url: str | None = None,
        *,
        client: FaxClient | None = None,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wait_clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        if client is None:
            if server_url is None:
                raise ValidationError("pass server_url (and credentials) or client=FaxClient(...)")
            client = FaxClient(server_url, **kwargs)
        elif server_url is not None or kwargs:
            raise ValidationError("pass either client= or FaxClient arguments, not both")
        self.sync = client
        self._async_sleep = async_sleep
        self._wait_clock = wait_clock

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> AsyncFaxClient:
        """Like :meth:`FaxClient.from_env`."""
        return cls(client=FaxClient.from_env(environ, **kwargs))

    def __repr__(self) -> str:
        return f"AsyncFaxClient({self.sync!r})"

    async def __aenter__(self) -> AsyncFaxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release pooled connections."""
        await asyncio.to_thread(self.sync.close)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    async def send_fax(
        self,
        to: FaxRequest | str | Recipient | Sequence[str | Recipient],
        attachments: AttachmentLike | Sequence[AttachmentLike] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> FaxMessage:
        """See :meth:`FaxClient.send_fax` (``on_progress`` runs in the worker thread)."""
        request = fax_request(to, attachments, options)
        return await self._run(self.sync.send_fax, request, on_progress=on_progress)

    async def resend_fax(
        self,
        original_message_id: str | int,
        to: str | Recipient | Sequence[str | Recipient] | None = None,
        send_time: datetime | None = None,
        *,
        default_country: str | None = None,
    ) -> FaxMessage:
        """See :meth:`FaxClient.resend_fax`."""
        return await self._run(
            self.sync.resend_fax,
            original_message_id,
            to,
            send_time,
            default_country=default_country,
        )

    async def get_fax(self, message_id: str | int) -> FaxMessage:
        """See :meth:`FaxClient.get_fax`."""
        return await self._run(self.sync.get_fax, message_id)

    async def get_faxes(self, message_ids: Iterable[str | int]) -> dict[str, FaxMessage | APIError]:
        """See :meth:`FaxClient.get_faxes`."""
        if isinstance(message_ids, (str, bytes, int)):
            return await self._run(self.sync.get_faxes, message_ids)
        return await self._run(self.sync.get_faxes, list(message_ids))

    async def wait_for_fax(
        self,
        message_id: str | int,
        *,
        timeout: float = 600.0,
        poll: float = 10.0,
        on_update: Callable[[FaxMessage], None] | None = None,
    ) -> FaxMessage:
        """See :meth:`FaxClient.wait_for_fax`; sleeps with ``asyncio.sleep`` between polls."""
        wait = FaxWait(
            message_id, timeout=timeout, poll=poll, clock=self._wait_clock, on_update=on_update
        )
        while True:
            message = await self.get_fax(message_id)
            delay = wait.after(message)
            if delay is None:
                return message
            await self._async_sleep(delay)

    async def iter_faxes(
        self,
        direction: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        per_page: int = 100,
        *,
        read_status: str | None = None,
        availability: str | None = None,
        phone_number: str | None = None,
    ) -> AsyncIterator[FaxMessage]:
        """See :meth:`FaxClient.iter_faxes` (pages are fetched lazily in a worker thread)."""
        iterator = self.sync.iter_faxes(
            direction,
            date_from,
            date_to,
            per_page,
            read_status=read_status,
            availability=availability,
            phone_number=phone_number,
        )
        while True:
            item = await asyncio.to_thread(next, iterator, _DONE)
            if item is _DONE:
                return
            assert isinstance(item, FaxMessage)
            yield item

    async def sync_faxes(
        self,
        sync_token: str | None = None,
        *,
        direction: str | None = None,
        date_from: datetime | None = None,
        record_count: int | None = None,
    ) -> FaxSync:
        """See :meth:`FaxClient.sync_faxes`."""
        return await self._run(
            self.sync.sync_faxes,
            sync_token,
            direction=direction,
            date_from=date_from,
            record_count=record_count,
        )

    async def mark_read(self, message_id: str | int) -> FaxMessage:
        """See :meth:`FaxClient.mark_read`."""
        return await self._run(self.sync.mark_read, message_id)

    async def mark_unread(self, message_id: str | int) -> FaxMessage:
        """See :meth:`FaxClient.mark_unread`."""
        return await self._run(self.sync.mark_unread, message_id)

    async def cancel_fax(self, message_id: str | int) -> FaxMessage:
        """See :meth:`FaxClient.cancel_fax` (only Queued faxes; else NotCancellable)."""
        return await self._run(self.sync.cancel_fax, message_id)

    async def delete_fax(self, message_id: str | int, *, purge: bool = False) -> None:
        """See :meth:`FaxClient.delete_fax`."""
        await self._run(self.sync.delete_fax, message_id, purge=purge)

    async def download(
        self,
        message_id: str | int,
        attachment_id: str | int | MessageAttachment,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
    ) -> Path:
        """See :meth:`FaxClient.download`."""
        return await self._run(
            self.sync.download, message_id, attachment_id, path, overwrite=overwrite
        )

    async def cover_pages(self) -> list[CoverPage]:
        """See :meth:`FaxClient.cover_pages`."""
        return await self._run(self.sync.cover_pages)

    async def revoke(self) -> None:
        """See :meth:`FaxClient.revoke`."""
        await self._run(self.sync.revoke)

    # ------------------------------------------------- push subscriptions

    async def create_subscription(
        self,
        event_filters: Sequence[str] = INBOUND_FAX_FILTERS,
        *,
        address: str,
        verification_token: str | None = None,
        expires_in: int | None = None,
    ) -> Subscription:
        """See :meth:`FaxClient.create_subscription`."""
        return await self._run(
            self.sync.create_subscription,
            event_filters,
            address=address,
            verification_token=verification_token,
            expires_in=expires_in,
        )

    async def get_subscription(self, subscription_id: str) -> Subscription:
        """See :meth:`FaxClient.get_subscription`."""
        return await self._run(self.sync.get_subscription, subscription_id)

    async def list_subscriptions(self) -> list[Subscription]:
        """See :meth:`FaxClient.list_subscriptions`."""
        return await self._run(self.sync.list_subscriptions)

    async def renew_subscription(self, subscription_id: str) -> Subscription:
        """See :meth:`FaxClient.renew_subscription`."""
        return await self._run(self.sync.renew_subscription, subscription_id)

    async def delete_subscription(self, subscription_id: str) -> None:
        """See :meth:`FaxClient.delete_subscription`."""
        await self._run(self.sync.delete_subscription, subscription_id)

    async def websocket_token(self) -> WebSocketToken:
        """See :meth:`FaxClient.websocket_token`."""
        return await self._run(self.sync.websocket_token)
