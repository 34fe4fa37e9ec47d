"""mimewire 0.1 (before the issue 10/11 rewrite) as a differential oracle for the tests.

The new encoder must produce the same bytes, and the new decoder the same events, as the
last 0.1 commit on main, except where issue 10 changed behaviour on purpose. The package is
taken from git history (``git archive``), so the comparison runs on any clone of the
repository; without git or without that commit the tests that need it are skipped.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "9ea756ff665339c8af86a99fe73df8b864131f7a"  # main at the end of session 1 (0.1)
NAME = "mimewire_v01"

_missing: str | None = None


def load() -> ModuleType | None:
    """The 0.1 package imported as ``mimewire_v01``, or None (see :func:`why_missing`)."""
    global _missing
    if NAME in sys.modules:
        return sys.modules[NAME]
    if _missing is not None:
        return None
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", COMMIT, "mimewire"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        _missing = f"mimewire 0.1 ({COMMIT[:9]}) is not in this checkout's history: {exc}"
        return None
    target = Path(tempfile.mkdtemp(prefix="mimewire-v01-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    package = target / "mimewire"
    spec = importlib.util.spec_from_file_location(
        NAME, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module


def why_missing() -> str:
    return _missing or "mimewire 0.1 could not be loaded"
