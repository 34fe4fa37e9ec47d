"""Header grammar: boundaries, Content-Type / Content-Disposition rendering and parsing.

Everything here is a pure function on ``str`` values. Rendering refuses anything that could
break the header framing (CR, LF, NUL) with :class:`UsageError`; parsing never raises on
garbage: it is a best-effort, linear-time, hand-written scanner (no backtracking regex).

RFCs: 2045/2046 (MIME, boundary grammar), 2183 (Content-Disposition), 2231/8187 (``param*=``
charset'lang'pct-encoded values and continuations), 6266 (``filename*`` precedence), 7230
(token, quoted-string), 7578 + WHATWG HTML "multipart/form-data encoding algorithm"
(``%22``/``%0D``/``%0A`` escaping of form-data names and filenames).
"""

from __future__ import annotations

import codecs
import mimetypes
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote_to_bytes

from ._errors import MalformedInput, UsageError

__all__ = [
    "boundary_from_content_type",
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

_WS = " \t\r\n"
_SKIP_SEPARATORS = re.compile(r"[; \t\r\n]*")  # always matches; linear
_FORM_UNESCAPE = re.compile(r"%(22|0[dDaA])")
_FORM_UNESCAPE_MAP = {"22": '"', "0d": "\r", "0D": "\r", "0a": "\n", "0A": "\n"}


def _form_unescape(value: str) -> str:
    if "%" not in value:
        return value
    return _FORM_UNESCAPE.sub(lambda m: _FORM_UNESCAPE_MAP[m.group(1)], value)


def _scan_quoted(s: str, i: int, form_data: bool) -> tuple[str, int]:
    """Read a quoted-string whose opening quote is at ``s[i]``.

    Returns ``(value, index after the closing quote)``. Linear time: the next quote is
    searched again only after an escaped quote consumed it. Unterminated strings run to the
    end. In standard mode ``\\x`` -> ``x`` (RFC 7230 quoted-pair); in form-data mode only
    ``\\\\`` and ``\\"`` are escapes and any other backslash is literal (browsers send raw
    backslashes, e.g. in Windows paths).
    """
    n = len(s)
    i += 1
    pieces: list[str] = []
    quote_at = s.find('"', i)
    while True:
        end = quote_at if quote_at >= 0 else n
        slash = s.find("\\", i, end)
        if slash < 0:
            pieces.append(s[i:end])
            return "".join(pieces), (end + 1 if quote_at >= 0 else n)
        pieces.append(s[i:slash])
        if slash + 1 >= n:  # a lone backslash at the very end
            pieces.append("\\")
            return "".join(pieces), n
        nxt = s[slash + 1]
        if form_data and nxt not in ('"', "\\"):
            pieces.append("\\")
            i = slash + 1
            continue
        pieces.append(nxt)
        i = slash + 2
        if 0 <= quote_at < i:
            quote_at = s.find('"', i)


# Codecs that are not MIME charsets: some decode in super-linear time (punycode), some
# interpret the bytes as escape sequences. A value labelled with one is "not decodable".
_NOT_CHARSETS = frozenset(
    {"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined", "utf-7"}
)


def _decode_charset(raw: bytes, charset: str) -> str | None:
    """Decode with ``charset``; ``None`` if the charset is unknown, not a text charset, or
    the bytes are invalid in it."""
    if not charset:
        charset = "utf-8"
    if len(charset) > 40:
        return None
    try:
        info = codecs.lookup(charset)
        if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
            return None
        return raw.decode(info.name)
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None


def _fallback_decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _decode_ext(value: str) -> tuple[str, bool]:
    """Decode an RFC 2231/8187 ``charset'lang'pct`` value: ``(text, decodable)``."""
    charset, sep1, rest = value.partition("'")
    _lang, sep2, encoded = rest.partition("'")
    if not (sep1 and sep2):
        # Not charset'lang'...: best effort, percent-decode as UTF-8 / Latin-1.
        return _fallback_decode(unquote_to_bytes(value)), False
    raw = unquote_to_bytes(encoded)
    text = _decode_charset(raw, charset.strip())
    if text is None:
        return _fallback_decode(raw), False
    return text, True


def _join_continuations(sections: dict[int, tuple[str, bool]]) -> tuple[str, bool]:
    """Assemble RFC 2231 §3/§4.1 continuations ``name*0``, ``name*1*``, ... in order.

    Sections are taken from 0 upward and stop at the first gap. If section 0 is encoded
    (``name*0*=charset'lang'...``) its charset decodes every encoded section.
    """
    ordered: list[tuple[str, bool]] = []
    index = 0
    while index in sections:
        ordered.append(sections[index])
        index += 1
    if not ordered:
        return "", False
    first, first_encoded = ordered[0]
    charset = ""
    if first_encoded:
        cs, sep1, rest = first.partition("'")
        _lang, sep2, data = rest.partition("'")
        if sep1 and sep2:
            charset = cs.strip()
            ordered[0] = (data, True)
    if not any(enc for _, enc in ordered):
        return "".join(text for text, _ in ordered), True
    target = charset or "utf-8"
    raw_parts: list[bytes] = []
    for text, enc in ordered:
        if enc:
            raw_parts.append(unquote_to_bytes(text))
        else:
            try:
                raw_parts.append(text.encode(target))
            except (LookupError, UnicodeError, ValueError, TypeError):
                raw_parts.append(text.encode("utf-8"))
    raw = b"".join(raw_parts)
    decoded = _decode_charset(raw, charset)
    if decoded is None:
        return _fallback_decode(raw), False
    return decoded, True


def _is_section(number: str) -> bool:
    """An RFC 2231 section number: ASCII digits, short enough for ``int`` to be cheap."""
    return 0 < len(number) <= 6 and number.isascii() and number.isdigit()


def parse_header_params(value: str, *, form_data: bool = False) -> tuple[str, dict[str, str]]:
    """Split a header like ``form-data; name="a"; filename*=UTF-8''%E2%82%AC.pdf``.

    Returns ``(main value lowercased and stripped, {param name lowercased: value})``.

    * Quoted strings honour backslash escapes (``\\"``, ``\\\\``); unterminated quotes run to
      the end; anything between a closing quote and the next ``;`` is ignored.
    * A parameter without ``=`` is ignored; ``name=`` gives ``""``.
    * Duplicate parameters: the FIRST occurrence wins.
    * RFC 2231/8187: ``key*=charset'lang'pct-encoded`` and continuations ``key*0=``,
      ``key*1*=`` ... are decoded and stored under ``key``. A decodable extended value
      WINS over the plain ``key=`` (RFC 6266 §4.3). An unknown charset or undecodable bytes
      never raise: the plain value is kept if there is one, else the bytes are decoded as
      UTF-8, falling back to Latin-1.
    * ``form_data=True`` (a form-data Content-Disposition): ``%22``, ``%0D``, ``%0A`` in the
      plain ``name`` / ``filename`` values are unescaped to ``"``, CR, LF (WHATWG), and
      only ``\\"`` and ``\\\\`` are backslash escapes (other backslashes are literal).

    Never raises; linear time in ``len(value)``.
    """
    s = value if isinstance(value, str) else str(value)
    n = len(s)
    semi = s.find(";")
    if semi < 0:
        return s.strip().lower(), {}
    main = s[:semi].strip().lower()
    plain: dict[str, str] = {}
    extended: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    i = semi + 1
    while i < n:
        # Skip separators and whitespace.
        skip = _SKIP_SEPARATORS.match(s, i)
        if skip is not None:
            i = skip.end()
        if i >= n:
            break
        next_semi = s.find(";", i)
        stop = next_semi if next_semi >= 0 else n
        eq = s.find("=", i, stop)
        if eq < 0:  # a bare word: no value, ignored
            i = stop + 1
            continue
        key = s[i:eq].strip().lower()
        j = eq + 1
        while j < n and s[j] in " \t":
            j += 1
        if j < n and s[j] == '"':
            raw_value, j = _scan_quoted(s, j, form_data)
            after = s.find(";", j)
            i = after + 1 if after >= 0 else n
        else:
            raw_value = s[j:stop].strip()
            i = stop + 1
        if not key:
            continue
        if key.endswith("*"):
            base = key[:-1]
            star, sep, number = base.rpartition("*")
            if sep and _is_section(number) and star:
                bucket = sections.setdefault(star, {})
                bucket.setdefault(int(number), (raw_value, True))
            elif base and base not in extended:
                extended[base] = raw_value
        else:
            star, sep, number = key.rpartition("*")
            if sep and _is_section(number) and star:
                bucket = sections.setdefault(star, {})
                bucket.setdefault(int(number), (raw_value, False))
            elif key not in plain:
                plain[key] = raw_value
    if form_data:
        for key in ("name", "filename"):
            if key in plain:
                plain[key] = _form_unescape(plain[key])
    result = dict(plain)
    for key, raw in sections.items():
        if key in extended:
            continue  # a plain ``key*=`` beats continuations of the same key
        text, decodable = _join_continuations(raw)
        if decodable or key not in result:
            result[key] = text
    for key, raw_ext in extended.items():
        text, decodable = _decode_ext(raw_ext)
        if decodable or key not in result:
            result[key] = text
    return main, result


def decode_header_bytes(raw: bytes) -> str:
    """Decode raw header bytes as UTF-8, falling back to Latin-1 (never raises)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def boundary_from_content_type(content_type: str) -> str:
    """The ``boundary`` parameter of a ``multipart/*`` Content-Type.

    Raises :class:`MalformedInput` when the media type is not ``multipart/*`` or the
    boundary is missing, empty or longer than 70 characters. Characters are not checked
    (strictness is the decoder's business).
    """
    shown = content_type if len(content_type) <= 200 else content_type[:200] + "..."
    main, params = parse_header_params(content_type)
    if not main.startswith("multipart/"):
        raise MalformedInput(f"Content-Type {shown!r} is not multipart/*")
    boundary = params.get("boundary")
    if boundary is None:
        raise MalformedInput(f"Content-Type {shown!r} has no boundary parameter")
    if not boundary:
        raise MalformedInput(f"Content-Type {shown!r} has an empty boundary parameter")
    if len(boundary) > _MAX_BOUNDARY:
        raise MalformedInput(
            f"Content-Type boundary is {len(boundary)} characters long; RFC 2046 allows at most 70"
        )
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
