"""Per-field rules for form uploads, and the form reader every framework integration shares.

Nothing here imports a web framework: :class:`FieldPolicy` says what a form may contain,
:class:`FormChecker` applies it to one request part by part and chunk by chunk (so a field
that is too big is refused before its bytes are kept), and :class:`FormRejected` is the
answer -- an HTTP status (400 for bad input, 413 for a limit), the field and the limit --
that each integration renders in its framework's own way. :func:`rejected` turns a
mimewire decoding error into the same answer. :class:`FormReader` drives mimewire's
sans-I/O :class:`Decoder` over the chunks an integration reads, checks each part and
hands fields and file chunks to the integration's :class:`FormSink`; one loop over the
decoder's events, because in a form of many small fields the per-part cost is the cost.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from mimewire import (
    Decoder,
    Event,
    LimitExceeded,
    Limits,
    MalformedInput,
    MimeWireError,
    PartData,
    PartEnd,
    PartStart,
    UsageError,
)

__all__ = ["FieldPolicy", "FormChecker", "FormReader", "FormRejected", "FormSink", "rejected"]

_OPTIONAL_COUNTS = ("max_fields", "max_files", "max_field_size", "max_file_size", "max_form_memory")


def _check_size(what: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"FieldPolicy.{what} must be None or an int >= 0, got {value!r}")


@dataclass(frozen=True)
class FieldPolicy:
    """What one form may contain, checked while it arrives (like Rust multer's constraints).

    * ``allowed_fields``: field names accepted (``None``: any name). Another name -> 400.
    * ``field_limits``: bytes allowed per field name, files and non-file fields alike; it
      replaces ``max_field_size`` / ``max_file_size`` for that name.
    * ``max_fields`` (1000) / ``max_files`` (1000): non-file fields / files per request.
    * ``max_field_size`` (1 MiB): bytes of one non-file field (kept in memory).
    * ``max_file_size`` (None): bytes of one file.
    * ``max_form_memory`` (None): bytes of all non-file fields together.
    * ``file_content_types``: media types accepted for files, ``*`` wildcards allowed
      (``"image/*"``); ``None`` accepts any. A file without a Content-Type counts as
      ``application/octet-stream``.

    The defaults are Starlette's ``request.form()`` defaults. Counts and sizes over a limit
    answer 413; names and content types that are not allowed answer 400. A setting of the
    wrong type raises :class:`mimewire.UsageError`; sets and mappings are copied, frozen.
    """

    allowed_fields: AbstractSet[str] | None = None
    field_limits: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    max_fields: int | None = 1000
    max_files: int | None = 1000
    max_field_size: int | None = 1 << 20
    max_file_size: int | None = None
    max_form_memory: int | None = None
    file_content_types: AbstractSet[str] | None = None

    def __post_init__(self) -> None:
        for name in _OPTIONAL_COUNTS:
            _check_size(name, getattr(self, name))
        limits = dict(self.field_limits)
        for name, value in limits.items():
            if not isinstance(name, str):
                raise UsageError(f"FieldPolicy.field_limits keys must be str, got {name!r}")
            _check_size(f"field_limits[{name!r}]", value)
        object.__setattr__(self, "field_limits", MappingProxyType(limits))
        for name in ("allowed_fields", "file_content_types"):
            value = getattr(self, name)
            if value is not None:
                items: Iterable[object] = value
                if isinstance(value, str) or not all(isinstance(v, str) for v in items):
                    raise UsageError(f"FieldPolicy.{name} must be a set of str, got {value!r}")
                object.__setattr__(self, name, frozenset(value))

    def size_limit(self, name: str, is_file: bool) -> tuple[str, int] | None:
        """``(limit name, bytes)`` that bounds the field ``name``, or ``None``."""
        if name in self.field_limits:
            return f"field_limits[{name!r}]", self.field_limits[name]
        if is_file:
            return None if self.max_file_size is None else ("max_file_size", self.max_file_size)
        return None if self.max_field_size is None else ("max_field_size", self.max_field_size)

    def accepts_type(self, content_type: str | None) -> bool:
        """Whether a file of this media type may be uploaded."""
        if self.file_content_types is None:
            return True
        media = (content_type or "application/octet-stream").lower()
        return any(fnmatch.fnmatchcase(media, p.lower()) for p in self.file_content_types)


class FormRejected(Exception):
    """A form the server refuses: ``status`` 400 (bad input) or 413 (a limit), ``field``
    (the field name, when known), ``limit`` and ``value`` (the limit's name and value)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        limit: str | None = None,
        value: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.limit = limit
        self.value = value

    def as_dict(self) -> dict[str, str | int | None]:
        """The JSON body the integrations answer with."""
        return {
            "error": self.message,
            "field": self.field,
            "limit": self.limit,
            "value": self.value,
        }


def rejected(exc: MimeWireError, field: str | None = None) -> FormRejected:
    """The answer to a mimewire decoding error (``field``: the part being read, if known)."""
    where = f"field {field!r}: " if field is not None else ""
    if isinstance(exc, LimitExceeded):
        return FormRejected(413, where + exc.message, field=field, limit=exc.limit, value=exc.value)
    if isinstance(exc, MalformedInput):
        return FormRejected(400, where + exc.message, field=field)
    return FormRejected(exc.http_status, where + exc.message, field=field)


class FormChecker:
    """One request's running counts against a :class:`FieldPolicy`.

    At each part's headers :meth:`open` checks the part and returns how many body bytes it
    may have; a caller that counts more raises :meth:`too_large`, and reports the final
    size with :meth:`close`. Comparing one int per chunk keeps the check off the profile,
    and the policy's optional limits are turned into ints once, per request.
    """

    __slots__ = (
        "_field_cap",
        "_file_cap",
        "_max_fields",
        "_max_files",
        "cap",
        "cap_name",
        "fields",
        "files",
        "form_memory",
        "is_file",
        "name",
        "policy",
    )

    def __init__(self, policy: FieldPolicy | None = None) -> None:
        if policy is not None and not isinstance(policy, FieldPolicy):
            raise UsageError(f"fields must be a FieldPolicy, not {type(policy).__name__}")
        policy = self.policy = policy if policy is not None else FieldPolicy()
        unlimited = sys.maxsize
        self._max_fields = unlimited if policy.max_fields is None else policy.max_fields
        self._max_files = unlimited if policy.max_files is None else policy.max_files
        field_cap, file_cap = policy.max_field_size, policy.max_file_size
        self._field_cap = None if field_cap is None else ("max_field_size", field_cap)
        self._file_cap = None if file_cap is None else ("max_file_size", file_cap)
        self.fields = 0
        self.files = 0
        self.form_memory = 0
        self.name: str | None = None
        self.is_file = False
        self.cap: int | None = None
        self.cap_name = ""

    def open(
        self, name: str | None, filename: str | None, content_type: str | None
    ) -> tuple[str, int]:
        """Check a new part (``filename`` not ``None``: a file): its name, and the body bytes
        it may have."""
        if name is None:
            raise FormRejected(400, "a form-data part has no name parameter")
        self.name = name
        policy = self.policy
        if policy.allowed_fields is not None and name not in policy.allowed_fields:
            raise FormRejected(400, f"field {name!r} is not allowed", field=name)
        if filename is None:
            self.is_file = False
            self.fields += 1
            if self.fields > self._max_fields:
                raise self._over("max_fields", self._max_fields, "too many fields")
            bound = self._field_cap
        else:
            self.is_file = True
            self.files += 1
            if self.files > self._max_files:
                raise self._over("max_files", self._max_files, "too many files")
            if not policy.accepts_type(content_type):
                shown = content_type or "application/octet-stream"
                raise FormRejected(
                    400, f"field {name!r}: file content type {shown!r} is not allowed", field=name
                )
            bound = self._file_cap
        if policy.field_limits and name in policy.field_limits:
            bound = policy.size_limit(name, self.is_file)
        if bound is None:
            self.cap = None
            allowed = sys.maxsize
        else:
            self.cap_name, self.cap = bound
            allowed = self.cap
        if filename is None and policy.max_form_memory is not None:
            allowed = min(allowed, policy.max_form_memory - self.form_memory)
        return name, allowed

    def too_large(self) -> FormRejected:
        """The answer to a part body over what :meth:`open` allowed."""
        limit = self.policy.max_form_memory
        if not self.is_file and limit is not None:
            remaining = limit - self.form_memory
            if self.cap is None or remaining < self.cap:
                return self._over("max_form_memory", limit, "non-file fields too large")
        assert self.cap is not None
        return self._over(self.cap_name, self.cap, "field too large")

    def close(self, size: int) -> None:
        """The current part's body ended with ``size`` bytes."""
        if not self.is_file:
            self.form_memory += size

    def _over(self, limit: str, value: int, what: str) -> FormRejected:
        name = self.name
        return FormRejected(
            413,
            f"field {name!r}: {what} (limit {limit}={value})",
            field=name,
            limit=limit,
            value=value,
        )


class FormSink(Protocol):
    """Where a :class:`FormReader` puts what it decodes (one per framework)."""

    def field(self, name: str, value: bytes, start: PartStart) -> None:
        """A complete non-file field."""

    def file(self, name: str, start: PartStart) -> Callable[[bytes], object] | None:
        """A file begins: the function its body chunks go to, or ``None`` to drop it."""

    def file_end(self, size: int) -> None:
        """The file :meth:`file` accepted is complete (``size`` bytes)."""


_INPUT_ERRORS = (MalformedInput, LimitExceeded)  # the client's fault; a UsageError is ours


def _drop(chunk: bytes) -> None:
    pass


class FormReader:
    """One ``multipart/form-data`` request: chunks in (:meth:`feed`, :meth:`finish`),
    checked parts out to a :class:`FormSink`. Every refusal is a :class:`FormRejected`.

    Parts with ambiguous headers are refused as :func:`mimewire.parse_stream` refuses them;
    Content-Transfer-Encoding is not decoded (RFC 7578 §4.7).
    """

    __slots__ = (
        "_allowed",
        "_chunks",
        "_name",
        "_size",
        "_start",
        "_write",
        "checker",
        "decoder",
        "sink",
    )

    def __init__(
        self,
        content_type: str,
        sink: FormSink,
        *,
        limits: Limits | None = None,
        policy: FieldPolicy | None = None,
    ) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise UsageError(f"limits must be a mimewire.Limits, not {type(limits).__name__}")
        self.checker = FormChecker(policy)
        self.sink = sink
        try:
            self.decoder = Decoder.from_content_type(
                content_type, limits=limits or Limits(), decode_transfer=False
            )
        except UsageError as exc:  # the boundary came from the request's header
            raise FormRejected(400, f"unusable boundary in Content-Type: {exc.message}") from None
        except _INPUT_ERRORS as exc:
            raise rejected(exc) from None
        self._start: PartStart | None = None
        self._name = ""
        self._chunks: list[bytes] = []
        self._write: Callable[[bytes], object] | None = None
        self._size = 0
        self._allowed = 0

    def feed(self, data: bytes) -> None:
        """Decode the next chunk of the body (``b""``: the body ended, see :meth:`finish`)."""
        try:
            events = self.decoder.feed(data)
        except _INPUT_ERRORS as exc:
            raise rejected(exc, self.checker.name) from None
        if events:
            self._handle(events)

    def finish(self) -> None:
        """The body ended: hand over its last events, and raise unless it was complete."""
        self.feed(b"")
        try:
            self.decoder.close()
        except _INPUT_ERRORS as exc:
            raise rejected(exc, self.checker.name) from None

    def _handle(self, events: list[Event]) -> None:
        checker = self.checker
        for event in events:
            kind = type(event)
            if kind is PartData:
                chunk = event.data  # type: ignore[union-attr]
                self._size += len(chunk)
                if self._size > self._allowed:
                    raise checker.too_large()
                write = self._write
                if write is None:
                    self._chunks.append(chunk)
                else:
                    write(chunk)
            elif kind is PartStart:
                self._open(event)  # type: ignore[arg-type]
            elif kind is PartEnd:
                if self._write is None:
                    checker.form_memory += self._size  # checker.close(), inlined
                    self.sink.field(self._name, b"".join(self._chunks), self._start)  # type: ignore[arg-type]
                elif self._write is not _drop:
                    self.sink.file_end(self._size)

    def _open(self, start: PartStart) -> None:
        try:
            _ = start.disposition  # ambiguous parameters raise here
            content_type = start.content_type
        except _INPUT_ERRORS as exc:
            raise rejected(exc) from None
        filename = start.filename
        name, self._allowed = self.checker.open(start.name, filename, content_type)
        self._start = start
        self._name = name
        self._size = 0
        if filename is None:
            self._chunks = []
            self._write = None
        else:
            self._write = self.sink.file(name, start) or _drop
