"""How a multipart body looks on the wire: delimiters, header blocks, a part's headers.

This is the one renderer: :class:`mimewire.Encoder` (one event at a time) and the planner
behind :class:`mimewire.MultipartBody` (a whole body at once) both build their framing bytes
from the functions here, so the two can never disagree.

Wire format (RFC 2046 §5.1.1)::

    [preamble CRLF] --boundary CRLF headers CRLF CRLF body
    CRLF --boundary CRLF headers CRLF CRLF body
    ...
    CRLF --boundary-- CRLF [epilogue]

The CRLF in front of every delimiter belongs to the delimiter, not to the body, so a body
that itself ends with CRLF shows up as a blank line before the next delimiter.

Header blocks are ``Name: value CRLF`` lines plus the blank line, encoded as UTF-8 (what
form-data uses for non-ASCII names). A :class:`mimewire.Part`'s header list comes from
:func:`part_headers`; :func:`form_data_head` is the same text for the common plain form-data
part, spelled out so many-field bodies render quickly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._errors import UsageError
from ._headers import (
    check_header,
    parse_header_params,
    render_content_type,
    render_disposition,
    render_form_data_disposition,
)

__all__ = [
    "CRLF",
    "FORM_HEAD",
    "FORM_TAIL",
    "close_delimiter",
    "delimiter",
    "encode_text",
    "form_data_head",
    "header_text",
    "is_plain",
    "part_head",
    "part_headers",
    "refuse_duplicates",
    "render_header_block",
]

CRLF = b"\r\n"

FORM_HEAD = 'Content-Disposition: form-data; name="'
"""The start of a plain form-data header block, up to the name."""
FORM_TAIL = '"\r\n\r\n'
"""The end of the header block of a plain form-data field (name only, no Content-Type)."""


# --------------------------------------------------------------------------- header blocks


def header_text(headers: Iterable[tuple[str, str]]) -> str:
    """``Name: value CRLF`` lines plus the blank line (no checks: see render_header_block)."""
    return "".join([f"{name}: {value}\r\n" for name, value in headers]) + "\r\n"


def encode_text(text: str, what: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate raises :class:`UsageError` naming ``what``."""
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"{what} contains U+{ord(text[exc.start]):04X} at index {exc.start}, a lone"
            " surrogate that cannot be encoded as UTF-8"
        ) from None


_ONCE = frozenset({"content-disposition", "content-type", "content-transfer-encoding"})


def refuse_duplicates(headers: Iterable[tuple[str, str]]) -> None:
    """:class:`UsageError` for a second Content-Disposition, Content-Type or
    Content-Transfer-Encoding: receivers disagree on which one counts (a parser
    differential), and mimewire's own decoder rejects such a part."""
    seen: set[str] = set()
    for name, _ in headers:
        key = name.lower()
        if key in _ONCE:
            if key in seen:
                raise UsageError(
                    f"a second {name} header in one part: receivers disagree on which one"
                    " counts, and decoders (mimewire's included) reject the part"
                )
            seen.add(key)


def render_header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    """Check ``headers`` and render them as a header block (bytes, blank line included).

    Every header is checked with :func:`check_header` (token name; no CR, LF or NUL in the
    value) and must be UTF-8 encodable, and Content-Disposition, Content-Type and
    Content-Transfer-Encoding may appear once each; otherwise :class:`UsageError` names the
    header.
    """
    pairs = list(headers)
    for name, value in pairs:
        check_header(name, value)
    refuse_duplicates(pairs)
    text = header_text(pairs)
    try:
        return text.encode()
    except UnicodeEncodeError:
        for name, value in pairs:
            encode_text(value, f"header {name!r} value")
        raise  # pragma: no cover - one of the values above cannot be encoded


def is_plain(value: str) -> bool:
    """True when form-data escaping leaves ``value`` unchanged (and it holds no NUL)."""
    return not ('"' in value or "\\" in value or "\r" in value or "\n" in value or "\0" in value)


