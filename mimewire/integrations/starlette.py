"""mimewire for Starlette and FastAPI: ``await read_form(request)`` and ``stream_form(request)``.

:func:`read_form` is a drop-in for ``await request.form()``: the same :class:`FormData`
with :class:`UploadFile` objects (bodies spooled to a ``SpooledTemporaryFile``), parsed by
mimewire under a :class:`FieldPolicy`. :func:`stream_form` hands each part over while the
upload is still arriving, so a file can go to disk, to an object store or into a hash
without being spooled. Bad bodies and policy violations raise Starlette's
:class:`HTTPException` (400 or 413, the detail naming the field and the limit), which
Starlette answers as text and FastAPI as ``{"detail": ...}`` JSON. Spool files are
anonymous temporary files, closed (so removed) when parsing fails or the client goes away.
Writes to a spool file are ordinary blocking file writes, as in :func:`mimewire.aparse`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from tempfile import SpooledTemporaryFile
from typing import BinaryIO, cast

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

from mimewire import (
    AsyncStreamedPart,
    LimitExceeded,
    Limits,
    MalformedInput,
    PartStart,
    aparse_stream,
)

from ._policy import FieldPolicy, FormChecker, FormReader, FormRejected, rejected

__all__ = ["FormPart", "read_form", "stream_form"]

DEFAULT_SPOOL_THRESHOLD = 1 << 20
_DISCONNECTED = "the client disconnected before the form was complete"


def http_error(rejection: FormRejected) -> HTTPException:
    """Starlette's answer to a refused form."""
    return HTTPException(rejection.status, rejection.message)


def _field_text(data: bytes) -> str:
    """A field value as Starlette's own parser reads it: UTF-8, else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _raw_headers(part: AsyncStreamedPart | PartStart) -> list[tuple[bytes, bytes]]:
    def encode(text: str) -> bytes:
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            return text.encode("utf-8")

    return [(encode(name.lower()), encode(value)) for name, value in part.headers]


def _answer(exc: BaseException, field: str | None) -> HTTPException | None:
    """The HTTP answer to an error raised while a form was read (``None``: not the client's)."""
    if isinstance(exc, FormRejected):
        return http_error(exc)
    if isinstance(exc, (MalformedInput, LimitExceeded)):
        return http_error(rejected(exc, field))
    if isinstance(exc, ClientDisconnect):
        return HTTPException(400, _DISCONNECTED)
    return None


class _Sink:
    """Fields as strings, files spooled into :class:`UploadFile` objects."""

    __slots__ = ("items", "spool_dir", "threshold", "upload")

    def __init__(self, spool_dir: str | None, threshold: int) -> None:
        self.items: list[tuple[str, UploadFile | str]] = []
        self.spool_dir = spool_dir
        self.threshold = threshold
        self.upload: UploadFile | None = None

    def field(self, name: str, value: bytes, start: PartStart) -> None:
        self.items.append((name, _field_text(value)))

    def file(self, name: str, start: PartStart) -> Callable[[bytes], object]:
        spool = SpooledTemporaryFile(max_size=self.threshold, dir=self.spool_dir)  # noqa: SIM115
        headers = Headers(raw=_raw_headers(start))
        upload = UploadFile(cast(BinaryIO, spool), size=0, filename=start.filename, headers=headers)
        self.upload = upload
        self.items.append((name, upload))  # before the body: closed if it fails
        return spool.write

    def file_end(self, size: int) -> None:
        assert self.upload is not None
        self.upload.size = size
        self.upload.file.seek(0)


class FormPart:
    """One part of :func:`stream_form`, its body checked against the policy while it is read.

    ``name``, ``filename``, ``content_type`` and ``headers`` are known at once; read the body
    once with ``async for chunk in part``, :meth:`aread` or :meth:`atext` before asking for
    the next part (an unread body is skipped). ``size`` counts the bytes read so far.
    """

    __slots__ = ("_allowed", "_checker", "_part", "name", "size")

    def __init__(
        self, part: AsyncStreamedPart, name: str, allowed: int, checker: FormChecker
    ) -> None:
        self._part = part
        self._checker = checker
        self._allowed = allowed
        self.name = name
        self.size = 0

    @property
    def filename(self) -> str | None:
        """The file name sent with a file (untrusted: never use it as a path)."""
        return self._part.filename

    @property
    def content_type(self) -> str | None:
        """The part's media type, lowercased, without parameters."""
        return self._part.content_type

    @property
    def headers(self) -> Headers:
        """The part's headers."""
        return Headers(raw=_raw_headers(self._part))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        allowed = self._allowed
        try:
            async for chunk in self._part:
                self.size += len(chunk)
                if self.size > allowed:
                    raise self._checker.too_large()
                yield chunk
        except BaseException as exc:
            answer = _answer(exc, self.name)
            if answer is None:
                raise
            raise answer from None
        self._checker.close(self.size)

    async def aread(self) -> bytes:
        """The rest of the body."""
        return b"".join([chunk async for chunk in self])

    async def atext(self) -> str:
        """The rest of the body as text (UTF-8, else Latin-1, like ``request.form()``)."""
        return _field_text(await self.aread())


async def stream_form(
    request: Request, *, limits: Limits | None = None, fields: FieldPolicy | None = None
) -> AsyncGenerator[FormPart, None]:
    """Yield each part of a ``multipart/form-data`` request once its headers have arrived.

    The body streams from the client while the caller reads each part; nothing is spooled.
    """
    checker = FormChecker(fields)
    content_type = request.headers.get("content-type", "")
    try:
        length = request.headers.get("content-length")
        length = (
            length if length is not None and length.isdigit() else None
        )  # the server checked it
        parts = aparse_stream(request.stream(), content_type, limits=limits, content_length=length)
        async with aclosing(parts):
            async for part in parts:
                name, allowed = checker.open(part.name, part.filename, part.content_type)
                yield FormPart(part, name, allowed, checker)
    except BaseException as exc:
        answer = _answer(exc, checker.name)
        if answer is None:
            raise
        raise answer from None


async def read_form(
    request: Request,
    *,
    limits: Limits | None = None,
    fields: FieldPolicy | None = None,
    spool_dir: str | None = None,
    spool_threshold: int = DEFAULT_SPOOL_THRESHOLD,
) -> FormData:
    """``await request.form()``, parsed by mimewire under ``fields`` and ``limits``.

    Files are spooled in memory up to ``spool_threshold`` bytes, then in an anonymous
    temporary file in ``spool_dir``. A body that is not ``multipart/form-data`` (an
    urlencoded form) goes to Starlette's own parser. The form is also what a later
    ``await request.form()`` (or ``read_form``) returns, and Starlette closes its files with
    the request.
    """
    if request._form is not None:  # already read (the stream can be read once)
        return request._form
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "multipart/form-data":
        return await request.form()
    sink = _Sink(spool_dir, spool_threshold)
    try:
        reader = FormReader(content_type, sink, limits=limits, policy=fields)
        async with aclosing(request.stream()) as body:
            async for data in body:
                if data:
                    reader.feed(data)
        reader.finish()
    except BaseException as exc:
        for _, value in sink.items:
            if isinstance(value, UploadFile):
                value.file.close()
        answer = _answer(exc, None)
        if answer is None:
            raise
        raise answer from None
    form = FormData(sink.items)
    request._form = form
    return form
