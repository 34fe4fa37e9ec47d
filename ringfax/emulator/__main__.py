"""``python -m ringfax.emulator [--port N] [--data-dir DIR] ...`` = ``ringfax emulator ...``."""

from __future__ import annotations

import sys

from .._cli import main

if __name__ == "__main__":
    sys.exit(main(["emulator", *sys.argv[1:]]))
