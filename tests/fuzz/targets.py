"""Fuzz targets: one function per target, ``target(data: bytes) -> None``.

Each target raises :class:`FuzzFailure` (or lets any non-mimewire exception escape) when it
finds a bug; for arbitrary bytes a :class:`mimewire.MimeWireError` from the code under test is
an *allowed* outcome (:func:`guarded` swallows it). For a body known to be valid -- built by
the encoder or from a strategy -- :func:`check_valid_body` is the target instead: there every
MimeWireError is a failure (a wrongly refused body), and the decoded parts must be the ones
that were encoded. The same functions are driven by atheris (``python -m tests.fuzz.run``) and
by hypothesis / the seed corpus in ``test_fuzz.py``.

Oracles beyond "only MimeWireError":

* decoder -- incremental == one-shot (the same parts, or the same error type, whatever the
  chunking), errors are sticky, the event sequence follows the state table, lenient and
  strict mode and ``parse(nested=True)`` raise only MalformedInput / LimitExceeded, and
  (for a sample of inputs) the tracemalloc peak while streaming an amplified input stays
  under a bound derived from the limits, independent of the input size.
* headers -- ``parse_header_params`` never raises at all; renderers either refuse
  (UsageError) or produce text without CR/LF/NUL that parses back to what was rendered.
* codecs -- decoders give the same output for every chunking; encoders give identical bytes
  for every chunking, keep lines within 76 characters, and round-trip through the decoders.
"""

from __future__ import annotations

import random
import re
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator

from mimewire import (
    NEED_DATA,
    Decoder,
    LimitExceeded,
    Limits,
    MalformedInput,
    MimeWireError,
    MultipartEnd,
    PartData,
    PartEnd,
    PartStart,
    UsageError,
    aparse,
    parse,
    parse_header_params,
)
from mimewire import _codecs as codecs
from mimewire import _headers as headers

FUZZ_BOUNDARY = "fuzzB0undary"
FUZZ_CT = f"multipart/mixed; boundary={FUZZ_BOUNDARY}"

TIGHT = Limits(
    max_header_line=256,
    max_header_bytes=1024,
    max_headers=8,
    max_parts=16,
    max_part_size=4096,
    max_total_size=1 << 16,
    max_preamble=512,
    max_epilogue=512,
    max_depth=3,
)
DEFAULT = Limits()


# Tolerances for known bugs, pinned off. Each bug has a passing regression test in
# test_fuzz_regressions.py; switching a tolerance on needs a new xfail(strict=True) regression
# test for that bug, and test_fuzz_regressions.py fails while any of them is on, so a
# tolerance can never hide a bug that comes back.
KNOWN_BOUNDARY_BUG = False  # UsageError for an unusable boundary from a remote Content-Type
KNOWN_DASH_BUG = False  # a body starting with a prefix of --boundary, cut inside it
KNOWN_ERROR_ORDER = False  # which of two errors is reported depends on the chunking


class FuzzFailure(AssertionError):
    """An oracle of a fuzz target was violated (a bug, not an allowed error)."""


Parts = list[tuple[tuple[tuple[str, str], ...], bytes]]


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    if KNOWN_DASH_BUG:
        cuts = [c for c in cuts if not _dash_bug_cut(data, c)]
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def _splits(data: bytes, rng: random.Random) -> list[bytes]:
    """Random chunk sizes, biased small."""
    cuts = []
    i = 0
    while True:
        i += rng.choice((1, 1, 2, 3, 5, 8, 13, 64, 1000))
        if i >= len(data):
            break
        cuts.append(i)
    return _chunks(data, cuts)


def _marker_splits(data: bytes, rng: random.Random) -> list[bytes]:
    """Cuts placed around the bytes a decoder must look behind for (CR, LF, ``-``): the
    splits that break hold-back logic. Up to 24 cuts, deterministic for a given rng."""
    spots: set[int] = set()
    for marker in (b"\r\n\r\n", b"\n\n", b"\r\n--", b"\n--", b"--"):
        start = 0
        while len(spots) < 400:
            i = data.find(marker, start)
            if i < 0:
                break
            for k in range(-1, len(marker) + 4):
                if 0 < i + k < len(data):
                    spots.add(i + k)
            start = i + 1
    cuts = sorted(rng.sample(sorted(spots), min(24, len(spots))))
    return _chunks(data, cuts)


