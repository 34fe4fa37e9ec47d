"""``ringfax._cli_commands`` is :mod:`ringfax.cli.send` (the same module object, so that
patching one patches the other), kept for code that still imports the old name."""

from __future__ import annotations

import sys

from .cli import send
from .cli.send import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = send
