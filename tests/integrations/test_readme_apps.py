"""The README's "mimewire in web frameworks" examples, served as written: each ```python
block of that section is executed, its app run under uvicorn or werkzeug's server, and called
with a good form, a field over its limit (413) and an ambiguous body (400)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integrations._bodies import field, file, form_body
from tests.integrations.conftest import _uvicorn, _wsgi

pytestmark = pytest.mark.network

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## mimewire in web frameworks"


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return re.findall(r"```python\n(.*?)```", section, re.S)


BLOCKS = _blocks()
GOOD = form_body(
    "readmeB0undary",
    [
        (field("to"), b"+16505550100"),
        (file("attachment", "fax.pdf", "application/pdf"), b"%PDF-1.4"),
    ],
)
TOO_LONG = form_body("readmeB0undary", [(field("to"), b"1" * 65)])
AMBIGUOUS = (
    GOOD[0],
    b'--readmeB0undary\r\nContent-Disposition: form-data; name="to"; name="attachment"\r\n\r\n'
    b"x\r\n--readmeB0undary--\r\n",
)


def _run(code: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(code, f"README.md ({name})", "exec"), namespace)
    return namespace


def _post(url: str, body: tuple[str, bytes]) -> requests.Response:
    return requests.post(url, data=body[1], headers={"Content-Type": body[0]}, timeout=30)


def _check(url: str) -> list[requests.Response]:
    good = _post(url, GOOD)
    assert good.status_code == 200, good.text
    assert good.json()["to"] == "+16505550100"
    assert good.json()["file"] == "fax.pdf"
    too_long = _post(url, TOO_LONG)
    assert too_long.status_code == 413, too_long.text
    assert "field_limits['to']=64" in too_long.text
    ambiguous = _post(url, AMBIGUOUS)
    assert ambiguous.status_code == 400, ambiguous.text
    assert "duplicate parameter 'name'" in ambiguous.text
    return [good, too_long, ambiguous]


def test_readme_section_has_an_example_per_framework() -> None:
    assert len(BLOCKS) == 5
    for needle, block in zip(
        ["starlette", "fastapi", "flask", "settings.py", "views.py"], BLOCKS, strict=True
    ):
        assert needle in block


def test_readme_starlette_app() -> None:
    app = _run(BLOCKS[0], "readme_starlette")["app"]
    url, stop = _uvicorn(app)
    try:
        good = _check(url + "/upload")[0]
        assert good.json()["size"] == len(b"%PDF-1.4")
        sums = _post(url + "/digest", GOOD)
        assert sums.status_code == 200, sums.text
        assert set(sums.json()) == {"to", "attachment"}
        assert _post(url + "/digest", TOO_LONG).status_code == 413
    finally:
        stop()


def test_readme_fastapi_app() -> None:
    pytest.importorskip("fastapi")
    app = _run(BLOCKS[1], "readme_fastapi")["app"]
    url, stop = _uvicorn(app)
    try:
        too_long = _check(url + "/upload")[1]
        assert too_long.json() == {
            "detail": "field 'to': field too large (limit field_limits['to']=64)"
        }
    finally:
        stop()


def test_readme_flask_app() -> None:
    app = _run(BLOCKS[2], "readme_flask")["app"]
    url, stop = _wsgi(app)
    try:
        too_long = _check(url + "/upload")[1]
        assert too_long.json()["field"] == "to"
        assert too_long.json()["limit"] == "field_limits['to']"
    finally:
        stop()


def test_readme_django_project(tmp_path: Path) -> None:
    from tests.integrations import _django_app

    _django_app.configure(str(tmp_path))
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings
    from django.urls import clear_url_caches, path

    settings = _run(BLOCKS[3], "readme_settings")
    views = _run(BLOCKS[4], "readme_views")
    urls = types.ModuleType("readme_urls")
    urls.urlpatterns = [path("upload", views["upload"])]  # type: ignore[attr-defined]
    sys.modules["readme_urls"] = urls
    overrides = {
        "MIDDLEWARE": settings["MIDDLEWARE"],
        "MIMEWIRE_FORM_FIELDS": settings["MIMEWIRE_FORM_FIELDS"],
        "ROOT_URLCONF": "readme_urls",
    }
    try:
        with override_settings(**overrides):
            clear_url_caches()
            url, stop = _wsgi(WSGIHandler())
            try:
                too_long = _check(url + "/upload")[1]
                assert too_long.json()["value"] == 64
            finally:
                stop()
    finally:
        clear_url_caches()
        del sys.modules["readme_urls"]
