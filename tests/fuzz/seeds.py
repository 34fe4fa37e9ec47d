"""Seed corpora for the fuzz targets, generated from the project's own bodies.

* decoder: bodies the mimewire encoder produces (every subtype, transfer encoding,
  ``filename*``, empty parts, nesting), hand-written edge cases from the decoder's semantics
  table (LF-only, padding, preamble/epilogue, folding, near-miss delimiters, zero parts,
  truncation), the bodies of the decoder's edge-case test table
  (``tests/mimewire/test_decoder_cases.py``) and every captured body under ``tests/data``
  (boundaries rewritten to the fuzz boundary).
* headers: the header values the encoder renders plus RFC 2231/8187/WHATWG forms.
* codecs: binary and text samples, base64 and quoted-printable encodings of them.
"""

from __future__ import annotations

import base64
import hashlib
import quopri
import re
from pathlib import Path

from mimewire import MultipartBody, Part

from .targets import FUZZ_BOUNDARY

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
B = FUZZ_BOUNDARY.encode()
D = b"--" + B


def _encoded(parts: list[Part], subtype: str = "mixed", **kw: object) -> tuple[str, bytes]:
    body = MultipartBody(parts, subtype=subtype, boundary=FUZZ_BOUNDARY, **kw)  # type: ignore[arg-type]
    return body.headers["Content-Type"], b"".join(body)


def valid_bodies() -> list[tuple[str, bytes]]:
    """(Content-Type, body) of bodies the encoder builds: each must decode without error."""
    binary = bytes(range(256))
    tricky = b"\r\n--" + B[:-1] + b"\r\n-- \r\n=\r\n" + B
    inner = MultipartBody(
        [Part(b"inner text", content_type="text/plain"), Part(binary, filename="i.bin")],
        subtype="mixed",
        boundary="fuzzInner",
    )
    seeds = [
        _encoded([Part.field("a", "1"), Part.field("b", "two")], "form-data"),
        _encoded(
            [
                Part.field("ünïcode", "välue ✓"),
                Part.file("f", binary, filename='rép ort".pdf', content_type="application/pdf"),
                Part.field("empty", ""),
                Part.file("e", b"", filename=""),
            ],
            "form-data",
        ),
        _encoded([Part(tricky, name="t"), Part(b"\r\n", name="crlf")], "form-data"),
        _encoded([Part(binary, transfer_encoding="base64", content_type="image/png")]),
        _encoded([Part(b"=3D caf\xc3\xa9 \r\nline\r\n" * 3, transfer_encoding="quoted-printable")]),
        _encoded([Part(b"plain seven bit\r\n", transfer_encoding="7bit")]),
        _encoded(
            [
                Part(
                    b"%PDF-1.4",
                    filename="€ rates.pdf",
                    disposition="attachment",
                    filename_star=True,
                )
            ]
        ),
        _encoded(
            [Part(b'{"to":[{"phoneNumber":"+16505550100"}]}', content_type="application/json")]
        ),
        _encoded([Part(inner), Part(b"after")]),
        _encoded([Part(b"x")], preamble=b"preamble line\r\n", epilogue=b"epilogue\r\n"),
    ]
    return seeds


def _encoder_bodies() -> list[bytes]:
    return [data for _, data in valid_bodies()] + [_encoded([], "mixed")[1]]


def _hand_written() -> list[bytes]:
    h = b'Content-Disposition: form-data; name="a"\r\n'
    return [
        D + b"\r\n" + h + b"\r\nv\r\n" + D + b"--\r\n",
        D + b" \t \r\n" + h + b"\r\nv\r\n" + D + b"--  \r\nepilogue",
        b"preamble\r\n" + D + b"\r\n" + h + b"\r\nv\r\n" + D + b"--",
        D + b"\n" + h.replace(b"\r\n", b"\n") + b"\nv\n" + D + b"--\n",
        D + b'\r\nContent-Disposition: form-data;\r\n name="folded"\r\n\r\nv\r\n' + D + b"--\r\n",
        D + b"\r\n" + h + b"\r\n\r\n" + D + b"X\r\n--" + B + b"-\r\n" + D + b"--\r\n",
        D + b"--\r\n",
        D + b"\r\n\r\n\r\n" + D + b"--\r\n",
        D + b"\r\n" + h + b"\r\nv\r\n" + D,
        D + b"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\nAwQF\r\n=\r\n" + D + b"--\r\n",
        D
        + b"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=\r\nb=3D=ZZ=\r\n"
        + D
        + b"--",
        D
        + b"\r\nContent-Disposition: attachment; filename*0*=UTF-8''%E2%82; filename*1*=%AC;"
        + b' filename="x"\r\n\r\nv\r\n'
        + D
        + b"--\r\n",
        D
        + b"\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\r\nleaf\r\n--in--\r\n"
        + b"\r\n"
        + D
        + b"--\r\n",
    ]


