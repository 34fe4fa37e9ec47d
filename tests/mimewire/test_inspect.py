"""``python -m mimewire inspect``: tree output, --json document, --decode, errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mimewire import MultipartBody, Part
from mimewire._inspect import main


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def body_file(tmp_path: Path) -> tuple[Path, MultipartBody, MultipartBody]:
    inner = MultipartBody(
        [
            Part(b"inner text", content_type="text/plain"),
            Part(b"\x00\xff" * 5, transfer_encoding="base64"),
        ],
        subtype="mixed",
        boundary="inner-b",
    )
    outer = MultipartBody(
        [
            Part.field("name", "value"),
            Part(b"file data", name="f", filename="a b.txt"),
            Part(inner, name="n"),
        ],
        boundary="outer-b",
        preamble=b"preamble",
        epilogue=b"epilogue!",
    )
    path = tmp_path / "body.bin"
    path.write_bytes(b"".join(outer))
    return path, outer, inner


def test_json_document(
    body_file: tuple[Path, MultipartBody, MultipartBody], capsys: pytest.CaptureFixture[str]
) -> None:
    path, outer, _ = body_file
    assert main(["inspect", "--json", "--content-type", outer.content_type, str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"content_type", "boundary", "parts", "preamble_size", "epilogue_size"}
    assert doc["content_type"] == outer.content_type and doc["boundary"] == "outer-b"
    assert doc["preamble_size"] == 8 and doc["epilogue_size"] == 9
    first, second, third = doc["parts"]
    keys = {"headers", "name", "filename", "content_type", "transfer_encoding", "size", "sha256"}
    assert set(first) == keys and set(second) == keys and set(third) == keys | {"parts"}
    assert first["headers"] == [["Content-Disposition", 'form-data; name="name"']]
    assert first["name"] == "name" and first["filename"] is None and first["content_type"] is None
    assert first["size"] == 5 and first["sha256"] == _sha(b"value")
    assert second["filename"] == "a b.txt" and second["sha256"] == _sha(b"file data")
    assert third["content_type"] == "multipart/mixed"
    kids = third["parts"]
    assert [k["size"] for k in kids] == [10, 16]  # the base64 part is hashed encoded
    assert kids[0]["sha256"] == _sha(b"inner text")
    assert kids[1]["transfer_encoding"] == "base64"


def test_decode_hashes_decoded_bodies(
    body_file: tuple[Path, MultipartBody, MultipartBody], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, _ = body_file
    assert main(["inspect", "--json", "--decode", str(path)]) == 0  # boundary sniffed
    doc = json.loads(capsys.readouterr().out)
    assert doc["content_type"] is None and doc["boundary"] == "outer-b"
    b64 = doc["parts"][2]["parts"][1]
    assert b64["size"] == 10 and b64["sha256"] == _sha(b"\x00\xff" * 5)


def test_tree_output(
    body_file: tuple[Path, MultipartBody, MultipartBody], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, _ = body_file
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "boundary: outer-b" in out and "preamble: 8 bytes" in out and "epilogue: 9 bytes" in out
    assert "├── part 0" in out and "└── part 2" in out
    assert "filename: a b.txt" in out and f"sha256: {_sha(b'inner text')}" in out
    assert "    ├── part 0" in out  # nested parts are indented under their parent


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"--b\r\n\r\nbody without end", 23),
        (b"--b\r\nbad header\r\n\r\nx\r\n--b--", 5),
    ],
)
def test_malformed_exits_1_with_offset(
    tmp_path: Path, data: bytes, offset: int, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"byte offset {offset}" in err


def test_nested_error_offset_is_absolute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (
        b"--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\nbad\r\n\r\n--i--\r\n--o--"
    )
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    assert main(["inspect", str(path)]) == 1
    assert f"byte offset {data.index(b'bad')}" in capsys.readouterr().err


def test_no_boundary_to_sniff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"hello\r\nworld\r\n")
    assert main(["inspect", str(path)]) == 1
    assert "--content-type" in capsys.readouterr().err


def test_missing_file(tmp_path: Path) -> None:
    assert main(["inspect", str(tmp_path / "nope")]) == 2


def test_module_entry_point_reads_stdin(
    body_file: tuple[Path, MultipartBody, MultipartBody],
) -> None:
    path, _, _ = body_file
    proc = subprocess.run(
        [sys.executable, "-m", "mimewire", "inspect", "--json", "-"],
        input=path.read_bytes(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert json.loads(proc.stdout)["boundary"] == "outer-b"


def test_ambiguous_headers_are_shown_as_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b'--b\r\nContent-Disposition: form-data; name="a"; name="b"\r\n\r\nx\r\n--b--\r\n'
    path = tmp_path / "dup.bin"
    path.write_bytes(data)
    assert main(["inspect", "--json", str(path)]) == 0
    [part] = json.loads(capsys.readouterr().out)["parts"]
    assert part["name"] is None and part["size"] == 1
    assert any("duplicate parameter 'name'" in p for p in part["problems"])
    assert main(["inspect", str(path)]) == 0
    assert "problem: Content-Disposition: duplicate parameter 'name'" in capsys.readouterr().out


def test_nested_limits_hold_for_the_whole_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inner = b"".join(b"--i\r\n\r\nx\r\n" for _ in range(400)) + b"--i--\r\n"
    part = b"--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n" + inner + b"\r\n"
    path = tmp_path / "flood.bin"
    path.write_bytes(part * 300 + b"--o--\r\n")  # 120,300 parts, no level over 400
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert "limit max_parts=100000 exceeded" in err and "all nesting levels" in err