def _dash_bug_cut(data: bytes, cut: int, boundary: str = FUZZ_BOUNDARY) -> bool:
    """True when ``cut`` falls inside a body prefix that matches the start of
    ``--boundary`` right after a blank line (the trigger of the known hold-back bug)."""
    delim = b"--" + boundary.encode()
    blank = (b"\r\n\r\n", b"\n\n", b"\n\r\n")
    return any(
        data[cut - k : cut] == delim[:k] and data[: cut - k].endswith(blank)
        for k in range(1, min(cut, len(delim)) + 1)
    )


def run_decoder(
    chunks: Iterator[bytes] | list[bytes],
    *,
    limits: Limits,
    strict: bool,
    decode_transfer: bool,
    boundary: str = FUZZ_BOUNDARY,
    keep: bool = True,
) -> tuple[Parts, MimeWireError | None]:
    """Feed ``chunks`` then EOF; return (complete parts, error or None)."""
    parts: Parts = []
    dec = Decoder(boundary, limits=limits, strict=strict, decode_transfer=decode_transfer)
    hdrs: tuple[tuple[str, str], ...] = ()
    buf: list[bytes] = []
    state = 0  # 0 outside, 1 in part, 2 ended

    def drain() -> None:
        nonlocal hdrs, state
        while True:
            ev = dec.next_event()
            if ev is NEED_DATA:
                return
            if isinstance(ev, PartStart):
                if state != 0:
                    raise FuzzFailure(f"PartStart in state {state}")
                state = 1
                hdrs = ev.headers
                # the lazy views raise nothing but MalformedInput (ambiguous headers),
                # which is about this part's headers, not a decoder error
                try:
                    _ = (ev.name, ev.filename, ev.content_type, ev.charset, ev.disposition)
                except MalformedInput as exc:
                    if ev.index is None or f"part {ev.index}" not in str(exc):
                        raise FuzzFailure(
                            f"view error does not name part {ev.index}: {exc}"
                        ) from exc
                _ = ev.transfer_encoding
                buf.clear()
            elif isinstance(ev, PartData):
                if state != 1:
                    raise FuzzFailure(f"PartData in state {state}")
                if not isinstance(ev.data, bytes | bytearray | memoryview):
                    raise FuzzFailure(f"PartData.data is {type(ev.data)}")
                if keep:
                    buf.append(bytes(ev.data))
            elif isinstance(ev, PartEnd):
                if state != 1:
                    raise FuzzFailure(f"PartEnd in state {state}")
                state = 0
                if keep:
                    parts.append((hdrs, b"".join(buf)))
            elif isinstance(ev, MultipartEnd):
                if state == 1:
                    raise FuzzFailure("MultipartEnd inside a part")
                if state == 2:
                    return
                state = 2
            else:
                raise FuzzFailure(f"unknown event {ev!r}")

    try:
        for chunk in chunks:
            dec.receive_data(chunk)
            drain()
        dec.receive_data(b"")
        drain()
        dec.close()
    except MimeWireError as exc:
        if not isinstance(exc, MalformedInput | LimitExceeded):
            raise FuzzFailure(f"decoder raised {type(exc).__name__} on input: {exc}") from exc
        # sticky: the same error again
        try:
            dec.next_event()
        except MimeWireError as again:
            if type(again) is not type(exc):
                raise FuzzFailure(f"error not sticky: {exc!r} then {again!r}") from exc
        else:
            raise FuzzFailure(f"error not sticky after {exc!r}") from exc
        return parts, exc
    if state != 2:
        raise FuzzFailure("close() succeeded without MultipartEnd")
    return parts, None


