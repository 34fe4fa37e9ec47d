"""The emulator's shape: small modules, a socket-free API layer, and an entry point that
loads nothing of the client's command line (``ringfax._cli*`` / ``ringfax.cli``)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ringfax.emulator import EmulatorConfig, ManualClock, Store
from ringfax.emulator._api import Api
from ringfax.emulator._exchange import ApiRequest
from ringfax.emulator._services import Services

PACKAGE = Path(__file__).resolve().parents[2] / "ringfax" / "emulator"
MAX_LINES = 600
SOCKET_FREE = ("_api", "_exchange", "_messages_api", "_push_api", "_subscriptions")
NETWORK_MODULES = {"socket", "socketserver", "http.server", "ssl", "selectors", "asyncio"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_is_at_most_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines (limit {MAX_LINES})"


@pytest.mark.parametrize("name", SOCKET_FREE)
def test_api_layer_imports_no_network_module(name: str) -> None:
    path = PACKAGE / f"{name}.py"
    assert not _imports(path) & NETWORK_MODULES


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_emulator_imports_nothing_from_the_client_package(path: Path) -> None:
    outside = {n for n in _imports(path) if n.startswith("..") or n.startswith("ringfax.")}
    assert not {n for n in outside if not n.startswith("ringfax.emulator")}


def _is_cli(module: str) -> bool:
    return module in ("ringfax._cli", "ringfax.cli") or module.startswith(
        ("ringfax._cli_", "ringfax.cli.")
    )


def test_entry_point_loads_no_client_module() -> None:
    code = "import sys, ringfax.emulator.__main__; print(*sorted(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = done.stdout.split()
    assert "ringfax.emulator._main" in loaded
    assert not [m for m in loaded if _is_cli(m)]


def test_entry_point_help_lists_the_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ringfax.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for option in ("--port", "--data-dir", "--send-delay", "--strict", "--no-rate-limits"):
        assert option in done.stdout


def test_api_answers_without_sockets(tmp_path: Path) -> None:
    """Token, then the cover-page dictionary, straight through :meth:`Api.handle`."""
    config = EmulatorConfig(rate_limiting=False)
    store = Store(tmp_path)
    try:
        api = Api(Services.create(config, store, ManualClock()))
        form = f"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion={config.jwt}"
        basic = (
            "Basic "
            + __import__("base64")
            .b64encode(f"{config.client_id}:{config.client_secret}".encode())
            .decode()
        )
        token = api.handle(
            ApiRequest.of(
                "POST",
                "/restapi/oauth/token",
                {"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"},
                form.encode(),
            )
        )
        assert token.status == 200, token.body
        bearer = "Bearer " + token.json()["access_token"]
        pages = api.handle(
            ApiRequest.of(
                "GET",
                "/restapi/v1.0/dictionary/fax-cover-page?perPage=2",
                {"authorization": bearer},
            )
        )
        assert pages.status == 200
        assert [r["name"] for r in pages.json()["records"]] == ["Ancient", "Birthday"]
        missing = api.handle(ApiRequest.of("GET", "/restapi/v1.0/nowhere", {}))
        assert (missing.status, missing.json()["errorCode"]) == (404, "AGW-404")
    finally:
        store.close()


def test_emulator_runs_without_websockets() -> None:
    """``websockets`` is optional: without it everything but the gateway works, and
    ``POST /restapi/oauth/wstoken`` is 503 ``EMU-503``."""
    code = """
import base64, json, sys, urllib.error, urllib.request
sys.modules["websockets"] = None  # import websockets -> ImportError
from ringfax.emulator import Emulator, EmulatorConfig
config = EmulatorConfig(rate_limiting=False)
with Emulator(config=config) as emu:
    basic = base64.b64encode(f"{emu.client_id}:{emu.client_secret}".encode()).decode()
    form = ("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=" + emu.jwt)
    req = urllib.request.Request(emu.url + "/restapi/oauth/token", form.encode(), {
        "Authorization": "Basic " + basic,
        "Content-Type": "application/x-www-form-urlencoded"})
    token = json.load(urllib.request.urlopen(req, timeout=30))["access_token"]
    req = urllib.request.Request(emu.url + "/restapi/oauth/wstoken", b"",
                                 {"Authorization": "Bearer " + token})
    try:
        urllib.request.urlopen(req, timeout=30)
    except urllib.error.HTTPError as exc:
        print(exc.code, json.load(exc)["errorCode"])
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["503", "EMU-503"], done.stderr
