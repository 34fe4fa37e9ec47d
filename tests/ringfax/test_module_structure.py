"""ringfax's client modules (``ringfax/*.py`` and the ``ringfax/cli`` package; the emulator is
checked on its own) form no import cycle — checked on the source, function-level imports
included — and none is longer than MAX_LINES."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ringfax"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    """Module name relative to ``ringfax`` (``_client``, ``cli.send``) -> file."""
    found = {path.stem: path for path in PACKAGE.glob("*.py")}
    for path in (PACKAGE / "cli").glob("*.py"):
        found["cli" if path.stem == "__init__" else f"cli.{path.stem}"] = path
    return found


def _target(name: str, node: ast.ImportFrom) -> str | None:
    """The ringfax module an import in module ``name`` refers to (None: outside ringfax)."""
    if node.level == 0:
        if node.module and node.module.startswith("ringfax."):
            return node.module.split(".", 1)[1]
        return None
    package = ["cli"] if name == "cli" or name.startswith("cli.") else []
    up = node.level - 1
    if up > len(package):
        return None
    parts = [*package[: len(package) - up], *(node.module.split(".") if node.module else [])]
    return ".".join(parts) or None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = _target(name, node)
                while target and target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and node != "__init__":
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_the_cli_package() -> None:
    graph = _graph()
    assert "cli.common" in graph["cli.send"] and "_client" in graph["cli.common"]
    assert "cli.send" in graph["cli.store"]


def test_no_import_cycles() -> None:
    graph = _graph()
    assert "_validation" not in graph["_models"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_client_module_is_over_the_line_limit() -> None:
    long = {
        name: count
        for name, path in _modules().items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_emulator_command_spells_the_emulators_options() -> None:
    """``ringfax emulator`` and ``python -m ringfax.emulator`` take the same options (the
    client CLI spells them out so that other commands do not load the emulator)."""
    import argparse

    from ringfax.cli import build_parser
    from ringfax.emulator._main import add_serve_arguments

    own = argparse.ArgumentParser()
    add_serve_arguments(own)
    client = build_parser().parse_args(["emulator"])
    expected = vars(own.parse_args([]))
    assert {k: v for k, v in vars(client).items() if k in expected} == expected
    assert set(expected) <= set(vars(client))


def test_the_command_line_loads_no_emulator_until_asked() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ringfax.cli; print(any(m.startswith('ringfax.emulator') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
