"""Tests for mimewire._codecs: incremental transfer codecs."""

from __future__ import annotations

import base64
import binascii
import io
import quopri

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import bodies, chunkings, split_at

from mimewire._codecs import (
    KNOWN_ENCODINGS,
    Codec,
    encoded_length,
    is_identity,
    make_decoder,
    make_encoder,
)
from mimewire._errors import MalformedInput, MimeWireError, UsageError


def run(codec: Codec, chunks: list[bytes]) -> bytes:
    out = [codec.feed(chunk) for chunk in chunks]
    out.append(codec.flush())
    return b"".join(out)


def outcome(factory: object, chunks: list[bytes]) -> bytes | tuple[str, int | None]:
    """Result bytes, or (error reason, offset) for a MalformedInput/UsageError."""
    assert callable(factory)
    try:
        return run(factory(), chunks)
    except MalformedInput as exc:
        return (exc.reason, exc.offset)
    except UsageError as exc:
        return (str(exc), None)


def data_and_chunks(max_size: int = 3000) -> st.SearchStrategy[tuple[bytes, list[bytes]]]:
    return bodies(max_size=max_size).flatmap(lambda d: st.tuples(st.just(d), chunkings(d)))


def stdlib_base64(data: bytes) -> bytes:
    return base64.encodebytes(data).rstrip(b"\n").replace(b"\n", b"\r\n")


# --------------------------------------------------------------------------- registry


def test_known_encodings_and_identity() -> None:
    assert {"7bit", "8bit", "binary", "base64", "quoted-printable"} == KNOWN_ENCODINGS
    assert is_identity(None)
    assert is_identity("8bit") and is_identity(" BINARY ")
    assert not is_identity("7bit")  # the 7bit encoder validates
    assert not is_identity("base64") and not is_identity("quoted-printable")
    assert not is_identity("x-unknown")


def test_identity_codec_passes_the_same_object() -> None:
    data = b"x" * 100
    for cte in ("8bit", "binary", "Binary"):
        codec = make_encoder(cte)
        assert codec.feed(data) is data
        assert codec.flush() == b""
    for cte in ("7bit", "8bit", "binary", "x-uuencode", None):
        dec = make_decoder(cte)
        assert dec.feed(data) is data


def test_unknown_encoder_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown Content-Transfer-Encoding 'x-uuencode'"):
        make_encoder("x-uuencode")
    with pytest.raises(UsageError, match="unknown Content-Transfer-Encoding"):
        encoded_length("gzip", 10)


def test_names_are_case_insensitive() -> None:
    assert run(make_encoder("BASE64"), [b"abc"]) == b"YWJj"
    assert run(make_encoder(" Quoted-Printable "), [b"a=b"]) == b"a=3Db"
    assert run(make_decoder("Base64"), [b"YWJj"]) == b"abc"


# --------------------------------------------------------------------------- base64


@pytest.mark.parametrize("n", [0, 1, 2, 3, 56, 57, 58, 113, 114, 115, 171, 1000])
def test_base64_matches_stdlib_line_layout(n: int) -> None:
    data = bytes(range(256)) * 4
    data = data[:n]
    encoded = run(make_encoder("base64"), [data])
    assert encoded == stdlib_base64(data)
    assert not encoded.endswith(b"\r\n")
    lines = encoded.split(b"\r\n") if encoded else []
    assert all(len(line) == 76 for line in lines[:-1])
    assert len(encoded) == encoded_length("base64", n)


@given(data_and_chunks())
def test_base64_encoder_is_chunking_invariant(case: tuple[bytes, list[bytes]]) -> None:
    data, chunks = case
    one_shot = run(make_encoder("base64"), [data])
    assert run(make_encoder("base64"), chunks) == one_shot
    assert one_shot == stdlib_base64(data)
    assert len(one_shot) == encoded_length("base64", len(data))
    assert binascii.a2b_base64(one_shot) == data


