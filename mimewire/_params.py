"""Header parameter parsing: ``value; key=token; key="quoted"; key*=charset'lang'pct``.

A hand-written, linear-time scanner (no backtracking regex) for Content-Type and
Content-Disposition values, with RFC 2231/8187 extended values and continuations and the
WHATWG form-data escapes. By default it refuses *ambiguous* parameters -- input that other
parsers read differently (a WAF-bypass risk) -- with :class:`MalformedInput`:

* the same parameter twice (names are case-insensitive): ``name="a"; NAME="b"``, two
  ``key*=`` values, the same continuation section twice, or ``key*=`` together with
  ``key*0=`` continuations;
* continuations ``key*0``, ``key*1``, ... that do not run 0, 1, 2, ... in wire order (a
  missing section 0, a gap, sections out of order);
* ``boundary`` together with ``boundary*`` (whatever the values);
* a plain ``key=`` and an extended ``key*=`` (or continuations) that decode to different
  values -- except ``filename`` outside form-data, where RFC 6266 §4.3 defines the plain
  value as a fallback and the decodable ``filename*`` wins;
* in form-data (RFC 7578 §4.2): ``name*`` in any form, and a ``filename*`` that is not
  decodable or disagrees with a plain ``filename``. A ``filename*`` alone, or equal to
  ``filename``, is accepted (old urllib3 and some CLI tools send it for non-ASCII names).

``lenient=True`` keeps the forgiving rules instead: the first duplicate wins, a decodable
extended value wins over the plain one, and nothing is ever raised.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from ._charsets import decode_with_charset
from ._errors import MalformedInput

__all__ = ["RawParams", "parse_header_params", "scan_params"]

_SKIP_SEPARATORS = re.compile(r"[; \t\r\n]*")  # always matches; linear
# One plain parameter in its everyday shape (token key without "*", a token-ish value or a
# quoted-string without backslashes) followed by ";" or the end: the fast lane. Anything
# else goes to the general scanner, which gives the same result for what this accepts.
_SIMPLE_PARAM = re.compile(
    r"[ \t]*([-!#$%&'+.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*"
    r'(?:"([^"\\]*)"|([\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*))[ \t]*(?:;|\Z)'
)
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
    text = decode_with_charset(raw, charset)
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
    decoded = decode_with_charset(raw, charset)
    if decoded is None:
        return _fallback_decode(raw), False
    return decoded, True


def _section_problem(numbers: list[int]) -> str | None:
    """Why RFC 2231 section numbers in wire order are not ``0, 1, 2, ...``, or ``None``.

    RFC 2231 §3 numbers the sections from 0 without gaps. Parsers differ on anything else:
    some stop at a gap, some join what is there in wire order, some sort the sections,
    some drop the parameter.
    """
    if numbers == list(range(len(numbers))):
        return None
    shown = str(numbers) if len(numbers) <= 8 else str(numbers[:8])[:-1] + ", ...]"
    present = set(numbers)
    if 0 not in present:
        return f"{shown} have no section 0"
    missing = next(k for k in range(len(numbers) + 1) if k not in present)
    if missing < max(present):
        return f"{shown} skip section {missing}"
    return f"{shown} are out of order"


def _is_section(number: str) -> bool:
    """An RFC 2231 section number: ASCII digits, short enough for ``int`` to be cheap."""
    return 0 < len(number) <= 6 and number.isascii() and number.isdigit()


class RawParams:
    """The parameters of one header value as written, before any precedence is applied.

    ``plain`` maps ``key`` -> value of ``key=``, ``extended`` maps ``key`` -> raw value of
    ``key*=``, ``sections`` maps ``key`` -> {n: (raw value, encoded)} for ``key*n=`` /
    ``key*n*=``; each keeps the first occurrence. ``duplicate`` is the first parameter
    seen twice (``"key"``, ``"key*"`` or ``"key*n"``), else ``None``.
    """

    __slots__ = ("duplicate", "extended", "plain", "sections")

    def __init__(self) -> None:
        self.plain: dict[str, str] = {}
        self.extended: dict[str, str] = {}
        self.sections: dict[str, dict[int, tuple[str, bool]]] = {}
        self.duplicate: str | None = None


def scan_params(value: str, *, form_data: bool = False) -> tuple[str, RawParams]:
    """Split ``value`` into its main value (lowercased, stripped) and :class:`RawParams`.

    Never raises; linear time in ``len(value)``.
    """
    s = value if isinstance(value, str) else str(value)
    n = len(s)
    raw = RawParams()
    semi = s.find(";")
    if semi < 0:
        return s.strip().lower(), raw
    main = s[:semi].strip().lower()
    plain = raw.plain
    extended = raw.extended
    sections = raw.sections
    duplicate: str | None = None
    i = semi + 1
    while i < n:
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
        encoded = key.endswith("*")
        base = key[:-1] if encoded else key
        star, sep, number = base.rpartition("*")
        if sep and star and _is_section(number):
            bucket = sections.setdefault(star, {})
            section = int(number)
            if section in bucket:
                duplicate = duplicate or f"{star}*{section}"
            else:
                bucket[section] = (raw_value, encoded)
        elif encoded:
            if not base:
                continue
            if base in extended:
                duplicate = duplicate or key
            else:
                extended[base] = raw_value
        elif key in plain:
            duplicate = duplicate or key
        else:
            plain[key] = raw_value
    raw.duplicate = duplicate
    return main, raw


def _simple_params(s: str, pos: int) -> dict[str, str] | None:
    """The parameters from ``s[pos]`` on when every one has the everyday shape and no name
    repeats; else ``None`` (the general scanner decides)."""
    params: dict[str, str] = {}
    n = len(s)
    match = _simple_match
    while pos < n:
        found = match(s, pos)
        if found is None:
            return None
        key = found.group(1).lower()
        if key in params:
            return None
        quoted = found.group(2)
        params[key] = found.group(3) if quoted is None else quoted
        pos = found.end()
    return params


_simple_match = _SIMPLE_PARAM.match


def _shown(value: str, limit: int = 200) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def parse_header_params(
    value: str, *, form_data: bool = False, lenient: bool = False
) -> tuple[str, dict[str, str]]:
    """Split a header like ``form-data; name="a"; filename*=UTF-8''%E2%82%AC.pdf``.

    Returns ``(main value lowercased and stripped, {param name lowercased: value})``.

    * Quoted strings honour backslash escapes (``\\"``, ``\\\\``); unterminated quotes run to
      the end; anything between a closing quote and the next ``;`` is ignored.
    * A parameter without ``=`` is ignored; ``name=`` gives ``""``.
    * RFC 2231/8187: ``key*=charset'lang'pct-encoded`` and continuations ``key*0=``,
      ``key*1*=`` ... are decoded and stored under ``key``; the charset named in section 0
      decodes every encoded section. An unknown charset or undecodable bytes never raise:
      the bytes are decoded as UTF-8, falling back to Latin-1.
    * ``form_data=True`` (a form-data Content-Disposition): ``%22``, ``%0D``, ``%0A`` in the
      plain ``name`` / ``filename`` values are unescaped to ``"``, CR, LF (WHATWG), and
      only ``\\"`` and ``\\\\`` are backslash escapes (other backslashes are literal).
    * Ambiguous parameters (duplicates, ``name*`` in form-data, disagreeing ``key`` /
      ``key*`` pairs, continuations with a gap, out of order or without section 0; see the
      module docs) raise :class:`MalformedInput`. Outside
      form-data a decodable ``filename*`` wins over ``filename`` (RFC 6266 §4.3).
    * ``lenient=True``: never raises; the first duplicate wins, a decodable extended
      value wins over the plain one, and continuations are joined in numeric order up to
      the first missing section.

    Linear time in ``len(value)``.
    """
    s = value if isinstance(value, str) else str(value)
    semi = s.find(";")
    if semi < 0:
        return s.strip().lower(), {}
    fast = _simple_params(s, semi + 1)
    if fast is not None:
        if form_data:
            for key in ("name", "filename"):
                if key in fast:
                    fast[key] = _form_unescape(fast[key])
        return s[:semi].strip().lower(), fast
    main, raw = scan_params(s, form_data=form_data)
    plain = raw.plain
    extended = raw.extended
    sections = raw.sections
    if form_data:
        for key in ("name", "filename"):
            if key in plain:
                plain[key] = _form_unescape(plain[key])
    if not lenient:
        if raw.duplicate is not None:
            raise MalformedInput(
                f"duplicate parameter {raw.duplicate!r} in {_shown(value)}: "
                "ambiguous (parsers disagree on which one counts)"
            )
        for key in extended.keys() & sections.keys():
            raise MalformedInput(
                f"parameter {key + '*'!r} given both whole and as continuations in "
                f"{_shown(value)}: ambiguous"
            )
        if form_data and ("name" in extended or "name" in sections):
            raise MalformedInput(
                f"'name*' in form-data {_shown(value)}: RFC 7578 §4.2 forbids it and "
                "parsers disagree on it"
            )
        for key, bucket in sections.items():
            problem = _section_problem(list(bucket))
            if problem is not None:
                raise MalformedInput(
                    f"parameter {key + '*'!r} continuations {problem} in {_shown(value)}: "
                    "ambiguous (parsers join such sections differently or drop them)"
                )
    result = dict(plain)
    # RFC 2231 ``key*=`` and ``key*0=...``: ``key*=`` beats continuations (lenient only)
    decoded: dict[str, tuple[str, bool]] = {}
    for key, bucket in sections.items():
        if key not in extended:
            decoded[key] = _join_continuations(bucket)
    for key, raw_ext in extended.items():
        decoded[key] = _decode_ext(raw_ext)
    for key, (text, decodable) in decoded.items():
        if key not in result:
            result[key] = text
            continue
        if lenient:
            if decodable:
                result[key] = text
            continue
        if key == "filename" and not form_data:
            if decodable:  # RFC 6266 §4.3: filename is the fallback for filename*
                result[key] = text
            continue
        if key == "boundary":
            raise MalformedInput(f"both 'boundary' and 'boundary*' in {_shown(value)}: ambiguous")
        if not decodable or text != result[key]:
            raise MalformedInput(
                f"{key + '*'!r} ({_shown(text, 60)}) disagrees with {key!r} "
                f"({_shown(result[key], 60)}) in "
                f"{_shown(value)}: ambiguous"
            )
    return main, result
