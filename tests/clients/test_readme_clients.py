"""The README's client examples that need a server (marked ``<!-- no-test -->`` there), taken
from the README text and run against local servers: each block's ``endpoint = "..."`` line is
pointed at 127.0.0.1. The section's other blocks run in tests/test_readme.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.clients._servers import (
    Camera,
    LargeAnswer,
    batch_app,
    block,
    large_answer_app,
    ranges_app,
    serve,
)

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parent.parent.parent
SECTION = "## mimewire: multipart responses, batch, related and byte ranges"
_BLOCK = re.compile(r"<!-- no-test -->\n```python\n(.*?)```", re.S)
_ENDPOINT = re.compile(r'^endpoint = "[^"]*"$', re.M)


def _section_blocks() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    blocks = {}
    for match in _BLOCK.finditer(text, start, end):
        code = match.group(1)
        found = _ENDPOINT.search(code)
        assert found is not None, f"README block without an endpoint line:\n{code}"
        blocks[found.group(0)] = code
    return blocks


BLOCKS = _section_blocks()


def _block(endpoint_host: str) -> str:
    (code,) = [code for line, code in BLOCKS.items() if endpoint_host in line]
    return code


def _run(code: str, url: str) -> None:
    code = _ENDPOINT.sub(f'endpoint = "{url}"', code)
    exec(compile(code, "README.md (clients)", "exec"), {"__name__": "readme_clients"})


def test_every_server_block_is_covered() -> None:
    hosts = ["files.example.com/export", "tasks.googleapis.com", "big.iso", "camera.local"]
    assert sorted(BLOCKS) == sorted(line for line in BLOCKS if any(h in line for h in hosts))
    assert len(BLOCKS) == len(hosts)


def test_readme_response_example(capsys: pytest.CaptureFixture[str]) -> None:
    answer = LargeAnswer(parts=3, mib_per_part=2)
    with serve(large_answer_app(answer)) as base:
        _run(_block("files.example.com/export"), base + "/export")
    lines = capsys.readouterr().out.split()
    assert lines == [x for i, d in enumerate(answer.expected) for x in (f"part{i}.bin", d)]


def test_readme_batch_example(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(batch_app) as base:
        _run(_block("tasks.googleapis.com"), base + "/batch/tasks/v1")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        [f"item{i}@tasks.example", "200"] for i in range(3)
    ]


def test_readme_byteranges_example(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = block(3)[:100_000]
    monkeypatch.chdir(tmp_path)
    with serve(ranges_app(resource)) as base:
        _run(_block("big.iso"), base + "/big.iso")
    assert capsys.readouterr().out.strip() == "((0, 1023), (95904, 99999)) 100000 False"
    copy = (tmp_path / "big.iso.part").read_bytes()
    assert copy[:1024] == resource[:1024] and copy[-4096:] == resource[-4096:]


def test_readme_camera_example(capsys: pytest.CaptureFixture[str]) -> None:
    camera = Camera(interval=0.002, frame_size=4096)
    with serve(camera.app) as base:
        _run(_block("camera.local"), base + "/video.mjpg")
        assert camera.finished.wait(20), "the camera kept sending after the example stopped"
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{n} image/jpeg 4096" for n in range(100)]
