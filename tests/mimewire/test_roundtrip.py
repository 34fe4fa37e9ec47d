"""The central property: decode(encode(parts)) == parts, for every chunking; plus
incremental == one-shot and garbage in -> only MimeWireError out."""

from __future__ import annotations

from _decoding import Outcome, decode, decode_chunks
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from mimewire import MalformedInput, MultipartBody, Part, UsageError, parse
from mimewire._headers import boundary_from_content_type

try:  # tests/ is on sys.path (rootdir conftest, no tests/__init__.py)
    from strategies import MultipartSpec, chunkings, multipart_spec
except ModuleNotFoundError:  # pragma: no cover
    from tests.strategies import MultipartSpec, chunkings, multipart_spec


def _encode(spec: MultipartSpec) -> tuple[MultipartBody, list[Part], bytes]:
    try:
        parts = [p.build() for p in spec.parts]
        body = MultipartBody(
            parts,
            subtype=spec.subtype,
            boundary=spec.boundary,
            preamble=spec.preamble,
            epilogue=spec.epilogue,
        )
        raw = b"".join(body)
    except UsageError:  # the encoder refuses some drawn names (e.g. control characters)
        reject()
    return body, parts, raw


def _check_parts(spec: MultipartSpec, parts: list[Part], out: Outcome) -> None:
    assert out.error is None, out.error
    assert out.finished
    assert len(out.parts) == len(spec.parts)
    for pspec, part, (headers, data) in zip(spec.parts, parts, out.parts, strict=True):
        expected = tuple((k, v.strip(" \t")) for k, v in part.headers_for(spec.subtype))
        assert headers == expected
        if isinstance(pspec.body, MultipartSpec):
            ctype = dict(headers)["Content-Type"]
            inner = decode(data, boundary_from_content_type(ctype))
            nested = part._source  # the MultipartBody the part was built with
            assert isinstance(nested, MultipartBody)
            _check_parts(pspec.body, list(nested.parts), inner)
        else:
            assert data == pspec.body
    assert out.preamble_size == len(spec.preamble or b"")
    assert out.epilogue_size == len(spec.epilogue or b"")


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=multipart_spec(max_depth=2), data=st.data())
def test_decode_encode_roundtrip_every_chunking(spec: MultipartSpec, data: st.DataObject) -> None:
    body, parts, raw = _encode(spec)
    whole = decode(raw, body.boundary)
    if not spec.parts:
        # `--b--` alone: zero parts when lenient, an error when strict (RFC 2046 needs one)
        assert whole.parts == [] and whole.finished
        strict = decode(raw, body.boundary, strict=True)
        assert strict.error is not None and strict.error[0] is MalformedInput
        return
    _check_parts(spec, parts, whole)
    assert decode(raw, body.boundary, strict=True) == whole
    chunks = [c for c in data.draw(chunkings(raw)) if c]
    assert decode_chunks(body.boundary, chunks) == whole
    assert decode_chunks(body.boundary, chunks, use_feed=True) == whole
    if len(raw) <= 4096:
        bytewise = decode_chunks(body.boundary, [raw[i : i + 1] for i in range(len(raw))])
        assert bytewise == whole


@given(spec=multipart_spec(max_depth=2, max_parts=3))
def test_parse_nested_matches_spec(spec: MultipartSpec) -> None:
    body, _, raw = _encode(spec)
    # form-data specs carry base64/QP parts, which parse() leaves encoded unless asked
    got = list(
        parse(raw, body.content_type, nested=True, spool_threshold=256, decode_transfer=True)
    )

    def compare(pspecs: list, parsed: list) -> None:  # type: ignore[type-arg]
        assert len(pspecs) == len(parsed)
        for pspec, part in zip(pspecs, parsed, strict=True):
            if isinstance(pspec.body, MultipartSpec):
                assert part.parts is not None
                compare(pspec.body.parts, part.parts)
            else:
                assert part.parts is None
                assert part.read() == pspec.body
                assert part.size == len(pspec.body)
                assert part.name == pspec.name or pspec.disposition is not None

    compare(spec.parts, got)
    for part in got:
        part.close()


# --------------------------------------------------------------------------- garbage in


@st.composite
def mutated_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid body with a few bytes flipped, inserted, deleted, or a truncation."""
    spec = draw(multipart_spec(max_depth=1, max_parts=3, max_body=64))
    body, _, raw = _encode(spec)
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] = draw(st.sampled_from([0, 9, 10, 13, 32, 45, 58, 61, 255, data[at] ^ 1]))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"\r", b"\n", b"\r\n", b"--", b":", b" ", b"="]))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 3))]
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return body.boundary, bytes(data)


@given(case=mutated_bodies(), strict=st.booleans(), data=st.data())
def test_garbage_in_only_mimewire_errors_and_chunking_independent(
    case: tuple[str, bytes], strict: bool, data: st.DataObject
) -> None:
    boundary, raw = case
    whole = decode(raw, boundary, strict=strict)  # raises nothing but MimeWireError
    chunks = [c for c in data.draw(chunkings(raw)) if c]
    assert decode_chunks(boundary, chunks, strict=strict) == whole
    assert decode_chunks(boundary, chunks, strict=strict, use_feed=True) == whole


@given(raw=st.binary(max_size=300), boundary=st.sampled_from(["b", "abc", "--x"]))
def test_random_bytes_only_mimewire_errors(raw: bytes, boundary: str) -> None:
    whole = decode(raw, boundary)
    bytewise = decode_chunks(boundary, [raw[i : i + 1] for i in range(len(raw))])
    assert bytewise == whole
