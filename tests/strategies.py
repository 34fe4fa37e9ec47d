"""Shared hypothesis strategies for mimewire tests.

Each strategy's docstring states the RFC rule it generates from. Plain ``st.binary()`` /
``st.text()`` almost never produce the bytes multipart code gets wrong (CR, LF, ``-``, ``=``,
whitespace, partial delimiters), so these are deliberately biased toward them.

The abstract body description (:class:`MultipartSpec` / :class:`PartSpec`) is a plain
dataclass: tests draw one with :func:`multipart_spec` and call :meth:`MultipartSpec.build`
to get a :class:`mimewire.MultipartBody`, or read the fields to know what a decoder must
report.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

if TYPE_CHECKING:
    from mimewire import MultipartBody, Part

__all__ = [
    "BCHARS",
    "BCHARS_NOSPACE",
    "MultipartSpec",
    "PartSpec",
    "bodies",
    "boundaries",
    "chunkings",
    "field_names",
    "filenames",
    "header_values",
    "multipart_spec",
    "parts_spec",
    "split_at",
    "transfer_encodings",
]

#: RFC 2046 §5.1.1 ``bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," /
#: "-" / "." / "/" / ":" / "=" / "?"``
BCHARS_NOSPACE = string.digits + string.ascii_letters + "'()+_,-./:=?"
#: ``bchars := bcharsnospace / " "``
BCHARS = BCHARS_NOSPACE + " "

# Characters that need quoting in a parameter value (not RFC 7230 tchars).
_QUOTE_NEEDING = "'()+_,-./:=? "


@functools.lru_cache(maxsize=256)
def boundaries() -> st.SearchStrategy[str]:
    """RFC 2046 §5.1.1 boundaries: ``0*69<bchars> bcharsnospace`` (1-70 characters, SPACE
    allowed inside but not last).

    Biased toward the characters that force quoting in Content-Type (``'()+,/:=?`` and
    SPACE), one-character and 70-character boundaries, and real-world shapes (WebKit,
    Jersey's ``Boundary_N_N_N``, mimewire's own ``mw-<hex>``)."""
    generic = st.builds(
        lambda body, last: body + last,
        st.text(alphabet=BCHARS, max_size=69),
        st.sampled_from(BCHARS_NOSPACE),
    )
    quoting = st.builds(
        lambda body, last: body + last,
        st.text(alphabet=st.sampled_from(_QUOTE_NEEDING + "ab-"), max_size=69),
        st.sampled_from(_QUOTE_NEEDING.strip() + "z"),
    )
    real = st.one_of(
        st.text(alphabet=string.ascii_letters + string.digits, min_size=16, max_size=16).map(
            lambda s: "----WebKitFormBoundary" + s
        ),
        st.tuples(st.integers(0, 99), st.integers(0, 9_999_999), st.integers(0, 10**13)).map(
            lambda t: f"Boundary_{t[0]}_{t[1]}_{t[2]}"
        ),
        st.text(alphabet="0123456789abcdef", min_size=32, max_size=32).map(lambda s: "mw-" + s),
    )
    edges = st.one_of(
        st.sampled_from(BCHARS_NOSPACE),
        st.text(alphabet=BCHARS_NOSPACE, min_size=70, max_size=70),
        st.text(alphabet=BCHARS, min_size=68, max_size=68).map(lambda s: "a" + s + "z"),
    )
    return st.one_of(generic, quoting, real, edges)


_SPECIAL_TEXT = [
    '"',
    "\\",
    ";",
    "=",
    "%",
    "%22",
    "'",
    " ",
    "\t",
    ",",
    "é",
    "€",
    "日本",
    "😀",
    "\u200b",
    "\ufeff",
    "*",
    "''",
    '\\"',
]


def _text(
    special: list[str], exclude: str, max_size: int, controls: bool = True
) -> st.SearchStrategy[str]:
    categories = ["Cs"] if controls else ["Cs", "Cc"]
    pieces = st.one_of(
        st.sampled_from(special),
        st.characters(blacklist_categories=categories, blacklist_characters=exclude),
        st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=8),
    )
    return st.lists(pieces, max_size=max_size).map("".join)


@functools.lru_cache(maxsize=256)
def header_values() -> st.SearchStrategy[str]:
    """RFC 7230 ``field-value`` contents as ``str``: anything but CR, LF and NUL (the
    characters ``check_header`` must refuse), biased toward quotes, backslashes,
    semicolons, ``=``, ``%``, whitespace and non-ASCII (UTF-8 on the wire)."""
    return _text(_SPECIAL_TEXT, "\r\n\x00", 12)


def _strip_whatwg_escapes(value: str) -> str:
    # A literal "%22" / "%0D" / "%0A" reads back as '"' / CR / LF after WHATWG unescaping:
    # an inherent, documented non-round-trip. Break such sequences up.
    out = value
    for seq in ("%22", "%0D", "%0d", "%0A", "%0a"):
        while seq in out:
            out = out.replace(seq, seq[:2] + "_" + seq[2:])
    return out


@functools.lru_cache(maxsize=256)
def field_names(
    *, newlines: bool = False, percent: bool = False, controls: bool = True
) -> st.SearchStrategy[str]:
    """Form-data field names (RFC 7578 §4.2, WHATWG encoding): any Unicode text except NUL
    and surrogates, biased toward ``"``, ``\\``, ``;``, ``=``, ``'``, emoji, non-ASCII.

    ``newlines=True`` adds CR / LF / CRLF (WHATWG normalises them to CRLF in names, then
    escapes to ``%0D%0A``). ``percent=False`` (default) avoids literal ``%22``/``%0D``/
    ``%0A``, which cannot round-trip through WHATWG escaping. ``controls=False`` leaves
    out the other C0 controls and DEL (non-form-data dispositions refuse them)."""
    special = _SPECIAL_TEXT + (["\r", "\n", "\r\n"] if newlines else [])
    exclude = "\x00" if newlines else "\x00\r\n"
    strategy = _text(special, exclude, 10, controls)
    return strategy if percent else strategy.map(_strip_whatwg_escapes)


@functools.lru_cache(maxsize=256)
def filenames(
    *, newlines: bool = False, percent: bool = False, controls: bool = True
) -> st.SearchStrategy[str]:
    """File names as sent in ``filename=`` / ``filename*=`` (RFC 7578 §4.2, RFC 6266,
    RFC 8187): names with extensions, spaces, quotes, backslashes, semicolons, non-ASCII
    and emoji; never NUL. ``newlines``/``percent``/``controls`` as in :func:`field_names`.
    Includes the empty name (``filename=""``)."""
    stem = field_names(newlines=newlines, percent=percent, controls=controls)
    ext = st.sampled_from(["", ".pdf", ".tiff", ".txt", ".tar.gz", ".PDF", ". pdf", ".€"])
    return st.one_of(
        st.just(""),
        st.builds(lambda s, e: s + e, stem, ext),
        st.sampled_from(
            ["a.pdf", 'qu"ote.pdf', "back\\slash.pdf", "semi;colon.pdf", "€ rates.pdf", "😀.png"]
        ),
    )


@functools.lru_cache(maxsize=256)
def transfer_encodings(*, mixed_case: bool = False) -> st.SearchStrategy[str | None]:
    """Content-Transfer-Encoding values of RFC 2045 §6.1 (``None`` = header absent).
    ``mixed_case=True`` adds spellings like ``Base64`` (the token is case-insensitive)."""
    names: list[str | None] = [None, "7bit", "8bit", "binary", "base64", "quoted-printable"]
    if mixed_case:
        names += ["BASE64", "Quoted-Printable", "7BIT", "Binary"]
    return st.sampled_from(names)


def _delimiters(avoid: tuple[str, ...]) -> list[bytes]:
    return [b"--" + b.encode("ascii") for b in avoid]


def _break_delimiters(data: bytes, avoid: tuple[str, ...]) -> bytes:
    """Remove every occurrence of ``--boundary`` (for every boundary in ``avoid``) by
    dropping its last byte, until none is left (terminates: the data shrinks)."""
    for _ in range(len(data) + 1):
        hit = False
        for delim in _delimiters(avoid):
            if delim in data:
                data = data.replace(delim, delim[:-1])
                hit = True
        if not hit:
            break
    return data


_BODY_FRAGMENTS = [
    b"\r",
    b"\n",
    b"\r\n",
    b"-",
    b"--",
    b"=",
    b" ",
    b"\t",
    b"\r\n--",
    b"=\r\n",
    b"\r\n\r\n",
]


@functools.lru_cache(maxsize=256)
def bodies(
    boundary: str | None = None,
    *,
    max_size: int = 2048,
    avoid: tuple[str, ...] = (),
) -> st.SearchStrategy[bytes]:
    """Part bodies (RFC 2046 §5.1.1: any octets, as long as no line starts with
    ``--boundary``), biased toward CR, LF, ``-``, ``=``, SPACE, TAB, ``=\\r\\n`` (QP soft
    breaks) and prefixes of the delimiter ``\\r\\n--<boundary>``.

    Every boundary in ``avoid`` (and ``boundary``) is guaranteed not to occur as
    ``--<boundary>`` anywhere in the result, so a body can be framed with any of them."""
    all_avoid = tuple(avoid) + ((boundary,) if boundary else ())
    fragments: list[bytes] = list(_BODY_FRAGMENTS)
    for b in all_avoid:
        delim = b"\r\n--" + b.encode("ascii")
        fragments += [delim[:k] for k in range(1, len(delim))]
        fragments.append(b"--" + b.encode("ascii")[:-1])
    piece = st.one_of(
        st.sampled_from(fragments),
        st.binary(max_size=32),
        st.sampled_from(fragments),
        st.binary(min_size=1, max_size=max_size),
    )
    body = st.lists(piece, max_size=12).map(lambda xs: b"".join(xs)[:max_size])
    if all_avoid:
        return body.map(lambda data: _break_delimiters(data, all_avoid))
    return body


def split_at(data: bytes, points: list[int]) -> list[bytes]:
    """Split ``data`` at the given offsets (clamped, sorted, duplicates give empty chunks)."""
    cuts = sorted(min(max(p, 0), len(data)) for p in points)
    out: list[bytes] = []
    prev = 0
    for cut in cuts:
        out.append(data[prev:cut])
        prev = cut
    out.append(data[prev:])
    return out


def chunkings(data: bytes, *, max_cuts: int = 12) -> st.SearchStrategy[list[bytes]]:
    """Every way of feeding ``data`` in pieces: random split points (empty chunks too),
    including the one-byte-at-a-time split for short data."""
    cuts = st.lists(st.integers(0, len(data)), max_size=max_cuts).map(
        lambda points: split_at(data, points)
    )
    if len(data) <= 64:
        return st.one_of(cuts, st.just([data[i : i + 1] for i in range(len(data))]))
    return cuts


# --------------------------------------------------------------------------- body specs


@dataclass
class PartSpec:
    """One part, abstractly: keyword arguments for :class:`mimewire.Part` plus its body.

    ``body`` is raw (unencoded) bytes, or a nested :class:`MultipartSpec`."""

    body: bytes | MultipartSpec
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    transfer_encoding: str | None = None
    charset: str | None = None
    disposition: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments for :class:`mimewire.Part` (body excluded)."""
        return {
            "name": self.name,
            "filename": self.filename,
            "content_type": self.content_type,
            "headers": list(self.headers) or None,
            "transfer_encoding": self.transfer_encoding,
            "charset": self.charset,
            "disposition": self.disposition,
        }

    def build(self) -> Part:
        """A :class:`mimewire.Part` (nested bodies built recursively)."""
        from mimewire import Part

        body = self.body.build() if isinstance(self.body, MultipartSpec) else self.body
        return Part(body, **self.kwargs())


