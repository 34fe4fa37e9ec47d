"""Header grammar: boundaries, Content-Type / Content-Disposition rendering and parsing.

Everything here is a pure function on ``str`` values. Rendering refuses anything that could
break the header framing (CR, LF, NUL) with :class:`UsageError`. Parameter parsing lives in
:mod:`._params` (a linear-time scanner that refuses ambiguous parameters) and the charset
rule in :mod:`._charsets`; both are re-exported here.

RFCs: 2045/2046 (MIME, boundary grammar), 2183 (Content-Disposition), 2231/8187 (``param*=``
charset'lang'pct-encoded values and continuations), 6266 (``filename*`` precedence), 7230
(token, quoted-string), 7578 + WHATWG HTML "multipart/form-data encoding algorithm"
(``%22``/``%0D``/``%0A`` escaping of form-data names and filenames).
"""

from __future__ import annotations

import mimetypes
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from ._charsets import check_charset
from ._errors import MalformedInput, UsageError
from ._params import parse_header_params, scan_params

__all__ = [
    "boundary_from_content_type",
    "check_charset",
    "check_header",
    "decode_header_bytes",
    "guess_content_type",
    "make_boundary",
    "parse_header_params",
    "render_content_type",
    "render_disposition",
    "render_form_data_disposition",
    "validate_boundary",
]

#: RFC 7230 ``tchar``.
TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
#: RFC 2046 ``bcharsnospace``; ``bchars`` adds SPACE.
BCHARS_NOSPACE = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"
)
BCHARS = BCHARS_NOSPACE | {" "}
#: RFC 8187 ``attr-char`` minus ALPHA / DIGIT and the always-safe ``_.-~`` of ``quote``.
_ATTR_SAFE = "!#$&+-.^_`|~"

_MAX_BOUNDARY = 70


def _char_name(ch: str) -> str:
    """A readable name for a character in an error message."""
    names = {"\r": "CR", "\n": "LF", "\0": "NUL", "\t": "TAB", " ": "SPACE", "\x7f": "DEL"}
    if ch in names:
        return names[ch]
    if ch.isprintable():
        return f"{ch!r} (U+{ord(ch):04X})"
    return f"U+{ord(ch):04X}"


def _refuse_breaking(what: str, value: str) -> None:
    """Raise :class:`UsageError` if ``value`` holds CR, LF or NUL (the first one is named)."""
    found = [i for i in (value.find("\r"), value.find("\n"), value.find("\0")) if i >= 0]
    if found:
        first = min(found)
        raise UsageError(f"{what} contains {_char_name(value[first])} at index {first}")


def _refuse_controls(what: str, value: str) -> None:
    """Raise :class:`UsageError` for C0 controls (except TAB) and DEL in ``value``."""
    for index, ch in enumerate(value):
        if (ch < " " and ch != "\t") or ch == "\x7f":
            raise UsageError(f"{what} contains {_char_name(ch)} at index {index}")


def _check_token(what: str, value: str) -> None:
    if not value:
        raise UsageError(f"{what} is empty")
    for index, ch in enumerate(value):
        if ch not in TOKEN_CHARS:
            raise UsageError(
                f"{what} {value!r} contains {_char_name(ch)} at index {index}, "
                "which is not allowed in an RFC 7230 token"
            )


# --------------------------------------------------------------------------- boundaries


def make_boundary() -> str:
    """A fresh boundary: ``"mw-"`` + 32 hex digits (128 bits from :mod:`secrets`)."""
    return "mw-" + secrets.token_hex(16)


def validate_boundary(boundary: str) -> str:
    """Check ``boundary`` against RFC 2046 and return it.

    The grammar is 1-70 ``bchars`` (digits, letters, ``'()+_,-./:=?`` and SPACE), not
    ending with a SPACE. Anything else raises :class:`UsageError` naming the problem.
    """
    if not isinstance(boundary, str):
        raise UsageError(f"boundary must be a str, not {type(boundary).__name__}")
    if not boundary:
        raise UsageError("boundary is empty; RFC 2046 requires 1-70 characters")
    if len(boundary) > _MAX_BOUNDARY:
        raise UsageError(f"boundary is {len(boundary)} characters long; RFC 2046 allows at most 70")
    for index, ch in enumerate(boundary):
        if ch not in BCHARS:
            raise UsageError(
                f"boundary contains {_char_name(ch)} at index {index}, "
                "which is not an RFC 2046 bchar"
            )
    if boundary[-1] == " ":
        raise UsageError("boundary ends with a SPACE, which RFC 2046 forbids")
    return boundary


# --------------------------------------------------------------------------- rendering