@given(st.integers(0, 100_000))
def test_base64_encoded_length_formula(n: int) -> None:
    chars = 4 * ((n + 2) // 3)
    lines = (chars + 75) // 76
    expected = chars + 2 * (lines - 1) if chars else 0
    assert encoded_length("base64", n) == expected
    if n <= 5000:
        assert len(run(make_encoder("base64"), [bytes(n)])) == expected


def test_encoded_length_identity_and_qp() -> None:
    for cte in ("7bit", "8bit", "binary", None):
        assert encoded_length(cte, 12345) == 12345
    assert encoded_length("quoted-printable", 10) is None
    with pytest.raises(UsageError, match="raw_length must be >= 0"):
        encoded_length("base64", -1)


@given(st.binary(max_size=3000), st.data())
def test_base64_decoder_round_trip_any_chunking(data: bytes, draw: st.DataObject) -> None:
    encoded = stdlib_base64(data)
    chunks = draw.draw(chunkings(encoded))
    assert run(make_decoder("base64"), chunks) == data
    assert run(make_decoder("base64", strict=True), chunks) == data


def test_base64_decoder_ignores_whitespace() -> None:
    assert run(make_decoder("base64"), [b" YW\tJj\r\n", b"\n ZG Vm\r\n"]) == b"abcdef"
    assert run(make_decoder("base64"), [b"", b"\r\n"]) == b""


@pytest.mark.parametrize(
    ("chunks", "reason", "offset"),
    [
        ([b"YWJj\r\nZG!l"], "invalid byte 0x21 ('!') in base64 data", 8),
        ([b"YWJj\r\n", b"ZG!l"], "invalid byte 0x21 ('!') in base64 data", 8),
        ([b"YWJj", b"\xffYWJj"], "invalid byte 0xFF ('ÿ') in base64 data", 4),
        ([b"YWJj-"], "invalid byte 0x2D ('-') in base64 data", 4),
        ([b"=AAA"], "misplaced base64 padding '=' at position 0 of a quantum", 0),
        ([b"Y", b"=="], "misplaced base64 padding '=' at position 1 of a quantum", 1),
        ([b"YWJjZ\r\n="], "misplaced base64 padding '=' at position 1 of a quantum", 7),
        ([b"YQ=A"], "base64 data after padding '='", 3),
        ([b"YQ=", b"A="], "base64 data after padding '='", 3),
        ([b"YWJjZ"], "truncated base64 data: a single leftover character cannot encode a byte", 4),
        # an earlier padding error wins over a later invalid byte, whatever the chunking
        ([b"Y===!"], "misplaced base64 padding '=' at position 1 of a quantum", 1),
    ],
)
@pytest.mark.parametrize("strict", [False, True])
def test_base64_decoder_errors(chunks: list[bytes], reason: str, offset: int, strict: bool) -> None:
    with pytest.raises(MalformedInput) as info:
        run(make_decoder("base64", strict=strict), chunks)
    assert info.value.reason == reason
    assert info.value.offset == offset
    assert f"byte offset {offset}" in str(info.value)


def test_base64_padding_policy() -> None:
    """Lenient: missing final padding is tolerated and padded quanta may be followed by
    more base64 (concatenated streams). Strict: both are errors."""
    assert run(make_decoder("base64"), [b"YQ"]) == b"a"
    assert run(make_decoder("base64"), [b"YWI"]) == b"ab"
    assert run(make_decoder("base64"), [b"YQ="]) == b"a"
    assert run(make_decoder("base64"), [b"YQ==YWI="]) == b"aab"
    assert run(make_decoder("base64"), [b"YQ=", b"=YW", b"I="]) == b"aab"
    with pytest.raises(MalformedInput, match="ends without its final padding") as info:
        run(make_decoder("base64", strict=True), [b"YWJj", b"YQ"])
    assert info.value.offset == 6
    with pytest.raises(MalformedInput, match="ends without its final padding"):
        run(make_decoder("base64", strict=True), [b"YQ="])
    with pytest.raises(MalformedInput, match="data after the base64 padding") as info:
        run(make_decoder("base64", strict=True), [b"YQ==\r\n", b"\r\nYWI="])
    assert info.value.offset == 8
    with pytest.raises(MalformedInput, match="data after the base64 padding") as info:
        run(make_decoder("base64", strict=True), [b"YQ==YWI="])
    assert info.value.offset == 4
    # whitespace after the padding is fine in strict mode
    assert run(make_decoder("base64", strict=True), [b"YQ==\r\n", b" \r\n"]) == b"a"


_B64_GARBAGE = st.lists(
    st.sampled_from([b"Y", b"W", b"J", b"j", b"=", b"==", b"\r\n", b" ", b"!", b"YWJj", b"-"]),
    max_size=30,
).map(b"".join)


@given(_B64_GARBAGE, st.booleans(), st.data())
def test_base64_decoder_outcome_is_chunking_invariant(
    encoded: bytes, strict: bool, draw: st.DataObject
) -> None:
    chunks = draw.draw(chunkings(encoded))
    factory = lambda: make_decoder("base64", strict=strict)  # noqa: E731
    one_shot = outcome(factory, [encoded])
    assert outcome(factory, chunks) == one_shot
    if isinstance(one_shot, bytes) and strict:
        assert outcome(lambda: make_decoder("base64"), [encoded]) == one_shot
        assert binascii.a2b_base64(encoded) == one_shot


# --------------------------------------------------------------------------- quoted-printable

_QP_LITERAL = set(range(33, 61)) | set(range(62, 127)) | {0x20, 0x09}


def check_qp_shape(encoded: bytes, *, binary: bool) -> None:
    """RFC 2045 §6.7: lines <= 76 characters, only printable literals and =XX escapes, no
    whitespace at the end of a line, soft breaks as '=' + CRLF."""
    lines = encoded.split(b"\r\n")
    for line in lines:
        assert len(line) <= 76, line
        assert not line.endswith((b" ", b"\t")), line
        i = 0
        while i < len(line):
            byte = line[i]
            if byte == 0x3D:
                if i == len(line) - 1:  # soft break
                    break
                assert line[i + 1 : i + 3] in {b"%02X" % v for v in range(256)}, line
                i += 3
            else:
                assert byte in _QP_LITERAL, line
                i += 1
    if binary:
        assert b"\r\n" not in encoded.replace(b"=\r\n", b"")
    assert b"\r" not in encoded.replace(b"\r\n", b"")
    assert b"\n" not in encoded.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("data", "binary", "expected"),
    [
        (b"a=b", True, b"a=3Db"),
        (b"a ", True, b"a=20"),
        (b"a\t", True, b"a=09"),
        (b"a b", True, b"a b"),
        (b"a \r\nb", True, b"a =0D=0Ab"),
        (b"a \r\nb", False, b"a=20\r\nb"),
        (b"line1\r\nline2\r\n", False, b"line1\r\nline2\r\n"),
        (b"a\nb\rc", False, b"a=0Ab=0Dc"),
        (b"\x00\xff\x80.", True, b"=00=FF=80."),
        (b".\r\n", False, b".\r\n"),
        (b"", True, b""),
        (b"x" * 76, True, b"x" * 75 + b"=\r\nx"),
        (b"\xff" * 26, True, b"=FF" * 25 + b"=\r\n=FF"),
        (b"x" * 74 + b"\xff", True, b"x" * 74 + b"=\r\n=FF"),
        (b"x" * 73 + b"\xff" + b"y", True, b"x" * 73 + b"=\r\n=FFy"),
        (b"x" * 72 + b"\xff" + b"y", True, b"x" * 72 + b"=FF=\r\ny"),
        (b"x" * 74 + b" " + b"y", True, b"x" * 74 + b" =\r\ny"),
        (b"x" * 74 + b" \r\n", False, b"x" * 74 + b"=\r\n=20\r\n"),
    ],
)
def test_qp_encoder_examples(data: bytes, binary: bool, expected: bytes) -> None:
    assert run(make_encoder("quoted-printable", binary=binary), [data]) == expected
    # every byte-by-byte split gives the same
    single = [data[i : i + 1] for i in range(len(data))]
    assert run(make_encoder("quoted-printable", binary=binary), single) == expected


