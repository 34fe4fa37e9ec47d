"""Django's upload-handler contract, checked against Django's own MultiPartParser: the same
body and handlers must produce the same calls (new_file arguments, file_complete sizes,
upload_complete), the same bytes (ours in pieces of at most ``chunk_size``; Django's own
parser can hand over more) and the same POST/FILES;
SkipFile and StopFutureHandlers work as in Django."""

from __future__ import annotations

import io
import tempfile
from typing import Any

import pytest

from tests.integrations._bodies import field, form_body

django = pytest.importorskip("django")


@pytest.fixture(scope="module", autouse=True)
def _configured() -> None:
    from tests.integrations import _django_app

    _django_app.configure(tempfile.mkdtemp(prefix="mimewire-django-"))


def _file(name: str, filename: str, content_type: str, extra: str = "") -> str:
    return (
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}{extra}"
    )


BODY = form_body(
    "djangoB0undary",
    [
        (field("title"), "caf\u00e9".encode()),
        (_file("doc", "../../evil.txt", "text/plain", "; charset=utf-8"), b"d" * 2500),
        (_file("skip", "skip.bin", "application/octet-stream"), b"s" * 1500),
        (_file("pic", "p.png", "image/png") + "\r\nContent-Length: 700", b"p" * 700),
        (field("title"), b"second"),
    ],
)


def _handlers(log: list[Any]) -> list[Any]:
    from django.core.files.uploadhandler import (
        FileUploadHandler,
        SkipFile,
        TemporaryFileUploadHandler,
    )

    class Recording(FileUploadHandler):  # type: ignore[misc]
        chunk_size = 1000

        def new_file(self, *args: Any, **kwargs: Any) -> None:
            super().new_file(*args, **kwargs)
            log.append(("new_file", *args))
            if self.file_name == "skip.bin":
                self.skip = True

        def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
            if getattr(self, "skip", False):
                self.skip = False
                raise SkipFile()
            log.append(("chunk", self.file_name, start, raw_data))
            return raw_data

        def file_complete(self, file_size: int) -> None:
            log.append(("file_complete", self.file_name, file_size))

        def upload_complete(self) -> None:
            log.append(("upload_complete",))

    return [Recording(), TemporaryFileUploadHandler()]


def _run(parser_class: Any) -> tuple[list[Any], Any, Any]:
    content_type, data = BODY
    log: list[Any] = []
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(data))}
    post, files = parser_class(meta, io.BytesIO(data), _handlers(log), "utf-8").parse()
    return log, post, files


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _joined(log: list[Any]) -> list[Any]:
    """The log with each file's chunks joined (chunk boundaries may differ), and charset
    parameters as str (Django's own parser passes them to new_file as bytes; its upload
    handler documentation, and mimewire, give str)."""
    out: list[Any] = []
    for entry in log:
        if entry[0] == "new_file":
            *head, charset, extra = entry
            entry = (*head, _text(charset), {k: _text(v) for k, v in extra.items()})
        if entry[0] == "chunk" and out and out[-1][0] == "data" and out[-1][1] == entry[1]:
            out[-1] = ("data", entry[1], out[-1][2] + entry[3])
        elif entry[0] == "chunk":
            assert entry[2] == 0
            out.append(("data", entry[1], entry[3]))
        else:
            out.append(entry)
    return out


def test_upload_handlers_see_what_djangos_parser_shows_them() -> None:
    from django.http.multipartparser import MultiPartParser as DjangoParser

    from mimewire.integrations.django import MultiPartParser

    ours, post, files = _run(MultiPartParser)
    theirs, their_post, their_files = _run(DjangoParser)
    assert _joined(ours) == _joined(theirs)
    assert list(post.lists()) == list(their_post.lists()) == [("title", ["caf\u00e9", "second"])]
    assert sorted(files) == sorted(their_files) == ["doc", "pic"]
    for name in ("doc", "pic"):
        assert files[name].read() == their_files[name].read()
        assert files[name].name == their_files[name].name
        assert files[name].content_type == their_files[name].content_type
        files[name].close()
        their_files[name].close()
    chunks = [entry for entry in ours if entry[0] == "chunk"]
    assert all(len(entry[3]) <= 1000 for entry in chunks)  # the handlers' chunk_size
    offset = 0
    for entry in (entry for entry in chunks if entry[1] == "evil.txt"):
        assert entry[2] == offset  # start: the bytes this handler received before
        offset += len(entry[3])
    assert offset == 2500
    assert ("new_file", "pic", "p.png", "image/png", 700, None, {}) in ours


def test_stop_upload_ends_parsing_and_keeps_what_was_read() -> None:
    from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload

    from mimewire.integrations.django import MultiPartParser

    class Stopper(MemoryFileUploadHandler):  # type: ignore[misc]
        def new_file(self, *args: Any, **kwargs: Any) -> None:
            raise StopUpload(connection_reset=False)

    content_type, data = BODY
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(data))}
    post, files = MultiPartParser(meta, io.BytesIO(data), [Stopper()], "utf-8").parse()
    assert list(post.lists()) == [("title", ["caf\u00e9"])]
    assert not files