def _quote_value(value: str) -> str:
    """``value`` as a token when it is one, else as a quoted-string (``\\`` and ``"`` escaped)."""
    if value and all(ch in TOKEN_CHARS for ch in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_content_type(
    media_type: str, params: Mapping[str, str] | Iterable[tuple[str, str]] = ()
) -> str:
    """Render ``type/subtype; key=value; ...``.

    Values are quoted only when they are not RFC 7230 tokens (boundaries with ``:`` or ``=``
    are quoted, for instance), with ``\\`` and ``"`` backslash-escaped. Control characters
    (CR, LF, NUL, ...) anywhere raise :class:`UsageError`.
    """
    _refuse_controls("media type", media_type)
    main, slash, sub = media_type.partition("/")
    if not slash:
        raise UsageError(f"media type {media_type!r} has no '/'")
    _check_token("media type", main)
    _check_token("media subtype", sub)
    items = params.items() if isinstance(params, Mapping) else params
    out = [media_type]
    for key, value in items:
        _check_token("Content-Type parameter name", key)
        _refuse_controls(f"Content-Type parameter {key!r} value", value)
        out.append(f"{key}={_quote_value(value)}")
    return "; ".join(out)


def _normalize_newlines(value: str) -> str:
    """CRLF, lone CR and lone LF -> CRLF (WHATWG entry-name normalisation)."""
    if "\r" not in value and "\n" not in value:
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _form_escape(value: str) -> str:
    """WHATWG form-data escaping, plus backslash escaping (see render_form_data_disposition)."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def render_form_data_disposition(
    name: str | None, filename: str | None, *, disposition: str = "form-data"
) -> str:
    """Render ``form-data; name="..."; filename="..."`` the way browsers do.

    WHATWG "multipart/form-data encoding algorithm": newlines in the *name* are normalised
    to CRLF, then in name and filename ``"`` -> ``%22``, CR -> ``%0D``, LF -> ``%0A``;
    non-ASCII characters are kept (UTF-8 on the wire). NUL raises :class:`UsageError`.
    ``filename=""`` renders ``filename=""``; ``None`` omits the parameter.

    Deviation from WHATWG, deliberately: a backslash is sent as ``\\\\``. Browsers send it
    raw, but every server-side parser (``multipart``, werkzeug, python-multipart, the stdlib
    ``email`` package, and :func:`parse_header_params`) treats ``\\\\`` inside a
    quoted-string as an escaped backslash, so escaping it is what round-trips.
    """
    _check_token("disposition type", disposition)
    out = [disposition]
    if name is not None:
        if "\0" in name:
            raise UsageError(f"form-data name contains NUL at index {name.index(chr(0))}")
        out.append(f'name="{_form_escape(_normalize_newlines(name))}"')
    if filename is not None:
        if "\0" in filename:
            raise UsageError(f"filename contains NUL at index {filename.index(chr(0))}")
        out.append(f'filename="{_form_escape(filename)}"')
    return "; ".join(out)


def _ascii_fallback(filename: str) -> str:
    """A printable-ASCII stand-in for ``filename``: accents stripped, the rest ``_``."""
    out = []
    for ch in filename:
        if " " <= ch < "\x7f":
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        ascii_part = "".join(c for c in decomposed if " " <= c < "\x7f")
        out.append(ascii_part or "_")
    return "".join(out)


def render_disposition(
    disposition: str,
    *,
    name: str | None = None,
    filename: str | None = None,
    filename_star: bool = False,
) -> str:
    """Render a Content-Disposition for non-form-data parts (``attachment``, ``inline``...).

    A printable-ASCII filename is sent as an RFC 2183 quoted-string. A non-ASCII filename
    (or any filename when ``filename_star`` is true) is sent as an ASCII fallback
    ``filename="..."`` followed by RFC 8187 ``filename*=UTF-8''pct-encoded`` (RFC 6266
    §4.3: recipients prefer ``filename*``). Any control character raises
    :class:`UsageError`.
    """
    _check_token("disposition type", disposition)
    out = [disposition]
    if name is not None:
        _refuse_controls("disposition name", name)
        out.append(f"name={_quote_value(name)}")
    if filename is not None:
        _refuse_controls("filename", filename)
        is_plain = all(" " <= ch < "\x7f" for ch in filename)
        if is_plain and not filename_star:
            out.append(f"filename={_quote_value(filename)}")
        else:
            out.append(f"filename={_quote_value(_ascii_fallback(filename))}")
            encoded = quote(filename.encode("utf-8"), safe=_ATTR_SAFE)
            out.append(f"filename*=UTF-8''{encoded}")
    return "; ".join(out)


def check_header(name: str, value: str) -> None:
    """Check a header about to be written: ``name`` must be an RFC 7230 token and ``value``
    free of CR, LF and NUL; otherwise raise :class:`UsageError` naming the header."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise UsageError(
            f"header name and value must be str, not {type(name).__name__} "
            f"and {type(value).__name__}"
        )
    if not name:
        raise UsageError("header name is empty")
    for index, ch in enumerate(name):
        if ch not in TOKEN_CHARS:
            raise UsageError(
                f"header name {name!r} contains {_char_name(ch)} at index {index}, "
                "which is not allowed in an RFC 7230 token"
            )
    _refuse_breaking(f"header {name!r} value", value)


