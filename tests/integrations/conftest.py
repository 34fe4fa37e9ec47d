"""Real servers on 127.0.0.1 for each framework, started once per test session.

Starlette and FastAPI run under uvicorn, Flask, plain werkzeug and Django under werkzeug's
``make_server`` (threaded), all in background threads of the test process. Every server
spools into its own directory, which the tests check for leftover files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integrations import _apps

FRAMEWORKS = ["starlette", "fastapi", "flask", "werkzeug", "django"]


@dataclass
class Served:
    name: str
    url: str
    spool: Path


def _uvicorn(app: Any) -> tuple[str, Any]:
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


def _wsgi(app: Any) -> tuple[str, Any]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}", stop


def _start(name: str, spool: Path) -> tuple[str, Any]:
    if name == "starlette":
        return _uvicorn(_apps.make_starlette(str(spool)))
    if name == "fastapi":
        pytest.importorskip("fastapi")
        return _uvicorn(_apps.make_fastapi(str(spool)))
    if name == "flask":
        return _wsgi(_apps.make_flask(str(spool)))
    if name == "werkzeug":
        return _wsgi(_apps.make_werkzeug(str(spool)))
    from tests.integrations import _django_app

    return _wsgi(_django_app.configure(str(spool)))


def _spool_of(name: str, spool: Path) -> Path:
    """Django is configured once per process: its spool is the one it was configured with."""
    if name != "django":
        return spool
    from django.conf import settings

    return Path(settings.FILE_UPLOAD_TEMP_DIR)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    """Lazily started servers, one per framework, stopped at the end of the session."""
    started: dict[str, Served] = {}
    stops: list[Any] = []

    class Lazy(dict[str, Served]):
        def __missing__(self, name: str) -> Served:
            spool = tmp_path_factory.mktemp(f"spool-{name}")
            url, stop = _start(name, spool)
            stops.append(stop)
            self[name] = Served(name, url, _spool_of(name, spool))
            return self[name]

    lazy = Lazy(started)
    yield lazy
    for stop in stops:
        stop()


@pytest.fixture(params=FRAMEWORKS)
def served(request: pytest.FixtureRequest, servers: dict[str, Served]) -> Served:
    return servers[request.param]
