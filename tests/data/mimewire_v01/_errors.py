"""The mimewire exception tree.

Every error mimewire raises is a :class:`MimeWireError`. Each subclass says whose fault it
was and carries an HTTP status hint a server can answer with:

* :class:`MalformedInput` (400) -- the bytes we were given break the multipart grammar;
  ``offset`` is the absolute byte offset in the input where the problem was found.
* :class:`LimitExceeded` (413) -- a configured limit was hit; ``limit`` names it and
  ``value`` is its configured value.
* :class:`UsageError` (500) -- the caller used the API wrongly (bad header, misordered
  events, a one-shot source iterated twice, ...).
"""

from __future__ import annotations

__all__ = ["LimitExceeded", "MalformedInput", "MimeWireError", "UsageError"]


class MimeWireError(Exception):
    """Base class of every error raised by mimewire."""

    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _where(offset: int | None, part: int | None) -> str:
    bits = []
    if part is not None:
        bits.append(f"part {part}")
    if offset is not None:
        bits.append(f"byte offset {offset}")
    return f" ({', '.join(bits)})" if bits else ""


class MalformedInput(MimeWireError):
    """The input bytes are not a valid multipart body (or header, or transfer encoding).

    ``offset`` is the absolute byte offset of the problem in the input, when known;
    ``part`` the 0-based index of the part it belongs to, when known.
    """

    http_status = 400

    def __init__(self, message: str, *, offset: int | None = None, part: int | None = None) -> None:
        super().__init__(message + _where(offset, part))
        self.reason = message
        self.offset = offset
        self.part = part


class LimitExceeded(MimeWireError):
    """A configured limit was exceeded. ``limit`` is its name, ``value`` its value."""

    http_status = 413

    def __init__(
        self,
        limit: str,
        value: int,
        *,
        offset: int | None = None,
        part: int | None = None,
        detail: str | None = None,
    ) -> None:
        text = f"limit {limit}={value} exceeded"
        if detail:
            text += f": {detail}"
        super().__init__(text + _where(offset, part))
        self.limit = limit
        self.value = value
        self.offset = offset
        self.part = part


class UsageError(MimeWireError):
    """The API was used wrongly by the caller (not a problem with remote bytes)."""

    http_status = 500
