"""The README's broadcast example runs against the emulator and sends every recipient once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import number

from ringfax.emulator import Emulator
from ringfax.emulator._samples import make_pdf

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Broadcast: one document to many numbers", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def test_readme_broadcast_example(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pricelist.pdf").write_bytes(make_pdf(["prices"]))
    numbers = [number(i) for i in range(5)]
    (tmp_path / "customers.csv").write_text("number\n" + "\n".join(numbers) + "\n")
    for key, value in {
        "RC_SERVER_URL": emulator.url,
        "RC_APP_CLIENT_ID": emulator.client_id,
        "RC_APP_CLIENT_SECRET": emulator.client_secret,
        "RC_USER_JWT": emulator.jwt,
    }.items():
        monkeypatch.setenv(key, value)
    code = readme_example().replace(
        'Outbox("outbox.db", clients=[client])',
        ('Outbox("outbox.db", clients=[client], settings=FAST)'),
    )
    assert "settings=FAST" in code
    from ringfax.outbox import Settings

    fast = Settings(poll_interval=0.2, retry_delay=0.1, reconcile_grace=0.2)
    exec(compile(code, "README.md (broadcast)", "exec"), {"__name__": "readme", "FAST": fast})
    sent = sorted(r.phone_number for f in emulator.faxes() for r in f.recipients)
    assert sent == numbers
    assert emulator.rate_limited_by_group() == {}
