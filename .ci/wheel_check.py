"""Build the wheel and prove it installs and works on the oldest and newest supported Python.

Run by `make wheel-check` and by `.ci/run`. For each of Python 3.10 and 3.13 (found through
pyenv or on PATH) it makes a fresh virtualenv outside the checkout, installs the wheel without
extras (mimewire must work with no dependency at all, and ringfax must say how to get urllib3),
then with the ``fax`` extra, and runs the ``ringfax`` demo against the bundled emulator.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.10", "3.13")

# Runs inside the bare install (no urllib3): mimewire round trip, ringfax import and its hint.
BARE_SMOKE = r"""
import importlib.util, mimewire, ringfax
assert importlib.util.find_spec("urllib3") is None, "urllib3 must not come with the bare wheel"
body = mimewire.MultipartBody([mimewire.Part.field("to", "+16505550100"),
                               mimewire.Part(b"%PDF-1.4 x", name="f", filename="a.pdf")])
parts = list(mimewire.parse(b"".join(body), body.content_type))
assert [(p.name, p.read()) for p in parts] == [("to", b"+16505550100"), ("f", b"%PDF-1.4 x")]
try:
    ringfax.FaxClient("http://127.0.0.1:9", access_token="t")
except ringfax.RingFaxError as exc:
    assert "mimewire[fax]" in str(exc), exc
else:
    raise AssertionError("FaxClient without urllib3 should explain how to install it")
print("bare install ok:", mimewire.__version__)
"""


def run(*cmd: str | os.PathLike[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def find_python(version: str) -> str | None:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    if found:
        return found[-1]
    return shutil.which(f"python{version}")


def build_wheel(out: Path) -> Path:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT)
    (wheel,) = out.glob("mimewire-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(meta_name).decode()
    for required in ("mimewire/py.typed", "ringfax/py.typed", "ringfax/emulator/__init__.py"):
        assert required in names, f"{required} missing from {wheel.name}"
    assert any(n.endswith("licenses/LICENSE") for n in names), "LICENSE missing from the wheel"
    assert not any(n.startswith("tests/") or n.startswith("benchmarks/") for n in names)
    assert "License-Expression: MIT" in meta, "SPDX license expression missing"
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert all("extra ==" in line for line in requires), f"unconditional dependency: {requires}"
    print(f"built {wheel.name}: {len(names)} files, metadata ok")
    return wheel


def check_on(python: str, wheel: Path, work: Path) -> None:
    venv = work / f"venv-{Path(python).name}"
    run(python, "-m", "venv", venv)
    py = venv / "bin" / "python"
    run(py, "-m", "pip", "install", "-q", wheel)
    run(py, "-c", BARE_SMOKE, cwd=work)
    run(py, "-m", "mimewire", "--help", cwd=work, stdout=subprocess.DEVNULL)
    run(py, "-m", "pip", "install", "-q", f"{wheel}[fax]")
    run(venv / "bin" / "ringfax", "--version", cwd=work)
    run(venv / "bin" / "ringfax", "demo", cwd=work)


def main() -> int:
    pythons = {v: find_python(v) for v in PYTHONS}
    missing = [v for v, p in pythons.items() if p is None]
    if missing:
        print(f"wheel-check: no interpreter for Python {', '.join(missing)}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="mimewire-wheel-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        for version, python in pythons.items():
            assert python is not None
            print(f"== Python {version}: {python}", flush=True)
            check_on(python, wheel, work)
    print("wheel-check: ok on Python " + " and ".join(PYTHONS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