def fuzz_decoder(data: bytes) -> None:
    """Decoder target: see the module docstring for the oracles."""
    h = zlib.crc32(data)
    limits = TIGHT if h & 1 else DEFAULT
    decode_transfer = bool(h & 2)
    rng = random.Random(h)

    whole, err_whole = run_decoder(
        [data], limits=limits, strict=False, decode_transfer=decode_transfer
    )
    split, err_split = run_decoder(
        _splits(data, rng), limits=limits, strict=False, decode_transfer=decode_transfer
    )
    if (err_whole is None) != (err_split is None):
        raise FuzzFailure(
            f"one-shot and incremental disagree: one-shot error={err_whole!r}, "
            f"incremental error={err_split!r}"
        )
    if err_whole is None and whole != split:
        raise FuzzFailure(f"one-shot parts != incremental parts:\n{whole!r}\n{split!r}")
    marked, err_marked = run_decoder(
        _marker_splits(data, rng), limits=limits, strict=False, decode_transfer=decode_transfer
    )
    if (err_whole is None) != (err_marked is None) or (err_whole is None and whole != marked):
        raise FuzzFailure(
            f"one-shot and marker-split parses disagree:\n{whole!r} / {err_whole!r}\n"
            f"{marked!r} / {err_marked!r}"
        )
    if (
        err_whole is not None
        and type(err_whole) is not type(err_split)
        and not (KNOWN_ERROR_ORDER and LimitExceeded in (type(err_whole), type(err_split)))
    ):
        raise FuzzFailure(f"error type depends on chunking: {err_whole!r} vs {err_split!r}")

    # strict mode: only typed errors (its parse may legitimately differ: a bare-LF
    # "delimiter" is body data in strict mode)
    run_decoder([data], limits=limits, strict=True, decode_transfer=decode_transfer)

    # the I/O edge, nested bodies included
    try:
        for part in parse(data, FUZZ_CT, limits=limits, nested=True):
            _walk_parsed(part)
    except MimeWireError as exc:
        if isinstance(exc, UsageError) and not (KNOWN_BOUNDARY_BUG and _boundary_bug(exc)):
            raise FuzzFailure(f"parse() raised UsageError on input: {exc}") from exc

    # parse() itself is chunking-independent too, spooled to disk or not, sync or async
    one = _parse_rows(data, limits, chunk_size=65536, spool=1 << 20)
    spool = 16 if h & 8 else 1 << 20  # spooling to temporary files on half the inputs
    small = _parse_rows(data, limits, chunk_size=rng.choice((1, 3, 7, 64)), spool=spool)
    if not _same_rows(one, small):
        raise FuzzFailure(f"parse() depends on chunk size/spooling:\n{one!r}\n{small!r}")
    if h % 8 == 4 and not _same_rows(one, _aparse_rows(data, limits)):
        raise FuzzFailure("aparse() != parse()")

    if h % 512 == 0:
        check_decoder_memory(data, total=1 << 20)


def check_valid_body(
    data: bytes,
    content_type: str,
    *,
    expected: list[bytes] | None = None,
    limits: Limits = DEFAULT,
) -> Parts:
    """Target for a valid body: no MimeWireError anywhere, whatever the chunking, in lenient
    and strict mode, through the Decoder and through ``parse(nested=True)``; the same parts
    for every chunking; with ``expected``, exactly these (transfer-decoded) part bodies.
    Returns the parts."""
    boundary = headers.boundary_from_content_type(content_type)
    rng = random.Random(zlib.crc32(data))
    first: Parts | None = None
    for strict in (False, True):
        for chunks in ([data], _splits(data, rng), _marker_splits(data, rng)):
            try:
                parts, err = run_decoder(
                    chunks, limits=limits, strict=strict, decode_transfer=True, boundary=boundary
                )
            except MimeWireError as exc:
                raise FuzzFailure(f"valid body refused (strict={strict}): {exc!r}") from exc
            if err is not None:
                raise FuzzFailure(f"valid body refused (strict={strict}): {err!r}") from err
            if first is None:
                first = parts
            elif parts != first:
                raise FuzzFailure(f"valid body decodes differently:\n{first!r}\n{parts!r}")
    assert first is not None
    if expected is not None and [body for _, body in first] != expected:
        raise FuzzFailure(f"decoded bodies differ from the encoded ones:\n{expected!r}\n{first!r}")
    try:
        for part in parse(data, content_type, limits=limits, nested=True):
            _walk_parsed(part)
    except MimeWireError as exc:
        raise FuzzFailure(f"parse(nested=True) refused a valid body: {exc!r}") from exc
    return first


