"""mimewire for Django: ``request.POST`` / ``request.FILES`` parsed by mimewire.

Add ``"mimewire.integrations.django.MimewireFormMiddleware"`` to ``MIDDLEWARE`` (before
anything that reads ``request.POST``, such as ``CsrfViewMiddleware``). Each request's
``multipart/form-data`` body is then decoded by :class:`MultiPartParser`, a subclass of
Django's parser that keeps its contract: the request's upload handlers get
``handle_raw_input``, ``new_file``, ``receive_data_chunk`` (at most ``chunk_size`` bytes),
``file_complete``, ``upload_complete`` and, when parsing fails, ``upload_interrupted``;
``SkipFile``, ``StopUpload`` and ``StopFutureHandlers`` work as in Django.

Settings: ``MIMEWIRE_FORM_LIMITS`` (a :class:`mimewire.Limits`) and
``MIMEWIRE_FORM_FIELDS`` (a :class:`FieldPolicy`), or per request ``request.mimewire_limits``
and ``request.mimewire_fields`` set before the form is read; without a policy, Django's
``DATA_UPLOAD_MAX_NUMBER_FIELDS``, ``DATA_UPLOAD_MAX_NUMBER_FILES`` and
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (all non-file fields together) apply. A refused body raises
:class:`FormRejectedError` (a ``MultiPartParserError``); the middleware answers it with
``{"error", "field", "limit", "value"}`` JSON and status 400 or 413. Temporary upload files
are removed when parsing fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]
from django.core.files.uploadhandler import (  # type: ignore[import-untyped]
    SkipFile,
    StopFutureHandlers,
    StopUpload,
)
from django.http import (  # type: ignore[import-untyped]
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
    UnreadablePostError,
)
from django.http.multipartparser import (  # type: ignore[import-untyped]
    MultiPartParser as DjangoMultiPartParser,
)
from django.http.multipartparser import MultiPartParserError, exhaust
from django.utils.datastructures import (  # type: ignore[import-untyped]
    ImmutableList,
    MultiValueDict,
)

from mimewire import Limits, PartStart, parse_header_params

from ._policy import FieldPolicy, FormReader, FormRejected

__all__ = ["FormRejectedError", "MimewireFormMiddleware", "MultiPartParser"]

_MAX_READ = 1 << 20  # bytes asked of the request body at once


class FormRejectedError(MultiPartParserError):  # type: ignore[misc]
    """A refused form; ``rejection`` holds the status, field and limit."""

    def __init__(self, rejection: FormRejected) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


def answer(rejection: FormRejected) -> HttpResponse:
    """Django's answer to a refused form."""
    return JsonResponse(rejection.as_dict(), status=rejection.status)


def _policy(configured: FieldPolicy | None) -> FieldPolicy:
    if configured is None:
        configured = getattr(settings, "MIMEWIRE_FORM_FIELDS", None)
    if configured is not None:
        if not isinstance(configured, FieldPolicy):
            raise ImproperlyConfigured("MIMEWIRE_FORM_FIELDS must be a FieldPolicy")
        return configured
    return FieldPolicy(
        max_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        max_files=settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        max_field_size=None,
        max_form_memory=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    )


def _limits(configured: Limits | None) -> Limits | None:
    if configured is None:
        configured = getattr(settings, "MIMEWIRE_FORM_LIMITS", None)
    if configured is not None and not isinstance(configured, Limits):
        raise ImproperlyConfigured("MIMEWIRE_FORM_LIMITS must be a mimewire.Limits")
    return configured


