"""Tests for mimewire._events: PartStart's decoder-set attributes and its parsed views."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from mimewire import Decoder, MalformedInput, PartStart, UsageError
from mimewire._events import decoded_part_start

CD = "Content-Disposition"


def _start(*headers: tuple[str, str]) -> PartStart:
    return decoded_part_start(tuple(headers), 3, 120)


# --------------------------------------------------------------------------- index / body_offset


def test_index_and_body_offset_default_to_none_and_do_not_compare() -> None:
    plain = PartStart([(CD, "form-data; name=a")])
    assert plain.index is None and plain.body_offset is None
    decoded = decoded_part_start(((CD, "form-data; name=a"),), 2, 77)
    assert (decoded.index, decoded.body_offset) == (2, 77)
    assert decoded == plain and hash(decoded) == hash(plain)
    assert (
        repr(decoded)
        == repr(plain)
        == ("PartStart(headers=(('Content-Disposition', 'form-data; name=a'),))")
    )
    keyword = PartStart([(CD, "form-data; name=a")], index=1, body_offset=5)
    assert (keyword.index, keyword.body_offset) == (1, 5)


def test_part_start_survives_copy_pickle_replace_and_asdict() -> None:
    start = _start((CD, "form-data; name=a"))
    assert start.name == "a"  # fills the parsed cache, which must not leak anywhere
    for clone in (copy.copy(start), copy.deepcopy(start), pickle.loads(pickle.dumps(start))):
        assert clone == start and (clone.index, clone.body_offset) == (3, 120)
        assert clone.name == "a"
    moved = dataclasses.replace(start, headers=((CD, "form-data; name=b"),))
    assert (moved.name, moved.index, moved.body_offset) == ("b", 3, 120)
    assert dataclasses.asdict(start) == {
        "headers": ((CD, "form-data; name=a"),),
        "index": 3,
        "body_offset": 120,
    }
    assert [f.name for f in dataclasses.fields(PartStart)] == ["headers", "index", "body_offset"]


def test_part_start_is_frozen() -> None:
    start = _start()
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.index = 4  # type: ignore[misc]


def test_decoder_sets_index_and_body_offset() -> None:
    body = (
        b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nhello\r\n"
        b"--b\r\nContent-Disposition: form-data; name=y\r\nContent-Type: text/plain\r\n\r\n"
        b"!\r\n--b--\r\n"
    )
    dec = Decoder("b")
    dec.receive_data(body)
    dec.receive_data(b"")
    starts = []
    while True:
        event = dec.next_event()
        if isinstance(event, PartStart):
            starts.append(event)
        elif type(event).__name__ == "MultipartEnd":
            break
    assert [(s.index, s.name) for s in starts] == [(0, "x"), (1, "y")]
    assert [s.body_offset for s in starts] == [body.index(b"hello"), body.index(b"!")]


# --------------------------------------------------------------------------- ambiguous headers


@pytest.mark.parametrize(
    ("headers", "view", "message"),
    [
        (((CD, 'form-data; name="a"; name="b"'),), "name", "duplicate parameter 'name'"),
        (((CD, 'form-data; name="a"; NAME="a"'),), "filename", "duplicate parameter 'name'"),
        (((CD, "form-data; name*=UTF-8''a"),), "name", "'name*' in form-data"),
        (((CD, "form-data; name=a; name*0=a"),), "name", "'name*' in form-data"),
        (
            ((CD, "form-data; name=f; filename=a.txt; filename*=UTF-8''b.php"),),
            "filename",
            "'filename*' ('b.php') disagrees with 'filename' ('a.txt')",
        ),
        (
            ((CD, "form-data; name=f; filename=a.txt; filename*=x-nope''a.txt"),),
            "filename",
            "disagrees",
        ),
        (((CD, "form-data; name=a"), (CD, "form-data; name=b")), "name", "2 Content-Disposition"),
        ((("Content-Type", "text/plain"), ("content-type", "text/html")), "content_type", "2"),
        ((("Content-Type", "text/plain; charset=a; charset=b"),), "charset", "duplicate"),
        (
            (("Content-Transfer-Encoding", "base64"), ("Content-Transfer-Encoding", "8bit")),
            "transfer_encoding",
            "2 Content-Transfer-Encoding headers",
        ),
    ],
)
def test_ambiguous_headers_raise_with_part_and_offset(
    headers: tuple[tuple[str, str], ...], view: str, message: str
) -> None:
    start = _start(*headers)
    with pytest.raises(MalformedInput) as info:
        getattr(start, view)
    assert message in str(info.value)
    assert info.value.part == 3 and info.value.offset == 120
    assert str(info.value).endswith("(part 3, byte offset 120)")
    # a hand-built event has no position: the message just has none
    with pytest.raises(MalformedInput) as info:
        getattr(PartStart(headers), view)
    assert info.value.part is None and info.value.offset is None


@pytest.mark.parametrize(
    ("value", "filename"),
    [
        # lenient: filename* alone, or equal to filename, is fine in form-data
        ("form-data; name=f; filename*=UTF-8''%E2%82%AC.pdf", "€.pdf"),
        ("form-data; name=f; filename=a.pdf; filename*=UTF-8''a.pdf", "a.pdf"),
        # outside form-data, RFC 6266: filename is the fallback, a decodable filename* wins
        ("attachment; filename=EUR.pdf; filename*=UTF-8''%E2%82%AC.pdf", "€.pdf"),
        ("attachment; filename*=UTF-8''%E2%82%AC.pdf; filename=EUR.pdf", "€.pdf"),
        ("attachment; filename=plain.pdf; filename*=x-unknown''junk", "plain.pdf"),
    ],
)
def test_unambiguous_filenames(value: str, filename: str) -> None:
    assert _start((CD, value)).filename == filename


def test_form_data_detection_uses_the_disposition_type() -> None:
    # "form-datax" is not form-data: name* is not refused there (only duplicates are)
    assert _start((CD, "form-datax; name*=UTF-8''a")).name == "a"
    assert _start((CD, " Form-Data ; name=a")).disposition == "form-data"


def test_views_are_cached_and_errors_repeat() -> None:
    start = _start((CD, 'form-data; name="a"; name="b"'), ("Content-Type", "text/plain"))
    for _ in range(2):
        with pytest.raises(MalformedInput):
            _ = start.name
    assert start.content_type == "text/plain"
    assert start.content_type is start.content_type


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Content-Type", "text/plain")],
        [("Content-Type", b"text/plain")],
        [("X-Count", 3)],
        [("only-a-name",)],
    ],
)
def test_part_start_refuses_headers_that_are_not_str_pairs(
    headers: list[tuple[object, ...]],
) -> None:
    """Header values must be str: a bytes value would go out as "b'text/plain'"."""
    with pytest.raises(UsageError, match="pairs of str"):
        PartStart(headers)  # type: ignore[arg-type]
