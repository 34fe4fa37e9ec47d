"""``python -m mimewire inspect``: show the structure of a multipart body.

The body is streamed through :class:`Decoder` (nothing but the part metadata is kept);
nested ``multipart/*`` parts are decoded on the fly by nested decoders.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from ._decoder import Decoder, Limits
from ._errors import LimitExceeded, MalformedInput, MimeWireError, UsageError
from ._events import NEED_DATA, PartData, PartEnd, PartStart
from ._headers import boundary_from_content_type, parse_header_params

__all__ = ["inspect_body", "main"]

_CHUNK = 65536
_SNIFF_LIMIT = 64 * 1024 + 8192


class _Node:
    """One part being decoded: metadata, running hash and maybe a nested decoder."""

    def __init__(self, start: PartStart, offset: int | None, decode: bool, depth: int) -> None:
        self.start = start
        self.offset = offset  # absolute offset of the body, when known
        self.size = 0
        self.hash = hashlib.sha256()
        self.nested: _Level | None = None
        ctype = start.get("Content-Type")
        if ctype is not None and parse_header_params(ctype)[0].startswith("multipart/"):
            try:
                boundary = boundary_from_content_type(ctype)
            except MalformedInput as exc:
                raise MalformedInput(f"nested multipart: {exc.reason}", offset=offset) from None
            identity = start.transfer_encoding in (None, "7bit", "8bit", "binary")
            self.nested = _Level(
                boundary, decode, depth + 1, offset if identity or not decode else None
            )

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        self.hash.update(data)
        if self.nested is not None:
            self.nested.feed(data)

    def finish(self) -> dict[str, Any]:
        start = self.start
        doc: dict[str, Any] = {
            "headers": [[k, v] for k, v in start.headers],
            "name": start.name,
            "filename": start.filename,
            "content_type": start.content_type,
            "transfer_encoding": start.transfer_encoding,
            "size": self.size,
            "sha256": self.hash.hexdigest(),
        }
        if self.nested is not None:
            self.nested.end()
            doc["parts"] = self.nested.parts
        return doc


class _Level:
    """A decoder for one multipart body (the top level or a nested part)."""

    def __init__(self, boundary: str, decode: bool, depth: int, base: int | None) -> None:
        try:
            self.decoder = Decoder(boundary, decode_transfer=decode, depth=depth, limits=_LIMITS)
        except UsageError as exc:
            raise MalformedInput(f"unusable boundary: {exc.message}", offset=base) from None
        self.offsets: list[int] = []
        self.decoder._offsets = self.offsets
        self.decode = decode
        self.depth = depth
        self.base = base  # absolute offset of this body's first byte (None: not knowable)
        self.parts: list[dict[str, Any]] = []
        self.current: _Node | None = None

    def feed(self, data: bytes) -> None:
        self._guard(self.decoder.receive_data, data)
        self._drain()

    def end(self) -> None:
        self._guard(self.decoder.receive_data, b"")
        self._drain()
        self._guard(self.decoder.close)

    def _drain(self) -> None:
        next_event = self.decoder.next_event
        while True:
            event = self._guard(next_event)
            if event is NEED_DATA:
                return
            if isinstance(event, PartData):
                assert self.current is not None
                self._guard(self.current.feed, event.data)
            elif isinstance(event, PartStart):
                rel = self.offsets[len(self.parts)]
                offset = None if self.base is None else self.base + rel
                self.current = self._guard(_Node, event, offset, self.decode, self.depth)
            elif isinstance(event, PartEnd):
                assert self.current is not None
                self.parts.append(self._guard(self.current.finish))
                self.current = None

    def _guard(self, fn: Any, *args: Any) -> Any:
        """Call ``fn``; a nested decoder's error gets an absolute offset when possible."""
        try:
            return fn(*args)
        except _Absolute:
            raise
        except MimeWireError as exc:
            raise _Absolute(exc, self.base if self.depth else 0) from None


class _Absolute(Exception):
    """An error whose offset was made absolute (raised through the nesting levels)."""

    def __init__(self, exc: MimeWireError, base: int | None) -> None:
        offset = getattr(exc, "offset", None)
        self.offset = None if offset is None or base is None else base + offset
        self.exc = exc
        reason = exc.reason if isinstance(exc, MalformedInput) else exc.message
        if isinstance(exc, LimitExceeded):
            reason = f"limit {exc.limit}={exc.value} exceeded"
        if self.offset is not None:
            reason = reason.split(" (part ")[0].split(" (byte offset")[0]
            reason += f" (byte offset {self.offset})"
        elif offset is not None:
            reason = exc.message
        super().__init__(reason)


_LIMITS = Limits(max_parts=100_000, max_preamble=None, max_epilogue=None)


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
    level = _Level(boundary, decode, 0, 0)
    try:
        if head:
            level.feed(head)
        for data in chunks:
            level.feed(data)
        level.end()
    except _Absolute as exc:
        inner = exc.exc
        if isinstance(inner, LimitExceeded):
            raise LimitExceeded(inner.limit, inner.value, offset=exc.offset) from None
        raise MalformedInput(str(exc).split(" (byte offset")[0], offset=exc.offset) from None
    return {
        "content_type": content_type,
        "boundary": boundary,
        "parts": level.parts,
        "preamble_size": level.decoder.preamble_size,
        "epilogue_size": level.decoder.epilogue_size,
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mimewire``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m mimewire", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("inspect", help="show the parts of a multipart body")
    cmd.add_argument("--content-type", help="the body's Content-Type (else sniffed)")
    cmd.add_argument("--json", action="store_true", help="print one JSON document")
    cmd.add_argument("--decode", action="store_true", help="hash transfer-decoded bodies")
    cmd.add_argument("file", help="the body file, or - for stdin")
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
