"""atheris entry point: ``python -m tests.fuzz.atheris_main TARGET [libFuzzer args...]``.

mimewire is imported inside ``atheris.instrument_imports`` so libFuzzer sees its branch
coverage. Use ``python -m tests.fuzz.run`` rather than calling this directly.
"""

from __future__ import annotations

import sys


def main() -> None:
    import atheris

    target = sys.argv[1]
    with atheris.instrument_imports(include=["mimewire"]):
        import mimewire
        import mimewire._body
        import mimewire._codecs
        import mimewire._decoder
        import mimewire._encoder
        import mimewire._headers
        import mimewire._parse  # noqa: F401

    from .targets import TARGETS, guarded

    atheris.Setup([sys.argv[0], *sys.argv[2:]], guarded(TARGETS[target]))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