ParseRows = list[tuple[tuple[tuple[str, str], ...], bytes]] | str


def _parse_rows(data: bytes, limits: Limits, *, chunk_size: int, spool: int) -> ParseRows:
    """Parts from parse() (headers, body) or the error class name."""
    rows = []
    try:
        for part in parse(
            data, FUZZ_CT, limits=limits, chunk_size=chunk_size, spool_threshold=spool
        ):
            try:
                rows.append((part.headers, part.read()))
            finally:
                part.close()
    except (MalformedInput, LimitExceeded) as exc:
        return type(exc).__name__
    return rows


def _same_rows(a: ParseRows, b: ParseRows) -> bool:
    if isinstance(a, str) and isinstance(b, str) and KNOWN_ERROR_ORDER:
        return True  # both rejected; which error first may depend on chunking (known)
    return a == b


def _aparse_rows(data: bytes, limits: Limits) -> ParseRows:
    import asyncio

    async def source() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 5):
            yield data[i : i + 5]

    async def run() -> ParseRows:
        rows = []
        try:
            async for part in aparse(source(), FUZZ_CT, limits=limits):
                try:
                    rows.append((part.headers, part.read()))
                finally:
                    part.close()
        except (MalformedInput, LimitExceeded) as exc:
            return type(exc).__name__
        return rows

    return asyncio.run(run())


def _boundary_bug(exc: MimeWireError) -> bool:
    return "boundary" in str(exc) and ("is not ASCII" in str(exc) or "not usable" in str(exc))


def _walk_parsed(part: object) -> None:
    sub = part.parts  # type: ignore[attr-defined]
    _ = (part.name, part.filename, part.content_type, part.headers)  # type: ignore[attr-defined]
    if sub is not None:
        for p in sub:
            _walk_parsed(p)
    else:
        part.read()  # type: ignore[attr-defined]


MEMORY_CHUNK = 16 * 1024
MEMORY_TOTAL = 2 << 20


def memory_bound(limits: Limits) -> int:
    """Peak bytes a streaming decode may allocate: chunks + header budget + slack.

    The decoder holds at most one header block (``max_header_bytes`` plus a line) plus one
    delimiter of look-behind; the driver holds the current chunk and one event. Everything
    is counted twice (bytes objects are copied when sliced) plus 256 KiB interpreter slack.
    """
    held = limits.max_header_bytes + limits.max_header_line + 4 * MEMORY_CHUNK
    return 2 * held + 256 * 1024


def check_decoder_memory(
    data: bytes, *, limits: Limits = DEFAULT, total: int = MEMORY_TOTAL
) -> int:
    """Stream ``data`` repeated to ~``total`` bytes through a decoder; tracemalloc peak must
    stay under :func:`memory_bound` (independent of the total size). Returns the peak."""
    if not data:
        return 0
    reps = total // len(data) + 1

    def chunks() -> Iterator[bytes]:
        pending = b""
        for _ in range(reps):
            pending += data
            while len(pending) >= MEMORY_CHUNK:
                yield pending[:MEMORY_CHUNK]
                pending = pending[MEMORY_CHUNK:]
        if pending:
            yield pending

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        run_decoder(chunks(), limits=limits, strict=False, decode_transfer=True, keep=False)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
    bound = memory_bound(limits)
    if peak > bound:
        raise FuzzFailure(f"decoder peak memory {peak} > bound {bound} for a streamed input")
    return peak


# --------------------------------------------------------------------------- headers

_BAD = ("\r", "\n", "\x00")
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _text(data: bytes) -> str:
    return headers.decode_header_bytes(data)


