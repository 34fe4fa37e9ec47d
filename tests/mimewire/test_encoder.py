"""The sans-I/O Encoder: framing bytes, event order, codecs, golden RingCentral examples."""

from __future__ import annotations

import base64
import binascii
import io
import quopri
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import mimewire
from mimewire import (
    Encoder,
    MultipartBody,
    MultipartEnd,
    Part,
    PartData,
    PartEnd,
    PartStart,
    UsageError,
)
from mimewire._state import State

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    import oracle_v01
except ModuleNotFoundError:  # pragma: no cover - run as the `tests` package
    from tests import oracle_v01

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    from strategies import MultipartSpec, bodies, chunkings, multipart_spec
except ModuleNotFoundError:  # pragma: no cover - run as the `tests` package
    from tests.strategies import MultipartSpec, bodies, chunkings, multipart_spec

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "ringcentral.md"


def _encode(encoder: Encoder, events: list[object]) -> bytes:
    return b"".join(encoder.send(e) for e in events)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- framing


def test_framing_exact_bytes() -> None:
    enc = Encoder("b0undary")
    out = _encode(
        enc,
        [
            PartStart([("Content-Disposition", 'form-data; name="a"')]),
            PartData(b"1"),
            PartEnd(),
            PartStart([("Content-Disposition", 'form-data; name="b"')]),
            PartData(b"2\r\n"),
            PartEnd(),
            MultipartEnd(),
        ],
    )
    assert out == (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="a"\r\n\r\n'
        b"1\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="b"\r\n\r\n'
        b"2\r\n\r\n"
        b"--b0undary--\r\n"
    )


def test_preamble_epilogue_and_no_headers() -> None:
    enc = Encoder("xyz", preamble=b"This is a preamble.", epilogue=b"trailing words")
    out = _encode(enc, [PartStart([]), PartData(b"body"), PartEnd(), MultipartEnd()])
    assert out == (b"This is a preamble.\r\n--xyz\r\n\r\nbody\r\n--xyz--\r\ntrailing words")


def test_zero_parts() -> None:
    assert _encode(Encoder("q"), [MultipartEnd()]) == b"--q--\r\n"
    assert _encode(Encoder("q", preamble=b"p"), [MultipartEnd()]) == b"p\r\n--q--\r\n"


def test_generated_boundary_is_fresh_and_valid() -> None:
    a, b = Encoder(), Encoder()
    assert a.boundary != b.boundary
    assert len(a.boundary) >= 32


def test_identity_data_is_not_copied() -> None:
    enc = Encoder("b")
    enc.send(PartStart([("Content-Transfer-Encoding", "binary")]))
    payload = b"x" * 100_000
    assert enc.send(PartData(payload)) is payload


def test_bad_preamble_type() -> None:
    with pytest.raises(UsageError, match="preamble must be bytes, not str"):
        Encoder("b", preamble="text")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- event order


@pytest.mark.parametrize(
    ("prefix", "event", "message"),
    [
        ([], PartData(b"x"), "cannot send PartData while between parts"),
        ([], PartEnd(), "cannot send PartEnd while between parts"),
        ([PartStart([])], PartStart([]), "cannot send PartStart while in a part"),
        ([PartStart([])], MultipartEnd(), "cannot send MultipartEnd while in a part"),
        ([MultipartEnd()], PartStart([]), "cannot send PartStart while done"),
        ([MultipartEnd()], MultipartEnd(), "cannot send MultipartEnd while done"),
    ],
)
def test_misordered_events(prefix: list[object], event: object, message: str) -> None:
    enc = Encoder("b")
    _encode(enc, prefix)
    state = enc.state
    with pytest.raises(UsageError, match=message):
        enc.send(event)  # type: ignore[arg-type]
    assert enc.state is state  # a refused event changes nothing


def test_state_progression() -> None:
    enc = Encoder("b")
    assert enc.state is State.BETWEEN_PARTS
    enc.send(PartStart([]))
    assert enc.state is State.IN_PART
    enc.send(PartEnd())
    enc.send(MultipartEnd())
    assert enc.state is State.DONE


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("X-Test", "a\r\nInjected: 1", "header 'X-Test' value contains CR at index 1"),
        ("X-Test", "a\nb", "header 'X-Test' value contains LF at index 1"),
        ("X-Test", "a\0b", "header 'X-Test' value contains NUL at index 1"),
        ("Bad Name", "v", "header name 'Bad Name' contains SPACE at index 3"),
        ("X:Y", "v", "header name 'X:Y' contains"),
        ("", "v", "header name is empty"),
    ],
)
def test_header_injection_refused(name: str, value: str, message: str) -> None:
    enc = Encoder("b")
    with pytest.raises(UsageError, match=message):
        enc.send(PartStart([(name, value)]))
    assert enc.state is State.BETWEEN_PARTS


