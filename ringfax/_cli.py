"""``ringfax._cli.main``: kept for the emulator's ``__main__`` and its tests until they import
:mod:`ringfax.cli`; the command line lives there."""

from __future__ import annotations

from .cli import main

__all__ = ["main"]
