"""``python -m ringfax``: the same command line as the ``ringfax`` console script."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