@given(data_and_chunks(), st.booleans())
def test_qp_encoder_chunking_invariant_and_round_trip(
    case: tuple[bytes, list[bytes]], binary: bool
) -> None:
    data, chunks = case
    one_shot = run(make_encoder("quoted-printable", binary=binary), [data])
    assert run(make_encoder("quoted-printable", binary=binary), chunks) == one_shot
    check_qp_shape(one_shot, binary=binary)
    assert binascii.a2b_qp(one_shot) == data
    assert quopri.decodestring(one_shot) == data
    assert run(make_decoder("quoted-printable", strict=True), [one_shot]) == data
    assert run(make_decoder("quoted-printable"), split_at(one_shot, [len(one_shot) // 2])) == data


@given(st.binary(max_size=2000), st.booleans(), st.data())
def test_qp_decoder_round_trip_any_chunking(data: bytes, binary: bool, draw: st.DataObject) -> None:
    encoded = run(make_encoder("quoted-printable", binary=binary), [data])
    chunks = draw.draw(chunkings(encoded))
    assert run(make_decoder("quoted-printable"), chunks) == data
    assert run(make_decoder("quoted-printable", strict=True), chunks) == data


def test_qp_decoder_splits() -> None:
    dec = make_decoder("quoted-printable")
    pieces = [b"ab=", b"\r", b"\ncd=4", b"1=", b"3", b"d\r\n", b"x=\n", b"y"]
    assert run(dec, pieces) == b"abcdA=\r\nxy"


def test_qp_decoder_lenient_and_strict() -> None:
    lenient = make_decoder("quoted-printable")
    assert run(lenient, [b"a=3db=ZZc=\r\n"]) == b"a=b=ZZc"
    assert run(make_decoder("quoted-printable"), [b"end="]) == b"end"
    with pytest.raises(MalformedInput) as info:
        run(make_decoder("quoted-printable", strict=True), [b"line\r\n", b"a=ZZ\r\n"])
    assert info.value.reason == "malformed quoted-printable escape b'=ZZ'"
    assert info.value.offset == 7
    with pytest.raises(MalformedInput) as info:
        run(make_decoder("quoted-printable", strict=True), [b"ab", b"c="])
    assert info.value.offset == 3
    with pytest.raises(MalformedInput):
        run(make_decoder("quoted-printable", strict=True), [b"a==3D"])
    # lowercase hex is accepted even in strict mode (RFC 2045 §6.7 robustness note)
    assert run(make_decoder("quoted-printable", strict=True), [b"=3d"]) == b"="


def test_qp_decoder_long_line_without_lf_is_bounded_and_invariant() -> None:
    encoded = (b"=41" * 3000 + b"x=" + b"\r\n" + b"=4" + b"2") * 3
    one = run(make_decoder("quoted-printable"), [encoded])
    assert one == binascii.a2b_qp(encoded)
    dec = make_decoder("quoted-printable")
    out = []
    for i in range(0, len(encoded), 1000):
        out.append(dec.feed(encoded[i : i + 1000]))
        assert len(dec._buf) <= 4096 + 1000  # type: ignore[attr-defined]
    out.append(dec.flush())
    assert b"".join(out) == one


_QP_GARBAGE = st.lists(
    st.sampled_from(
        [b"=", b"=\r\n", b"=\n", b"=\r", b"\r\n", b"\n", b"3D", b"4", b"a", b"==", b" ", b"z"]
    ),
    max_size=40,
).map(b"".join)


@given(_QP_GARBAGE, st.booleans(), st.data())
def test_qp_decoder_outcome_is_chunking_invariant(
    encoded: bytes, strict: bool, draw: st.DataObject
) -> None:
    chunks = draw.draw(chunkings(encoded))
    factory = lambda: make_decoder("quoted-printable", strict=strict)  # noqa: E731
    one_shot = outcome(factory, [encoded])
    assert outcome(factory, chunks) == one_shot
    if strict and isinstance(one_shot, bytes):
        assert outcome(lambda: make_decoder("quoted-printable"), [encoded]) == one_shot
    if not strict:
        assert one_shot == binascii.a2b_qp(encoded)


@given(st.binary(max_size=500), st.sampled_from(["base64", "quoted-printable"]), st.booleans())
def test_decoders_raise_only_malformed_input(data: bytes, cte: str, strict: bool) -> None:
    try:
        run(make_decoder(cte, strict=strict), [data[:7], data[7:]])
    except MimeWireError as exc:
        assert isinstance(exc, MalformedInput)


# --------------------------------------------------------------------------- 7bit


def test_7bit_accepts_ascii_and_passes_data_through() -> None:
    enc = make_encoder("7bit")
    data = b"hello\r\nworld\n" + b"x" * 998 + b"\r\n"
    assert enc.feed(data) is data
    assert enc.flush() == b""


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([b"abc", b"d\xe9"], "8-bit byte 0xE9 at offset 4 in a 7bit part"),
        ([b"a\x00"], "NUL byte at offset 1 in a 7bit part"),
        ([b"x" * 999], "line longer than 998 octets at offset 998 in a 7bit part"),
        ([b"x" * 500, b"x" * 499, b"\r\n"], "line longer than 998 octets at offset 998"),
        ([b"ok\r\n" + b"y" * 998, b"\r", b"z"], "line longer than 998 octets at offset 1002"),
        ([b"ok\r\n" + b"y" * 998 + b"\r"], "line longer than 998 octets at offset 1002"),
        ([b"x" * 1200 + b"\xff"], "line longer than 998 octets at offset 998"),
    ],
)
def test_7bit_errors(chunks: list[bytes], message: str) -> None:
    with pytest.raises(UsageError) as info:
        run(make_encoder("7bit"), chunks)
    assert message in str(info.value)


def test_7bit_line_limit_edges() -> None:
    ok = b"y" * 998 + b"\r\n" + b"z" * 998
    for cut in (997, 998, 999, 1000, 1001):
        assert run(make_encoder("7bit"), split_at(ok, [cut])) == ok


@given(
    st.lists(
        st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"x" * 300, b"\x00", b"\x80"]), max_size=12
    ).map(b"".join),
    st.data(),
)
def test_7bit_outcome_is_chunking_invariant(data: bytes, draw: st.DataObject) -> None:
    chunks = draw.draw(chunkings(data))
    assert outcome(lambda: make_encoder("7bit"), chunks) == outcome(
        lambda: make_encoder("7bit"), [data]
    )


