"""mimewire for werkzeug and Flask: ``request.form`` / ``request.files`` parsed by mimewire.

Set ``Request.form_data_parser_class = FormDataParser`` (or a class made by
:meth:`FormDataParser.configured`) and ``multipart/form-data`` bodies are decoded by
mimewire into werkzeug's own :class:`MultiDict` of strings and :class:`FileStorage` objects,
file bodies written to the request's ``stream_factory`` (``Request._get_file_stream``).
Urlencoded forms stay with werkzeug's parser. Bad bodies and policy violations raise
:class:`FormBadRequest` (400) or :class:`FormTooLarge` (413), werkzeug HTTP exceptions
with a short JSON body naming the field and the limit; files already created are closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any, ClassVar

from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser as WerkzeugFormDataParser

from mimewire import Limits, PartStart

from ._policy import FieldPolicy, FormReader, FormRejected

WSGIEnvironment = dict[str, Any]
ParseResult = tuple[IO[bytes], MultiDict[str, Any], MultiDict[str, Any]]

__all__ = ["FormBadRequest", "FormDataParser", "FormTooLarge", "http_error"]

_SAFE_CHARSETS = {"ascii", "us-ascii", "utf-8", "iso-8859-1"}  # werkzeug's own list
_READ_SIZE = 64 * 1024  # werkzeug's own buffer size


class _FormError(HTTPException):
    """A refused form, answered with ``{"error", "field", "limit", "value"}`` JSON."""

    def __init__(self, rejection: FormRejected) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection

    def get_body(
        self, environ: WSGIEnvironment | None = None, scope: dict[str, Any] | None = None
    ) -> str:
        return json.dumps(self.rejection.as_dict()) + "\n"

    def get_headers(
        self, environ: WSGIEnvironment | None = None, scope: dict[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json")]


class FormBadRequest(_FormError, BadRequest):
    """400: the body is not a valid form, or breaks the field policy."""


class FormTooLarge(_FormError, RequestEntityTooLarge):
    """413: the form goes over a size or count limit."""


def http_error(rejection: FormRejected) -> HTTPException:
    """werkzeug's answer to a refused form."""
    return FormTooLarge(rejection) if rejection.status == 413 else FormBadRequest(rejection)


class _Sink:
    """Fields into a list of strings, files into the request's stream factory."""

    __slots__ = ("container", "content_length", "fields", "files", "stream_factory")

    def __init__(self, stream_factory: Any, content_length: int | None) -> None:
        self.stream_factory = stream_factory
        self.content_length = content_length
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self.container: IO[bytes] | None = None

    def field(self, name: str, value: bytes, start: PartStart) -> None:
        # as werkzeug's own parser reads a field: a safe charset, bad bytes replaced
        charset = start.charset if len(start.headers) > 1 else None  # a Content-Type?
        if charset is None or charset.lower() not in _SAFE_CHARSETS:
            charset = "utf-8"
        self.fields.append((name, value.decode(charset, "replace")))

    def file(self, name: str, start: PartStart) -> Callable[[bytes], object]:
        headers = Headers(list(start.headers))
        container: IO[bytes] = self.stream_factory(
            total_content_length=self.content_length,
            content_type=headers.get("content-type"),
            filename=start.filename,
            content_length=0,
        )
        self.container = container
        self.files.append((name, FileStorage(container, start.filename, name, headers=headers)))
        return container.write

    def file_end(self, size: int) -> None:
        assert self.container is not None
        self.container.seek(0)


class FormDataParser(WerkzeugFormDataParser):
    """werkzeug's form parser with mimewire decoding ``multipart/form-data``.

    Without a policy of its own (:meth:`configured`), werkzeug's request limits apply:
    ``max_form_parts`` bounds the parts, ``max_content_length`` the body and
    ``max_form_memory_size`` each non-file field.
    """

    policy: ClassVar[FieldPolicy | None] = None
    limits: ClassVar[Limits | None] = None

    @classmethod
    def configured(
        cls, *, limits: Limits | None = None, fields: FieldPolicy | None = None
    ) -> type[FormDataParser]:
        """A parser class with these decoder limits and this field policy."""
        attributes: dict[str, object] = {"policy": fields, "limits": limits}
        return type("ConfiguredFormDataParser", (cls,), attributes)

    def _policy(self) -> FieldPolicy:
        if self.policy is not None:
            return self.policy
        return FieldPolicy(
            max_fields=None, max_files=None, max_field_size=self.max_form_memory_size
        )

    def _limits(self) -> Limits:
        if self.limits is not None:
            return self.limits
        return Limits(
            max_parts=self.max_form_parts or Limits.max_parts,
            max_total_size=self.max_content_length,
        )

    def _parse_multipart(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> ParseResult:
        boundary = options.get("boundary", "").replace("\\", "\\\\").replace('"', '\\"')
        content_type = f'{mimetype}; boundary="{boundary}"'
        sink = _Sink(self.stream_factory, content_length)
        try:
            reader = FormReader(content_type, sink, limits=self._limits(), policy=self._policy())
            while data := stream.read(_READ_SIZE):
                reader.feed(data)
            reader.finish()
        except BaseException as exc:
            for _, storage in sink.files:
                storage.close()
            if isinstance(exc, FormRejected):
                raise http_error(exc) from None
            raise
        return stream, self.cls(sink.fields), self.cls(sink.files)