@dataclass
class MultipartSpec:
    """A whole multipart body, abstractly (arguments of :class:`mimewire.MultipartBody`)."""

    parts: list[PartSpec]
    subtype: str = "form-data"
    boundary: str | None = None
    preamble: bytes | None = None
    epilogue: bytes | None = None

    def build(self) -> MultipartBody:
        """A :class:`mimewire.MultipartBody` for this spec."""
        from mimewire import MultipartBody

        return MultipartBody(
            [p.build() for p in self.parts],
            subtype=self.subtype,
            boundary=self.boundary,
            preamble=self.preamble,
            epilogue=self.epilogue,
        )

    def depth(self) -> int:
        """1 for a flat body, +1 per nesting level."""
        inner = [p.body.depth() for p in self.parts if isinstance(p.body, MultipartSpec)]
        return 1 + max(inner, default=0)


_CONTENT_TYPES = [
    None,
    "text/plain",
    "application/octet-stream",
    "application/pdf",
    "application/json",
    "image/tiff",
    "text/html",
]
_CHARSETS = [None, "utf-8", "iso-8859-1", "us-ascii"]
_EXTRA_HEADER_NAMES = ["X-Custom", "X-Trace-Id", "Content-ID", "Content-Description"]


def _fit_encoding(data: bytes, cte: str | None) -> bytes:
    """Make ``data`` legal for ``cte``: 7bit = ASCII, no NUL, lines <= 998 octets."""
    if cte is None or cte.lower() != "7bit":
        return data
    ascii_only = bytes((b & 0x7F) or 0x20 for b in data)
    # No NUL after the mask (0 -> SPACE); cap the length so no line can exceed 998.
    return ascii_only[:900]


