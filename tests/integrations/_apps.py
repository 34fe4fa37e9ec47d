"""The same three routes in every framework, answering what they parsed as JSON.

* ``/form``: the whole form (mimewire's drop-in form parsing), default policy.
* ``/strict``: the form under :data:`STRICT`.
* ``/stream`` (Starlette and FastAPI): :func:`stream_form`, each file hashed while it arrives.

The answer is ``{"fields": [[name, value], ...], "files": [[name, filename, content_type,
size, sha256], ...]}``. Spooled files go to the directory in ``$MIMEWIRE_TEST_SPOOL`` (or
the one given), so the tests can see that none is left behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from typing import IO, Any

from mimewire.integrations import FieldPolicy

STRICT = FieldPolicy(
    allowed_fields={"title", "small", "doc", "pic"},
    field_limits={"small": 8},
    max_fields=2,
    max_files=1,
    max_file_size=4096,
    file_content_types={"text/plain", "image/*"},
)

Answer = dict[str, list[list[Any]]]


def _answer(fields: Iterable[tuple[str, str]], files: Iterable[list[Any]]) -> Answer:
    return {"fields": [[k, v] for k, v in fields], "files": list(files)}


def _digest(file: IO[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := file.read(1 << 20):
        size += len(chunk)
        digest.update(chunk)
    return size, digest.hexdigest()


# Starlette / FastAPI ---------------------------------------------------------------
def make_starlette(spool_dir: str | None = None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from mimewire.integrations.starlette import read_form, stream_form

    spool = spool_dir or os.environ.get("MIMEWIRE_TEST_SPOOL")

    async def answer_form(request: Request, policy: FieldPolicy | None) -> JSONResponse:
        form = await read_form(request, fields=policy, spool_dir=spool)
        fields, files = [], []
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields.append((name, value))
            else:
                size, sha = _digest(value.file)
                assert size == value.size
                files.append([name, value.filename, value.content_type, size, sha])
        await form.close()
        return JSONResponse(_answer(fields, files))

    async def form(request: Request) -> JSONResponse:
        return await answer_form(request, None)

    async def strict(request: Request) -> JSONResponse:
        return await answer_form(request, STRICT)

    async def stream(request: Request) -> JSONResponse:
        fields, files = [], []
        async for part in stream_form(request):
            if part.filename is None:
                fields.append((part.name, await part.atext()))
                continue
            digest = hashlib.sha256()
            async for chunk in part:
                digest.update(chunk)
            files.append(
                [part.name, part.filename, part.content_type, part.size, digest.hexdigest()]
            )
        return JSONResponse(_answer(fields, files))

    routes = [Route(f"/{f.__name__}", f, methods=["POST"]) for f in (form, strict, stream)]
    return Starlette(routes=routes)


def make_fastapi(spool_dir: str | None = None) -> Any:
    from tests.integrations._fastapi_app import make_app

    return make_app(spool_dir)


# werkzeug / Flask --------------------------------------------------------------------
def _werkzeug_answer(form: Any, files: Any) -> Answer:
    found = []
    for name, storage in files.items(multi=True):
        size, sha = _digest(storage.stream)
        found.append([name, storage.filename, storage.mimetype or None, size, sha])
    return _answer(form.items(multi=True), found)


def make_flask(spool_dir: str) -> Any:
    from flask import Flask, Request, jsonify, request

    from mimewire.integrations.werkzeug import FormDataParser

    class SpoolingRequest(Request):
        form_data_parser_class = FormDataParser

        def _get_file_stream(self, *args: Any, **kwargs: Any) -> IO[bytes]:
            return tempfile.NamedTemporaryFile(dir=spool_dir)

    app = Flask(__name__)
    app.request_class = SpoolingRequest
    strict_parser = FormDataParser.configured(fields=STRICT)

    @app.post("/form")
    def form() -> Any:
        return jsonify(_werkzeug_answer(request.form, request.files))

    @app.post("/strict")
    def strict() -> Any:
        request.form_data_parser_class = strict_parser  # before the form is read
        return jsonify(_werkzeug_answer(request.form, request.files))

    return app


def make_werkzeug(spool_dir: str) -> Any:
    import json

    from werkzeug.wrappers import Request, Response

    from mimewire.integrations.werkzeug import FormDataParser

    class PlainRequest(Request):
        form_data_parser_class = FormDataParser

        def _get_file_stream(self, *args: Any, **kwargs: Any) -> IO[bytes]:
            return tempfile.NamedTemporaryFile(dir=spool_dir)

    class StrictRequest(PlainRequest):
        form_data_parser_class = FormDataParser.configured(fields=STRICT)

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        cls = StrictRequest if request.path == "/strict" else PlainRequest
        with cls(request.environ) as parsed:  # closes its files
            answer = _werkzeug_answer(parsed.form, parsed.files)
        return Response(json.dumps(answer), content_type="application/json")

    return app
