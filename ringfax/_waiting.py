"""Following a fax until it is settled: the polling rule shared by ``FaxClient.wait_for_fax``
and ``AsyncFaxClient.wait_for_fax`` (each drives it with its own fetch and sleep)."""

from __future__ import annotations

from collections.abc import Callable

from ._errors import ValidationError, WaitTimeout
from ._models import FaxMessage, is_settled

__all__ = ["FaxWait"]


class FaxWait:
    """One wait: feed it each fetched state (:meth:`after`); it says how long to sleep
    before the next fetch, or None when the fax is settled (:func:`~ringfax._models.is_settled`).
    :class:`WaitTimeout` once ``timeout`` seconds of ``clock`` have passed."""

    def __init__(
        self,
        message_id: str | int,
        *,
        timeout: float,
        poll: float,
        clock: Callable[[], float],
        on_update: Callable[[FaxMessage], None] | None = None,
    ) -> None:
        if not poll > 0:
            raise ValidationError("poll must be > 0 seconds", param="poll")
        self.message_id = str(message_id)
        self.timeout = timeout
        self.poll = poll
        self.clock = clock
        self.on_update = on_update
        self.deadline = clock() + timeout

    def after(self, message: FaxMessage) -> float | None:
        """Seconds to sleep before the next poll; None: ``message`` is the answer."""
        if self.on_update is not None:
            self.on_update(message)
        if is_settled(message):
            return None
        now = self.clock()
        if now >= self.deadline:
            raise WaitTimeout(self.message_id, self.timeout, message)
        return min(self.poll, self.deadline - now)
