"""``python -m ringfax.emulator [--port N] [--data-dir DIR] ...``: run the emulator."""

from __future__ import annotations

import sys

from ._main import main

if __name__ == "__main__":
    sys.exit(main())