def _boundary_ok(new: str, taken: tuple[str, ...]) -> bool:
    """Nested boundaries must differ and neither may be a prefix of another (RFC 2046
    §5.1.2: an enclosing delimiter must never occur inside an encapsulated part)."""
    return all(not (new.startswith(t) or t.startswith(new)) for t in taken)


@st.composite
def parts_spec(
    draw: st.DrawFn,
    *,
    subtype: str = "form-data",
    avoid: tuple[str, ...] = (),
    nest: int = 0,
    max_body: int = 1024,
) -> PartSpec:
    """One part (RFC 2046 body part + RFC 7578 form-data rules): form-data parts always
    have a ``name``; other subtypes get an optional ``attachment``/``inline`` disposition.
    The body avoids every boundary in ``avoid``; with ``nest > 0`` the body may be a nested
    multipart (RFC 2046 §5.1.7) whose boundary clashes with none of ``avoid``."""
    form = subtype == "form-data"
    if nest > 0 and draw(st.integers(0, 3)) == 0:
        inner = draw(multipart_spec(subtype="mixed", avoid=avoid, max_depth=nest - 1))
        return PartSpec(
            body=inner,
            name=draw(field_names()) if form else None,
            disposition=None if form else draw(st.sampled_from([None, "attachment"])),
        )
    cte = draw(transfer_encodings())
    data = _fit_encoding(draw(bodies(max_size=max_body, avoid=avoid)), cte)
    name = draw(field_names()) if form else draw(_S_NAME_OR_NONE)
    filename = draw(_S_FORM_FILENAME_OR_NONE if form else _S_FILENAME_OR_NONE)
    disposition = None if form else draw(_S_DISPOSITION)
    return PartSpec(
        body=data,
        name=name,
        filename=filename,
        content_type=draw(_S_CONTENT_TYPE),
        headers=draw(_S_EXTRA_HEADERS),
        transfer_encoding=cte,
        charset=draw(_S_CHARSET),
        disposition=disposition,
    )


