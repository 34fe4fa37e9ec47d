"""One home for file names, media types, atomic writes and the version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _scripted_server import Recorder, scripted_client

import mimewire
import ringfax
from ringfax import DownloadError, ValidationError
from ringfax._atomic import write_atomically
from ringfax._filenames import (
    EXTENSION_FOR_TYPE,
    attachment_name,
    default_filename,
    extension_for,
    filename_from_disposition,
)


def test_one_version_for_both_packages() -> None:
    assert ringfax.__version__ == mimewire.__version__
    assert scripted_client(Recorder()).user_agent == f"ringfax/{mimewire.__version__}"


def test_a_tiff_gets_the_same_extension_everywhere() -> None:
    assert EXTENSION_FOR_TYPE["image/tiff"] == extension_for("image/tiff; x=1") == ".tif"
    assert default_filename(0, "image/tiff") == "attachment1.tif"
    assert attachment_name("9", "1", filename=None, content_type="image/tiff") == "9-1.tif"
    assert attachment_name("9", "1", filename="scan", content_type="image/tiff") == "9-scan.tif"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="scan.pdf"', "scan.pdf"),
        ("attachment; filename*=UTF-8''%E2%82%AC%20rate.pdf", "\u20ac rate.pdf"),
        ('attachment; filename*0="long-"; filename*1="name.pdf"', "long-name.pdf"),
        ('attachment; filename="  "', None),
        ("attachment", None),
        (None, None),
    ],
)
def test_content_disposition_file_names(header: str | None, name: str | None) -> None:
    assert filename_from_disposition(header) == name


def test_a_bad_boundary_is_refused_before_sending(tmp_path: Path) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    recorder = Recorder()
    with pytest.raises(ValidationError, match=r"boundary 'a\{b'"):
        scripted_client(recorder).send_fax(["+16505550123"], [pdf], boundary="a{b")
    assert recorder.requests == []


def test_the_atomic_writer_never_replaces_by_accident_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "doc.pdf"
    assert write_atomically([b"one"], target, overwrite=False) == target
    with pytest.raises(DownloadError) as info:
        write_atomically([b"two"], target, overwrite=False)
    assert info.value.exists and info.value.path == target
    assert target.read_bytes() == b"one"

    def broken() -> Iterator[bytes]:
        yield b"half"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        write_atomically(broken(), target, overwrite=True)
    assert target.read_bytes() == b"one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.pdf"]
    write_atomically([b"three"], target, overwrite=True)
    assert target.read_bytes() == b"three"
