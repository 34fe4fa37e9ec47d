"""mimewire 0.1 as a differential oracle for the tests.

The current encoder must produce the same bytes, and the current decoder the same events, as
mimewire 0.1, except where the tests name a deliberate change. The 0.1 package is kept verbatim
as test data in ``tests/data/mimewire_v01/`` (see its README) and imported from there under the
name ``mimewire_v01``, so every clone, shallow clone and source archive runs the comparisons.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent / "data" / "mimewire_v01"
COMMIT = "9ea756ff665339c8af86a99fe73df8b864131f7a"  # the commit the copy was taken from
NAME = "mimewire_v01"


def load() -> ModuleType:
    """The 0.1 package imported as ``mimewire_v01`` (once per process)."""
    if NAME in sys.modules:
        return sys.modules[NAME]
    spec = importlib.util.spec_from_file_location(
        NAME, PACKAGE / "__init__.py", submodule_search_locations=[str(PACKAGE)]
    )
    assert spec is not None and spec.loader is not None, PACKAGE
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[NAME]
        raise
    return module


def why_missing() -> str:
    """Kept for callers written against an optional oracle: the oracle is always present."""
    return f"mimewire 0.1 could not be imported from {PACKAGE}"