# Non-form-data dispositions refuse control characters; form-data ones send them raw.
_S_NAME_OR_NONE = st.none() | field_names(controls=False)
_S_FILENAME_OR_NONE = st.none() | filenames(controls=False)
_S_FORM_FILENAME_OR_NONE = st.none() | filenames()
_S_DISPOSITION = st.sampled_from([None, "attachment", "inline"])
_S_CONTENT_TYPE = st.sampled_from(_CONTENT_TYPES)
_S_CHARSET = st.sampled_from(_CHARSETS)
_S_EXTRA_HEADERS = st.lists(
    st.tuples(st.sampled_from(_EXTRA_HEADER_NAMES), header_values()), max_size=2
)
_S_PREAMBLE = st.none() | st.binary(max_size=64).map(lambda b: b.replace(b"-", b"_"))
_S_EPILOGUE = st.none() | bodies(max_size=64)


@functools.lru_cache(maxsize=256)
def _part_lists(
    subtype: str, scope: tuple[str, ...], nest: int, max_body: int, max_parts: int
) -> st.SearchStrategy[list[PartSpec]]:
    return st.lists(
        parts_spec(subtype=subtype, avoid=scope, nest=nest, max_body=max_body),
        min_size=1,  # RFC 2046: a multipart body has at least one body part
        max_size=max_parts,
    )


@st.composite
def multipart_spec(
    draw: st.DrawFn,
    *,
    subtype: str | None = None,
    avoid: tuple[str, ...] = (),
    max_depth: int = 1,
    max_parts: int = 5,
    explicit_boundary: bool | None = None,
    max_body: int = 1024,
) -> MultipartSpec:
    """A multipart body (RFC 2046 §5.1): 1..``max_parts`` parts, subtype ``form-data``,
    ``mixed``, ``related`` or ``alternative``, optional preamble/epilogue, and up to
    ``max_depth`` levels of nested ``multipart/mixed`` bodies.

    The boundary is drawn from :func:`boundaries` (or left to the encoder when
    ``explicit_boundary`` is false / drawn false); no body or preamble contains
    ``--<boundary>`` of any enclosing level, and nested boundaries are never a prefix of
    one another. The preamble has no ``--`` at all (it precedes the first delimiter)."""
    if subtype is None:
        subtype = draw(st.sampled_from(["form-data", "mixed", "related", "alternative"]))
    use_explicit = draw(st.booleans()) if explicit_boundary is None else explicit_boundary
    boundary: str | None = None
    if use_explicit or avoid:
        # Nested bodies always get an explicit boundary so clashes can be ruled out.
        boundary = draw(boundaries().filter(lambda b: _boundary_ok(b, avoid)))
    scope = avoid + ((boundary,) if boundary else ())
    parts = draw(_part_lists(subtype, scope, max_depth, max_body, max_parts))
    preamble = draw(_S_PREAMBLE)
    epilogue = draw(_S_EPILOGUE)
    return MultipartSpec(
        parts=parts, subtype=subtype, boundary=boundary, preamble=preamble, epilogue=epilogue
    )
