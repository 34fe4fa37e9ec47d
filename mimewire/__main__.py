"""python -m mimewire inspect [--content-type CT] [--json] [--decode] FILE|-"""

from __future__ import annotations

import sys

from ._inspect import main

if __name__ == "__main__":
    sys.exit(main())