def test_unknown_transfer_encoding() -> None:
    with pytest.raises(UsageError, match="unknown Content-Transfer-Encoding 'x-gzip'"):
        Encoder("b").send(PartStart([("Content-Transfer-Encoding", "x-gzip")]))


def test_non_ascii_header_value_is_utf8() -> None:
    out = Encoder("b").send(PartStart([("Content-Disposition", 'form-data; name="résumé"')]))
    assert 'name="résumé"'.encode() in out


# --------------------------------------------------------------------------- codecs


def _part_body(cte: str, chunks: list[bytes]) -> bytes:
    enc = Encoder("b")
    head = enc.send(PartStart([("Content-Transfer-Encoding", cte)]))
    out = b"".join(enc.send(PartData(c)) for c in chunks) + enc.send(PartEnd())
    assert head.endswith(b"\r\n\r\n")
    return out


@given(st.data())
def test_base64_incremental_equals_one_shot(data: st.DataObject) -> None:
    raw = data.draw(bodies(max_size=600))
    chunks = data.draw(chunkings(raw))
    out = _part_body("base64", chunks)
    assert out == _part_body("base64", [raw])
    assert base64.b64decode(out.replace(b"\r\n", b"")) == raw
    lines = out.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert not out.endswith(b"\r\n")
    assert out == binascii.b2a_base64(raw, newline=False) if len(raw) <= 57 else True


@given(st.data())
def test_quoted_printable_incremental_equals_one_shot(data: st.DataObject) -> None:
    raw = data.draw(bodies(max_size=600))
    chunks = data.draw(chunkings(raw))
    out = _part_body("quoted-printable", chunks)
    assert out == _part_body("Quoted-Printable", [raw])
    assert quopri.decodestring(out) == raw
    assert all(len(line) <= 76 for line in out.split(b"\r\n"))


def test_seven_bit_rejects_8bit_bytes() -> None:
    enc = Encoder("b")
    enc.send(PartStart([("Content-Transfer-Encoding", "7bit")]))
    enc.send(PartData(b"plain ascii\r\n"))
    with pytest.raises(UsageError, match=r"0x[eE]9"):
        enc.send(PartData(b"caf\xe9"))


def test_seven_bit_rejects_long_line() -> None:
    enc = Encoder("b")
    enc.send(PartStart([("Content-Transfer-Encoding", "7bit")]))
    with pytest.raises(UsageError, match="998"):
        enc.send(PartData(b"a" * 999))
        enc.send(PartEnd())


# --------------------------------------------------------------------------- vs MultipartBody


def _events_for(body: MultipartBody) -> list[object]:
    events: list[object] = []
    for part in body.parts:
        events.append(PartStart(part.headers_for(body.subtype)))
        raw = part._source
        assert isinstance(raw, (bytes, MultipartBody))
        events.append(PartData(raw.to_bytes() if isinstance(raw, MultipartBody) else raw))
        events.append(PartEnd())
    events.append(MultipartEnd())
    return events


def has_controls(value: str | None) -> bool:
    return value is not None and any((c < " " and c != "\t") or c == "\x7f" for c in value)


def build_or_reject(spec: MultipartSpec) -> MultipartBody:
    """``spec.build()``; a caller-chosen boundary (e.g. ``"="``) can occur in a part's
    *encoded* bytes (quoted-printable ``=0D``), which the encoder refuses on purpose: such
    examples are rejected, not failed."""
    try:
        return spec.build()
    except UsageError as exc:
        assume("occurs in part" not in str(exc))
        raise


def buildable(spec: MultipartSpec) -> bool:
    """False for specs the encoder refuses on purpose: control characters in a name or
    filename of a non-form-data part (RFC 2183 quoted-strings cannot carry them)."""
    for part in spec.parts:
        if isinstance(part.body, MultipartSpec):
            if not buildable(part.body):
                return False
        elif spec.subtype != "form-data" and (
            has_controls(part.name) or has_controls(part.filename)
        ):
            return False
    return True


@given(multipart_spec(max_depth=1).filter(buildable))
def test_encoder_and_multipart_body_agree(spec: MultipartSpec) -> None:
    body = build_or_reject(spec)
    enc = Encoder(body.boundary, preamble=body.preamble, epilogue=body.epilogue)
    assert _encode(enc, _events_for(body)) == body.to_bytes()


# --------------------------------------------------------------------------- golden bytes


