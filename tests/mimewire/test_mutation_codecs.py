"""Exact-edge checks of the transfer codecs and of the encoded sizes the encoder announces.

Each test pins a boundary that a one-token change of the code would move (an off-by-one in
the 998-octet 7bit line rule, the offset a long line is reported at, the Content-Length of a
base64 part whose size is not a multiple of 57 bytes, ...); ``make mutation`` checks that they do.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from mimewire import MultipartBody, Part
from mimewire._codecs import (
    KNOWN_ENCODINGS,
    QuotedPrintableEncoder,
    SevenBitEncoder,
    make_decoder,
    make_encoder,
)
from mimewire._errors import UsageError

MAX = 998  # RFC 5322 §2.1.1: octets per line, CRLF excluded


def feed_all(chunks: list[bytes]) -> None:
    enc = SevenBitEncoder()
    for chunk in chunks:
        assert enc.feed(chunk) is chunk
    enc.flush()


# --------------------------------------------------------------------------- 7bit lines


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_7bit_line_of_exactly_998_octets_passes_and_999_fails(eol: bytes) -> None:
    feed_all([b"a" * MAX + eol + b"b" * MAX])
    with pytest.raises(UsageError, match="line longer than 998 octets"):
        feed_all([b"a" * (MAX + 1) + eol])


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_7bit_line_split_across_chunks_counts_both_pieces(eol: bytes) -> None:
    feed_all([b"a" * 500, b"a" * (MAX - 500) + eol])
    for cut in (1, 500, MAX):
        with pytest.raises(UsageError, match="line starts at offset 0"):
            feed_all([b"a" * cut, b"a" * (MAX + 1 - cut) + eol])


def test_7bit_long_line_is_reported_where_it_starts() -> None:
    with pytest.raises(UsageError) as one_chunk:
        feed_all([b"xy\n" + b"a" * (MAX + 1) + b"\n"])
    assert str(one_chunk.value) == (
        "line longer than 998 octets at offset 1001 in a 7bit part (line starts at offset 3)"
    )
    with pytest.raises(UsageError) as two_chunks:
        feed_all([b"xy\n" + b"a" * 10, b"a" * (MAX - 9) + b"\n"])
    assert "(line starts at offset 3)" in str(two_chunks.value)


def test_7bit_overlong_unfinished_line_fails_in_feed_not_only_in_flush() -> None:
    enc = SevenBitEncoder()
    enc.feed(b"a" * MAX + b"\r")  # 998 octets and the CR of a CRLF still fit
    with pytest.raises(UsageError, match="line starts at offset 0"):
        SevenBitEncoder().feed(b"a" * (MAX + 1))
    with pytest.raises(UsageError, match="line starts at offset 0"):
        SevenBitEncoder().feed(b"a" * (MAX + 1) + b"\r")


@pytest.mark.parametrize("at", [0, 1, 4])
def test_7bit_nul_is_refused_at_every_position_of_a_chunk(at: int) -> None:
    enc = SevenBitEncoder()
    enc.feed(b"abc")
    data = bytearray(b"hello")
    data[at] = 0
    with pytest.raises(UsageError, match=f"NUL byte at offset {3 + at} in a 7bit part"):
        enc.feed(bytes(data) + b"!")


def test_7bit_accepts_any_buffer_and_returns_it_unchanged() -> None:
    view = memoryview(b"plain text\r\n")
    assert SevenBitEncoder().feed(view) is view  # type: ignore[arg-type]


# --------------------------------------------------------------------------- factories


def test_identity_codec_counts_consumed_bytes() -> None:
    codec = make_decoder(None)
    assert codec.consumed == 0  # type: ignore[attr-defined]
    codec.feed(b"abc")
    codec.feed(b"de")
    assert codec.consumed == 5  # type: ignore[attr-defined]


def test_unknown_encoding_error_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        make_encoder("x-uuencode")
    assert str(info.value).endswith("known: " + ", ".join(sorted(KNOWN_ENCODINGS)))


def test_quoted_printable_encoder_defaults_to_binary_safe() -> None:
    data = b"line one\r\nline two\r\n"
    default = make_encoder("quoted-printable")
    assert default.feed(data) + default.flush() == (b"line one=0D=0Aline two=0D=0A")
    explicit = QuotedPrintableEncoder(binary=True)
    assert explicit.feed(data) + explicit.flush() == b"line one=0D=0Aline two=0D=0A"


# --------------------------------------------------------------------------- Content-Length


def _payload(n: int) -> bytes:
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def _source(data: bytes, kind: str) -> tuple[object, dict[str, int]]:
    if kind == "iter":

        def gen() -> Iterator[bytes]:
            yield from (data[i : i + 7] for i in range(0, len(data), 7))

        return gen(), {"length": len(data)}
    if kind == "file":
        return io.BytesIO(data), {}
    return data, {}


SIZES = [*range(301), 4095, 4096, 57 * 1000, 57 * 1000 + 1, 65536, 1 << 20]


@pytest.mark.parametrize("kind", ["bytes", "iter", "file"])
def test_base64_content_length_equals_the_bytes_sent(kind: str) -> None:
    for n in SIZES:
        data = _payload(n)
        source, extra = _source(data, kind)
        body = MultipartBody(
            [Part(source, name="f", filename="x.bin", transfer_encoding="base64", **extra)],  # type: ignore[arg-type]
            boundary="B",
        )
        sent = b"".join(body)
        assert body.content_length == len(sent), n
        assert re.search(rb"\r\n\r\n[A-Za-z0-9+/=\r\n]*\r\n--B--\r\n\Z", sent), n


@pytest.mark.parametrize("kind", ["bytes", "iter", "file"])
def test_quoted_printable_content_length_is_exact_or_unknown(kind: str) -> None:
    """A bytes source is measured exactly; a streamed one has no length before encoding."""
    for n in SIZES[:301:3] + SIZES[301:]:
        data = _payload(n)
        source, extra = _source(data, kind)
        body = MultipartBody(
            [Part(source, name="f", transfer_encoding="quoted-printable", **extra)],  # type: ignore[arg-type]
            boundary="B",
        )
        sent = len(b"".join(body))
        if kind == "bytes":
            assert body.content_length == sent, n
        else:
            assert body.content_length in (None, sent), n
