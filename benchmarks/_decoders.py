"""Decoder adapters: each turns a list of body chunks into an operation that decodes them
all (payload bytes sent to a null sink) and returns ``(parts, payload_bytes)``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ._cases import Lib
from ._common import BOUNDARY, BOUNDARY_B, CONTENT_TYPE, Unavailable

Op = Callable[[], tuple[int, int]]
ITER = "baseline: iterate chunks"
# mimewire's default Limits allow 1000 parts; the many-parts case needs more (the other
# parsers have no part-count limit by default).
FIND = "baseline: bytes.find(delimiter)"
MAX_PARTS = 1_000_000

LIBS = (
    Lib(ITER, "baseline", FIND),
    Lib(FIND, "baseline"),
    Lib("mimewire Decoder", "mimewire", FIND),
    Lib("mimewire next_event()", "mimewire", FIND),
    Lib("mimewire parse()", "mimewire", FIND),
    Lib("mimewire parse_stream()", "mimewire", FIND),
    Lib("multipart PushMultipartParser", "peer", FIND),
    Lib("python-multipart MultipartParser", "peer", FIND),
    Lib("streaming-form-data", "peer", FIND),
    Lib("werkzeug MultipartDecoder", "peer", FIND),
    Lib("aiohttp MultipartReader", "peer", FIND),
    Lib(
        "stdlib email BytesFeedParser",
        "peer",
        FIND,
        max_work=256 * 1024 * 1024,
        note="skipped above 256 MiB: holds the whole message in memory several times over",
    ),
)


def _iterate(chunks: list[bytes], names: list[str]) -> Op:
    def op() -> tuple[int, int]:
        n = 0
        for c in chunks:
            n += len(c)
        return 0, n

    return op


def _find(chunks: list[bytes], names: list[str]) -> Op:
    delim = b"\r\n--" + BOUNDARY_B

    def op() -> tuple[int, int]:
        hits = 0
        n = 0
        for c in chunks:
            n += len(c)
            pos = c.find(delim)
            while pos >= 0:
                hits += 1
                pos = c.find(delim, pos + 1)
        return hits, n

    return op


def _mimewire_feed(chunks: list[bytes], names: list[str]) -> Op:
    """``Decoder.feed(chunk) -> list[Event]``: the batch form of the sans-I/O API."""
    try:
        from mimewire import Decoder, Limits, MultipartEnd, PartData, PartEnd
    except ImportError as exc:
        raise Unavailable(f"mimewire: {exc}") from exc
    limits = Limits(max_parts=MAX_PARTS)

    def op() -> tuple[int, int]:
        d = Decoder(BOUNDARY, limits=limits)
        feed = d.feed
        parts = 0
        n = 0
        done = False
        for c in [*chunks, b""]:
            for ev in feed(c):
                cls = type(ev)
                if cls is PartData:
                    n += len(ev.data)  # type: ignore[union-attr]
                elif cls is PartEnd:
                    parts += 1
                elif cls is MultipartEnd:
                    done = True
        if not done:
            raise RuntimeError("mimewire Decoder.feed never produced MultipartEnd")
        return parts, n

    return op


def _mimewire_decoder(chunks: list[bytes], names: list[str]) -> Op:
    """``receive_data`` + ``next_event()`` until NEED_DATA: the pull form."""
    try:
        from mimewire import NEED_DATA, Decoder, Limits, MultipartEnd, PartData, PartEnd
    except ImportError as exc:
        raise Unavailable(f"mimewire: {exc}") from exc
    limits = Limits(max_parts=MAX_PARTS)

    def op() -> tuple[int, int]:
        d = Decoder(BOUNDARY, limits=limits)
        parts = 0
        n = 0
        done = False
        for c in [*chunks, b""]:
            d.receive_data(c)
            while True:
                ev = d.next_event()
                if ev is NEED_DATA:
                    break
                cls = type(ev)
                if cls is PartData:
                    n += len(ev.data)  # type: ignore[union-attr]
                elif cls is PartEnd:
                    parts += 1
                elif cls is MultipartEnd:
                    done = True
                    break
        if not done:
            raise RuntimeError("mimewire Decoder never produced MultipartEnd")
        return parts, n

    return op


def _mimewire_parse(stream: bool) -> Callable[[list[bytes], list[str]], Op]:
    def adapter(chunks: list[bytes], names: list[str]) -> Op:
        try:
            from mimewire import Limits, parse, parse_stream
        except ImportError as exc:
            raise Unavailable(f"mimewire: {exc}") from exc
        limits = Limits(max_parts=MAX_PARTS)
        run: Callable[..., Iterable[Iterable[bytes]]] = parse_stream if stream else parse

        def op() -> tuple[int, int]:
            parts = 0
            n = 0
            for part in run(iter(chunks), CONTENT_TYPE, limits=limits):
                for c in part:
                    n += len(c)
                parts += 1
            return parts, n

        return op

    return adapter


def _multipart(chunks: list[bytes], names: list[str]) -> Op:
    try:
        from multipart import PushMultipartParser
    except ImportError as exc:
        raise Unavailable(f"multipart: {exc}") from exc

    def op() -> tuple[int, int]:
        parts = 0
        n = 0
        with PushMultipartParser(BOUNDARY) as p:
            for c in [*chunks, b""]:
                for ev in p.parse(c):
                    if ev is None:
                        parts += 1
                    elif isinstance(ev, (bytes, bytearray, memoryview)):
                        n += len(ev)
        return parts, n

    return op


def _python_multipart(chunks: list[bytes], names: list[str]) -> Op:
    try:
        from python_multipart import MultipartParser
    except ImportError as exc:
        raise Unavailable(f"python-multipart: {exc}") from exc

    def op() -> tuple[int, int]:
        count = [0, 0]

        def on_part_data(data: bytes, start: int, end: int) -> None:
            count[1] += end - start

        def on_part_end() -> None:
            count[0] += 1

        p = MultipartParser(
            BOUNDARY_B, callbacks={"on_part_data": on_part_data, "on_part_end": on_part_end}
        )
        for c in chunks:
            p.write(c)
        p.finalize()
        return count[0], count[1]

    return op


def _streaming_form_data(chunks: list[bytes], names: list[str]) -> Op:
    try:
        from streaming_form_data import StreamingFormDataParser
        from streaming_form_data.targets import BaseTarget
    except ImportError as exc:
        raise Unavailable(f"streaming-form-data: {exc}") from exc

    class Counter(BaseTarget):  # type: ignore[misc]
        def __init__(self, count: list[int]) -> None:
            super().__init__()
            self.count = count

        def on_data_received(self, chunk: bytes) -> None:
            self.count[1] += len(chunk)

        def on_finish(self) -> None:
            self.count[0] += 1

    def op() -> tuple[int, int]:
        count = [0, 0]
        p = StreamingFormDataParser(headers={"Content-Type": CONTENT_TYPE})
        target = Counter(count)
        for name in names:
            p.register(name, target)
        for c in chunks:
            p.data_received(c)
        return count[0], count[1]

    return op


def _werkzeug(chunks: list[bytes], names: list[str]) -> Op:
    try:
        from werkzeug.sansio.multipart import (
            Data,
            Epilogue,
            MultipartDecoder,
            NeedData,
        )
    except ImportError as exc:
        raise Unavailable(f"werkzeug: {exc}") from exc

    def op() -> tuple[int, int]:
        d = MultipartDecoder(BOUNDARY_B)
        parts = 0
        n = 0
        done = False
        for c in [*chunks, None]:
            d.receive_data(c)
            while True:
                ev = d.next_event()
                if isinstance(ev, NeedData):
                    break
                if isinstance(ev, Data):
                    n += len(ev.data)
                    if not ev.more_data:
                        parts += 1
                elif isinstance(ev, Epilogue):
                    done = True
                    break
            if done:
                break
        return parts, n

    return op


def _aiohttp(chunks: list[bytes], names: list[str]) -> Op:
    import asyncio

    try:
        import aiohttp
    except ImportError as exc:
        raise Unavailable(f"aiohttp: {exc}") from exc

    class Proto:
        """Flow control like a real connection: pause feeding while the buffer is full."""

        def __init__(self) -> None:
            self._reading_paused = False
            self.connected = True
            self.resumed = asyncio.Event()

        def pause_reading(self, *args: Any, **kwargs: Any) -> None:
            self._reading_paused = True
            self.resumed.clear()

        def resume_reading(self, *args: Any, **kwargs: Any) -> None:
            self._reading_paused = False
            self.resumed.set()

    async def go() -> tuple[int, int]:
        proto = Proto()
        stream = aiohttp.StreamReader(proto, 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]

        async def feed() -> None:
            for c in chunks:
                stream.feed_data(c)
                if proto._reading_paused:
                    await proto.resumed.wait()
            stream.feed_eof()

        feeder = asyncio.create_task(feed())
        reader = aiohttp.MultipartReader({"Content-Type": CONTENT_TYPE}, stream)
        parts = 0
        n = 0
        while True:
            part: Any = await reader.next()
            if part is None:
                break
            while chunk := await part.read_chunk(65536):
                n += len(chunk)
            parts += 1
        await feeder
        return parts, n

    return lambda: asyncio.run(go())


def _email(chunks: list[bytes], names: list[str]) -> Op:
    from email.parser import BytesFeedParser

    def op() -> tuple[int, int]:
        p = BytesFeedParser()
        p.feed(f"Content-Type: {CONTENT_TYPE}\r\nMIME-Version: 1.0\r\n\r\n".encode())
        for c in chunks:
            p.feed(c)
        msg = p.close()
        parts = 0
        n = 0
        for sub in msg.get_payload():  # type: ignore[union-attr]
            n += len(sub.get_payload(decode=True))
            parts += 1
        return parts, n

    return op


PREPARE: dict[str, Callable[[list[bytes], list[str]], Op]] = {
    ITER: _iterate,
    FIND: _find,
    "mimewire Decoder": _mimewire_feed,
    "mimewire next_event()": _mimewire_decoder,
    "mimewire parse()": _mimewire_parse(stream=False),
    "mimewire parse_stream()": _mimewire_parse(stream=True),
    "multipart PushMultipartParser": _multipart,
    "python-multipart MultipartParser": _python_multipart,
    "streaming-form-data": _streaming_form_data,
    "werkzeug MultipartDecoder": _werkzeug,
    "aiohttp MultipartReader": _aiohttp,
    "stdlib email BytesFeedParser": _email,
}


def checked(
    lib: str, chunks: list[bytes], names: list[str], parts: int, payload: int
) -> Callable[[], int]:
    """The decode operation for ``lib``, checking it found ``parts`` parts and ``payload``
    payload bytes (baselines are exempt). Returns the payload byte count."""
    inner = PREPARE[lib](chunks, names)
    if lib in (ITER, FIND):
        return lambda: inner()[1]

    def op() -> int:
        got_parts, got = inner()
        if got_parts != parts or got != payload:
            raise RuntimeError(
                f"{lib} decoded {got_parts} parts / {got} payload bytes, "
                f"expected {parts} / {payload}"
            )
        return got

    return op