def test_qp_decoder_stays_bounded_on_soft_break_junk() -> None:
    """'=\\r' + junk makes a2b_qp skip to the next LF: the lenient decoder drops the junk
    instead of buffering a line with no end; strict mode rejects it with its offset."""
    for encoded in (b"ab=\r" + b"x" * 20_000 + b"\nyz", b"=41" * 3000 + b"=\rq" + b"x" * 9000):
        dec = make_decoder("quoted-printable")
        out = []
        for i in range(0, len(encoded), 1000):
            out.append(dec.feed(encoded[i : i + 1000]))
            assert len(dec._buf) <= 4096 + 1000  # type: ignore[attr-defined]
        out.append(dec.flush())
        assert b"".join(out) == binascii.a2b_qp(encoded)
    with pytest.raises(MalformedInput) as info:
        run(make_decoder("quoted-printable", strict=True), split_at(b"ab=\rx" * 2000, [5000]))
    assert info.value.offset == 2


# --------------------------------------------------------------------------- linear slow paths

_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _concatenated_reference(clean: bytes) -> bytes:
    """Lenient base64 of concatenated streams, the slow obvious way: a2b_base64 per stream
    (it stops at the first padded quantum). ``clean``: whole quanta, no whitespace."""
    out, start = [], 0
    for i in range(0, len(clean), 4):
        if b"=" in clean[i : i + 4]:
            out.append(binascii.a2b_base64(clean[start : i + 4]))
            start = i + 4
    out.append(binascii.a2b_base64(clean[start:]))
    return b"".join(out)