def form_data_head(name: str, filename: str | None, content_type: str | None) -> str:
    """The header text of a form-data part whose name and filename are plain (:func:`is_plain`).

    Exactly ``header_text(part_headers("form-data", name=name, filename=filename,
    content_type=content_type))`` for such values, without building the list.
    """
    if filename is None:
        if content_type is None:
            return f"{FORM_HEAD}{name}{FORM_TAIL}"
        return f'{FORM_HEAD}{name}"\r\nContent-Type: {content_type}\r\n\r\n'
    if content_type is None:
        return f'{FORM_HEAD}{name}"; filename="{filename}"\r\n\r\n'
    return f'{FORM_HEAD}{name}"; filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'


# --------------------------------------------------------------------------- a part's headers


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _disposition(disp: str, name: str | None, filename: str | None, filename_star: bool) -> str:
    """Non-form-data Content-Disposition, validated by ``render_disposition``.

    ``name`` and a printable-ASCII ``filename`` are always quoted-strings
    (``filename="fax.txt"``, as every client sends them and the RingCentral examples show;
    ``render_disposition`` would send tokens, and e.g. the stdlib ``email`` parser misreads
    a token ``'``). Non-ASCII filenames (or ``filename_star=True``) use
    ``render_disposition``'s ASCII fallback plus RFC 8187 ``filename*``."""
    out = render_disposition(disp)
    if name is not None:
        render_disposition(disp, name=name)  # refuses control characters
        out += f"; name={_quoted(name)}"
    if filename is not None:
        if not filename_star and all(" " <= ch < "\x7f" for ch in filename):
            out += f"; filename={_quoted(filename)}"
        else:
            rendered = render_disposition(disp, filename=filename, filename_star=filename_star)
            out += rendered[len(disp) :]
    return out


def part_headers(
    subtype: str,
    *,
    name: str | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    charset: str | None = None,
    disposition: str | None = None,
    filename_star: bool = False,
    transfer_encoding: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """The headers of a part inside a ``multipart/<subtype>`` body (see :class:`Part`).

    The *auto* headers -- Content-Disposition, Content-Type, Content-Transfer-Encoding --
    in that order, then ``extra``; a header in ``extra`` replaces the auto header of the
    same name.
    """
    auto: list[tuple[str, str]] = []
    if disposition == "form-data" or (subtype == "form-data" and disposition is None):
        if filename_star:
            raise UsageError(
                "filename_star is not allowed in form-data dispositions (RFC 7578 §4.2)"
            )
        if name is not None or filename is not None or disposition is not None:
            auto.append(("Content-Disposition", render_form_data_disposition(name, filename)))
    elif disposition is not None or name is not None or filename is not None:
        value = _disposition(disposition or "attachment", name, filename, filename_star)
        auto.append(("Content-Disposition", value))
    ctype = content_type
    if charset is not None:
        if ctype is None:
            ctype = render_content_type("text/plain", {"charset": charset})
        else:
            media, params = parse_header_params(ctype)
            if "charset" not in params:
                ctype = render_content_type(media, [*params.items(), ("charset", charset)])
    if ctype is not None:
        auto.append(("Content-Type", ctype))
    if transfer_encoding is not None:
        auto.append(("Content-Transfer-Encoding", transfer_encoding))
    if not extra:
        return auto
    override = {k.lower() for k, _ in extra}
    result = [pair for pair in auto if pair[0].lower() not in override]
    result.extend(extra)
    return result


# --------------------------------------------------------------------------- delimiters


def delimiter(boundary: str) -> str:
    """``CRLF --boundary CRLF``: the line that opens every part but the first (which has
    no CRLF before it, or the preamble and CRLF)."""
    return f"\r\n--{boundary}\r\n"


def part_head(
    boundary: str, header_block: bytes, *, first: bool, preamble: bytes | None = None
) -> bytes:
    """The bytes that open a part: (preamble or CRLF) + ``--boundary CRLF`` + headers."""
    dash = delimiter(boundary).encode("ascii")
    if first:
        dash = dash[2:] if preamble is None else preamble + dash
    return dash + header_block


def close_delimiter(
    boundary: str,
    *,
    any_parts: bool,
    preamble: bytes | None = None,
    epilogue: bytes | None = None,
) -> bytes:
    """The bytes that close the body: ``CRLF --boundary-- CRLF`` + epilogue.

    With no parts at all, the close delimiter starts the body (after the preamble).
    """
    lead = CRLF if any_parts else (b"" if preamble is None else preamble + CRLF)
    return b"".join((lead, b"--", boundary.encode("ascii"), b"--", CRLF, epilogue or b""))
