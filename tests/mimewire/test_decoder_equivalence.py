"""Differential test: the decoder against mimewire 0.1's decoder (the oracle).

The oracle is kept verbatim as test data (``tests/oracle_v01.py``, ``tests/data/mimewire_v01/``)
and imported under another package name. For random and mutated bodies, fed at many chunkings
through both ``next_event()`` and ``feed()``, the two must agree on the events (consecutive
PartData joined), the part body offsets, the error (type, offset, part) and the
preamble/epilogue sizes -- except where the behaviour changed deliberately; those inputs are
recognised explicitly (see :func:`deliberate_change`) and only checked for the current rule:

* a part with two Content-Disposition, Content-Type or Content-Transfer-Encoding headers is
  rejected (MalformedInput naming the part);
* once the first delimiter line ends with CRLF, a bare-LF delimiter (``LF--boundary`` not
  preceded by CR) is body data (lenient mode; strict mode never accepted it).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mimewire
from mimewire import Limits, MalformedInput, MimeWireError

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    import oracle_v01
except ModuleNotFoundError:  # pragma: no cover - run as the `tests` package
    from tests import oracle_v01

old = oracle_v01.load()


@dataclass
class Run:
    events: list[tuple[Any, ...]] = field(default_factory=list)
    offsets: list[int | None] = field(default_factory=list)
    error: tuple[str, int | None, int | None] | None = None
    sizes: tuple[int, int] | None = None


def _record(run: Run, event: Any, lib: ModuleType) -> None:
    if isinstance(event, lib.PartData):
        if run.events and run.events[-1][0] == "data":
            run.events[-1] = ("data", run.events[-1][1] + event.data)
        else:
            run.events.append(("data", event.data))
    elif isinstance(event, lib.PartStart):
        run.events.append(("start", event.headers))
        if lib is mimewire:
            assert event.index == len(run.offsets)
            run.offsets.append(event.body_offset)
    elif isinstance(event, lib.PartEnd):
        run.events.append(("end",))
    else:
        assert isinstance(event, lib.MultipartEnd)
        run.events.append(("close",))


def run(
    lib: ModuleType, body: bytes, sizes: list[int], *, use_feed: bool = False, **kw: Any
) -> Run:
    """Decode ``body`` cut into pieces of the given sizes (cycled) with ``lib``'s Decoder."""
    out = Run()
    if "limits" in kw and lib is not mimewire:
        kw = {**kw, "limits": lib.Limits(**vars(kw["limits"]))}
    dec = lib.Decoder("bnd", **kw)
    if lib is not mimewire:
        dec._offsets = out.offsets
    chunks = []
    i = k = 0
    while i < len(body):
        n = sizes[k % len(sizes)]
        chunks.append(body[i : i + n])
        i += n
        k += 1
    try:
        for chunk in [*chunks, b""]:
            if use_feed:
                for event in dec.feed(chunk):
                    _record(out, event, lib)
            else:
                dec.receive_data(chunk)
                while (event := dec.next_event()) is not lib.NEED_DATA:
                    _record(out, event, lib)
        dec.close()
        out.sizes = (dec.preamble_size, dec.epilogue_size)
    except lib.MimeWireError as exc:
        out.error = (type(exc).__name__, getattr(exc, "offset", None), getattr(exc, "part", None))
    if out.error is not None:
        # a part cut by an error may have delivered more or less data: keep whole parts only
        while out.events and out.events[-1][0] != "end":
            out.events.pop()
        del out.offsets[sum(e[0] == "start" for e in out.events) :]
    return out


_DUPLICATE = ("content-disposition", "content-type", "content-transfer-encoding")


def _has_duplicate(headers: tuple[tuple[str, str], ...]) -> bool:
    names = [n.lower() for n, _ in headers]
    return any(names.count(n) > 1 for n in _DUPLICATE)


_FIRST = re.compile(rb"(?:\A|\n)--bnd[ \t]*(\r\n|\n|--)")
_BARE_LF = re.compile(rb"(?<!\r)\n--bnd")


