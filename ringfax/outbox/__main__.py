"""``python -m ringfax.outbox [broadcast flags]``: the broadcast command on its own."""

from __future__ import annotations

import argparse
import sys

from .cli import add_broadcast_parser, run_broadcast


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ringfax.outbox")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_broadcast_parser(subparsers)
    args = parser.parse_args(["broadcast", *(sys.argv[1:] if argv is None else argv)])
    return run_broadcast(args)


if __name__ == "__main__":
    sys.exit(main())
