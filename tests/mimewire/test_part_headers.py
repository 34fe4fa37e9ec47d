"""Decoded parts look headers up by name, case-insensitively, whatever holds their body."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mimewire import (
    AsyncStreamedPart,
    MultipartBody,
    ParsedPart,
    Part,
    StreamedPart,
    UsageError,
    aparse,
    aparse_stream,
    parse,
    parse_stream,
)

BODY = MultipartBody(
    [
        Part(
            b"%PDF",
            name="doc",
            filename="a.pdf",
            content_type="application/pdf",
            headers=[("X-Tag", "one"), ("x-tag", "two"), ("X-Empty", "")],
        ),
        Part(MultipartBody([Part("inner", content_type="text/plain")], subtype="mixed")),
    ],
    subtype="mixed",
    boundary="hdrs",
)
WIRE = b"".join(BODY)
CT = BODY.content_type


def _check(part: Any) -> None:
    assert part.header("content-type") == "application/pdf"
    assert part.header("CONTENT-TYPE") == "application/pdf"
    assert part.header("Content-Disposition") == part.start.get("content-disposition")
    assert part.header("x-TAG") == "one"  # the first of a repeated header
    assert part.header_all("X-Tag") == ["one", "two"]
    assert part.header("X-Empty", "fallback") == ""  # present but empty is not missing
    assert part.header("X-Missing") is None
    assert part.header("X-Missing", "fallback") == "fallback"
    assert part.header_all("X-Missing") == []
    assert isinstance(part.headers, tuple)  # still the wire-order pairs
    assert ("X-Tag", "one") in part.headers
    for bad in (b"X-Tag", None, 1):
        with pytest.raises(UsageError, match="header name must be a str"):
            part.header(bad)
        with pytest.raises(UsageError, match="header name must be a str"):
            part.header_all(bad)


def test_parsed_part() -> None:
    parts = list(parse(WIRE, CT, nested=True))
    assert isinstance(parts[0], ParsedPart)
    _check(parts[0])
    nested = parts[1].parts
    assert nested is not None
    assert nested[0].header("content-type") == "text/plain"


def test_streamed_part() -> None:
    for part in parse_stream(WIRE, CT):
        assert isinstance(part, StreamedPart)
        if part.index == 0:
            _check(part)
        assert part.header("Content-Type", "").startswith(("application/pdf", "multipart/"))


def test_async_parts() -> None:
    async def main() -> None:
        async for part in aparse_stream(WIRE, CT):
            assert isinstance(part, AsyncStreamedPart)
            if part.index == 0:
                _check(part)
        async for parsed in aparse(WIRE, CT):
            if parsed.index == 0:
                _check(parsed)

    asyncio.run(main())