def deliberate_change(body: bytes, ref: Run, strict: bool) -> str | None:
    """Why the new decoder may differ from the oracle on ``body`` (None: it must not).

    "bare-lf" (the parts themselves may differ: nothing is compared) wins over
    "duplicate" (an error may replace the old outcome)."""
    if not strict:
        first = _FIRST.search(body)
        if first is not None and first.group(1) == b"\r\n" and _BARE_LF.search(body, first.end()):
            return "bare-lf"
    if any(e[0] == "start" and _has_duplicate(e[1]) for e in ref.events):
        return "duplicate"
    if ref.error is not None and _DUPLICATE_RE.search(body):
        return "duplicate"  # the old decoder failed later, or in a part it never finished
    return None


_DUPLICATE_RE = re.compile(
    rb"(?is)(content-(?:disposition|type|transfer-encoding))[ \t]*:.*?\n\1[ \t]*:"
)


def check(body: bytes, sizes: list[int], strict: bool, **kw: Any) -> None:
    whole = run(old, body, [len(body) or 1], strict=strict, **kw)  # type: ignore[arg-type]
    reason = deliberate_change(body, whole, strict)
    for cut in ([len(body) or 1], sizes, [1]):
        ref = run(old, body, cut, strict=strict, **kw)  # type: ignore[arg-type]
        for use_feed in (False, True):
            got = run(mimewire, body, cut, use_feed=use_feed, strict=strict, **kw)
            if reason is None:
                assert got == ref, (cut, use_feed, body)
            elif reason == "duplicate" and got.error not in (None, ref.error):
                assert got.error is not None and got.error[0] == "MalformedInput", got.error
        if len(body) > 400:
            break


# --------------------------------------------------------------------------- inputs

HEADERS = [
    b'Content-Disposition: form-data; name="a"',
    b'Content-Disposition: form-data; name="f"; filename="x.txt"',
    b"Content-Type: text/plain",
    b"content-type: application/octet-stream",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"X-Other: 1",
    b"X-Folded: a\r\n b",
    b"A : spaced",
    b"Bad Name: x",
    b"NoColon",
    b"X-Caf\xc3\xa9: v\xe9",
]
BODY_ATOMS = [
    b"x",
    b"hello",
    b"\r",
    b"\n",
    b"\r\n",
    b"-",
    b"--",
    b"--bnd",
    b"\r\n--bn",
    b"=",
    b" ",
    b"\t",
    b"aGVsbG8=",
    b"=3D",
    b"\r\n--bnd--",
    b"\n--bnd",
    b"\r\n--bndX",
    b"\x00",
]
DELIMS = [b"\r\n--bnd\r\n", b"\r\n--bnd \t\r\n", b"\n--bnd\n", b"\r\n--bnd\n", b"\n--bnd\r\n"]
CLOSES = [
    b"\r\n--bnd--",
    b"\r\n--bnd--\r\n",
    b"\r\n--bnd--\r\nepilogue",
    b"\n--bnd--\n",
    b"\r\n--bnd-- x",
    b"",
]


def body_strategy() -> st.SearchStrategy[bytes]:
    part = st.tuples(
        st.lists(st.sampled_from(HEADERS), max_size=3),
        st.sampled_from([b"\r\n", b"\n"]),
        st.lists(st.sampled_from(BODY_ATOMS), max_size=8),
    )

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        pre = draw(st.sampled_from([b"", b"preamble\r\n", b"pre\n", b"x--bnd\r\n"]))
        lf_framing = draw(st.booleans())
        out = pre + (b"--bnd\n" if lf_framing else b"--bnd\r\n")
        parts = draw(st.lists(part, min_size=1, max_size=4))
        for k, (headers, eol, atoms) in enumerate(parts):
            if k:
                out += draw(st.sampled_from(DELIMS))
            out += b"".join(h + eol for h in headers) + eol + b"".join(atoms)
        out += draw(st.sampled_from(CLOSES))
        return out

    return build()


