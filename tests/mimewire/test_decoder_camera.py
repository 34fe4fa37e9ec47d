"""IP-camera streams (``multipart/x-mixed-replace``): boundaries written with the wrong number
of leading dashes, and per-part Content-Length (a frame is handed over as soon as its last
byte arrives)."""

from __future__ import annotations

import pytest
from _decoding import same_for_every_split

from mimewire import Decoder, LimitExceeded, Limits, MalformedInput

CAMERA_CT = "multipart/x-mixed-replace; boundary=--myboundary"


def _frames(line: bytes, *frames: bytes) -> bytes:
    out = b""
    for frame in frames:
        out += line + b"\r\nContent-Type: image/jpeg\r\n\r\n" + frame + b"\r\n"
    return out + line + b"--\r\n"


# --------------------------------------------------------------------------- leading dashes


def test_declared_dashes_are_part_of_the_boundary() -> None:
    # RFC 2046: the delimiter is "--" + boundary, so boundary=--myboundary means lines
    # "----myboundary"
    body = _frames(b"----myboundary", b"JPEG1", b"JPEG2")
    out = same_for_every_split(body, Decoder.from_content_type(CAMERA_CT).boundary)
    assert [data for _, data in out.parts] == [b"JPEG1", b"JPEG2"]


@pytest.mark.parametrize("strict", [False, True])
def test_sender_forgot_the_dash_prefix(strict: bool) -> None:
    body = _frames(b"--myboundary", b"JPEG1", b"JPEG2")
    out = same_for_every_split(body, "--myboundary", strict=strict)
    assert out.error is not None and out.error[0] is MalformedInput
    message = out.error[1]
    assert message.startswith("no multipart delimiter found: ")
    assert "declares boundary='--myboundary'" in message
    assert "'----myboundary'" in message  # what a delimiter line must be
    assert "the line at byte offset 0 is '--myboundary' (2 leading dashes, not 4)" in message
    assert "must declare boundary='myboundary'" in message  # the fix
    assert out.exc is not None and out.exc.offset == len(body)  # type: ignore[attr-defined]


def test_extra_dashes_after_a_preamble_are_explained() -> None:
    body = b"preamble\r\n" + _frames(b"----myboundary", b"JPEG1")
    out = same_for_every_split(body, "myboundary")
    assert out.error is not None and out.error[0] is MalformedInput
    assert (
        "the line at byte offset 10 is '----myboundary' (4 leading dashes, not 2)" in (out.error[1])
    )
    assert "must declare boundary='--myboundary'" in out.error[1]


def test_endless_stream_hits_max_preamble_with_the_explanation() -> None:
    frame = _frames(b"--myboundary", b"J" * 100)[:-16]  # no close: a live stream
    decoder = Decoder("--myboundary", limits=Limits(max_preamble=1000))
    with pytest.raises(LimitExceeded) as info:
        for _ in range(20):
            decoder.feed(frame)
    assert info.value.limit == "max_preamble"
    assert "'--myboundary' (2 leading dashes, not 4)" in str(info.value)


def test_no_hint_without_a_boundary_line() -> None:
    out = same_for_every_split(b"just text mentioning myboundary-ish things\r\n", "--myboundary")
    assert out.error == (MalformedInput, "no multipart delimiter found (byte offset 44)")
