"""Resource limits of the decoder (and of :func:`mimewire.parse`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ._errors import UsageError

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Resource limits of a :class:`Decoder` (and of :func:`mimewire.parse`).

    Every limit is checked *before* the bytes it guards are buffered; exceeding one raises
    :class:`LimitExceeded` naming it. ``None`` means unlimited (only where allowed).

    * ``max_header_line`` (8 KiB): bytes in one header line (without its line break); also
      bounds a delimiter line with transport padding.
    * ``max_header_bytes`` (16 KiB): bytes of one part's header block, line breaks included,
      the terminating blank line excluded.
    * ``max_headers`` (64): header fields per part (after unfolding).
    * ``max_parts`` (1000, like werkzeug's and starlette's defaults): parts per multipart
      body for a :class:`Decoder`; :func:`parse` with ``nested=True`` and ``inspect`` count
      the parts of all nesting levels of the request together.
    * ``max_part_size`` (None): encoded (wire) bytes of one part body. Set it on servers.
    * ``max_total_size`` (None): bytes of the whole input, preamble and epilogue included.
    * ``max_preamble`` (64 KiB): bytes before the first delimiter.
    * ``max_epilogue`` (64 KiB): bytes after the close delimiter (padding included).
    * ``max_depth`` (8): nesting depth of multipart parts inside multipart parts (the
      top-level body has depth 0).
    """

    max_header_line: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    max_headers: int = 64
    max_parts: int = 1000
    max_part_size: int | None = None
    max_total_size: int | None = None
    max_preamble: int | None = 64 * 1024
    max_epilogue: int | None = 64 * 1024
    max_depth: int = 8

    def __post_init__(self) -> None:
        optional = {"max_part_size", "max_total_size", "max_preamble", "max_epilogue"}
        may_be_zero = {"max_part_size", "max_preamble", "max_epilogue", "max_depth"}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in optional:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise UsageError(f"Limits.{f.name} must be an int, not {type(value).__name__}")
            lowest = 0 if f.name in may_be_zero else 1
            if value < lowest:
                raise UsageError(f"Limits.{f.name} must be >= {lowest}, got {value}")


DEFAULT_LIMITS = Limits()