def mutate(body: bytes, rng: random.Random) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(4)
        at = rng.randint(0, len(data))
        if op == 0 and data:
            del data[at : at + rng.randint(1, 4)]
        elif op == 1:
            data[at:at] = rng.choice([b"\r", b"\n", b"-", b"--bnd", b"\r\n", b" ", b":", b"\x00"])
        elif op == 2 and at < len(data):
            data[at] = rng.randrange(256)
        else:
            data = data[:at]
    return bytes(data)


LIMITS = [
    None,
    Limits(max_header_line=12, max_header_bytes=40, max_headers=2),
    Limits(max_parts=2, max_part_size=6, max_preamble=5, max_epilogue=3),
    Limits(max_total_size=60),
]


@given(
    body=body_strategy(),
    seed=st.integers(0, 1 << 30),
    strict=st.booleans(),
    lim=st.sampled_from(LIMITS),
    decode=st.booleans(),
)
@settings(max_examples=300)
def test_same_as_the_old_decoder(
    body: bytes, seed: int, strict: bool, lim: Limits | None, decode: bool
) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 9) for _ in range(5)]
    kw: dict[str, Any] = {"decode_transfer": decode}
    if lim is not None:
        kw["limits"] = lim
    check(body, sizes, strict, **kw)
    check(mutate(body, rng), sizes, strict, **kw)


@pytest.mark.slow
@given(
    body=body_strategy(),
    seed=st.integers(0, 1 << 30),
    strict=st.booleans(),
    lim=st.sampled_from(LIMITS),
)
@settings(max_examples=400)
def test_same_as_the_old_decoder_thorough(
    body: bytes, seed: int, strict: bool, lim: Limits | None
) -> None:
    rng = random.Random(seed)
    kw: dict[str, Any] = {} if lim is None else {"limits": lim}
    for _ in range(4):
        sizes = [rng.randint(1, 40) for _ in range(7)]
        check(mutate(body, rng), sizes, strict, **kw)
    for k in range(len(body) + 1):  # every two-piece split
        check(body, [k or 1, len(body)], strict, **kw)


def test_large_bodies_at_many_chunkings() -> None:
    """Big parts (held-back tails, near misses across 64 KiB chunks) agree too."""
    rng = random.Random(7)
    atoms = [b"a" * 1000, b"\r\n--bn", b"\r", b"\r\n", b"\n--bnd", b"\r\n--bndX", b"z" * 4093]
    for _ in range(6):
        parts = [b"".join(rng.choice(atoms) for _ in range(rng.randint(0, 60))) for _ in range(3)]
        body = (
            b"--bnd\r\nA: 1\r\n\r\n" + b"\r\n--bnd\r\nB: 2\r\n\r\n".join(parts) + b"\r\n--bnd--\r\n"
        )
        for sizes in ([65536], [4096, 1, 8191], [len(body)]):
            for strict in (False, True):
                ref = run(old, body, [len(body)], strict=strict)  # type: ignore[arg-type]
                if deliberate_change(body, ref, strict) is not None:
                    continue
                for use_feed in (False, True):
                    got = run(mimewire, body, sizes, use_feed=use_feed, strict=strict)
                    assert got == ref, (sizes, use_feed, strict)


def test_the_deliberate_changes_are_recognised() -> None:
    dup = b"--bnd\r\nContent-Type: a\r\ncontent-type: b\r\n\r\nx\r\n--bnd--"
    ref = run(old, dup, [len(dup)])  # type: ignore[arg-type]
    assert deliberate_change(dup, ref, False) == "duplicate"
    got = run(mimewire, dup, [len(dup)])
    assert got.error is not None and got.error[0] == MalformedInput.__name__
    lf = b"--bnd\r\n\r\nx\n--bnd\r\n\r\ny\r\n--bnd--"
    assert deliberate_change(lf, run(old, lf, [len(lf)]), False) == "bare-lf"  # type: ignore[arg-type]
    assert issubclass(MalformedInput, MimeWireError)