def _check_params(
    value: str, form_data: bool, lenient: bool = True
) -> tuple[str, dict[str, str]] | None:
    """Parse ``value``; the lenient parser never raises, the default one raises only
    MalformedInput (ambiguous parameters), and then the lenient one must still parse it."""
    try:
        result = parse_header_params(value, form_data=form_data, lenient=lenient)
    except MalformedInput:
        if lenient:
            raise FuzzFailure(f"lenient parse_header_params refused {value!r}") from None
        return None
    except Exception as exc:
        raise FuzzFailure(f"parse_header_params raised {exc!r} on {value!r}") from exc
    main, params = result
    if not isinstance(main, str) or not isinstance(params, dict):
        raise FuzzFailure(f"parse_header_params returned {result!r}")
    for k, v in params.items():
        if not isinstance(k, str) or not isinstance(v, str) or k != k.lower():
            raise FuzzFailure(f"bad param {k!r}={v!r} from {value!r}")
    return main, params


def _parse_rendered(value: str, form_data: bool) -> tuple[str, dict[str, str]]:
    """What mimewire renders must never look ambiguous to its own default parser."""
    result = _check_params(value, form_data, lenient=False)
    if result is None:
        raise FuzzFailure(f"the default parser refuses the rendered header {value!r}")
    return result


def _form_unescape(s: str) -> str:
    return re.sub(
        "%(22|0[dDaA])", lambda m: {"22": '"'}.get(m.group(1), chr(int(m.group(1), 16))), s
    )


