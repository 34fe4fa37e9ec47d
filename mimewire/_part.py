"""The :class:`Part` model: one body source plus what its headers should say.

Everything a caller passes is checked here, when the part is made -- types, NUL, lone
surrogates, header syntax, transfer encodings, lengths -- so a bad argument raises
:class:`UsageError` naming the parameter at the line that made it, never a ``TypeError``
or ``UnicodeEncodeError`` (or a silently wrong header) later while the body is sent.

Body sources and how they behave:

==========================  ======================  ===================================
source                      length                  replay
==========================  ======================  ===================================
bytes/bytearray/memoryview  known (snapshot once)   yes
str                         known (charset, UTF-8)  yes
os.PathLike                 ``stat`` at creation    yes (opened per iteration, closed)
binary file, seekable       ``fstat``/``seek``      yes (rewound to its start position)
binary file, not seekable   ``length=`` or None     one-shot
Iterable[bytes]             ``length=`` or None     yes for list/tuple-like, else one-shot
AsyncIterable[bytes]        ``length=`` or None     async iteration only; one-shot if an
                                                    iterator (async generator)
MultipartBody               its ``content_length``  as the nested body
==========================  ======================  ===================================
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import IO, Any, Union

from ._codecs import encoded_length, is_identity, make_encoder
from ._errors import UsageError
from ._headers import check_header, guess_content_type, render_disposition
from ._render import encode_text, part_headers, refuse_duplicates

__all__ = ["BodySource", "NestedBody", "OneShot", "Part", "probe_file", "probe_path"]

# Source kinds (``Part._kind``).
MEM = 0  # bytes in memory (already transfer-encoded: ``Part._wire``)
PATH = 1  # a file system path, opened per iteration
FILE = 2  # a binary file object
ITER = 3  # a sync iterable of bytes
AITER = 4  # an async iterable of bytes
NESTED = 5  # a nested MultipartBody


class OneShot:
    """Mutable 'already used' flag for a source that can be iterated only once."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = False


def probe_path(path_like: os.PathLike[Any]) -> tuple[str, int]:
    """The path as ``str`` and its size; :class:`UsageError` unless it is a regular file."""
    path = os.fsdecode(os.fspath(path_like))
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"path {path!r} is not a regular file")
    return path, st.st_size


def probe_file(f: Any) -> tuple[OneShot | None, int, int | None]:
    """``(one_shot, start, length)`` of a binary file object.

    Seekable: replayable from its current position, length from ``fstat`` (or ``seek``).
    Not seekable: one-shot, length unknown. A text-mode file raises :class:`UsageError`.
    """
    if isinstance(f, io.TextIOBase):
        raise UsageError("file object is opened in text mode; open it in binary mode ('rb')")
    try:
        seekable = bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        seekable = False
    if not seekable:
        return OneShot(), 0, None
    start = int(f.tell())
    size: int | None = None
    try:
        st = os.fstat(f.fileno())
        if stat.S_ISREG(st.st_mode):
            size = st.st_size
    except (AttributeError, OSError, ValueError):
        size = None
    if size is None:
        size = int(f.seek(0, os.SEEK_END))
        f.seek(start)
    return None, start, max(0, size - start)


class NestedBody:
    """What a :class:`Part` needs from a nested multipart body. ``MultipartBody`` (built
    from parts, one layer up) is the one subclass: a part recognises a nested body by
    this base, so this module never imports the body module."""

    __slots__ = ()
    content_type: str
    content_length: int | None
    _segments: list[Any]  # the planned segments: bytes and slots
    _shots: list[tuple[OneShot, str]]  # its one-shot sources, with where they are
    _async_part: str | None  # where its first async source is, if any

    def _iter_raw(self) -> Iterator[bytes]:
        raise NotImplementedError

    def _aiter_raw(self) -> AsyncIterator[bytes]:
        raise NotImplementedError


BodySource = Union[
    bytes,
    bytearray,
    memoryview,
    str,
    "os.PathLike[str]",
    IO[bytes],
    Iterable[bytes],
    AsyncIterable[bytes],
    NestedBody,
]
"""Anything :class:`Part` accepts as a body."""