def _api_doc() -> str:
    return API_DOC.read_text(encoding="utf-8")


def _golden(section: str) -> bytes:
    """The body of the ```http example in ``section``, with CRLF line ends."""
    text = _api_doc()
    sec = text[text.index(section) :]
    block = sec[sec.index("```http\n") + len("```http\n") :]
    block = block[: block.index("\n```")]
    lines = block.split("\n")
    blank = lines.index("")  # end of the HTTP request headers
    return ("\r\n".join(lines[blank + 1 :]) + "\r\n").encode("utf-8")


GOLDEN_24 = [
    ("coverPageText", "", "8bit"),
    ("coverIndex", "2", "8bit"),
    ("faxResolution", "High", "8bit"),
    ("sendTime", "2030-03-19T08:00:00.000Z", "8bit"),
    ("isoCode", "UK", "8bit"),
    ("to", "18005554567", "8bit"),
    ("to", "18005554568", "8bit"),
    ("attachment", "attachment0", "binary"),
    ("attachment", "attachment1", "binary"),
]


def test_golden_form_data_field_style_section_2_4() -> None:
    expected = _golden("### 2.4 Wire format A")
    parts = [
        Part(
            value,
            name=name,
            filename="",
            headers=[("Content-Transfer-Encoding", cte), ("Content-Type", "text/plain")],
        )
        for name, value, cte in GOLDEN_24
    ]
    body = MultipartBody(parts, boundary="Boundary_14_2952358_1361963763144")
    assert body.to_bytes() == expected
    assert body.content_length == len(expected)
    # The same bytes from the sans-I/O encoder.
    enc = Encoder("Boundary_14_2952358_1361963763144")
    events: list[object] = []
    for name, value, cte in GOLDEN_24:
        events += [
            PartStart(
                [
                    ("Content-Disposition", f'form-data; name="{name}"; filename=""'),
                    ("Content-Transfer-Encoding", cte),
                    ("Content-Type", "text/plain"),
                ]
            ),
            PartData(value.encode()),
            PartEnd(),
        ]
    assert _encode(enc, [*events, MultipartEnd()]) == expected


GOLDEN_26_JSON = (
    b'{"to":[{"phoneNumber":"18005554567"}],\r\n'
    b' "faxResolution":"High",\r\n'
    b' "sendTime":"2013-02-26T09:31:20.882Z"}\r\n'
)


def test_golden_multipart_mixed_section_2_6() -> None:
    expected = _golden("### 2.6 Wire format C")
    body = MultipartBody(
        [
            Part(GOLDEN_26_JSON, content_type="application/json"),
            Part(b"Hello, World!\r\n", filename="fax.txt"),
        ],
        subtype="mixed",
        boundary="Boundary_1_14413901_1361871080888",
    )
    assert body.to_bytes() == expected
    assert body.headers == {
        "Content-Type": "multipart/mixed; boundary=Boundary_1_14413901_1361871080888",
        "Content-Length": str(len(expected)),
    }


# --------------------------------------------------------------------------- vs the old encoder


def _old_mimewire() -> Any:
    """mimewire 0.1 from git history (an independent encoder implementation), whose
    output the planner/renderer must reproduce byte for byte."""
    module = oracle_v01.load()
    if module is None:
        pytest.skip(oracle_v01.why_missing())
    return module


SOURCE_KINDS = ("bytes", "bytearray", "list", "list+length", "iter", "file", "str", "field")


def _source(data: bytes, kind: str) -> tuple[Any, dict[str, Any]]:
    """The body ``data`` as a source of ``kind`` (plus extra Part keywords)."""
    if kind == "bytearray":
        return bytearray(data), {}
    if kind in ("list", "list+length"):
        chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
        return chunks, ({"length": len(data)} if kind == "list+length" else {})
    if kind == "iter":
        return iter([data[:5], data[5:]]), {}
    if kind == "file":
        return io.BytesIO(data), {}
    return data, {}


def _build_with(mw: Any, spec: MultipartSpec, kinds: list[str]) -> Any:
    parts = []
    for i, p in enumerate(spec.parts):
        kind = kinds[i % len(kinds)]
        if isinstance(p.body, MultipartSpec):
            parts.append(mw.Part(_build_with(mw, p.body, kinds), **p.kwargs()))
            continue
        kw = p.kwargs()
        text = None
        if kind in ("str", "field") and kw["charset"] is None:
            try:
                text = p.body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is not None and kind == "field" and p.name is not None:
            plain = all(v is None for k, v in kw.items() if k != "name")
            parts.append(mw.Part.field(p.name, text) if plain else mw.Part(text, **kw))
            continue
        if text is not None:
            parts.append(mw.Part(text, **kw))
            continue
        source, extra = _source(p.body, kind)
        parts.append(mw.Part(source, **kw, **extra))
    return mw.MultipartBody(
        parts,
        subtype=spec.subtype,
        boundary=spec.boundary,
        preamble=spec.preamble,
        epilogue=spec.epilogue,
    )