def _captured() -> list[bytes]:
    out = []
    if not DATA_DIR.is_dir():
        return out
    for path in sorted(DATA_DIR.rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".md") or path.stat().st_size > 256 * 1024:
            continue
        raw = path.read_bytes()
        m = re.match(rb"(?:[^\r\n]*\r?\n)*?--([0-9A-Za-z'()+_,\-./:=?]{1,70})[ \t]*\r?\n", raw)
        if not m:
            continue
        out.append(raw.replace(b"--" + m.group(1), D))
    return out


def _project_cases() -> list[bytes]:
    """Bodies of the decoder's own edge-case table (tests/mimewire/test_decoder_cases.py),
    boundary rewritten to the fuzz boundary; empty if that module is not importable."""
    import importlib
    import sys

    here = str(DATA_DIR.parent / "mimewire")  # the table imports its helpers top-level
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        table = importlib.import_module("tests.mimewire.test_decoder_cases")
    except Exception:  # the table is another helper's file: use it when it is there
        return []
    finally:
        if added:
            sys.path.remove(here)
    out = []
    for case in [*getattr(table, "CASES", []), *getattr(table, "VALID", [])]:
        body = getattr(case, "body", case)
        boundary = getattr(case, "boundary", "b")
        if isinstance(body, bytes):
            out.append(body.replace(b"--" + boundary.encode(), D))
    return out


def decoder_seeds() -> list[bytes]:
    return _encoder_bodies() + _hand_written() + _captured() + _project_cases()


def header_seeds() -> list[bytes]:
    values = [
        'form-data; name="field"',
        'form-data; name="f"; filename="a b.txt"',
        'form-data; name="q%22uote"; filename="line%0D%0Abreak.txt"',
        "attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf; filename=\"EUR rates.pdf\"",
        "attachment; filename*0*=UTF-8''%E2%82; filename*1*=%AC; filename*2=x",
        'multipart/form-data; boundary="quoted boundary"',
        "multipart/mixed;boundary=Boundary_14_2952358_1361963763144",
        'text/plain; charset="utf-8"; format=flowed',
        'inline; filename="back\\\\slash \\"q\\".txt"',
        "application/json;charset=UTF-8",
        "name\x1fvalue\x1frest",
        "X-Custom\x1fvalue with spaces",
    ]
    return [v.encode("utf-8") for v in values] + [b"\xff\xfe latin-1 \xe9"]


def codec_seeds() -> list[bytes]:
    samples = [
        b"",
        b"hello world",
        bytes(range(256)),
        b"line one\r\nline two\r\n" * 5,
        b"trailing space \r\ntab\t\r\n",
        b"=" * 80,
        b"x" * 200,
        "café ✓\n".encode(),
    ]
    out = list(samples)
    for s in samples:
        out.append(base64.encodebytes(s).replace(b"\n", b"\r\n"))
        out.append(quopri.encodestring(s))
    out.append(b"AAEC\r\nAw=\r\n==")
    out.append(b"soft=\r\nbreak=3D=ZZ=")
    return out


SEEDS = {"decoder": decoder_seeds, "headers": header_seeds, "codecs": codec_seeds}


def write_corpus(target: str, directory: Path) -> int:
    """Write the seeds of ``target`` into ``directory`` (content-addressed names)."""
    directory.mkdir(parents=True, exist_ok=True)
    seeds = SEEDS[target]()
    for seed in seeds:
        (directory / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)
    return len(seeds)