def _short(value: object) -> str:
    """``repr(value)``, cut to a length an error message can carry."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text_arg(value: object, what: str) -> str:
    """``value`` as an exact ``str``; :class:`UsageError` when it is not a ``str`` or holds a
    lone surrogate (is not UTF-8 encodable). Header grammar (NUL, CR, LF, controls: some
    depend on the subtype) is checked when the body is laid out, naming the part."""
    if type(value) is not str:
        if isinstance(value, str):
            value = str.__str__(value)  # a str subclass (e.g. an enum): its plain value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            raise UsageError(
                f"{what} must be a str, not {type(value).__name__} ({_short(bytes(value))});"
                " decode it first"
            )
        else:
            raise UsageError(f"{what} must be a str, not {type(value).__name__} ({_short(value)})")
    assert isinstance(value, str)
    if not value.isascii():
        encode_text(value, what)
    return value


def _opt_text(value: object, what: str) -> str | None:
    return None if value is None else _text_arg(value, what)


def _check_str_body(text: str) -> None:
    if not text.isascii():
        encode_text(text, "str body")


def _pairs(headers: object) -> tuple[tuple[str, str], ...]:
    if isinstance(headers, (str, bytes)) or not isinstance(headers, (Mapping, Iterable)):
        raise UsageError(
            f"headers must be a mapping or (name, value) pairs, not {type(headers).__name__}"
        )
    items: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, str]] = []
    for pair in items:
        hname: str
        hvalue: str
        try:
            if isinstance(pair, (str, bytes)):
                raise TypeError
            hname, hvalue = pair
        except (TypeError, ValueError):
            raise UsageError(f"headers must be (name, value) pairs, got {_short(pair)}") from None
        check_header(hname, hvalue)
        if not hvalue.isascii():
            encode_text(hvalue, f"header {hname!r} value")
        out.append((hname, hvalue))
    refuse_duplicates(out)
    return tuple(out)


def _cte_arg(
    transfer_encoding: object, extra: tuple[tuple[str, str], ...], nested: bool
) -> str | None:
    cte = None
    if transfer_encoding is not None:
        cte = _text_arg(transfer_encoding, "transfer_encoding").strip().lower()
    for hname, hvalue in extra:
        if hname.lower() == "content-transfer-encoding":
            declared = hvalue.strip().lower()
            if cte is not None and cte != declared:
                raise UsageError(
                    f"transfer_encoding={transfer_encoding!r} contradicts the"
                    f" Content-Transfer-Encoding header {hvalue!r}"
                )
            cte = declared
    if cte is not None and not is_identity(cte):
        make_encoder(cte)  # raises UsageError for an unknown encoding
    if nested and cte is not None and cte not in ("7bit", "8bit", "binary"):
        raise UsageError(
            f"a nested multipart body cannot use transfer encoding {cte!r}"
            " (RFC 2046 §5.1: only 7bit, 8bit or binary)"
        )
    return cte


class Part:
    """One part of a multipart body: a body source plus what its headers should say.

    ``body`` is bytes/bytearray/memoryview (copied once into immutable bytes so its length
    cannot drift), a ``str`` (encoded with ``charset``, UTF-8 by default -- a ``str`` is
    always text here; use an ``os.PathLike`` or :meth:`Part.file` for a path), an
    ``os.PathLike`` path (stat'ed now, opened only while encoding and always closed), a
    binary file object (seekable: size from ``fstat``/``seek``, rewound to its current
    position on every iteration; not seekable: one-shot), an ``Iterable[bytes]`` (one-shot
    if it is an iterator, e.g. a generator; re-iterable containers replay), an
    ``AsyncIterable[bytes]`` (async iteration only) or a nested :class:`MultipartBody`.

    ``length`` declares the number of source bytes for sources whose length cannot be
    known (iterables, non-seekable files); when the length *is* known it must agree. A
    source that yields a different number of bytes than declared raises
    :class:`UsageError` -- a wrong Content-Length is never sent silently.

    Types and encodability are checked now: ``name``, ``filename``, ``content_type``,
    ``charset``, ``disposition`` and ``transfer_encoding`` must be ``str`` (or None) without
    lone surrogates (a ``bytes`` name is refused, not sent as ``"b'...'"``), ``headers``
    must be str pairs that :func:`check_header` accepts, ``length`` a non-negative int,
    ``filename_star`` a bool; a ``str`` body must be encodable. Anything else raises
    :class:`UsageError` naming the parameter. What depends on the subtype (NUL and control
    characters in names, a form-data part without a name, ...) raises :class:`UsageError`
    naming the part when the :class:`MultipartBody` is made.

    Headers, in this order (the *auto* headers):

    1. ``Content-Disposition`` when ``name``, ``filename`` or ``disposition`` is given. In a
       ``multipart/form-data`` body: ``form-data; name="..."; filename="..."`` with WHATWG
       escaping (``"`` -> ``%22``, CR -> ``%0D``, LF -> ``%0A``; non-ASCII as UTF-8). In any
       other subtype: ``attachment`` (or ``disposition``) with ``name`` and/or ``filename``
       as quoted strings; non-ASCII filenames (or ``filename_star=True``) add an RFC 8187
       ``filename*=UTF-8''...``. ``disposition="form-data"`` forces the form-data style.
    2. ``Content-Type`` when ``content_type`` is given (``charset`` is appended when given
       and not already there); ``text/plain; charset=...`` when only ``charset`` is given
       (a ``str`` body is encoded with it); a nested body's own type. With neither, no
       Content-Type (form-data fields conventionally carry none; RFC 2046 and RFC 7578
       default to ``text/plain``, and UTF-8 is what form-data servers assume).
       Nothing is guessed here; :meth:`Part.file` guesses from the file name.
    3. ``Content-Transfer-Encoding`` when ``transfer_encoding`` is given.

    Then ``headers`` (a mapping or ``(name, value)`` pairs) in the order given. A header in
    ``headers`` whose name matches an auto header *replaces* it (it is written at its
    position in ``headers``), which is how a caller controls header order exactly. A
    ``Content-Transfer-Encoding`` in ``headers`` is applied like ``transfer_encoding``.
    """

    # Class-level defaults keep the common constructor path short (fewer stores).
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None
    charset: str | None = None
    disposition: str | None = None
    filename_star: bool = False
    # Not the fast path (fast = in-memory str/bytes, no extra headers, codec, charset,
    # disposition): the planner then renders the header list instead of form_data_head.
    _slow: bool = False
    _extra: tuple[tuple[str, str], ...] = ()
    _cte: str | None = None
    _kind: int = MEM
    _nested: NestedBody | None = None
    # ``_source`` (the body) and ``_wire`` (the in-memory body as sent, transfer encoding
    # applied; None for streamed parts) are properties over ``_src``/``_w``: a fast-path
    # ``str`` body is kept as ``_ftext`` (a name-only form field) or ``_text`` and encoded
    # on first use, so the planner can encode many fields in one go.
    _src: Any = None
    _w: bytes | None = None
    _ftext: str | None = None
    _text: str | None = None
    _raw_length: int | None = None
    _wire_length: int | None = None
    _one_shot: OneShot | None = None
    _start: int = 0

    def __init__(
        self,
        body: BodySource,
        *,
        name: str | None = None,
        filename: str | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        transfer_encoding: str | None = None,
        length: int | None = None,
        charset: str | None = None,
        disposition: str | None = None,
        filename_star: bool = False,
    ) -> None:
        if name is not None and (type(name) is not str or not name.isascii()):
            name = _text_arg(name, "name")
        if filename is not None:
            filename = _text_arg(filename, "filename")
        if content_type is not None:
            content_type = _text_arg(content_type, "content_type")
            if "\r" in content_type or "\n" in content_type:
                check_header("Content-Type", content_type)  # raises, naming the index
        kind = type(body)
        if (
            (kind is str or kind is bytes)
            and headers is None
            and transfer_encoding is None
            and length is None
            and charset is None
            and disposition is None
            and filename_star is False
        ):
            # Fast path for the common field / in-memory file part.
            self.name = name
            if kind is str:
                _check_str_body(body)  # type: ignore[arg-type]
                if filename is None and content_type is None:
                    self._ftext = body  # type: ignore[assignment]
                    return
                self._text = body  # type: ignore[assignment]
            else:
                self._src = self._w = body  # type: ignore[assignment]
            self.content_type = content_type
            self.filename = filename
            return  # everything else keeps its class default; lengths come from len(_wire)
        self._init_slow(
            body,
            name,
            filename,
            content_type,
            headers,
            transfer_encoding,
            length,
            charset,
            disposition,
            filename_star,
        )

    def _init_slow(
        self,
        body: object,
        name: str | None,
        filename: str | None,
        content_type: str | None,
        headers: object,
        transfer_encoding: object,
        length: object,
        charset: object,
        disposition: object,
        filename_star: object,
    ) -> None:
        self._slow = True
        self.name = name
        self.filename = filename
        self.charset = _opt_text(charset, "charset")
        if filename_star is not False and filename_star is not True:
            raise UsageError(f"filename_star must be a bool, not {type(filename_star).__name__}")
        self.filename_star = filename_star
        if disposition is not None:
            disposition = _text_arg(disposition, "disposition").lower()
            if disposition:  # "" means the default, as it always did
                render_disposition(disposition)  # an RFC 7230 token, or UsageError
        self.disposition = disposition
        if length is not None and (
            not isinstance(length, int) or isinstance(length, bool) or length < 0
        ):
            raise UsageError(f"length must be a non-negative int, not {length!r}")
        self._extra = () if headers is None else _pairs(headers)
        nested = isinstance(body, NestedBody)
        self._cte = cte = _cte_arg(transfer_encoding, self._extra, nested)
        if nested and content_type is not None:
            raise UsageError(
                "content_type cannot be set for a nested MultipartBody: it is"
                f" {body.content_type!r}"  # type: ignore[attr-defined]
            )
        self.content_type = content_type

        raw_length: int | None
        if isinstance(body, bytes):
            self._source = body
            raw_length = len(body)
        elif isinstance(body, str):
            try:
                data = body.encode(self.charset or "utf-8")
            except LookupError:
                raise UsageError(f"unknown charset {self.charset!r}") from None
            except UnicodeEncodeError as exc:
                raise UsageError(
                    f"str body cannot be encoded with charset {self.charset!r}: {exc.reason}"
                    f" at index {exc.start}"
                ) from None
            self._source = data
            raw_length = len(data)
        elif isinstance(body, (bytearray, memoryview)):
            self._source = bytes(body)
            raw_length = len(self._source)
        elif isinstance(body, NestedBody):
            self._kind = NESTED
            self._source = self._nested = body
            raw_length = body.content_length
        elif isinstance(body, os.PathLike):
            self._kind = PATH
            self._source, raw_length = probe_path(body)
        elif hasattr(body, "read"):
            self._kind = FILE
            self._source = body
            self._one_shot, self._start, raw_length = probe_file(body)
        elif isinstance(body, Iterable):
            self._kind = ITER
            self._source = body
            raw_length = None
            if iter(body) is body:
                self._one_shot = OneShot()
        elif isinstance(body, AsyncIterable):
            self._kind = AITER
            self._source = body
            raw_length = None
            if hasattr(body, "__anext__"):
                self._one_shot = OneShot()
        else:
            raise UsageError(f"unsupported body type {type(body).__name__}")

        if length is not None:
            if raw_length is not None and raw_length != length:
                raise UsageError(f"length={length} but the body has {raw_length} bytes")
            raw_length = length
        self._raw_length = raw_length

        if self._kind == MEM:
            self._wire = self._encode_memory(self._source)
            self._wire_length = len(self._wire)
        elif raw_length is None:
            self._wire_length = None
        elif cte is None or is_identity(cte) or cte == "7bit" or self._kind == NESTED:
            self._wire_length = raw_length
        else:
            self._wire_length = encoded_length(cte, raw_length)

    @property
    def _source(self) -> Any:
        src = self._src
        if src is None and self._kind == MEM:
            return self._encode_text()
        return src

    @_source.setter
    def _source(self, value: Any) -> None:
        self._src = value

    @property
    def _wire(self) -> bytes | None:
        wire = self._w
        if wire is None and self._kind == MEM:
            return self._encode_text()
        return wire

    @_wire.setter
    def _wire(self, value: bytes | None) -> None:
        self._w = value

    def _encode_text(self) -> bytes:
        """Encode a fast-path ``str`` body (``_ftext``/``_text``) as UTF-8, once (it was
        checked to be encodable when the part was made)."""
        text = self._ftext
        if text is None:
            text = self._text
        if type(text) is not str:
            raise AttributeError("part has no body")  # pragma: no cover - not reachable
        data = text.encode()
        self._src = self._w = data
        return data

    def _encode_memory(self, data: bytes) -> bytes:
        cte = self._cte
        if cte is None or is_identity(cte):
            return data
        codec = make_encoder(cte, binary=True)
        return codec.feed(data) + codec.flush()

    @staticmethod
    def field(name: str, value: str | bytes, **kw: Any) -> Part:
        """A form field: ``Part(value, name=name, **kw)`` (no Content-Type unless asked).

        A static method on ``Part`` itself (no bound method per call: this is the hot path
        of many-field bodies); on a subclass it is a class method making that subclass."""
        if (
            not kw
            and type(name) is str
            and type(value) is str
            and name.isascii()
            and value.isascii()
        ):
            # The many-fields hot path: exactly what Part(value, name=name) stores.
            self = _new_object(Part)
            self.name = name
            self._ftext = value
            return self
        return Part(value, name=name, **kw)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.field = classmethod(_subclass_field)  # type: ignore[assignment]

    @classmethod
    def file(
        cls,
        name: str | None,
        source: str | os.PathLike[str] | IO[bytes] | BodySource,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        **kw: Any,
    ) -> Part:
        """A file part. A ``str`` ``source`` is a *path* here.

        ``filename`` defaults to the path's base name (or the file object's ``name``);
        ``content_type`` defaults to a guess from the file name
        (``application/octet-stream`` when unknown). A file name that is not valid UTF-8
        (undecodable bytes on a POSIX file system) raises :class:`UsageError`: pass
        ``filename=`` to say what the receiver should see.
        """
        if isinstance(source, str):
            source = _PathStr(source)
        if filename is None:
            guess: object = None
            if isinstance(source, os.PathLike):
                guess = os.fspath(source)
            elif hasattr(source, "read"):
                guess = getattr(source, "name", None)
            if isinstance(guess, bytes):
                guess = os.fsdecode(guess)
            if isinstance(guess, str) and guess:
                filename = os.path.basename(guess)
                if not filename.isascii():
                    try:
                        filename.encode()
                    except UnicodeEncodeError:
                        raise UsageError(
                            f"the file name {filename!r} is not valid UTF-8 (undecodable"
                            " bytes); pass filename= to say what the receiver should see"
                        ) from None
        if content_type is None:
            content_type = guess_content_type(filename if isinstance(filename, str) else None)
        return cls(source, name=name, filename=filename, content_type=content_type, **kw)

    @property
    def length(self) -> int | None:
        """The number of source bytes, when known."""
        if self._kind == MEM:
            return len(self._source)
        return self._raw_length

    @property
    def transfer_encoding(self) -> str | None:
        """The effective Content-Transfer-Encoding (lowercased), if any."""
        return self._cte

    def describe(self) -> str:
        """A short human description used in error messages."""
        bits = []
        if self.name is not None:
            bits.append(f"name={self.name!r}")
        if self.filename is not None:
            bits.append(f"filename={self.filename!r}")
        return ", ".join(bits)

    def __repr__(self) -> str:
        return f"Part({self.describe() or type(self._source).__name__})"

    def headers_for(self, subtype: str) -> list[tuple[str, str]]:
        """The header list this part gets inside a ``multipart/<subtype>`` body."""
        nested = self._nested
        return part_headers(
            subtype,
            name=self.name,
            filename=self.filename,
            content_type=self.content_type if nested is None else nested.content_type,
            charset=self.charset if nested is None else None,
            disposition=self.disposition,
            filename_star=self.filename_star,
            transfer_encoding=self._cte,
            extra=self._extra,
        )


_new_object = object.__new__


def _subclass_field(cls: type[Part], /, name: str, value: str | bytes, **kw: Any) -> Part:
    """``Part.field`` on a subclass of Part: an instance of that subclass."""
    return cls(value, name=name, **kw)


class _PathStr(os.PathLike[str]):
    """A ``str`` path handed to :meth:`Part.file`."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path