def _normalise_newlines(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def fuzz_headers(data: bytes) -> None:
    """Header grammar target (parse, render, boundary, header checks)."""
    text = _text(data)
    if not isinstance(text, str):
        raise FuzzFailure("decode_header_bytes did not return str")
    for form_data in (False, True):
        _check_params(text, form_data, lenient=True)
        _check_params(text, form_data, lenient=False)

    try:
        b = headers.boundary_from_content_type(text)
    except (MalformedInput, UsageError):
        pass
    else:
        if not isinstance(b, str) or not 1 <= len(b) <= 70:
            raise FuzzFailure(f"boundary_from_content_type({text!r}) -> {b!r}")

    try:
        b = headers.validate_boundary(text)
    except UsageError:
        pass
    else:
        if not (1 <= len(b) <= 70) or b.endswith(" ") or any(c in b for c in _BAD):
            raise FuzzFailure(f"validate_boundary accepted {text!r}")

    pieces = [*text.split("\x1f", 2), "", ""]
    name, filename = pieces[0], pieces[1] if len(pieces) > 1 else ""

    try:
        headers.check_header(name, filename)
    except UsageError:
        pass
    else:
        if not name or any(c in filename for c in _BAD) or any(c not in _TCHAR for c in name):
            raise FuzzFailure(f"check_header accepted {name!r}: {filename!r}")

    try:
        disp = headers.render_form_data_disposition(name, filename or None)
    except UsageError:
        pass
    else:
        if any(c in disp for c in _BAD):
            raise FuzzFailure(f"form-data disposition contains CR/LF/NUL: {disp!r}")
        kind, params = _parse_rendered(disp, True)
        if kind != "form-data":
            raise FuzzFailure(f"rendered {disp!r} parses as {kind!r}")
        # WHATWG is not injective: a literal "%22" in a name is sent as is and read back as
        # '"'; so the expected value is the unescaped (and newline-normalised) original
        if params.get("name") != _form_unescape(_normalise_newlines(name)):
            raise FuzzFailure(f"name {name!r} rendered {disp!r} parses back {params.get('name')!r}")
        if filename and params.get("filename") != _form_unescape(filename):
            raise FuzzFailure(
                f"filename {filename!r} rendered {disp!r} parses back {params.get('filename')!r}"
            )

    for star in (False, True):
        try:
            disp = headers.render_disposition("attachment", filename=filename, filename_star=star)
        except UsageError:
            continue
        if any(c in disp for c in _BAD):
            raise FuzzFailure(f"disposition contains CR/LF/NUL: {disp!r}")
        kind, params = _parse_rendered(disp, False)
        if kind != "attachment" or params.get("filename") != filename:
            raise FuzzFailure(
                f"filename {filename!r} (star={star}) rendered {disp!r} parses back {params!r}"
            )

    try:
        ct = headers.render_content_type("text/plain", {"charset": name, "x": filename})
    except UsageError:
        pass
    else:
        if any(c in ct for c in _BAD):
            raise FuzzFailure(f"content type contains CR/LF/NUL: {ct!r}")
        kind, params = _parse_rendered(ct, False)
        if kind != "text/plain" or params.get("charset") != name or params.get("x") != filename:
            raise FuzzFailure(f"{name!r}/{filename!r} rendered {ct!r} parses back {params!r}")


# --------------------------------------------------------------------------- codecs


def _codec_run(codec: codecs.Codec, pieces: list[bytes] | Iterator[bytes]) -> bytes:
    out = [codec.feed(p) for p in pieces]
    out.append(codec.flush())
    return b"".join(out)


def _check_lines(cte: str, encoded: bytes) -> None:
    for line in encoded.split(b"\r\n"):
        if len(line) > 76:
            raise FuzzFailure(f"{cte} line of {len(line)} > 76 characters")


def fuzz_codecs(data: bytes) -> None:
    """Transfer codec target."""
    h = zlib.crc32(data)
    rng = random.Random(h)
    split = list(_splits(data, rng))

    for cte in ("base64", "quoted-printable", "7bit", "8bit", "binary", "x-unknown"):
        for strict in (False, True):
            results: list[bytes | MimeWireError] = []
            for pieces in ([data], split):
                try:
                    results.append(_codec_run(codecs.make_decoder(cte, strict=strict), pieces))
                except MalformedInput as exc:
                    results.append(exc)
            a, b = results
            if isinstance(a, bytes) != isinstance(b, bytes) or (isinstance(a, bytes) and a != b):
                raise FuzzFailure(
                    f"{cte} decoder (strict={strict}) depends on chunking: {a!r} / {b!r}"
                )
            if strict and isinstance(a, bytes) and cte in codecs.KNOWN_ENCODINGS:
                try:
                    lenient = _codec_run(codecs.make_decoder(cte), [data])
                except MalformedInput as exc:
                    raise FuzzFailure(f"{cte}: lenient rejects what strict accepts") from exc
                if lenient != a:
                    raise FuzzFailure(f"{cte}: strict and lenient decode a valid input differently")

    for cte, binary in (
        ("base64", True),
        ("quoted-printable", True),
        ("quoted-printable", False),
        ("7bit", True),
        ("8bit", True),
    ):
        outs: list[bytes | MimeWireError] = []
        for pieces in ([data], split):
            try:
                outs.append(_codec_run(codecs.make_encoder(cte, binary=binary), pieces))
            except UsageError as exc:
                outs.append(exc)
        a, b = outs
        if isinstance(a, bytes) != isinstance(b, bytes) or (isinstance(a, bytes) and a != b):
            raise FuzzFailure(f"{cte} encoder (binary={binary}) depends on chunking")
        if not isinstance(a, bytes):
            if cte != "7bit":
                raise FuzzFailure(f"{cte} encoder refused input: {a!r}")
            continue
        if cte in ("base64", "quoted-printable"):
            _check_lines(cte, a)
        if cte == "base64":
            want = codecs.encoded_length("base64", len(data))
            if want != len(a):
                raise FuzzFailure(f"encoded_length(base64, {len(data)}) = {want} != {len(a)}")
        if binary or cte == "base64":
            back = _codec_run(codecs.make_decoder(cte, strict=True), [a])
            if back != data:
                raise FuzzFailure(f"{cte} round trip failed: {data!r} -> {a!r} -> {back!r}")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "decoder": fuzz_decoder,
    "headers": fuzz_headers,
    "codecs": fuzz_codecs,
}


def guarded(target: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """Wrap a target so an escaping MimeWireError (allowed outcome) is swallowed; every
    other exception escapes (atheris records it as a crash)."""

    def one_input(data: bytes) -> None:
        try:
            target(data)
        except FuzzFailure:
            raise
        except MimeWireError:
            return

    return one_input
