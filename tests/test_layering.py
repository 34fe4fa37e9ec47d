"""Architecture rules from DESIGN.md, enforced by reading each module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IO_EDGE = {"_body.py", "_parse.py", "__main__.py", "_inspect.py"}
FORBIDDEN_IN_CORE = {"io", "os", "socket", "asyncio", "threading", "time", "tempfile", "shutil"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def test_mimewire_imports_only_stdlib() -> None:
    for path in (ROOT / "mimewire").rglob("*.py"):
        for name in _imports(path):
            top = _top(name)
            assert top != "ringfax", f"{path.name} imports ringfax"
            assert top in sys.stdlib_module_names or top == "mimewire", (
                f"{path.name} imports non-stdlib module {name!r}"
            )


def test_core_modules_do_no_io() -> None:
    core = [p for p in (ROOT / "mimewire").glob("_*.py") if p.name not in IO_EDGE]
    assert core, "no core modules found"
    for path in core:
        bad = {_top(n) for n in _imports(path)} & FORBIDDEN_IN_CORE
        assert not bad, f"core module {path.name} imports I/O modules {sorted(bad)}"


def test_ringfax_uses_only_mimewire_public_names() -> None:
    for path in (ROOT / "ringfax").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("mimewire"):
                    assert node.module == "mimewire", (
                        f"{path} imports private module {node.module}"
                    )
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("mimewire."), (
                        f"{path} imports private module {alias.name}"
                    )


def test_urllib3_only_in_transport() -> None:
    allowed = {"_transport.py"}
    for path in (ROOT / "ringfax").rglob("*.py"):
        if path.name in allowed:
            continue
        tops = {_top(n) for n in _imports(path)}
        assert "urllib3" not in tops, f"{path} imports urllib3 outside the transport"
