"""Known-attack corpus: one case per published multipart advisory pattern.

Every case asserts the documented outcome (a specific exception naming the limit and the
offset, or a specific parse) **and** a time bound relative to a benign body of the same size
(a ratio, measured as the min of several runs: see ``_drive.ratio``). Sizes are chosen so the
whole corpus runs in a few seconds.

Advisories the patterns are reconstructed from (by description):

* python-multipart: CVE-2024-24762 (ReDoS in Content-Type option parsing), CVE-2024-53981
  (CR/LF before the first / after the last boundary processed byte by byte, log flood),
  GHSA for ``filename*`` vs ``filename`` precedence differentials, silent truncation.
* werkzeug: CVE-2023-25577 (unbounded part count), CVE-2023-46136 (CR/LF-dense file bodies),
  CVE-2024-49767 (memory accounting of many small parts).
* aiohttp: CVE-2024-30251 (infinite loop on a malformed body), unbounded preamble scan.
* streaming-form-data: last field lost when text follows the close delimiter; super-linear
  time on bodies dense with boundary prefixes.
* generic smuggling: trailing data after the close delimiter, delimiter in the middle of a
  preamble line, duplicate Content-Disposition headers, deep nesting, base64/QP abuse,
  NUL and non-UTF-8 bytes in headers.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from mimewire import (
    LimitExceeded,
    Limits,
    MalformedInput,
    MimeWireError,
    aparse,
    parse,
    parse_header_params,
)

from ._drive import (
    BOUNDARY,
    CHUNK,
    benign_body,
    benign_encoded,
    benign_fields,
    decode,
    one_part,
    ratio,
)

MAX_RATIO = 5.0
SIZE = 1 << 20  # 1 MiB bodies: big enough to time, small enough for a fast corpus
DELIM = f"--{BOUNDARY}".encode()
CT = f"multipart/form-data; boundary={BOUNDARY}"


def lim(**kw: int | None) -> Limits:
    """Default limits with some fields replaced (keeps the test independent of field order)."""
    return dataclasses.replace(Limits(), **kw)


def big_limits(**kw: int | None) -> Limits:
    """Limits large enough that a 1 MiB benign body passes, with overrides."""
    base: dict[str, int | None] = {
        "max_part_size": None,
        "max_total_size": 64 * SIZE,
        "max_preamble": 4 * SIZE,
        "max_epilogue": 4 * SIZE,
    }
    base.update(kw)
    return lim(**base)


def benign(size: int = SIZE) -> bytes:
    return benign_body(size)


def assert_linear(
    attack_body: bytes, limits: Limits, baseline: str = "plain", **kw: object
) -> float:
    """The attack body decodes within MAX_RATIO x the time of a benign body of its size.

    ``baseline`` picks the benign body of the same kind: ``plain`` (one big part: the
    fast path), ``fields`` (a legit form of many small fields: as many events per byte as
    event-dense attacks), ``base64`` / ``quoted-printable`` (standard 76-column encodings).
    """
    if baseline == "plain":
        good = benign(len(attack_body))
    elif baseline == "fields":
        good = benign_fields(len(attack_body))
    else:
        good = benign_encoded(len(attack_body), baseline)
    r = ratio(
        lambda: decode(attack_body, limits=limits, keep_data=False, **kw),  # type: ignore[arg-type]
        lambda: decode(good, limits=limits, keep_data=False, **kw),  # type: ignore[arg-type]
    )
    assert r <= MAX_RATIO, f"attack body took {r:.1f}x the benign time (limit {MAX_RATIO}x)"
    return r


def expect_limit(body: bytes, limits: Limits, name: str, **kw: object) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        decode(body, limits=limits, **kw)  # type: ignore[arg-type]
    exc = info.value
    assert exc.limit == name, f"expected limit {name!r}, got {exc.limit!r}: {exc}"
    assert isinstance(exc.value, int)
    assert exc.http_status == 413
    return exc


# --------------------------------------------------------------------------- preamble


@pytest.mark.parametrize(
    "filler",
    [b"A" * 64, b"\r\n", b"\r", b"\n", b"-", DELIM[:-1] + b"\r\n", b"\r\n" + DELIM[:-1]],
    ids=["letters", "crlf", "cr", "lf", "dashes", "near-miss-lines", "near-miss-crlf"],
)
def test_huge_preamble_is_bounded(filler: bytes) -> None:
    """aiohttp unbounded preamble scan / python-multipart CVE-2024-53981."""
    max_pre = 64 * 1024
    pre = (filler * (SIZE // len(filler) + 1))[:SIZE]
    body = pre + b"\r\n" + one_part(b"x")
    limits = big_limits(max_preamble=max_pre)
    exc = expect_limit(body, limits, "max_preamble")
    assert exc.value == max_pre
    assert exc.offset is not None and max_pre <= exc.offset <= max_pre + CHUNK, exc.offset
    assert_linear(body, limits)


def test_preamble_within_limit_is_skipped_not_parsed() -> None:
    """A preamble full of header-like lines and near-miss delimiters is skipped."""
    pre = (b'Content-Disposition: form-data; name="evil"\r\n' + DELIM[:-1] + b"\r\n") * 2000
    body = pre + b"\r\n" + one_part(b"payload")
    out = decode(body, limits=big_limits())
    assert [p[1] for p in out.parts] == [b"payload"]
    assert out.preamble_size == len(pre) + 2 or out.preamble_size == len(pre)
    assert_linear(body, big_limits())


def test_delimiter_in_middle_of_preamble_line_is_not_a_delimiter() -> None:
    """A delimiter must start a line: ``junk--b`` in the preamble does not open a part."""
    body = (
        b"junk"
        + DELIM
        + b'\r\nContent-Disposition: form-data; name="evil"\r\n\r\nsmuggled\r\n'
        + DELIM
        + b'\r\nContent-Disposition: form-data; name="good"\r\n\r\nok\r\n'
        + DELIM
        + b"--\r\n"
    )
    for chunk in (1, 3, 7, len(body)):
        out = decode(body, chunk=chunk)
        names = [dict((k.lower(), v) for k, v in h)["content-disposition"] for h, _ in out.parts]
        assert names == ['form-data; name="good"'], (chunk, names)
        assert out.parts[0][1] == b"ok"


# --------------------------------------------------------------------------- body floods


@pytest.mark.timing
@pytest.mark.parametrize(
    "unit",
    [
        b"\r\n",
        b"\r",
        b"\n",
        b"\r\n-",
        b"\r\n--",
        b"\n--",
        b"\r\n" + DELIM[:-1],
        b"\r\n" + DELIM[: len(DELIM) // 2],
        b"\r\n" + DELIM + b"X",
        b"-",
    ],
    ids=[
        "crlf",
        "cr",
        "lf",
        "crlf-dash",
        "crlf-dashdash",
        "lf-dashdash",
        "near-miss-full",
        "near-miss-half",
        "delimiter-then-x",
        "dashes",
    ],
)
def test_dense_body_is_data_and_linear(unit: bytes) -> None:
    """werkzeug CVE-2023-46136 (CR/LF floods) and boundary-prefix-dense bodies.

    ``--boundary`` followed by anything but padding/CRLF/``--`` inside a body is data
    (RFC 2046 §5.1.1), so every case decodes to exactly one part holding the payload verbatim.
    """
    payload = (unit * (SIZE // len(unit) + 1))[:SIZE]
    payload += b"$"  # a cut "--boundary" at the very end must not meet the real delimiter
    body = one_part(payload)
    limits = big_limits(max_parts=1 << 20)
    out = decode(body, limits=limits)
    assert len(out.parts) == 1
    assert out.parts[0][1] == payload
    assert out.ended
    # a full delimiter followed by "X" is a delimiter candidate the decoder must inspect:
    # it costs what a real part boundary costs, so it is compared with a form of small fields
    assert_linear(body, limits, "fields" if b"X" in unit else "plain")


# --------------------------------------------------------------------------- header floods


def _part_with_headers(headers: bytes, boundary: str = BOUNDARY) -> bytes:
    return f"--{boundary}\r\n".encode() + headers + b"\r\nbody\r\n" + f"--{boundary}--\r\n".encode()


def test_header_count_flood() -> None:
    """Header floods (python-multipart, werkzeug): many headers in one part."""
    headers = b"X-A: b\r\n" * 100_000
    body = _part_with_headers(headers)
    limits = big_limits(max_headers=32)
    exc = expect_limit(body, limits, "max_headers")
    assert exc.value == 32
    assert exc.part == 0
    assert exc.offset is not None and exc.offset <= len(DELIM) + 2 + 33 * 8 + CHUNK
    assert_linear(body, limits)


def test_header_bytes_flood() -> None:
    """Few but long headers: the per-part header byte budget stops them."""
    line = b"X-A: " + b"v" * 900 + b"\r\n"
    body = _part_with_headers(line * 2000)
    limits = big_limits(max_headers=100_000, max_header_line=1000, max_header_bytes=16 * 1024)
    exc = expect_limit(body, limits, "max_header_bytes")
    assert exc.value == 16 * 1024
    assert_linear(body, limits)


def test_default_limits_stop_a_header_flood() -> None:
    """The *default* limits are safe: a flood hits one of the header limits."""
    body = _part_with_headers(b"X-A: b\r\n" * 200_000)
    with pytest.raises(LimitExceeded) as info:
        decode(body)
    assert info.value.limit in {"max_headers", "max_header_bytes"}


@pytest.mark.parametrize("filler", [b"a", b" ", b"\t", b"\r", b";", b'"'])
def test_never_ending_header_line(filler: bytes) -> None:
    """A header line that never ends (no LF at all) is cut at the line limit."""
    body = f"--{BOUNDARY}\r\n".encode() + b"X-A: " + filler * SIZE
    limits = big_limits(max_header_line=8192, max_header_bytes=64 * 1024)
    exc = expect_limit(body, limits, "max_header_line")
    assert exc.value == 8192
    assert exc.offset is not None and exc.offset <= 8192 + len(DELIM) + 2 + CHUNK
    assert_linear(body, limits)


def test_folded_header_flood_is_bounded() -> None:
    """Obsolete line folding (continuation lines) cannot grow one header without bound."""
    body = _part_with_headers(b"X-A: a\r\n" + b" b\r\n" * 200_000)
    limits = big_limits()
    try:
        decode(body, limits=limits)
    except LimitExceeded as exc:
        assert exc.limit in {"max_header_line", "max_header_bytes"}
    except MalformedInput:
        pass  # rejecting folding outright is also a documented outcome
    else:
        raise AssertionError("a 800 KB folded header was accepted under a 16 KiB header budget")
    assert_linear(body, limits, "fields")


# --------------------------------------------------------------------------- part count / sizes


def test_many_tiny_parts() -> None:
    """werkzeug CVE-2023-25577: part-count exhaustion stops at ``max_parts``."""
    tiny = DELIM + b"\r\n\r\n\r\n"
    n = SIZE // len(tiny)
    body = tiny * n + DELIM + b"--\r\n"
    limits = big_limits(max_parts=200)
    exc = expect_limit(body, limits, "max_parts")
    assert exc.value == 200
    assert exc.part is None or exc.part == 200
    assert_linear(body, limits, "fields")
    # the default is finite
    assert Limits().max_parts is not None and Limits().max_parts <= 100_000


def test_part_count_just_under_limit_passes() -> None:
    tiny = DELIM + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n'
    body = tiny * 200 + DELIM + b"--\r\n"
    out = decode(body, limits=big_limits(max_parts=200))
    assert len(out.parts) == 200
    assert all(data == b"v" for _, data in out.parts)


def test_part_size_is_not_silently_truncated() -> None:
    """python-multipart truncated silently at its size limit: we raise, naming the part."""
    body = one_part(b"z" * 5000)
    exc = expect_limit(body, big_limits(max_part_size=1000), "max_part_size")
    assert exc.value == 1000 and exc.part == 0


def test_total_size_limit() -> None:
    body = b"".join(
        DELIM + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + b"q" * 1000 + b"\r\n"
        for _ in range(20)
    )
    body += DELIM + b"--\r\n"
    exc = expect_limit(body, big_limits(max_total_size=10_000), "max_total_size")
    assert exc.value == 10_000
    assert exc.offset is not None and exc.offset <= 10_000 + CHUNK


# --------------------------------------------------------------------------- trailing data


SMUGGLE = (
    b"\r\n"
    + DELIM
    + b'\r\nContent-Disposition: form-data; name="evil"\r\n\r\nsmuggled\r\n'
    + DELIM
    + b"--\r\n"
)


def test_trailing_data_after_close_is_never_a_part() -> None:
    """Nothing after the close delimiter is parsed as a part, at any chunk split."""
    good = (
        DELIM
        + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nA\r\n'
        + DELIM
        + b'\r\nContent-Disposition: form-data; name="last"\r\n\r\nLAST'
    )
    body = good + b"\r\n" + DELIM + b"--" + SMUGGLE
    for chunk in [*range(1, 9), 61, len(body) - 3, len(body)]:
        out = decode(body, chunk=chunk)
        assert [d for _, d in out.parts] == [b"A", b"LAST"], chunk
        assert out.ended
        assert out.epilogue_size == len(SMUGGLE) - 2  # after the CRLF ending the close line
    for cut in range(len(good) + 2, len(body) + 1):  # streaming-form-data: last field lost
        out = decode(body[:cut] + body[cut:], chunk=cut)
        assert [d for _, d in out.parts] == [b"A", b"LAST"]


def test_trailing_data_via_parse() -> None:
    body = one_part(b"only") + SMUGGLE
    parts = [(p.name, p.read()) for p in parse(body, CT)]
    assert parts == [("f", b"only")]


def test_huge_epilogue_is_bounded() -> None:
    """python-multipart CVE-2024-53981 (after the last boundary): bounded by max_epilogue."""
    body = one_part(b"x") + b"\r\n" * (SIZE // 2)
    exc = expect_limit(body, big_limits(max_epilogue=4096), "max_epilogue")
    assert exc.value == 4096
    assert_linear(body, big_limits(max_epilogue=4096))
    # within the limit, an epilogue of CR/LF is skipped quickly and counted
    out = decode(body, limits=big_limits())
    assert out.epilogue_size == SIZE
    assert_linear(body, big_limits())


# --------------------------------------------------------------------------- truncation / loops


@pytest.mark.parametrize("chunk", [1, 5, CHUNK])
def test_truncated_bodies_raise_never_succeed(chunk: int) -> None:
    """aiohttp CVE-2024-30251 (infinite loop) and python-multipart accepting truncation:
    every proper prefix of a valid body ends in MalformedInput, never a silent success."""
    body = (
        DELIM
        + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue\r\n'
        + DELIM
        + b"  \t\r\n\r\n\r\n"
        + DELIM
        + b"--"
    )
    for cut in range(len(body)):
        with pytest.raises(MalformedInput) as info:
            decode(body[:cut], chunk=chunk)
        assert info.value.http_status == 400
    decode(body, chunk=chunk)  # the whole body is fine (no CRLF after "--" needed)


def test_transport_padding_flood() -> None:
    """Whitespace after a delimiter is transport padding; a flood of it is bounded."""
    body = DELIM + b" " * SIZE + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n'
    body += DELIM + b"--\r\n"
    limits = big_limits(max_header_line=8192)
    exc = expect_limit(body, limits, "max_header_line")  # documented: bounds padding too
    assert exc.value == 8192
    # the offset is where the limit was crossed, not wherever the scan happened to stop
    assert exc.offset is not None and exc.offset <= len(DELIM) + 8192 + 1, exc.offset
    assert_linear(body, limits)
    small = DELIM + b" \t" * 100 + body[len(DELIM) + SIZE :]
    assert [d for _, d in decode(small).parts] == [b"v"]


# --------------------------------------------------------------------------- header parsing


EVIL_HEADERS = {
    "backslashes": lambda n: 'text/plain; a="' + "\\" * n,
    "semicolons": lambda n: "text/plain; " + ";" * n,
    "escaped-quotes": lambda n: 'text/plain; a="' + '\\"' * (n // 2) + '"',
    "percents": lambda n: "text/plain; a*=" + "%" * n,
    "quotes-2231": lambda n: "text/plain; a*=utf-8'" + "'" * n,
    "spaces": lambda n: "text/plain;" + " " * n + "a=b",
    "continuations": lambda n: "form-data; " + "a*0=x; " * (n // 7),
    "sparse-continuations": lambda n: (
        "form-data; " + "; ".join(f"a*{i * 1000}=x" for i in range(n // 12))
    ),
    "pct-continuations": lambda n: "form-data; a*0*=utf-8''x; " + "a*1*=%ff%fe; " * (n // 13),
    "token": lambda n: "x" * n,
    "equals": lambda n: "=" * n,
    "dquotes": lambda n: '"' * n,
    "equals-quotes": lambda n: "a; " + 'b="' * (n // 3),
}


def _token_dense(n: int) -> str:
    """A legit header of ``n`` characters that is as token-dense as headers get."""
    return ("text/plain" + "; a=b" * (n // 5))[:n]


def _params_or_refusal(value: str, **kwargs: bool) -> tuple[str, dict[str, str]] | None:
    """The parsed params, or None when the parser refuses an ambiguous header."""
    try:
        return parse_header_params(value, **kwargs)
    except MalformedInput:
        return None


@pytest.mark.timing
@pytest.mark.parametrize("kind", list(EVIL_HEADERS))
def test_header_param_parser_is_linear(kind: str) -> None:
    """python-multipart CVE-2024-24762: ReDoS in Content-Type option parsing.

    Linear: a 4x longer input costs at most 8x the time (quadratic would be 16x), and the
    evil header costs at most MAX_RATIO x a legit, token-dense header of the same length.
    Checked for the default parser (which refuses ambiguous duplicates) and the lenient one.
    """
    make = EVIL_HEADERS[kind]
    small, big = make(50_000), make(200_000)
    for form_data in (False, True):
        for lenient in (False, True):
            got = _params_or_refusal(big, form_data=form_data, lenient=lenient)
            if lenient:
                assert got is not None, "the lenient parser never refuses"
            if got is not None:
                main, params = got
                assert isinstance(main, str)
                assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    for lenient in (False, True):
        growth = ratio(
            lambda lenient=lenient: _params_or_refusal(big, lenient=lenient),
            lambda lenient=lenient: _params_or_refusal(small, lenient=lenient),
            4,
        )
        assert growth <= 8.0, f"4x the input cost {growth:.1f}x the time: super-linear"
        good = _token_dense(len(big))
        r = ratio(
            lambda lenient=lenient: _params_or_refusal(big, lenient=lenient),
            lambda lenient=lenient, good=good: _params_or_refusal(good, lenient=lenient),
            3,
        )
        assert r <= MAX_RATIO, f"{r:.1f}x a token-dense legit header"


def test_filename_star_against_filename() -> None:
    """``filename``/``filename*`` disagreement. Outside form-data the decodable ``filename*``
    wins (RFC 6266 §4.3); in form-data RFC 7578 §4.2 forbids ``filename*``, and servers
    disagree on which one wins (a WAF-bypass differential), so a disagreeing pair is refused
    in the header parser, on PartStart and through parse()."""
    disp = "attachment; filename*=utf-8'en'evil%2Ephp; filename=safe.txt"
    assert parse_header_params(disp)[1]["filename"] == "evil.php"
    body = one_part(b"x", headers=f"Content-Disposition: {disp}\r\n".encode())
    assert decode(body).starts[0].filename == "evil.php"
    assert [p.filename for p in parse(body, CT)] == ["evil.php"]
    for disp in (
        'form-data; name="f"; filename="safe.txt"; filename*=UTF-8\'\'evil%2Ephp',
        'form-data; name="f"; filename*=UTF-8\'\'evil%2Ephp; filename="safe.txt"',
    ):
        with pytest.raises(MalformedInput, match="filename"):
            parse_header_params(disp, form_data=True)
        body = one_part(b"x", headers=f"Content-Disposition: {disp}\r\n".encode())
        with pytest.raises(MalformedInput, match="filename"):
            _ = decode(body).starts[0].filename
        with pytest.raises(MalformedInput, match="filename"):
            [p.filename for p in parse(body, CT)]


def test_filename_star_non_ascii_and_garbage_never_raise() -> None:
    disp = "attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf; filename=\"EUR rates.pdf\""
    assert parse_header_params(disp)[1]["filename"] == "€ rates.pdf"
    for garbage in (
        "attachment; filename*=UTF-8''%ff%fe%zz",
        "attachment; filename*=x-no-such-charset''abc",
        "attachment; filename*=''",
        "attachment; filename*=%",
        "attachment; filename*0*=UTF-8''%E2%82; filename*1*=%AC",
    ):
        main, params = parse_header_params(garbage)
        assert main == "attachment"
        assert all(isinstance(v, str) for v in params.values())
    # sections out of order are ambiguous: refused, but never anything but MalformedInput
    with pytest.raises(MalformedInput, match="continuations"):
        parse_header_params("attachment; filename*5=a; filename*0=b")
    assert parse_header_params("attachment; filename*5=a; filename*0=b", lenient=True) == (
        "attachment",
        {"filename": "b"},
    )


def test_rfc2231_continuations_out_of_order() -> None:
    n = 3000
    parts = [f"filename*{i}=p{i:04d}" for i in reversed(range(n))]
    disp = "attachment; " + "; ".join(parts)
    with pytest.raises(MalformedInput, match=r"continuations \[2999, 2998, .*out of order"):
        parse_header_params(disp)
    _, params = parse_header_params(disp, lenient=True)  # lenient: numeric order
    assert params["filename"] == "".join(f"p{i:04d}" for i in range(n))


def test_duplicate_content_disposition_is_refused() -> None:
    """Header smuggling differential: two Content-Disposition headers in one part. Servers
    disagree on which one counts, so the decoder refuses the part, saying which and where."""
    headers = (
        b'Content-Disposition: form-data; name="first"; filename="a.txt"\r\n'
        b'Content-Disposition: form-data; name="second"; filename="b.php"\r\n'
    )
    body = one_part(b"x", headers=headers)
    with pytest.raises(MalformedInput, match="Content-Disposition") as info:
        decode(body)
    assert info.value.offset is not None
    with pytest.raises(MalformedInput, match="Content-Disposition"):
        list(parse(body, CT))


def test_non_utf8_header_bytes_never_raise_unicode_errors() -> None:
    headers = b'Content-Disposition: form-data; name="f"; filename="\xff\xfe\xe9t\xe9.txt"\r\n'
    out = decode(one_part(b"x", headers=headers))
    assert out.starts[0].filename == "\xff\xfe\xe9t\xe9.txt"  # Latin-1 fallback
    headers = 'Content-Disposition: form-data; name="f"; filename="été.txt"\r\n'.encode()
    assert decode(one_part(b"x", headers=headers)).starts[0].filename == "été.txt"


@pytest.mark.parametrize(
    "headers",
    [
        b'Content-Disposition: form-data; name="a\x00b"\r\n',
        b'Content-Dis\x00position: form-data; name="a"\r\n',
        b"\x00: x\r\n",
        b'Content-Disposition: form-data; name="a"\x00\r\nX-Evil: 1\r\n',
        b'Content-Disposition: form-data; name="a"\rX-Evil: 1\r\n',
    ],
    ids=["in-value", "in-name", "name-is-nul", "before-crlf", "bare-cr"],
)
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_nul_and_cr_in_headers_are_rejected(headers: bytes, strict: bool) -> None:
    """NUL or a bare CR inside a header line is an error in both modes (documented in
    ``_decoder``), with the offset of the offending header line."""
    body = one_part(b"x", headers=headers)
    with pytest.raises(MalformedInput) as info:
        decode(body, strict=strict)
    off = info.value.offset
    assert off is not None and len(DELIM) + 2 <= off <= len(DELIM) + 2 + len(headers), off


def test_header_line_without_colon_is_malformed() -> None:
    body = one_part(b"x", headers=b'Content-Disposition: form-data; name="a"\r\nnocolon\r\n')
    with pytest.raises(MalformedInput) as info:
        decode(body, strict=True)
    assert info.value.offset is not None and 0 < info.value.offset < len(body)


@pytest.mark.parametrize(
    "ct",
    [
        "multipart/form-data; boundary=" + "a" * 71,
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary=""',
        "text/plain; boundary=abc",
        "multipart/form-data; boundary=" + "\\" * 10_000,
    ],
    ids=["too-long", "missing", "empty", "empty-quoted", "not-multipart", "backslashes"],
)
def test_bad_content_type_boundary(ct: str) -> None:
    with pytest.raises(MimeWireError) as info:
        list(parse(one_part(b"x"), ct))
    assert isinstance(info.value, MalformedInput | LimitExceeded), type(info.value)


# --------------------------------------------------------------------------- nesting


def _nested(depth: int, leaf: bytes = b"leaf") -> tuple[bytes, str]:
    """A multipart/mixed body nested ``depth`` levels deep; returns (body, content type)."""
    body = leaf
    ct = "text/plain"
    for level in range(depth):
        b = f"nest{level}B"
        body = f"--{b}\r\nContent-Type: {ct}\r\n\r\n".encode() + body + f"\r\n--{b}--\r\n".encode()
        ct = f"multipart/mixed; boundary={b}"
    return body, ct


def _walk(parts: object, depth: int = 0) -> int:
    deepest = depth
    for p in parts:  # type: ignore[attr-defined]
        if p.parts is not None:
            deepest = max(deepest, _walk(p.parts, depth + 1))
        else:
            p.read()
    return deepest


def test_deep_nesting_is_bounded_by_max_depth() -> None:
    body, ct = _nested(50)
    with pytest.raises(LimitExceeded) as info:
        _walk(parse(body, ct, nested=True, limits=lim(max_depth=4)))
    assert info.value.limit == "max_depth" and info.value.value == 4


def test_nesting_within_max_depth_parses() -> None:
    body, ct = _nested(4)
    assert _walk(parse(body, ct, nested=True, limits=lim(max_depth=4))) == 3


def test_deep_nesting_without_nested_flag_is_just_data() -> None:
    body, ct = _nested(200)
    [p] = list(parse(body, ct))
    assert p.parts is None
    assert p.read().endswith(b"--\r\n")


# --------------------------------------------------------------------------- transfer codecs


def _cte_part(cte: str, payload: bytes) -> bytes:
    h = f'Content-Disposition: form-data; name="f"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return one_part(payload, headers=h.encode())


def test_base64_one_huge_line() -> None:
    """A single base64 line of 1.4 MB decodes streamingly (no line limit on bodies)."""
    import base64

    raw = bytes(range(256)) * (SIZE // 256)
    body = _cte_part("base64", base64.b64encode(raw))
    out = decode(body, limits=big_limits())
    assert out.parts[0][1] == raw
    assert_linear(body, big_limits(), "base64")


def test_base64_whitespace_flood_decodes_to_nothing() -> None:
    body = _cte_part("base64", b" \r\n\t" * (SIZE // 4))
    out = decode(body, limits=big_limits())
    assert out.parts[0][1] == b""
    assert_linear(body, big_limits(), "base64")


def test_base64_invalid_character_has_absolute_offset() -> None:
    import base64

    enc = base64.b64encode(b"A" * 3000)
    bad_at = 1000
    payload = enc[:bad_at] + b"!" + enc[bad_at + 1 :]
    body = _cte_part("base64", payload)
    start = body.index(payload)
    with pytest.raises(MalformedInput) as info:
        decode(body, chunk=97)
    off = info.value.offset
    assert off is not None and start <= off <= start + bad_at + 4, (off, start + bad_at)
    assert info.value.part == 0


def test_base64_part_size_limit_applies() -> None:
    import base64

    body = _cte_part("base64", base64.b64encode(b"\x00" * SIZE))
    exc = expect_limit(body, big_limits(max_part_size=64 * 1024), "max_part_size")
    assert exc.part == 0


@pytest.mark.parametrize(
    ("unit", "expected_unit"),
    [
        pytest.param(b"=\r\n", b"", id="soft-breaks"),
        pytest.param(b"=0D=0A", b"\r\n", id="escaped-crlf"),
        pytest.param(b"=\n", b"", id="soft-lf"),
        pytest.param(b"a=\r\n", b"a", id="char-soft"),
    ],
)
def test_quoted_printable_floods(unit: bytes, expected_unit: bytes) -> None:
    n = SIZE // len(unit)
    body = _cte_part("quoted-printable", unit * n)
    out = decode(body, limits=big_limits())
    assert out.parts[0][1] == expected_unit * n
    assert_linear(body, big_limits(), "quoted-printable")


def test_quoted_printable_malformed_equals() -> None:
    """Lenient: a stray ``=`` never raises; strict: MalformedInput with an offset."""
    body = _cte_part("quoted-printable", b"ok=ZZ then = and =4" + b"=" * 10_000)
    out = decode(body, limits=big_limits())
    assert out.parts[0][1].startswith(b"ok")
    with pytest.raises(MalformedInput) as info:
        decode(body, strict=True, limits=big_limits())
    assert info.value.offset is not None


# --------------------------------------------------------------------------- async edge


def _agen(body: bytes, chunk: int = 4096) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(body), chunk):
            yield body[i : i + chunk]

    return gen()


async def _acollect(body: bytes, limits: Limits) -> list[tuple[str | None, bytes]]:
    out = []
    async for p in aparse(_agen(body), CT, limits=limits):
        out.append((p.name, p.read()))
    return out


def test_aparse_applies_the_same_limits_and_ignores_trailing_parts() -> None:
    """An ASGI-style async stream gets the same protection as the sync path."""
    assert asyncio.run(_acollect(one_part(b"only") + SMUGGLE, lim())) == [("f", b"only")]
    with pytest.raises(LimitExceeded) as info:
        asyncio.run(_acollect(b"\r\n" * SIZE + one_part(b"x"), lim(max_preamble=4096)))
    assert info.value.limit == "max_preamble"
    tiny = DELIM + b"\r\n\r\n\r\n"
    with pytest.raises(LimitExceeded) as info:
        asyncio.run(_acollect(tiny * 5000 + DELIM + b"--\r\n", lim(max_parts=100)))
    assert info.value.limit == "max_parts"
