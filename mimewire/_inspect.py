"""python -m mimewire inspect: show the structure of a multipart body.

The body is streamed through the decoder (nothing but the part metadata is kept); nested
multipart parts are decoded on the fly, with the limits counted over the whole body.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from ._decoder import Decoder, Limits
from ._errors import MalformedInput, MimeWireError, UsageError
from ._events import PartStart
from ._headers import boundary_from_content_type
from ._nested import TreeDecoder

__all__ = ["inspect_body", "main"]

_CHUNK = 65536
_SNIFF_LIMIT = 64 * 1024 + 8192
_LIMITS = Limits(max_parts=100_000, max_preamble=None, max_epilogue=None)


class _Node:
    """One part being decoded: its size and running hash."""

    __slots__ = ("hash", "size", "start")

    def __init__(self, start: PartStart) -> None:
        self.start = start
        self.size = 0
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self.hash.update(data)

    def finish(self, children: list[dict[str, Any]] | None) -> dict[str, Any]:
        start = self.start
        doc: dict[str, Any] = {"headers": [[k, v] for k, v in start.headers]}
        problems: list[str] = []
        for key in ("name", "filename", "content_type", "transfer_encoding"):
            try:
                doc[key] = getattr(start, key)
            except MalformedInput as exc:  # ambiguous header: show it rather than stop
                doc[key] = None
                if exc.reason not in problems:
                    problems.append(exc.reason)
        doc["size"] = self.size
        doc["sha256"] = self.hash.hexdigest()
        if problems:
            doc["problems"] = problems
        if children is not None:
            doc["parts"] = children
        return doc

    def abort(self) -> None:
        pass


class _Describe:
    """The part handler of inspect: a JSON-ready dict per part."""

    def open(
        self, start: PartStart, index: int, offset: int | None, depth: int, nested: bool
    ) -> _Node:
        return _Node(start)

    def discard(self, item: dict[str, Any]) -> None:
        pass


def _sniff_boundary(head: bytes) -> str:
    """The boundary of the first line starting with ``--`` (the first delimiter line)."""
    for raw in head.split(b"\n"):
        line = raw.rstrip(b"\r")
        if line.startswith(b"--") and len(line) > 2:
            boundary = line[2:].rstrip(b" \t")
            if boundary.endswith(b"--"):
                boundary = boundary[:-2]
            try:
                text = boundary.decode("ascii")
            except UnicodeDecodeError:
                break
            if 0 < len(text) <= 70:
                return text
            break
    raise MalformedInput("no delimiter line found to take the boundary from; use --content-type")


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        data = stream.read(_CHUNK)
        if not data:
            return
        yield data


def inspect_body(
    stream: IO[bytes], content_type: str | None = None, *, decode: bool = False
) -> dict[str, Any]:
    """The structure of the multipart body read from ``stream`` as a JSON-ready dict.

    Raises :class:`MimeWireError` (with an absolute byte offset when known).
    """
    chunks = _chunks(stream)
    head = b""
    if content_type is not None:
        boundary = boundary_from_content_type(content_type)
    else:
        for data in chunks:
            head += data
            if b"\n" in head.lstrip(b"\r\n") or len(head) >= _SNIFF_LIMIT:
                break
        boundary = _sniff_boundary(head[:_SNIFF_LIMIT])
    try:
        decoder = Decoder(boundary, decode_transfer=decode, limits=_LIMITS)
    except UsageError as exc:
        raise MalformedInput(f"unusable boundary: {exc.message}", offset=0) from None
    tree = TreeDecoder(decoder, _Describe(), nested=True, decode_transfer=decode)
    parts: list[dict[str, Any]] = []
    if head:
        parts += tree.feed(head)
    for data in chunks:
        parts += tree.feed(data)
    parts += tree.finish()
    return {
        "content_type": content_type,
        "boundary": boundary,
        "parts": parts,
        "preamble_size": decoder.preamble_size,
        "epilogue_size": decoder.epilogue_size,
    }


def _tree(parts: list[dict[str, Any]], prefix: str, out: list[str]) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        out.append(f"{prefix}{'└── ' if last else '├── '}part {i}")
        inner = prefix + ("    " if last else "│   ")
        for key in ("name", "filename", "content_type", "transfer_encoding", "size", "sha256"):
            if part[key] is not None:
                out.append(f"{inner}{key}: {part[key]}")
        for name, value in part["headers"]:
            out.append(f"{inner}| {name}: {value}")
        for problem in part.get("problems", ()):
            out.append(f"{inner}problem: {problem}")
        if "parts" in part:
            out.append(f"{inner}parts: {len(part['parts'])}")
            _tree(part["parts"], inner, out)


def render_tree(doc: dict[str, Any]) -> str:
    """A human-readable tree of an :func:`inspect_body` document."""
    out = [
        f"content-type: {doc['content_type'] or '(sniffed)'}",
        f"boundary: {doc['boundary']}",
        f"preamble: {doc['preamble_size']} bytes",
        f"parts: {len(doc['parts'])}",
    ]
    _tree(doc["parts"], "", out)
    out.append(f"epilogue: {doc['epilogue_size']} bytes")
    return "\n".join(out)


_DESCRIPTION = "mimewire debugging tools for MIME multipart bodies."
_EPILOG = """\
examples:
  python -m mimewire inspect body.bin
  python -m mimewire inspect --json --content-type 'multipart/form-data; boundary=xyz' -
exit status: 0 ok, 1 the body is malformed or over a limit, 2 the file cannot be read."""
_INSPECT_DESCRIPTION = """\
Show the structure of a multipart body read from FILE (or standard input): every
part with its headers, name, filename, content type, size and SHA-256, nested
multipart parts indented under their parent. Without --content-type the boundary
is taken from the first delimiter line. Errors name the byte offset of the problem."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mimewire``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m mimewire",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cmd = sub.add_parser(
        "inspect",
        help="show the parts of a multipart body (nested parts included)",
        description=_INSPECT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "--content-type", metavar="CT", help="the body's Content-Type (default: sniffed)"
    )
    cmd.add_argument("--json", action="store_true", help="print one JSON document")
    cmd.add_argument(
        "--decode",
        action="store_true",
        help="size and hash base64/quoted-printable bodies decoded (default: as sent)",
    )
    cmd.add_argument("file", metavar="FILE", help="the body file, or - for standard input")
    args = parser.parse_args(argv)
    try:
        if args.file == "-":
            doc = inspect_body(sys.stdin.buffer, args.content_type, decode=args.decode)
        else:
            with open(args.file, "rb") as stream:
                doc = inspect_body(stream, args.content_type, decode=args.decode)
    except OSError as exc:
        print(f"mimewire inspect: error: {exc}", file=sys.stderr)
        return 2
    except MimeWireError as exc:
        print(f"mimewire inspect: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print(render_tree(doc))
    return 0