_QUANTUM = st.tuples(
    st.sampled_from([0, 1, 2]), st.binary(min_size=4, max_size=4), st.sampled_from([b"", b"\r\n"])
).map(
    lambda t: (
        bytes(_B64_CHARS[b % 64] for b in t[1][: 4 - t[0]]) + b"=" * t[0],
        t[2],
    )
)


@given(st.lists(_QUANTUM, max_size=300), st.data())
def test_base64_concatenated_streams_match_reference(
    quanta: list[tuple[bytes, bytes]], draw: st.DataObject
) -> None:
    """The bulk path (many padded quanta in one feed) decodes exactly like a2b_base64 applied
    stream by stream, for every chunking and with line breaks anywhere."""
    clean = b"".join(q for q, _ in quanta)
    encoded = b"".join(q + ws for q, ws in quanta)
    expected = _concatenated_reference(clean)
    chunks = draw.draw(chunkings(encoded, max_cuts=4))
    assert run(make_decoder("base64"), chunks) == expected


def test_base64_bulk_path_big_mixed_input() -> None:
    import random

    rnd = random.Random(7)
    quanta = []
    for _ in range(20_000):
        pads = rnd.choice((0, 1, 2))
        quanta.append(bytes(rnd.choice(_B64_CHARS) for _ in range(4 - pads)) + b"=" * pads)
    clean = b"".join(quanta)
    expected = _concatenated_reference(clean)
    assert run(make_decoder("base64"), [clean]) == expected
    assert run(make_decoder("base64"), split_at(clean, [4097, 30001, 65536])) == expected


