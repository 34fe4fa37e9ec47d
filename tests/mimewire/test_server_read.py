"""Reading a request body on a server: stop at the close delimiter, honour content_length.

A server's request stream stays open after the body (HTTP keep-alive, a WSGI
``wsgi.input`` that is the socket itself), so the decoder must never wait for the epilogue
and must never ask a file for more bytes than have arrived. Every socket here has a timeout,
so a read that waits fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from mimewire import (
    LimitExceeded,
    Limits,
    MalformedInput,
    MimeWireError,
    MultipartBody,
    Part,
    UsageError,
    aparse,
    aparse_stream,
    parse,
    parse_stream,
)

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    from strategies import chunkings, multipart_spec
except ModuleNotFoundError:  # pragma: no cover - run as the `tests` package
    from tests.strategies import chunkings, multipart_spec

BODY = MultipartBody(
    [Part.field("note", "hi"), Part(b"x" * 5000, name="doc", filename="d.bin")],
    boundary="srv-read",
)
WIRE = b"".join(BODY)
CT = BODY.content_type
EXPECTED = [("note", b"hi"), ("doc", b"x" * 5000)]
SOCKET_TIMEOUT = 10.0


def _sync(fn: Any, source: object, content_type: str = CT, **kw: Any) -> list[tuple[str, bytes]]:
    return [(p.name, p.read()) for p in fn(source, content_type, **kw)]


async def _async(fn: Any, source: object, content_type: str = CT, **kw: Any) -> list[Any]:
    return [(p.name, await p.aread()) async for p in fn(source, content_type, **kw)]


def _run_async(fn: Any, source: object, content_type: str = CT, **kw: Any) -> list[Any]:
    return asyncio.run(asyncio.wait_for(_async(fn, source, content_type, **kw), 30))


def _decode(fn: Any, source: object, content_type: str = CT, **kw: Any) -> list[Any]:
    if fn in (aparse, aparse_stream):
        return _run_async(fn, source, content_type, **kw)
    return _sync(fn, source, content_type, **kw)


SYNC = [parse, parse_stream]
ASYNC = [aparse, aparse_stream]
ALL = SYNC + ASYNC


def _open_socket_stream(data: bytes) -> tuple[io.BufferedReader, socket.socket, socket.socket]:
    """A buffered socket stream holding ``data``, its peer kept open (like a client that
    waits for the response on a keep-alive connection)."""
    server_end, client_end = socket.socketpair()
    server_end.settimeout(SOCKET_TIMEOUT)
    client_end.sendall(data)
    return server_end.makefile("rb"), server_end, client_end


# ----------------------------------------------------------------- stop at the close delimiter


@pytest.mark.parametrize("fn", SYNC, ids=lambda f: f.__name__)
@pytest.mark.parametrize("tail", [b"", b"\r\n", b"\r\nepilogue\r\n"], ids=["bare", "crlf", "epi"])
def test_open_socket_without_content_length_does_not_wait(fn: Any, tail: bytes) -> None:
    wire = WIRE.removesuffix(b"\r\n") + tail
    stream, a, b = _open_socket_stream(wire)
    try:
        assert _sync(fn, stream) == EXPECTED
    finally:
        stream.close()
        a.close()
        b.close()


@pytest.mark.parametrize("fn", SYNC, ids=lambda f: f.__name__)
def test_open_socket_in_small_pieces(fn: Any) -> None:
    """The body trickles in: every read takes what has arrived."""
    server_end, client_end = socket.socketpair()
    server_end.settimeout(SOCKET_TIMEOUT)
    stream = server_end.makefile("rb")
    try:
        # send up to the second part's headers, decode the first part, then send the rest
        half = WIRE.index(b"\r\n--srv-read\r\n") + 20
        client_end.sendall(WIRE[:half])
        parts = fn(stream, CT, content_length=str(len(WIRE)))
        first = next(parts)
        assert (first.name, first.read()) == ("note", b"hi")
        client_end.sendall(WIRE[half:])
        second = next(parts)
        assert (second.name, second.read()) == ("doc", b"x" * 5000)
        assert list(parts) == []
    finally:
        stream.close()
        server_end.close()
        client_end.close()


def _one_shot(chunks: list[bytes]) -> Iterator[bytes]:
    yield from chunks
    raise AssertionError("the source was pulled after the close delimiter")


async def _aone_shot(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    raise AssertionError("the source was pulled after the close delimiter")


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("fn", SYNC, ids=lambda f: f.__name__)
@pytest.mark.parametrize("size", [1, 7, 4096, len(WIRE)])
def test_iterable_not_pulled_after_the_end(fn: Any, size: int) -> None:
    assert _sync(fn, _one_shot(_split(WIRE, size))) == EXPECTED


@pytest.mark.parametrize("fn", ASYNC, ids=lambda f: f.__name__)
@pytest.mark.parametrize("size", [1, 7, 4096, len(WIRE)])
def test_async_iterable_not_pulled_after_the_end(fn: Any, size: int) -> None:
    assert _run_async(fn, _aone_shot(_split(WIRE, size))) == EXPECTED


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_bytes_received_after_the_end_are_still_checked_in_strict_mode(fn: Any) -> None:
    wire = WIRE.removesuffix(b"\r\n") + b"junk"
    source: object = _aone_shot([wire]) if fn in ASYNC else _one_shot([wire])
    with pytest.raises(MalformedInput, match="after the close delimiter"):
        _decode(fn, source, strict=True)
    source = _aone_shot([wire]) if fn in ASYNC else _one_shot([wire])
    assert _decode(fn, source) == EXPECTED


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_epilogue_limit_on_bytes_already_received(fn: Any) -> None:
    wire = WIRE + b"e" * 100
    source: object = _aone_shot([wire]) if fn in ASYNC else _one_shot([wire])
    with pytest.raises(LimitExceeded, match="max_epilogue"):
        _decode(fn, source, limits=Limits(max_epilogue=10))


@pytest.mark.parametrize("fn", SYNC, ids=lambda f: f.__name__)
def test_truncated_socket_body_still_raises(fn: Any) -> None:
    server_end, client_end = socket.socketpair()
    server_end.settimeout(SOCKET_TIMEOUT)
    client_end.sendall(WIRE[:-20])
    client_end.shutdown(socket.SHUT_WR)
    stream = server_end.makefile("rb")
    try:
        with pytest.raises(MalformedInput, match="without a close delimiter"):
            _sync(fn, stream)
    finally:
        stream.close()
        server_end.close()
        client_end.close()


# ----------------------------------------------------------------- content_length


async def _achunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _source(fn: Any, data: bytes) -> object:
    """A source that ends after ``data`` (a file for the sync functions)."""
    return _achunks(_split(data, 1000)) if fn in ASYNC else io.BytesIO(data)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "length", [len(WIRE), str(len(WIRE)), str(len(WIRE)).encode(), "", None], ids=repr
)
def test_content_length_forms(fn: Any, length: object) -> None:
    assert _decode(fn, _source(fn, WIRE), content_length=length) == EXPECTED


@pytest.mark.parametrize("fn", SYNC, ids=lambda f: f.__name__)
@pytest.mark.parametrize("chunk_size", [5, 65536])
def test_no_byte_past_content_length_is_read(fn: Any, chunk_size: int) -> None:
    """What follows the body on the connection (a pipelined request) stays unread."""
    body = WIRE + b"the epilogue, inside the announced length"
    stream = io.BytesIO(body + b"POST /next HTTP/1.1\r\n")
    got = _sync(fn, stream, content_length=len(body), chunk_size=chunk_size)
    assert got == EXPECTED
    assert stream.tell() <= len(body)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_body_shorter_than_content_length(fn: Any) -> None:
    short = WIRE[:-30]
    message = rf"body ended after {len(short)} of content_length={len(WIRE) + 5} bytes"
    with pytest.raises(MalformedInput, match=message) as info:
        _decode(fn, _source(fn, short), content_length=len(WIRE) + 5)
    assert info.value.offset == len(short)
    assert info.value.http_status == 400


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_body_reaching_content_length_without_close_delimiter(fn: Any) -> None:
    cut = len(WIRE) - 30
    message = rf"reached content_length={cut} bytes without a close delimiter"
    with pytest.raises(MalformedInput, match=message):
        _decode(fn, _source(fn, WIRE), content_length=cut)
    with pytest.raises(MalformedInput, match="content_length=0"):
        _decode(fn, _source(fn, WIRE), content_length=0)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [-1, "-1", "12a", " 12", "1e3", "١٢", 1.5, True, False, [1]])
def test_bad_content_length_is_a_usage_error(fn: Any, bad: object) -> None:
    with pytest.raises(UsageError, match="content_length"):
        _decode(fn, _source(fn, WIRE), content_length=bad)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_content_length_over_max_total_size_is_refused_before_reading(fn: Any) -> None:
    def untouched() -> Iterator[bytes]:
        raise AssertionError("read although the announced length is over the limit")
        yield b""  # pragma: no cover

    async def auntouched() -> AsyncIterator[bytes]:
        raise AssertionError("read although the announced length is over the limit")
        yield b""  # pragma: no cover

    source = auntouched() if fn in ASYNC else untouched()
    with pytest.raises(LimitExceeded, match=r"max_total_size=100 .*content_length=5000"):
        _decode(fn, source, content_length=5000, limits=Limits(max_total_size=100))


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_body_longer_than_content_length_is_cut_there(fn: Any) -> None:
    """Bytes past the announced length are not part of the body, even from a source that
    hands them over in the same chunk."""
    source: object = _aone_shot([WIRE + b"x" * 50]) if fn in ASYNC else [WIRE + b"x" * 50]
    assert _decode(fn, source, content_length=len(WIRE) + 10) == EXPECTED


# ----------------------------------------------------------------- every body, every chunking


def _ends(data: bytes, boundary: bytes) -> bool:
    """Does ``data`` hold the whole close delimiter (by the sans-I/O decoder)?"""
    from mimewire import Decoder, MultipartEnd

    try:
        return any(type(e) is MultipartEnd for e in Decoder(boundary).feed(data))
    except MimeWireError:
        return False


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_chunking_pulls_only_up_to_the_close_delimiter(data: st.DataObject) -> None:
    spec = data.draw(multipart_spec(max_depth=0))
    try:
        body = spec.build()
        wire = b"".join(body)
    except UsageError:
        reject()
    chunks = data.draw(chunkings(wire))
    pulled: list[bytes] = []

    def source() -> Iterator[bytes]:
        for chunk in chunks:
            pulled.append(chunk)
            yield chunk

    expected = [(p.name, p.read()) for p in parse(wire, body.content_type)]
    assert [(p.name, p.read()) for p in parse_stream(source(), body.content_type)] == expected
    boundary = body.content_type.partition("boundary=")[2].strip('"').encode()
    taken = b"".join(pulled)
    assert _ends(taken, boundary)
    last = max(i for i, c in enumerate(pulled) if c) if any(pulled) else 0
    assert not _ends(b"".join(pulled[:last]), boundary)
    pulled.clear()
    got = [
        (p.name, p.read())
        for p in parse(
            io.BytesIO(wire + b"NEXT"), body.content_type, content_length=len(wire), chunk_size=7
        )
    ]
    assert got == expected


@pytest.mark.parametrize("size", [1, 3, 64, 100_000])
def test_nested_parse_stops_at_the_outer_close_delimiter(size: int) -> None:
    inner = MultipartBody([Part("a", content_type="text/plain")], subtype="mixed")
    outer = MultipartBody([Part(inner), Part("b", content_type="text/plain")], subtype="mixed")
    wire = b"".join(outer)
    parts = list(parse(_one_shot(_split(wire, size)), outer.content_type, nested=True))
    assert parts[0].parts is not None
    assert [p.read() for p in parts[0].parts] == [b"a"]
    assert parts[1].read() == b"b"
