"""ringfax end to end: send one large fax to the local emulator (a sibling process) — wall time
and the client's peak RSS — against the official ``ringcentral`` SDK sending the same fax to the
same emulator. ``python -m benchmarks.ringfax_e2e serve DIR`` runs the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._cases import Case, Lib, Sizes, human_size
from ._common import Unavailable, random_payload

TO = "+16505550123"
LIBS = (
    Lib("ringfax FaxClient.send_fax", "ringfax"),
    Lib("ringcentral SDK (requests)", "peer"),
)


def cases(s: Sizes) -> list[Case]:
    return [
        Case(
            id=f"ringfax-send-{human_size(s.fax)}",
            title=(
                f"Send a {human_size(s.fax)} fax to the local emulator (login + POST; client RSS)"
            ),
            module=__name__,
            unit="MB/s",
            work=s.fax,
            libs=LIBS,
            params={"size": s.fax},
            time_limit=max(s.time_limit, 120.0),
            needs_emulator=True,
            notes=(
                "Each client logs in (JWT grant) and POSTs the same PDF-shaped file as "
                "multipart/form-data to the same emulator, which runs in a separate "
                "process with rate limits off (the wall time includes its parsing and "
                "storing). Peak RSS is the client process's own."
            ),
            inner=1,
            rule=(
                "Timed: one client process logging in and sending the fax over HTTP on "
                "127.0.0.1 until the emulator's answer arrives (building the request "
                "included; the file is read from the page cache). Ratios: same-round pairs "
                "against each peer client, median."
            ),
        )
    ]


@dataclass
class EmulatorProcess:
    proc: subprocess.Popen[str]
    params: dict[str, Any]

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_emulator(tmp: str) -> EmulatorProcess:
    """Start the emulator in a sibling process; wait for its URL."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    data = os.path.join(tmp, "emulator")
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.ringfax_e2e", "serve", data],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("URL "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"emulator did not start (said {line!r})")
    _, url, client_id, secret, jwt = line.split(" ")
    return EmulatorProcess(
        proc, {"url": url, "client_id": client_id, "client_secret": secret, "jwt": jwt}
    )


def serve(data_dir: str) -> None:
    from ringfax.emulator import Emulator, EmulatorConfig

    big = 64 * 1024 * 1024
    config = EmulatorConfig(
        rate_limiting=False,
        max_body_size=max(big * 2, 55 * 1024 * 1024),
        max_attachment_size=big,
        max_message_size=big,
        send_delay=1.0,
    )
    with Emulator(data_dir, config=config) as emu:
        print(f"URL {emu.url} {emu.client_id} {emu.client_secret} {emu.jwt}", flush=True)
        sys.stdin.read()  # until the runner closes our stdin


def fax_file(directory: str, size: int) -> str:
    """A PDF-shaped file of ``size`` bytes (created once per run by the runner)."""
    path = os.path.join(directory, f"fax-{size}.pdf")
    if not os.path.exists(path):
        block = random_payload(1 << 20, seed=11)
        with open(path + ".tmp", "wb") as f:
            f.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
            left = size - 16 - 6
            while left > 0:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
            f.write(b"%%EOF\n")
        os.replace(path + ".tmp", path)
    return path


def _ringfax(params: dict[str, Any], path: str) -> Callable[[], int]:
    try:
        from ringfax import FaxClient
    except ImportError as exc:
        raise Unavailable(f"ringfax: {exc}") from exc

    def op() -> int:
        with FaxClient(
            params["url"],
            client_id=params["client_id"],
            client_secret=params["client_secret"],
            jwt=params["jwt"],
        ) as client:
            fax = client.send_fax([TO], [path])
        if not fax.id:
            raise RuntimeError(f"no message id in {fax!r}")
        return int(params["size"])

    return op


def _sdk(params: dict[str, Any], path: str) -> Callable[[], int]:
    try:
        from ringcentral import SDK
    except ImportError as exc:
        raise Unavailable(f"ringcentral: {exc}") from exc

    def op() -> int:
        sdk = SDK(params["client_id"], params["client_secret"], params["url"])
        platform = sdk.platform()
        platform.login(jwt=params["jwt"])
        builder = sdk.create_multipart_builder()
        builder.set_body({"to": [{"phoneNumber": TO}], "faxResolution": "High"})
        with open(path, "rb") as f:
            builder.add(("fax.pdf", f, "application/pdf"))
            request = builder.request("/restapi/v1.0/account/~/extension/~/fax")
            response = platform.send_request(request)
        if not response.json_dict().get("id"):
            raise RuntimeError(f"no message id in {response.text()[:200]!r}")
        return int(params["size"])

    return op


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Callable[[], int]:
    path = params.get("fax_file") or fax_file(params["dir"], int(params["size"]))
    make = {"ringfax FaxClient.send_fax": _ringfax, "ringcentral SDK (requests)": _sdk}[lib]
    # Warm up (lazy imports, first-connection code paths) with a small fax, so the timed
    # run measures sending, not start-up; a small one keeps the RSS high-water mark low.
    make(params, fax_file(params["dir"], 10_000))()
    return make(params, path)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit("usage: python -m benchmarks.ringfax_e2e serve DATA_DIR")
