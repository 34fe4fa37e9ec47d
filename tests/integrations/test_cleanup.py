"""Each integration closes the files it created as soon as a form fails, before the error
leaves it: checked in-process while the error (and its traceback, which keeps the parser's
locals alive) is still held, so garbage collection cannot do the integration's job."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import Any

import pytest

from tests.integrations._bodies import field, file, form_body

CONTENT_TYPE, WHOLE = form_body(
    "cleanB0undary",
    [
        (field("a"), b"1"),
        (file("f", "one.bin", "application/x-one"), b"1" * (2 << 20)),
        (file("g", "two.bin", "application/x-two"), b"2" * (2 << 20)),
    ],
)
TRUNCATED = WHOLE[:-100]  # the second file never ends


def _open_in(spool: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(spool)):
            found.append(target)
    return found + [p.name for p in spool.iterdir()]


def test_starlette_read_form_closes_spooled_files(tmp_path: Path) -> None:
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    from mimewire.integrations.starlette import read_form

    chunks = [TRUNCATED[i : i + 65536] for i in range(0, len(TRUNCATED), 65536)]

    async def receive() -> dict[str, Any]:
        body = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", CONTENT_TYPE.encode())],
    }

    async def run() -> None:
        with pytest.raises(HTTPException) as caught:
            await read_form(Request(scope, receive), spool_dir=str(tmp_path))
        assert caught.value.status_code == 400
        assert caught.value.__traceback__ is not None
        assert not _open_in(tmp_path)

    asyncio.run(run())


def test_werkzeug_parser_closes_created_streams(tmp_path: Path) -> None:
    from werkzeug.exceptions import BadRequest

    from mimewire.integrations.werkzeug import FormDataParser

    created: list[io.BufferedRandom] = []

    def factory(**kwargs: Any) -> Any:
        created.append(open(tmp_path / f"{len(created)}.bin", "wb+"))  # noqa: SIM115
        return created[-1]

    parser = FormDataParser(stream_factory=factory)
    options = {"boundary": "cleanB0undary"}
    with pytest.raises(BadRequest) as caught:
        parser.parse(io.BytesIO(TRUNCATED), "multipart/form-data", len(TRUNCATED), options)
    assert caught.value.__traceback__ is not None
    assert len(created) == 2
    assert all(stream.closed for stream in created)


def test_django_parser_removes_temporary_uploads(tmp_path: Path) -> None:
    from tests.integrations import _django_app

    _django_app.configure(str(tmp_path))
    from django.conf import settings
    from django.core.files.uploadhandler import TemporaryFileUploadHandler

    from mimewire.integrations.django import FormRejectedError, MultiPartParser

    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    meta = {"CONTENT_TYPE": CONTENT_TYPE, "CONTENT_LENGTH": str(len(TRUNCATED))}
    handlers = [TemporaryFileUploadHandler()]
    parser = MultiPartParser(meta, io.BytesIO(TRUNCATED), handlers, "utf-8")
    with pytest.raises(FormRejectedError) as caught:
        parser.parse()
    assert caught.value.rejection.status == 400
    assert caught.value.__traceback__ is not None
    assert not _open_in(spool)


def test_starlette_form_is_read_once_and_cached_for_request_form(tmp_path: Path) -> None:
    from starlette.requests import Request

    from mimewire.integrations.starlette import read_form

    content_type, body = form_body("onceB0undary", [(field("a"), b"1")])
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)  # a second read of the body would fail here

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", content_type.encode())],
    }

    async def run() -> None:
        request = Request(scope, receive)
        form = await read_form(request, spool_dir=str(tmp_path))
        assert form["a"] == "1"
        assert await read_form(request) is form
        assert await request.form() is form

    asyncio.run(run())
