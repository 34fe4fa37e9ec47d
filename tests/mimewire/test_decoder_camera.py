"""IP-camera streams (``multipart/x-mixed-replace``): boundaries written with the wrong number
of leading dashes, and per-part Content-Length (a frame is handed over as soon as its last
byte arrives)."""

from __future__ import annotations

import pytest
from _decoding import same_for_every_split

from mimewire import NEED_DATA, Decoder, LimitExceeded, Limits, MalformedInput, PartData

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


# --------------------------------------------------------------------------- Content-Length


def _counted(*frames: bytes, declared: list[int] | None = None, nl: bytes = b"\r\n") -> bytes:
    out = b""
    for k, frame in enumerate(frames):
        size = len(frame) if declared is None else declared[k]
        out += b"--b" + nl + b"Content-Type: image/jpeg" + nl
        out += b"Content-Length: %d" % size + nl + nl + frame + nl
    return out + b"--b--" + nl


def test_part_end_comes_with_the_last_declared_byte() -> None:
    body = _counted(b"JPEG-1", b"JPEG-22")
    decoder = Decoder("b")
    seen: list[tuple[int, str]] = []
    for at in range(len(body)):
        decoder.receive_data(body[at : at + 1])
        while (event := decoder.next_event()) is not NEED_DATA:
            seen.append((at, type(event).__name__))
    ends = [at for at, kind in seen if kind == "PartEnd"]
    assert ends == [body.index(b"JPEG-1") + 5, body.index(b"JPEG-22") + 6]
    # the same with feed() and one chunk per frame
    decoder = Decoder("b")
    first = body.index(b"JPEG-1") + 6
    events = decoder.feed(body[:first])
    assert [type(e).__name__ for e in events] == ["PartStart", "PartData", "PartEnd"]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"])
def test_counted_parts_decode_the_same_for_every_chunking(strict: bool, nl: bytes) -> None:
    frames = (b"", b"\r\n--bx\r\n", b"x" * 40, b"\r\n--b-\r")
    body = _counted(*frames, nl=nl)
    out = same_for_every_split(body, strict=strict)
    if strict and (nl == b"\n" or frames[1]):
        assert out.error is not None and out.error[0] is MalformedInput
        return
    assert [data for _, data in out.parts] == list(frames)


def test_empty_counted_part_may_share_the_blank_line_with_its_delimiter() -> None:
    body = b"--b\r\nContent-Length: 0\r\n\r\n--b\r\nContent-Length: 0\r\n\r\n\r\n--b--"
    out = same_for_every_split(body)
    assert [data for _, data in out.parts] == [b"", b""]


@pytest.mark.parametrize("strict", [False, True])
def test_body_longer_than_its_content_length_is_refused(strict: bool) -> None:
    body = _counted(b"JPEG-1", declared=[4])
    out = same_for_every_split(body, strict=strict)
    assert out.error is not None and out.error[0] is MalformedInput
    assert "part declares Content-Length: 4 but no delimiter follows its 4 bytes" in out.error[1]
    assert f"part 0, byte offset {body.index(b'JPEG-1') + 4}" in out.error[1]


@pytest.mark.parametrize("declared", [7, 8, 9, 12, 40])
def test_body_shorter_than_its_content_length_is_refused(declared: int) -> None:
    body = _counted(b"JPEG-1", b"JPEG-22", declared=[declared, 7])
    out = same_for_every_split(body)
    assert out.error is not None and out.error[0] is MalformedInput
    assert f"Content-Length: {declared} but its delimiter follows after 6 bytes" in out.error[1]
    assert f"part 0, byte offset {body.index(b'JPEG-1') + 6}" in out.error[1]


def test_a_part_hidden_inside_the_declared_bytes_is_refused() -> None:
    # other parsers ignore the part's Content-Length and see the "evil" part
    hidden = b'x\r\n--b\r\nContent-Disposition: form-data; name="evil"\r\n\r\npayload'
    head = b'--b\r\nContent-Disposition: form-data; name="a"\r\n'
    body = head + b"Content-Length: %d\r\n\r\n" % len(hidden) + hidden + b"\r\n--b--\r\n"
    out = same_for_every_split(body)
    assert out.error is not None and out.error[0] is MalformedInput
    assert "but its delimiter follows after 1 bytes" in out.error[1]
    assert out.parts == []


def test_near_misses_inside_the_declared_bytes_are_data() -> None:
    frame = b"\r\n--bx" * 1000 + b"\r\n--b \t-" + b"\r\n--"
    body = _counted(frame)
    for chunk in (len(body), 1000, 7, 1):
        decoder = Decoder("b")
        data = b""
        for at in range(0, len(body), chunk):
            for event in decoder.feed(body[at : at + chunk]):
                if isinstance(event, PartData):
                    data += event.data
        decoder.feed(b"")
        assert data == frame


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        ("abc", MalformedInput, "Content-Length 'abc' is not a byte count"),
        ("-1", MalformedInput, "is not a byte count"),
        ("+5", MalformedInput, "is not a byte count"),
        ("5, 5", MalformedInput, "is not a byte count"),
        ("", MalformedInput, "is not a byte count"),
        ("１２", MalformedInput, "is not a byte count"),  # fullwidth digits: not ASCII
        ("9" * 19, MalformedInput, "is not a byte count"),
        ("101", LimitExceeded, "max_part_size=100 exceeded: the part declares Content-Length"),
    ],
)
def test_bad_content_length_values(value: str, error: type, text: str) -> None:
    header = f"--b\r\nContent-Length: {value}\r\n\r\n".encode()
    body = header + b"x" * 5 + b"\r\n--b--\r\n"
    out = same_for_every_split(body, limits=Limits(max_part_size=100))
    assert out.error is not None and out.error[0] is error, out
    assert text in out.error[1]
    assert f"part 0, byte offset {len(header)}" in out.error[1]


def test_two_content_length_headers_are_refused() -> None:
    body = b"--b\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx\r\n--b--"
    out = same_for_every_split(body)
    assert out.error is not None and "two Content-Length headers" in out.error[1]


def test_content_length_counts_encoded_bytes() -> None:
    encoded = b"SlBFRw=="  # "JPEG"
    head = b"--b\r\nContent-Transfer-Encoding: base64\r\nContent-Length: 8\r\n\r\n"
    out = same_for_every_split(head + encoded + b"\r\n--b--")
    assert [data for _, data in out.parts] == [b"JPEG"]


def test_errors_inside_the_declared_bytes_come_in_stream_order() -> None:
    # an invalid base64 byte before a delimiter hidden in the declared bytes: the codec
    # error (earlier in the stream) wins, however the body is cut
    inner = b"QU-J\r\n--b\r\nContent-Length: 1\r\n\r\nx"
    head = b"--b\r\nContent-Transfer-Encoding: base64\r\n"
    body = head + b"Content-Length: %d\r\n\r\n" % len(inner) + inner + b"\r\n--b--"
    out = same_for_every_split(body)
    assert out.error is not None and "invalid byte 0x2D" in out.error[1]
    # without the bad byte, the hidden delimiter is the error
    out = same_for_every_split(body.replace(b"QU-J", b"QUJD"))
    assert out.error is not None and "its delimiter follows after 4 bytes" in out.error[1]
