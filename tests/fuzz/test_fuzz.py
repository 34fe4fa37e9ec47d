"""pytest wrapper for the fuzz targets.

* every seed passes every oracle (fast, always);
* valid bodies -- the encoder-built seeds and bodies drawn from ``tests/strategies.py`` --
  decode without any MimeWireError, to exactly the part bodies that were encoded;
* hypothesis drives each target with inputs mutated from the seeds (bounded by the
  profile in tests/conftest.py);
* decoder memory stays bounded on 2 MiB adversarial streams (tracemalloc);
* atheris runs each target for ``MIMEWIRE_FUZZ_SECONDS`` (default 20) in a subprocess via
  ``python -m tests.fuzz.run``; any crash fails the test (skipped when atheris is not
  installed -- the hypothesis tests above still run).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from mimewire import MultipartBody, Part, UsageError

from .seeds import SEEDS, valid_bodies
from .targets import (
    DEFAULT,
    FUZZ_BOUNDARY,
    TARGETS,
    TIGHT,
    FuzzFailure,
    check_decoder_memory,
    check_valid_body,
    guarded,
    memory_bound,
)

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    from strategies import MultipartSpec, multipart_spec
except ModuleNotFoundError:  # pragma: no cover - run as the `tests` package
    from tests.strategies import MultipartSpec, multipart_spec

ROOT = Path(__file__).resolve().parent.parent.parent
TOKENS = [b"\r\n", b"\n", b"\r", b"--", b"--" + FUZZ_BOUNDARY.encode(), b"=", b";", b'"', b"\x00"]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_seed_corpus_passes(target: str) -> None:
    seeds = SEEDS[target]()
    assert len(seeds) >= 8
    fn = guarded(TARGETS[target])
    for seed in seeds:
        fn(seed)


def test_valid_seed_bodies_decode_without_error() -> None:
    bodies = valid_bodies()
    assert len(bodies) >= 8
    for content_type, data in bodies:
        check_valid_body(data, content_type)


def test_a_refused_valid_body_is_a_failure() -> None:
    """The valid-body target reports what the guarded one swallows."""
    content_type, data = valid_bodies()[0]
    truncated = data[: data.rindex(b"--" + FUZZ_BOUNDARY.encode())]
    guarded(TARGETS["decoder"])(truncated)  # arbitrary input: an error is allowed
    with pytest.raises(FuzzFailure, match="valid body refused"):
        check_valid_body(truncated, content_type)
    with pytest.raises(FuzzFailure, match="differ from the encoded ones"):
        check_valid_body(data, content_type, expected=[b"not what was sent"])


@given(multipart_spec(max_depth=1))
def test_generated_valid_bodies_decode_to_what_was_encoded(spec: MultipartSpec) -> None:
    parts, expected = [], []
    try:
        for p in spec.parts:
            source = p.body.build() if isinstance(p.body, MultipartSpec) else p.body
            expected.append(source if isinstance(source, bytes) else b"".join(source))
            parts.append(Part(source, **p.kwargs()))
        body = MultipartBody(
            parts,
            subtype=spec.subtype,
            boundary=spec.boundary,
            preamble=spec.preamble,
            epilogue=spec.epilogue,
        )
        data = b"".join(body)
    except UsageError:
        reject()  # the encoder refuses the spec (e.g. a header it cannot send)
    check_valid_body(data, body.headers["Content-Type"], expected=expected)


@st.composite
def mutated(draw: st.DrawFn, target: str) -> bytes:
    """A seed of ``target`` with a few boundary-aware mutations."""
    seeds = SEEDS[target]()
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 4))
        if op == 0:
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == 1:
            del data[pos : pos + draw(st.integers(1, 20))]
        elif op == 2 and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == 3:
            data[pos:pos] = draw(st.binary(max_size=40))
        else:
            data = data[:pos]
    return bytes(data)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_hypothesis_mutations(target: str) -> None:
    fn = guarded(TARGETS[target])

    @given(st.one_of(mutated(target), st.binary(max_size=300)))
    def run(data: bytes) -> None:
        fn(data)

    run()


@pytest.mark.parametrize("limits", [DEFAULT, TIGHT], ids=["default-limits", "tight-limits"])
def test_decoder_memory_is_bounded(limits: object) -> None:
    """Streaming 2 MiB built from each seed (and from floods) keeps the tracemalloc peak
    under a bound derived from the limits alone."""
    d = b"--" + FUZZ_BOUNDARY.encode()
    floods = [
        b"\r\n",
        b"X-A: b\r\n",
        b"\r\n" + d[:-1],
        d + b"\r\n\r\n\r\n",
        b"A" * 1000,
        d + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + b"x" * 5000 + b"\r\n",
    ]
    peaks = []
    for data in SEEDS["decoder"]() + floods:
        peaks.append(check_decoder_memory(data, limits=limits))  # type: ignore[arg-type]
    assert max(peaks) <= memory_bound(limits)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_atheris(target: str, tmp_path: Path) -> None:
    seconds = int(os.environ.get("MIMEWIRE_FUZZ_SECONDS", "20"))
    out = tmp_path / "fuzz.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.run",
            "--seconds",
            str(seconds),
            "--target",
            target,
            "--workdir",
            str(tmp_path / "work"),
            "--no-coverage",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 180,
        check=False,
    )
    print(proc.stdout)
    [res] = json.loads(out.read_text())
    crashes = {p: Path(p).read_bytes()[:500] for p in res["crashes"]}
    assert proc.returncode == 0 and not crashes, (
        f"{target}: crashes {crashes!r}\n{res.get('log_tail', '')}\n{proc.stderr[-3000:]}"
    )
    assert res["executions"] > 100
