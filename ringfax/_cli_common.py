"""``ringfax._cli_common`` is :mod:`ringfax.cli.common` (the same module object, so that
patching one patches the other), kept for code that still imports the old name."""

from __future__ import annotations

import sys

from .cli import common
from .cli.common import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = common
