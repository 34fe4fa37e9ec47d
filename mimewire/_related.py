"""multipart/related (RFC 2387) and Content-ID (RFC 2392): parameters, ids, ``cid:`` URLs,
the root part and lookup by Content-ID.

A Content-ID header value is an RFC 5322 msg-id in angle brackets (``<id@domain>``); a
``cid:`` URL names the same id without the brackets, %-encoded. Ids are compared without
their brackets and surrounding whitespace, case-sensitively (the left side of a msg-id is
case-sensitive). The bare-id form (``Content-ID: 1``) that OData batches use is accepted too.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, TypeVar
from urllib.parse import quote, unquote

from ._errors import MalformedInput, UsageError
from ._params import parse_header_params

__all__ = [
    "HasHeaders",
    "cid_href",
    "content_id_from_cid",
    "find_by_content_id",
    "make_content_id",
    "multipart_params",
    "normalize_content_id",
    "related_root",
]

# RFC 5322 dot-atom text: what a generated id's domain may hold (letters, digits, "-", ".").
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
# Characters an RFC 3986 URL may carry unescaped in a cid: URL's addr-spec.
_CID_SAFE = "!$&'()*+,;=:@-._~"


class HasHeaders(Protocol):
    """A decoded part: ``header(name)`` (case-insensitive) and its position."""

    index: int

    def header(self, name: str, default: str | None = None) -> str | None: ...


P = TypeVar("P", bound=HasHeaders)


def multipart_params(params: object) -> tuple[tuple[str, str], ...]:
    """Check extra Content-Type parameters of a multipart body (``type``, ``start``,
    ``start-info`` of multipart/related; ``type`` of multipart/report, ...).

    ``boundary`` is the body's own and is refused, as are duplicates (names compare
    case-insensitively), non-``str`` names or values, CR, LF, NUL and non-ASCII text: each
    a :class:`UsageError` naming the parameter. The header renderer quotes the values.
    """
    if params is None:
        return ()
    if not isinstance(params, Mapping):
        raise UsageError(f"params must be a mapping of str to str, not {type(params).__name__}")
    seen: set[str] = set()
    out = []
    for key, value in params.items():
        if not isinstance(key, str):
            raise UsageError(f"params: a parameter name must be a str, not {type(key).__name__}")
        if not isinstance(value, str):
            raise UsageError(f"params[{key!r}] must be a str, not {type(value).__name__}")
        lowered = key.lower()
        if lowered == "boundary":
            raise UsageError("params must not set 'boundary' (use MultipartBody(boundary=...))")
        if lowered in seen:
            raise UsageError(f"params names {key!r} twice (parameter names are case-insensitive)")
        seen.add(lowered)
        for index, ch in enumerate(value):
            if ch in "\r\n\0":
                name = {"\r": "CR", "\n": "LF", "\0": "NUL"}[ch]
                raise UsageError(f"params[{key!r}] contains {name} at index {index}")
        if not value.isascii():
            raise UsageError(f"params[{key!r}] is not ASCII; Content-Type parameters are ASCII")
        out.append((key, value))
    return tuple(out)


def make_content_id(domain: str = "mimewire.invalid") -> str:
    """A fresh Content-ID header value, ``<32 hex digits@domain>`` (128 bits from
    :mod:`secrets`, so ids never collide). Use :func:`cid_href` to reference it."""
    if not isinstance(domain, str):
        raise UsageError(f"domain must be a str, not {type(domain).__name__}")
    bad = [ch for ch in domain if ch not in _DOMAIN_CHARS]
    if not domain or bad or domain.startswith(".") or domain.endswith(".") or ".." in domain:
        raise UsageError(
            f"domain {domain!r} is not a dot-atom of letters, digits and '-' (RFC 5322)"
        )
    return f"<{secrets.token_hex(16)}@{domain}>"


def normalize_content_id(value: str) -> str:
    """The id inside a Content-ID value: surrounding whitespace and one pair of angle
    brackets removed (``" <a@b> "`` -> ``"a@b"``; ``"1"`` stays ``"1"``)."""
    if not isinstance(value, str):
        raise UsageError(f"a Content-ID must be a str, not {type(value).__name__}")
    value = value.strip()
    if len(value) >= 2 and value[0] == "<" and value[-1] == ">":
        value = value[1:-1].strip()
    return value


def cid_href(content_id: str) -> str:
    """The RFC 2392 ``cid:`` URL of a Content-ID, for an ``href``: ``<a b@c>`` ->
    ``cid:a%20b@c``."""
    ident = normalize_content_id(content_id)
    if not ident:
        raise UsageError("an empty Content-ID has no cid: URL")
    return "cid:" + quote(ident, safe=_CID_SAFE)


def content_id_from_cid(href: str) -> str:
    """The Content-ID header value (with brackets) a ``cid:`` URL names (RFC 2392: drop
    ``cid:``, undo %-encoding, add angle brackets). Other URLs raise :class:`UsageError`."""
    if not isinstance(href, str):
        raise UsageError(f"a cid: URL must be a str, not {type(href).__name__}")
    href = href.strip()
    if href[:4].lower() != "cid:" or len(href) == 4:
        raise UsageError(f"{href[:80]!r} is not a cid: URL")
    return "<" + unquote(href[4:], errors="replace") + ">"


def _wanted(ref: str) -> str:
    """A lookup key from a Content-ID value, a bare id or a ``cid:`` URL."""
    if not isinstance(ref, str):
        raise UsageError(f"a Content-ID must be a str, not {type(ref).__name__}")
    stripped = ref.strip()
    if stripped[:4].lower() == "cid:":
        stripped = content_id_from_cid(stripped)
    return normalize_content_id(stripped)


def find_by_content_id(parts: Iterable[P], ref: str) -> P | None:
    """The first part whose Content-ID is ``ref`` (``<id>``, ``id`` or ``cid:id``), else
    ``None``. Ids compare case-sensitively without brackets."""
    wanted = _wanted(ref)
    for part in parts:
        value = part.header("Content-ID")
        if value is not None and normalize_content_id(value) == wanted:
            return part
    return None


def related_root(parts: Sequence[P], content_type: str) -> P:
    """The root part of a multipart/related body (RFC 2387 §3.2): the part whose Content-ID
    the ``start`` parameter names, else the first part.

    ``parts`` are the decoded parts (``list(parse(...))``: a reference may point forward, so
    the parts must all be at hand). A ``start`` naming no part, or a body without parts, is
    :class:`MalformedInput`.
    """
    if not isinstance(content_type, str):
        raise UsageError(f"content_type must be a str, not {type(content_type).__name__}")
    _, params = parse_header_params(content_type)
    start = params.get("start")
    if start is not None:
        found = find_by_content_id(parts, start)
        if found is None:
            shown = start if len(start) <= 80 else start[:80] + "..."
            raise MalformedInput(f"multipart/related start={shown!r} names no part's Content-ID")
        return found
    if not parts:
        raise MalformedInput("multipart/related body has no part, so no root")
    return parts[0]
