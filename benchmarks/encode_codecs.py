"""Encode base64 and quoted-printable parts vs one-shot ``binascii`` on the same bytes."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ._cases import Case, Lib, Sizes, human_size
from ._common import random_payload

Op = Callable[[], int]
B64 = "baseline: binascii.b2a_base64 one-shot"
QP = "baseline: binascii.b2a_qp one-shot"

LIBS = (
    Lib(B64, "baseline"),
    Lib("mimewire base64 part", "mimewire", B64),
    Lib("stdlib base64.encodebytes (76-col)", "peer", B64),
    Lib("stdlib email base64 part", "peer", B64),
    Lib(QP, "baseline"),
    Lib("mimewire quoted-printable part", "mimewire", QP),
    Lib("stdlib quopri.encodestring", "peer", QP),
)


def cases(s: Sizes) -> list[Case]:
    return [
        Case(
            id="encode-codecs",
            title=(
                f"Transfer-encode {human_size(s.codec_size)}: base64 (random bytes), "
                "quoted-printable (text)"
            ),
            module=__name__,
            unit="MB/s",
            work=s.codec_size,
            libs=LIBS,
            params={"size": s.codec_size},
            notes=(
                "mimewire is timed as a whole multipart/mixed body holding one in-memory part "
                "with that Content-Transfer-Encoding (building and iterating it); binascii "
                "encodes in one call without line breaks (base64) or in binary mode (QP)."
            ),
            time_limit=s.time_limit,
            rule=(
                "Timed: building and iterating the body (mimewire, email) or one encode call "
                "(binascii, base64, quopri) over the same in-memory bytes; no file I/O. "
                "Ratios: same-round pairs against the one-shot binascii call of the same "
                "encoding, median."
            ),
        )
    ]


def text_payload(size: int) -> bytes:
    """Text-like lines (CRLF) with ~2% 8-bit bytes and some '=' signs (a 256 KiB block,
    repeated)."""
    rng = random.Random(3)
    words = [b"lorem", b"ipsum", b"dolor", b"sit", b"amet=", b"caf\xc3\xa9", b"na\xc3\xafve", b"x"]
    out = bytearray()
    line = 0
    block = min(size, 256 * 1024)
    while len(out) < block:
        w = rng.choice(words)
        out += w
        line += len(w)
        if line > rng.randint(40, 120):
            out += b"\r\n"
            line = 0
        else:
            out += b" "
            line += 1
    unit = bytes(out[:block])
    return (unit * (size // block + 1))[:size]


def _mimewire(data: bytes, cte: str) -> Op:
    try:
        from mimewire import MultipartBody, Part
    except ImportError as exc:
        from ._common import Unavailable

        raise Unavailable(f"mimewire: {exc}") from exc

    def op() -> int:
        body = MultipartBody(
            [Part(data, content_type="application/octet-stream", transfer_encoding=cte)],
            subtype="mixed",
        )
        n = 0
        for chunk in body:
            n += len(chunk)
        return n

    return op


def _email_b64(data: bytes) -> Op:
    from email.mime.application import MIMEApplication

    def op() -> int:
        part = MIMEApplication(data)
        return len(part.get_payload())

    return op


def prepare(lib: str, variant: str, params: dict[str, Any]) -> Op:
    import base64
    import binascii
    import quopri

    size = int(params["size"])
    if lib in (B64, "mimewire base64 part", "stdlib base64.encodebytes (76-col)") or (
        lib == "stdlib email base64 part"
    ):
        data = random_payload(size, seed=5)
    else:
        data = text_payload(size)
    ops: dict[str, Callable[[], Op]] = {
        B64: lambda: lambda: len(binascii.b2a_base64(data, newline=False)),
        "mimewire base64 part": lambda: _mimewire(data, "base64"),
        "stdlib base64.encodebytes (76-col)": lambda: lambda: len(base64.encodebytes(data)),
        "stdlib email base64 part": lambda: _email_b64(data),
        QP: lambda: lambda: len(binascii.b2a_qp(data, istext=False)),
        "mimewire quoted-printable part": lambda: _mimewire(data, "quoted-printable"),
        "stdlib quopri.encodestring": lambda: lambda: len(quopri.encodestring(data)),
    }
    inner = ops[lib]()

    def op() -> int:
        n = inner()
        if n < size:
            raise RuntimeError(f"{lib} produced {n} bytes for {size} input bytes")
        return n

    return op