# --------------------------------------------------------------------------- parsing


def decode_header_bytes(raw: bytes) -> str:
    """Decode raw header bytes as UTF-8, falling back to Latin-1 (never raises)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def boundary_from_content_type(content_type: str | bytes) -> str:
    """The ``boundary`` parameter of a ``multipart/*`` Content-Type header value.

    ``content_type`` may be ``str`` or ``bytes`` (as an ASGI server hands headers over;
    bytes are read as Latin-1). Raises :class:`MalformedInput` (HTTP 400) when:

    * the media type is not ``multipart/<subtype>``;
    * there is no ``boundary`` parameter, or it is empty or longer than 70 characters;
    * ``boundary`` is given twice, or as ``boundary*`` (RFC 2231) at all -- other parsers
      read such headers differently, so they are refused rather than guessed at;
    * any other parameter is ambiguous (see :func:`parse_header_params`);
    * the boundary contains a control or non-ASCII character or ends with a space (RFC
      2046). Other printable ASCII outside RFC 2046's ``bchars`` is accepted (real clients
      send it; the decoder's strict mode refuses it).

    A non-``str``/``bytes`` argument is a :class:`UsageError`.
    """
    if isinstance(content_type, (bytes, bytearray, memoryview)):
        content_type = bytes(content_type).decode("latin-1")
    elif not isinstance(content_type, str):
        raise UsageError(f"content_type must be str or bytes, not {type(content_type).__name__}")
    shown = repr(content_type if len(content_type) <= 200 else content_type[:200] + "...")
    main, raw = scan_params(content_type)
    media, slash, subtype = main.partition("/")
    if media != "multipart" or not slash or not subtype or not set(subtype) <= TOKEN_CHARS:
        raise MalformedInput(f"Content-Type {shown} is not multipart/*")
    if "boundary" in raw.extended or "boundary" in raw.sections:
        raise MalformedInput(
            f"Content-Type {shown} has a 'boundary*' parameter: refused as ambiguous "
            "(RFC 2046 boundaries are plain ASCII; most parsers ignore boundary*)"
        )
    _, params = parse_header_params(content_type)  # raises on duplicates
    boundary = params.get("boundary")
    if boundary is None:
        raise MalformedInput(f"Content-Type {shown} has no boundary parameter")
    if not boundary:
        raise MalformedInput(f"Content-Type {shown} has an empty boundary parameter")
    if len(boundary) > _MAX_BOUNDARY:
        raise MalformedInput(
            f"Content-Type boundary is {len(boundary)} characters long; RFC 2046 allows at most 70"
        )
    for index, ch in enumerate(boundary):
        if not " " <= ch <= "~":
            raise MalformedInput(
                f"Content-Type boundary contains {_char_name(ch)} at index {index}, "
                "which RFC 2046 does not allow"
            )
    if boundary[-1] == " ":
        raise MalformedInput("Content-Type boundary ends with a SPACE, which RFC 2046 forbids")
    return boundary


_COMMON_TYPES = {
    "pdf": "application/pdf",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "txt": "text/plain",
    "htm": "text/html",
    "html": "text/html",
    "xml": "application/xml",
    "json": "application/json",
    "csv": "text/csv",
    "rtf": "application/rtf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "zip": "application/zip",
    "gz": "application/gzip",
}
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def guess_content_type(filename: str | None) -> str:
    """Guess a media type from a file name's extension.

    Common fax/document types come from a fixed table (the same answer on every system),
    the rest from :func:`mimetypes.guess_type`; unknown -> ``application/octet-stream``.
    A compressed file (``.tar.gz``) gets the compression's type.
    """
    if not filename:
        return DEFAULT_CONTENT_TYPE
    base = filename.replace("\\", "/").rpartition("/")[2]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem.strip("."):
        return DEFAULT_CONTENT_TYPE
    known = _COMMON_TYPES.get(ext.lower())
    if known:
        return known
    guessed, encoding = mimetypes.guess_type("file." + ext, strict=False)
    if encoding:
        return _ENCODING_TYPES.get(encoding, DEFAULT_CONTENT_TYPE)
    return guessed or DEFAULT_CONTENT_TYPE