def _part_length(start: PartStart) -> int | None:
    for name, value in start.headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class MultiPartParser(DjangoMultiPartParser):  # type: ignore[misc]
    """Django's ``MultiPartParser`` contract, with mimewire decoding the body.

    ``fields`` and ``limits`` replace the ``MIMEWIRE_FORM_*`` settings for this request.
    """

    def __init__(
        self,
        META: Any,
        input_data: Any,
        upload_handlers: Any,
        encoding: str | None = None,
        *,
        fields: FieldPolicy | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(META, input_data, upload_handlers, encoding)
        self._mimewire_fields = fields
        self._mimewire_limits = limits

    def _parse(self) -> tuple[Any, Any]:
        if self._content_length == 0:
            return QueryDict(encoding=self._encoding), MultiValueDict()
        for handler in self._upload_handlers:
            result = handler.handle_raw_input(
                self._input_data, self._meta, self._content_length, self._boundary, self._encoding
            )
            if result is not None:
                return result[0], result[1]
        self._post = QueryDict(mutable=True)
        self._files = MultiValueDict()
        try:
            self._read_parts()
        except StopUpload as stop:
            self._close_files()
            if not stop.connection_reset:
                exhaust(self._input_data)
        except BaseException as exc:
            for handler in self._upload_handlers:
                handler.upload_interrupted()
            if isinstance(exc, FormRejected):
                raise FormRejectedError(exc) from None
            raise
        any(handler.upload_complete() for handler in self._upload_handlers)
        self._post._mutable = False
        return self._post, self._files

    def _read_parts(self) -> None:
        sink = _Sink(self)
        reader = FormReader(
            self._meta.get("CONTENT_TYPE", ""),
            sink,
            limits=_limits(self._mimewire_limits),
            policy=_policy(self._mimewire_fields),
        )
        read = self._input_data.read
        size = min(self._chunk_size, _MAX_READ)
        try:
            while data := read(size):
                reader.feed(data)
        except UnreadablePostError as exc:
            reason = f"the request body could not be read: {exc}"
            raise FormRejected(400, reason, field=reader.checker.name) from None
        reader.finish()


class _Sink:
    """Fields into ``request.POST``, files through the request's upload handlers."""

    __slots__ = ("counters", "handlers", "name", "parser", "skipped")

    def __init__(self, parser: MultiPartParser) -> None:
        self.parser = parser
        self.handlers = parser._upload_handlers
        self.counters: list[int] = []
        self.name = ""
        self.skipped = False

    def field(self, name: str, value: bytes, start: PartStart) -> None:
        self.parser._post.appendlist(name, value.decode(self.parser._encoding, "replace"))

    def file(self, name: str, start: PartStart) -> Callable[[bytes], object] | None:
        file_name = self.parser.sanitize_file_name(start.filename)
        if not file_name:
            return None  # Django drops a file without a usable name
        extra: dict[str, str] = {}
        for header, value in start.headers:
            if header.lower() == "content-type":
                extra = parse_header_params(value)[1]
        for handler in self.handlers:
            try:
                handler.new_file(
                    name,
                    file_name,
                    start.content_type or "",
                    _part_length(start),
                    start.charset,
                    extra,
                )
            except StopFutureHandlers:
                break
        self.counters = [0] * len(self.handlers)
        self.name = name
        self.skipped = False
        return self.write

    def write(self, chunk: bytes) -> None:
        if self.skipped:
            return
        size = self.parser._chunk_size
        pieces = (
            [chunk]
            if len(chunk) <= size
            else [chunk[at : at + size] for at in range(0, len(chunk), size)]
        )
        counters = self.counters
        try:
            for piece in pieces:
                for i, handler in enumerate(self.handlers):
                    length = len(piece)
                    piece = handler.receive_data_chunk(piece, counters[i])
                    counters[i] += length
                    if piece is None:
                        break
        except SkipFile:
            self.parser._close_files()
            self.skipped = True

    def file_end(self, size: int) -> None:
        if not self.skipped:
            self.parser.handle_file_complete(self.name, self.counters)


def parse_file_upload(request: HttpRequest, META: Any, post_data: Any) -> tuple[Any, Any]:
    """``HttpRequest.parse_file_upload`` with :class:`MultiPartParser`; a view may set
    ``request.mimewire_fields`` / ``request.mimewire_limits`` before it reads the form."""
    request.upload_handlers = ImmutableList(
        request.upload_handlers,
        warning="You cannot alter upload handlers after the upload has been processed.",
    )
    try:
        try:
            parser = MultiPartParser(
                META,
                post_data,
                request.upload_handlers,
                request.encoding,
                fields=getattr(request, "mimewire_fields", None),
                limits=getattr(request, "mimewire_limits", None),
            )
        except MultiPartParserError as exc:  # Django's own Content-Type checks
            raise FormRejectedError(FormRejected(400, str(exc))) from None
        return parser.parse()  # type: ignore[no-any-return]
    except FormRejectedError as exc:
        request._mimewire_rejection = exc.rejection
        raise


class MimewireFormMiddleware:
    """Parse this request's form with mimewire; answer a refused form with 400/413 JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.parse_file_upload = lambda meta, data: parse_file_upload(request, meta, data)
        response = self.get_response(request)
        rejection = getattr(request, "_mimewire_rejection", None)
        if rejection is not None and response.status_code == 400:
            return answer(rejection)  # Django's own 400 page for the parse error
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, FormRejectedError):
            return answer(exception.rejection)
        return None
