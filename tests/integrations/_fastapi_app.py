"""The test routes as a FastAPI app (no ``from __future__ import annotations``: FastAPI
reads the annotations of its routes and dependencies at runtime)."""

import hashlib
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.datastructures import FormData

from mimewire.integrations.starlette import read_form, stream_form
from tests.integrations._apps import STRICT, _answer, _digest


def make_app(spool_dir: "str | None" = None) -> FastAPI:
    app = FastAPI()

    async def mimewire_form(request: Request) -> FormData:
        """A dependency: the request's form, parsed by mimewire."""
        return await read_form(request, spool_dir=spool_dir)

    @app.post("/form")
    async def form(data: Annotated[FormData, Depends(mimewire_form)]) -> dict[str, Any]:
        fields, files = [], []
        for name, value in data.multi_items():
            if isinstance(value, str):
                fields.append((name, value))
            else:
                size, sha = _digest(value.file)
                files.append([name, value.filename, value.content_type, size, sha])
        return _answer(fields, files)

    @app.post("/strict")
    async def strict(request: Request) -> dict[str, Any]:
        data = await read_form(request, fields=STRICT, spool_dir=spool_dir)
        return _answer([(k, v) for k, v in data.multi_items() if isinstance(v, str)], [])

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, Any]:
        fields, files = [], []
        async for part in stream_form(request):
            if part.filename is None:
                fields.append((part.name, await part.atext()))
            else:
                digest = hashlib.sha256(await part.aread())
                files.append(
                    [part.name, part.filename, part.content_type, part.size, digest.hexdigest()]
                )
        return _answer(fields, files)

    return app