@pytest.mark.parametrize(
    ("encoded", "reason", "offset"),
    [
        (b"AA==" * 100 + b"A=AA", "misplaced base64 padding '=' at position 1 of a quantum", 401),
        (b"AA==" * 100 + b"AB=C", "base64 data after padding '='", 403),
        (
            b"AA==\r\n" * 100 + b"=AAA",
            "misplaced base64 padding '=' at position 0 of a quantum",
            600,
        ),
        (b"AAA=" * 100 + b"AA=" + b"\r\n" * 3 + b"B", "base64 data after padding '='", 409),
        (b"AA==" * 100 + b"A", "truncated base64 data: a single leftover character", 400),
    ],
)
def test_base64_bulk_path_error_offsets(encoded: bytes, reason: str, offset: int) -> None:
    for chunks in ([encoded], split_at(encoded, [len(encoded) // 2]), split_at(encoded, [401])):
        with pytest.raises(MalformedInput) as info:
            run(make_decoder("base64"), chunks)
        assert info.value.reason.startswith(reason)
        assert info.value.offset == offset


def test_base64_held_back_positions_skip_whitespace_runs() -> None:
    """The offset of a held-back character is found without a Python loop over the
    whitespace after it (and is right)."""
    encoded = b"YWJjZ" + b" \r\n\t" * 50_000
    with pytest.raises(MalformedInput) as info:
        run(make_decoder("base64"), [encoded])
    assert info.value.offset == 4


_QP_UNITS = st.sampled_from(
    [b"=", b"==", b"=Z", b"=4", b"=41", b"=\r", b"=\r\n", b"\r", b"a", b"4", b"Z", b" ", b"=\n"]
)


@given(
    st.lists(_QP_UNITS, min_size=1, max_size=6).map(b"".join),
    st.lists(_QP_UNITS, max_size=20).map(b"".join),
    st.lists(st.integers(0, 12_000), max_size=4),
)
def test_qp_long_lines_match_a2b_qp(unit: bytes, junk: bytes, cuts: list[int]) -> None:
    """Long lines without LF (the bounded cut path) decode exactly like a2b_qp of the whole
    input, for dense '=' input of every shape and any chunking."""
    encoded = unit * (9000 // len(unit) + 1) + junk + unit * 50
    expected = binascii.a2b_qp(encoded)
    dec = make_decoder("quoted-printable")
    out = []
    for chunk in split_at(encoded, cuts):
        out.append(dec.feed(chunk))
        assert len(dec._buf) <= 4096 + len(chunk) + 2  # type: ignore[attr-defined]
    out.append(dec.flush())
    assert b"".join(out) == expected


# --------------------------------------------------------------------------- body lengths

# Byte patterns that land on every QP line-length edge: literal runs (soft break at 75),
# 3-byte escapes straddling column 76, '=' (always escaped), trailing space/tab before a
# break, CR/LF (escaped in binary mode) and 8-bit bytes.
_QP_PATTERNS = [b"a", b"\xff", b"=", b"a ", b"ab\t", b"\r\n", b"x\r", b"\n", b"aa=\xe9 "]
_SIZES = [*range(301), 1000, 4095, 4096, 57 * 1000, 65_535, 65_536, 100_001]


def _payload(pattern: bytes, size: int) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


def _part_body(data: bytes, boundary: str) -> bytes:
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(f"--{boundary}\r\n".encode())
    body, _, tail = rest.rpartition(f"\r\n--{boundary}--\r\n".encode())
    assert tail == b""
    return body


@pytest.mark.parametrize("pattern", [b"\x00\xff\x10", b"a"])
def test_base64_content_length_is_the_byte_count(pattern: bytes) -> None:
    """In memory, a seekable file, an iterable with length= in uneven chunks: Content-Length
    is exactly the bytes sent, and the part decodes back to the source, for every size
    around each 57-byte (76-column) line edge and a few large ones."""
    from mimewire import MultipartBody, Part

    for size in _SIZES:
        raw = _payload(pattern, size)
        chunks = [raw[i : i + 50] for i in range(0, size, 50)]
        for source, kw in (
            (raw, {}),
            (io.BytesIO(raw), {}),
            (chunks, {"length": size}),
        ):
            part = Part(source, name="b", transfer_encoding="base64", **kw)  # type: ignore[arg-type]
            body = MultipartBody([part], boundary="lenB", chunk_size=64)
            data = b"".join(body)
            assert body.content_length == len(data), (size, type(source).__name__)
            encoded = _part_body(data, "lenB")
            assert base64.b64decode(encoded.replace(b"\r\n", b"")) == raw
            assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))


@pytest.mark.parametrize("pattern", _QP_PATTERNS)
def test_quoted_printable_content_length_is_the_byte_count(pattern: bytes) -> None:
    """An in-memory quoted-printable part is encoded once: its Content-Length is the exact
    byte count for every size 0..300 (every line-length edge) and a few large ones, lines
    stay within 76 columns, and the text decodes back to the source."""
    from mimewire import MultipartBody, Part

    for size in _SIZES:
        raw = _payload(pattern, size)
        body = MultipartBody(
            [Part(raw, name="q", transfer_encoding="quoted-printable")], boundary="lenQ"
        )
        data = b"".join(body)
        assert body.content_length == len(data), size
        encoded = _part_body(data, "lenQ")
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), size
        assert binascii.a2b_qp(encoded) == raw, size