def _outcome(mw: Any, spec: MultipartSpec, kinds: list[str]) -> tuple[str, Any]:
    try:
        body = _build_with(mw, spec, kinds)
        return "ok", (body.to_bytes(), body.content_length, body.content_type, body.headers)
    except mw.UsageError:
        return "UsageError", None


@given(
    multipart_spec(max_depth=2, explicit_boundary=True),
    st.lists(st.sampled_from(SOURCE_KINDS), min_size=1, max_size=4),
)
def test_same_bytes_as_the_old_encoder(spec: MultipartSpec, kinds: list[str]) -> None:
    """For the same Parts and boundary, the planner's bytes (and length, headers) are those
    of mimewire 0.1's MultipartBody, for every source kind; what it refused, we refuse."""
    old = _old_mimewire()
    assert _outcome(mimewire, spec, kinds) == _outcome(old, spec, kinds)


_FIELD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "a", "x y", 'q"uote', "back\\slash", "cr\rlf\n", "ü", "--bnd", "😀"]),
)


@given(
    st.lists(
        st.tuples(
            st.text(max_size=8).filter(lambda s: "\0" not in s) | st.sampled_from(["a", 'x"y']),
            _FIELD_TEXT,
            st.sampled_from([None, None, None, "f.txt", 'q"f', "ü.pdf"]),
        ),
        max_size=60,
    ),
    st.sampled_from(["bnd", "mw-x", "a b"]),
)
def test_many_fields_same_bytes_as_the_old_encoder(
    fields: list[tuple[str, str, str | None]], boundary: str
) -> None:
    """The batch path for runs of plain fields, and its fallbacks (names needing escapes,
    values holding the delimiter, file parts between runs), byte for byte."""
    old = _old_mimewire()

    def run(mw: Any) -> tuple[str, Any]:
        parts = []
        for name, value, filename in fields:
            if filename is None:
                parts.append(mw.Part.field(name, value))
            else:
                parts.append(mw.Part(value.encode(), name=name, filename=filename))
        try:
            return "ok", mw.MultipartBody(parts, boundary=boundary).to_bytes()
        except mw.UsageError:
            return "UsageError", None

    def encodable(text: str) -> bool:
        try:
            text.encode()
        except UnicodeEncodeError:
            return False
        return True

    new = run(mimewire)
    if all(encodable(n) and encodable(v) for n, v, _ in fields):
        assert new == run(old)
    else:  # lone surrogates: refused when the Part is made
        assert new == ("UsageError", None)


@given(multipart_spec(max_depth=1, explicit_boundary=True).filter(buildable))
def test_encoder_same_bytes_as_the_old_encoder(spec: MultipartSpec) -> None:
    old = _old_mimewire()
    body = build_or_reject(spec)
    events = _events_for(body)
    new_enc = Encoder(body.boundary, preamble=body.preamble, epilogue=body.epilogue)
    old_enc = old.Encoder(body.boundary, preamble=body.preamble, epilogue=body.epilogue)
    old_events = [
        old.PartStart(e.headers)
        if isinstance(e, PartStart)
        else old.PartData(e.data)
        if isinstance(e, PartData)
        else old.PartEnd()
        if isinstance(e, PartEnd)
        else old.MultipartEnd()
        for e in events
    ]
    assert _encode(new_enc, events) == b"".join(old_enc.send(e) for e in old_events)


# --------------------------------------------------------------------------- module layering

ENCODER_MODULES = (
    "_base64codec",
    "_body",
    "_codecs",
    "_encoder",
    "_part",
    "_plan",
    "_qpcodec",
    "_render",
    "_sources",
    "_state",
)


def test_encoder_modules_import_each_other_without_any_cycle() -> None:
    """Every relative import counts here -- in functions and under ``TYPE_CHECKING`` too:
    each encoder module builds only on the ones below it (Part < plan < sources < body)."""
    import ast

    root = Path(mimewire.__file__).parent
    graph: dict[str, set[str]] = {}
    for name in ENCODER_MODULES:
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        graph[name] = {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        } & set(ENCODER_MODULES)

    def below(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, "import cycle: " + " -> ".join((*trail, name))
        for dep in sorted(graph[name]):
            below(dep, (*trail, name))

    for name in ENCODER_MODULES:
        below(name, ())
