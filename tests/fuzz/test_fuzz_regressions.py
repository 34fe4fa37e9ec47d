"""Minimised inputs the fuzzers found, pinned as regression tests.

Each case says which target found it and what the oracle expected. The fuzz targets tolerate
no known bug (``KNOWN_*`` in ``targets.py`` are pinned off, checked below): a bug found by
fuzzing gets a regression test here, ``xfail(strict=True)`` while it is open.
"""

from __future__ import annotations

import pytest

from mimewire import (
    NEED_DATA,
    Decoder,
    MalformedInput,
    MimeWireError,
    MultipartEnd,
    PartData,
    parse,
)

from . import targets
from .targets import fuzz_decoder, guarded


def test_no_known_bug_is_tolerated() -> None:
    """Each tolerance belongs to a bug pinned by a regression test in this file:
    KNOWN_BOUNDARY_BUG -- test_bad_boundary_in_request_content_type_is_malformed_input,
    KNOWN_DASH_BUG -- test_body_starting_with_dashes_is_the_same_for_every_split,
    KNOWN_ERROR_ORDER -- test_first_error_does_not_depend_on_chunking."""
    assert (targets.KNOWN_BOUNDARY_BUG, targets.KNOWN_DASH_BUG, targets.KNOWN_ERROR_ORDER) == (
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=caf\u00e9",
        'multipart/form-data; boundary="a\x00b"',
    ],
    ids=["non-ascii", "nul"],
)
def test_bad_boundary_in_request_content_type_is_malformed_input(content_type: str) -> None:
    """The Content-Type header comes from the remote peer: an unusable boundary in it is
    bad input (MalformedInput, HTTP 400), not API misuse (UsageError, HTTP 500)."""
    with pytest.raises(MimeWireError) as info:
        list(parse(b"--x--\r\n", content_type))
    assert isinstance(info.value, MalformedInput), repr(info.value)
    assert info.value.http_status == 400


def test_nested_non_ascii_boundary_is_malformed_input() -> None:
    """Found by the atheris decoder target: a nested part declaring a non-ASCII boundary is
    bad input (MalformedInput), not a UsageError, in ``parse(nested=True)``."""
    body = (
        b'--B\r\nContent-Type: multipart/mixed; boundary="caf\xc3\xa9"\r\n\r\n'
        b"--caf\xc3\xa9\r\n\r\nx\r\n--caf\xc3\xa9--\r\n\r\n--B--\r\n"
    )
    with pytest.raises(MimeWireError) as info:
        for part in parse(body, "multipart/mixed; boundary=B", nested=True):
            for sub in part.parts or []:
                sub.read()
    assert isinstance(info.value, MalformedInput), repr(info.value)


def test_fuzz_decoder_target_accepts_minimised_crash() -> None:
    data = (
        b'--fuzzB0undary\r\nContent-Type: multipart/mixed; boundary="in\xc3\xa9"\r\n\r\n'
        b"--in\xc3\xa9\r\n\r\nleaf\r\n--in\xc3\xa9--\r\n\r\n--fuzzB0undary--\r\n"
    )
    guarded(fuzz_decoder)(data)


def _body_bytes(chunks: list[bytes]) -> bytes:
    d = Decoder("B")
    out = []
    for c in [*chunks, b""]:
        d.receive_data(c)
        while (ev := d.next_event()) is not NEED_DATA:
            if isinstance(ev, PartData):
                out.append(ev.data)
            if isinstance(ev, MultipartEnd):
                break
    d.close()
    return b"".join(out)


@pytest.mark.parametrize(
    "payload",
    [
        b"--abc",
        b"-x",
        b"--",
        b"--B-not-a-delimiter",
    ],
)
def test_body_starting_with_dashes_is_the_same_for_every_split(payload: bytes) -> None:
    """Found by the mutational decoder target (one-shot != incremental): a part body that
    starts with a prefix of ``--boundary`` right after the blank line must come out intact
    when the chunking splits that prefix (a broken hold-back reorders it: ``--abc`` ->
    ``-abc-`` / ``abc--``). Every nested multipart body starts like that."""
    body = b"--B\r\nX: y\r\n\r\n" + payload + b"\r\n--B--\r\n"
    assert _body_bytes([body]) == payload
    for cut in range(1, len(body)):
        assert _body_bytes([body[:cut], body[cut:]]) == payload, cut


def test_body_starting_with_dashes_through_parse() -> None:
    body = b"--B\r\nX: y\r\n\r\n--abc\r\n--B--\r\n"
    cut = body.index(b"--abc") + 2
    [p] = list(parse([body[:cut], body[cut:]], "multipart/mixed; boundary=B"))
    assert p.read() == b"--abc"


def test_first_error_does_not_depend_on_chunking() -> None:
    """Found by the atheris decoder target (error type depends on chunking): the bad base64
    byte comes before the point where max_part_size is exceeded, so it is the error reported,
    whether the body is fed whole or in pieces."""
    from mimewire import LimitExceeded, Limits

    from .targets import run_decoder

    body = b"--B\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    body += b"QUJD" * 25 + b"!" + b"QUJD" * 50 + b"\r\n--B--\r\n"
    limits = Limits(max_part_size=200)
    errors = []
    for chunks in ([body], [body[i : i + 16] for i in range(0, len(body), 16)]):
        _, err = run_decoder(
            chunks, limits=limits, strict=False, decode_transfer=True, boundary="B"
        )
        assert isinstance(err, MalformedInput | LimitExceeded)
        errors.append((type(err), err.offset))
    assert errors[0] == errors[1], errors
