"""Architecture rules (docs/architecture.md, "Rules the tests enforce"), enforced by reading
each module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The I/O edge: the only modules that may touch files, sockets, threads or the clock.
IO_EDGE = {
    "_body.py",  # MultipartBody / BodyReader: drives the planner over the sources
    "_part.py",  # Part: stats paths and probes file objects at construction
    "_sources.py",  # reads body sources (paths, files, iterables, async iterables)
    "_parse.py",  # parse() / aparse(): spooled parts
    "_spool.py",  # memory-then-temp-file spooling
    "_stream.py",  # parse_stream() / aparse_stream(): StreamedPart.save()
    "_inspect.py",
    "__main__.py",
}
MAX_MODULE_LINES = 620  # small modules that each own one idea (~600 lines at most)
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


# Outside the zero-dependency core: each framework integration may import its framework.
INTEGRATION_FRAMEWORKS = {
    "starlette.py": {"starlette"},
    "werkzeug.py": {"werkzeug"},
    "django.py": {"django"},
}


def test_mimewire_imports_only_stdlib() -> None:
    for path in (ROOT / "mimewire").rglob("*.py"):
        framework: set[str] = set()
        if path.parent == ROOT / "mimewire" / "integrations":
            framework = INTEGRATION_FRAMEWORKS.get(path.name, set())
        for name in _imports(path):
            top = _top(name)
            assert top != "ringfax", f"{path.name} imports ringfax"
            assert top in sys.stdlib_module_names or top == "mimewire" or top in framework, (
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
                    assert node.module == "mimewire", f"{path} imports private module {node.module}"
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


def test_mimewire_modules_stay_small() -> None:
    sizes = {
        p.name: len(p.read_text(encoding="utf-8").splitlines())
        for p in (ROOT / "mimewire").glob("*.py")
    }
    big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines (split them by idea): {big}"


def test_mimewire_modules_form_no_import_cycle() -> None:
    """Module-level imports only: a function-level import is how the event views reach the
    header parser lazily, and ``if TYPE_CHECKING:`` imports never run."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "mimewire").glob("*.py"):
        deps: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                deps.add(node.module.split(".")[0])
        graph[path.stem] = deps - {"__init__"}
    done: set[str] = set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        if node in trail:
            cycle = " -> ".join((*trail[trail.index(node) :], node))
            raise AssertionError(f"import cycle: {cycle}")
        if node in done:
            return
        for dep in sorted(graph.get(node, ())):
            if dep in graph:
                visit(dep, (*trail, node))
        done.add(node)

    for name in sorted(graph):
        visit(name, ())
