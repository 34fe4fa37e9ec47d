"""``python -m benchmarks [--quick] [--only CASE] [--rounds N] [--out DIR]``."""

from __future__ import annotations

import sys

from ._runner import main

if __name__ == "__main__":
    sys.exit(main())
