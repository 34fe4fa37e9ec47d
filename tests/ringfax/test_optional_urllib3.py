"""urllib3 is an optional extra: ``import ringfax`` works without it, and creating
a client that needs the real transport says how to install it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_without_urllib3(code: str) -> subprocess.CompletedProcess[str]:
    prelude = "import sys\nsys.modules['urllib3'] = None  # makes 'import urllib3' fail\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )


def test_import_and_helpful_error_without_urllib3() -> None:
    result = run_without_urllib3(
        """
        import ringfax
        from ringfax import FaxClient, FunctionTransport, Response, RingFaxError
        try:
            FaxClient("https://platform.example.test", access_token="t")
        except RingFaxError as exc:
            print("ERROR:", exc)
        # a client with its own transport needs no urllib3
        client = FaxClient("https://platform.example.test", access_token="t",
                           transport=FunctionTransport(lambda r: Response(204)))
        client.delete_fax(1)
        print("OK")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR: ringfax needs urllib3: pip install 'mimewire[fax]'" in result.stdout
    assert "OK" in result.stdout


def test_async_client_without_urllib3() -> None:
    result = run_without_urllib3(
        """
        from ringfax import AsyncFaxClient, RingFaxError
        try:
            AsyncFaxClient("https://platform.example.test", access_token="t")
        except RingFaxError as exc:
            print("ERROR:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "mimewire[fax]" in result.stdout
