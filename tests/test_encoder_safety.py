"""Encoder safety: nothing a caller supplies can smuggle an extra header or part.

Header names and values, form-data names, filenames, content types and boundaries are
drawn from alphabets dense in CR, LF, NUL, quotes, backslashes, semicolons, ``%22``,
``--`` and non-ASCII (including Unicode line separators). For every draw the encoder either

* raises :class:`UsageError` -- and then the draw really contained something unsendable
  (a non-token header name, CR/LF/NUL in a header value, NUL in a name/filename, an invalid
  or colliding boundary), so the property is not satisfied vacuously; or
* produces bytes that parse -- with mimewire **and** an independent parser (the
  ``multipart`` package for form-data, the stdlib ``email`` parser for mixed) -- to exactly
  the intended number of parts, each with exactly the intended headers and body.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import re
from typing import Any

import multipart
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimewire import MultipartBody, Part, UsageError, parse, validate_boundary

TCHAR = set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
NASTY = [
    "\r",
    "\n",
    "\r\n",
    "\x00",
    '"',
    "\\",
    ";",
    "=",
    ":",
    " ",
    "\t",
    "%22",
    "%0D%0A",
    "--",
    "é",
    "日",
    "\u2028",
    "\x85",
    "\x0b",
    "\x1c",
    "\x7f",
    "Content-Type: evil",
    "\r\n\r\n--",
]
PLAIN = list("aZ09-_.")

nasty_text = st.lists(st.sampled_from(NASTY + PLAIN), max_size=8).map("".join)
token_or_nasty = st.one_of(
    st.text(alphabet=sorted(TCHAR), min_size=1, max_size=12),
    nasty_text,
)
boundary_text = st.one_of(
    st.none(),
    st.text(alphabet="abcXYZ019'()+_,-./:=? ", min_size=1, max_size=72),
    nasty_text,
)


MULTIPART_HNAME = re.compile("[A-Za-z0-9_-]+")


def _bad_header(name: str, value: str) -> bool:
    return not name or any(c not in TCHAR for c in name) or any(c in value for c in "\r\n\x00")


def _boundary_invalid(b: str) -> bool:
    try:
        validate_boundary(b)
    except UsageError:
        return True
    return False


def _ows(v: str) -> str:
    return v.strip(" \t")


def _form_unescape(s: str) -> str:
    return re.sub(
        "%(22|0[dDaA])", lambda m: {"22": '"'}.get(m.group(1), chr(int(m.group(1), 16))), s
    )


def _normalise(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


@st.composite
def form_parts(draw: st.DrawFn) -> list[dict[str, Any]]:
    specs = []
    for _ in range(draw(st.integers(1, 4))):
        specs.append(
            {
                "name": draw(nasty_text),
                "filename": draw(st.one_of(st.none(), nasty_text)),
                "value": draw(st.one_of(nasty_text, st.binary(max_size=30))),
                "content_type": draw(st.one_of(st.none(), st.sampled_from(["text/plain"]))),
                "headers": draw(st.lists(st.tuples(token_or_nasty, nasty_text), max_size=3)),
            }
        )
    return specs


def _build(specs: list[dict[str, Any]], subtype: str, boundary: str | None) -> MultipartBody:
    parts = []
    for s in specs:
        kw: dict[str, Any] = {"headers": s["headers"] or None}
        if subtype == "form-data":
            kw.update(name=s["name"], filename=s["filename"], content_type=s["content_type"])
        else:
            kw.update(
                filename=s["filename"],
                content_type=s["content_type"],
                disposition="attachment" if s["filename"] is not None else None,
            )
        parts.append(Part(s["value"], **kw))
    return MultipartBody(parts, subtype=subtype, boundary=boundary)


def _why_unsendable(specs: list[dict[str, Any]], subtype: str, boundary: str | None) -> str | None:
    for s in specs:
        for k, v in s["headers"]:
            if _bad_header(k, v):
                return "bad custom header"
        if subtype == "form-data" and "\x00" in s["name"]:
            return "NUL in name"
        if s["filename"] and "\x00" in s["filename"]:
            return "NUL in filename"
        if (
            subtype != "form-data"
            and s["filename"] is not None
            and any((ord(c) < 32 and c != "\t") or c == "\x7f" for c in s["filename"])
        ):
            return "control character in an attachment filename"
    if boundary is not None:
        if _boundary_invalid(boundary):
            return "invalid boundary"
        needle = b"--" + boundary.encode()
        for s in specs:
            value = s["value"] if isinstance(s["value"], bytes) else s["value"].encode()
            if needle in value:
                return "boundary collides with a body"
    return None


def _intended(body: MultipartBody) -> list[list[tuple[str, str]]]:
    return [[(k.lower(), _ows(v)) for k, v in p.headers_for(body.subtype)] for p in body.parts]


def _check_mimewire(body: MultipartBody, raw: bytes, specs: list[dict[str, Any]]) -> None:
    got = list(parse(raw, body.content_type))
    assert len(got) == len(specs), f"{len(got)} parts on the wire, {len(specs)} intended"
    for p, s, want in zip(got, specs, _intended(body), strict=True):
        assert [(k.lower(), _ows(v)) for k, v in p.headers] == want
        value = s["value"] if isinstance(s["value"], bytes) else s["value"].encode()
        assert p.read() == value
        if body.subtype == "form-data":
            assert p.name == _form_unescape(_normalise(s["name"]))
            if s["filename"] is not None:
                assert p.filename == _form_unescape(s["filename"])
        elif s["filename"] is not None:
            assert p.filename == s["filename"]


def _check_multipart_pkg(body: MultipartBody, raw: bytes, specs: list[dict[str, Any]]) -> None:
    parser = multipart.MultipartParser(io.BytesIO(raw), body.boundary, content_length=len(raw))
    got = list(parser)
    assert len(got) == len(specs)
    for p, s, want in zip(got, specs, _intended(body), strict=True):
        assert [k.lower() for k, _ in p.headerlist] == [k for k, _ in want]
        value = s["value"] if isinstance(s["value"], bytes) else s["value"].encode()
        assert p.raw == value


def _check_email(body: MultipartBody, raw: bytes, specs: list[dict[str, Any]]) -> None:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + raw
    )
    got = list(msg.iter_parts())
    assert len(got) == len(specs)
    for p, s, want in zip(got, specs, _intended(body), strict=True):
        assert [k.lower() for k in p.keys()] == [k for k, _ in want]  # noqa: SIM118
        value = s["value"] if isinstance(s["value"], bytes) else s["value"].encode()
        payload = p.get_payload(decode=True)
        assert payload == value or (payload is None and value == b"")


@pytest.mark.parametrize("subtype", ["form-data", "mixed"])
def test_no_caller_input_adds_a_header_or_a_part(subtype: str) -> None:
    @given(form_parts(), boundary_text)
    def run(specs: list[dict[str, Any]], boundary: str | None) -> None:
        why = _why_unsendable(specs, subtype, boundary)
        try:
            body = _build(specs, subtype, boundary)
            raw = b"".join(body)
        except UsageError as exc:
            assert why is not None, f"UsageError for sendable input: {exc}"
            return
        assert why is None, f"accepted unsendable input ({why})"
        assert len(raw) == body.content_length
        _check_mimewire(body, raw, specs)
        # `multipart` only accepts header names matching [A-Za-z0-9_-]+ (it rejects the rest
        # cleanly); the stdlib parser is the independent oracle for those and for mixed
        names_ok = all(MULTIPART_HNAME.fullmatch(k) for hs in _intended(body) for k, _ in hs)
        if subtype == "form-data" and names_ok:
            _check_multipart_pkg(body, raw, specs)
        else:
            _check_email(body, raw, specs)

    run()


@given(nasty_text, nasty_text)
def test_custom_header_is_rejected_or_verbatim(name: str, value: str) -> None:
    """A single custom header: UsageError exactly when it is unsendable, else it arrives as
    exactly one header with the same name and value (modulo surrounding whitespace)."""
    try:
        body = MultipartBody([Part(b"x", name="f", headers=[(name, value)])])
        raw = b"".join(body)
    except UsageError:
        assert _bad_header(name, value)
        return
    assert not _bad_header(name, value)
    [p] = list(parse(raw, body.content_type))
    matching = [(k, v) for k, v in p.headers if k.lower() == name.lower()]
    assert matching == [(name, _ows(value))] or matching == [(name, value)]


def test_caller_boundary_colliding_with_in_memory_body_is_refused() -> None:
    with pytest.raises(UsageError, match="occurs in"):
        MultipartBody([Part(b"a\r\n--fixedB\r\nX: y\r\n\r\nz", name="f")], boundary="fixedB")


def test_caller_boundary_colliding_with_streamed_body_is_refused() -> None:
    """A streamed part cannot be checked up front, so it is scanned while it is sent: the
    colliding chunk never goes out, whether the delimiter sits inside one chunk or spans two."""
    evil = [b"a\r\n--fixedB\r\nContent-Disposition: form-data; name=", b'"evil"\r\n\r\nz']
    for chunks in (evil, [b"a\r\n--fix", b"edB\r\nX: y\r\n\r\nz"]):
        body = MultipartBody(
            [Part(iter(chunks), name="f", length=sum(map(len, chunks)))], boundary="fixedB"
        )
        sent: list[bytes] = []
        with pytest.raises(UsageError, match=r"part 0 .*boundary 'fixedB' occurs in the streamed"):
            for chunk in body:
                sent.append(chunk)
        assert b"--fixedB\r\nX" not in b"".join(sent)
        assert b'--fixedB\r\nContent-Disposition: form-data; name="' not in b"".join(sent)[60:]


def test_streamed_body_with_boundary_prefix_only_is_sent() -> None:
    """Near-misses of a caller's boundary in streamed data are data, sent unchanged."""
    chunks = [b"--fixed", b"A--fixedB", b"x" * 10]
    body = MultipartBody([Part(list(chunks), name="f")], boundary="fixedBB")
    raw = b"".join(body)
    assert [p.read() for p in parse(raw, body.content_type)] == [b"".join(chunks)]


def test_generated_boundary_never_collides() -> None:
    """With no caller boundary, in-memory bodies containing many delimiter-like lines still
    encode to exactly their parts (the boundary is regenerated on a collision)."""
    bodies = [b"\r\n--" + bytes([c]) * 40 + b"\r\n" for c in b"0123456789abcdef"]
    body = MultipartBody([Part(b, name=str(i)) for i, b in enumerate(bodies)])
    got = [(p.name, p.read()) for p in parse(b"".join(body), body.content_type)]
    assert got == [(str(i), b) for i, b in enumerate(bodies)]


def test_email_parser_sees_unicode_separators_as_data() -> None:
    """U+2028 / U+0085 in a filename do not split headers for the stdlib parser either."""
    body = MultipartBody(
        [Part(b"x", filename="a\u2028b\x85c.txt", disposition="attachment")], subtype="mixed"
    )
    raw = b"".join(body)
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + raw
    )
    [p] = list(msg.iter_parts())
    assert len(p.keys()) == 1
    # the stdlib returns the plain ASCII fallback when both filename and filename* are
    # present (it does not apply RFC 6266 §4.3); mimewire returns the filename* value
    assert p.get_filename() in ("a\u2028b\x85c.txt", "a_b_c.txt")
    [q] = list(parse(raw, body.content_type))
    assert q.filename == "a\u2028b\x85c.txt" and len(q.headers) == 1


_SPLIT_BODY = b"lead-in\r\n--fixedB\r\nX-Evil: 1\r\n\r\nsmuggled"
_SPLIT_AT = _SPLIT_BODY.index(b"--fixedB")


def _split_sources(cut: int) -> list[list[bytes]]:
    """The body cut once at ``cut``, and cut into 1-byte chunks around the needle."""
    two = [_SPLIT_BODY[:cut], _SPLIT_BODY[cut:]]
    ones = [_SPLIT_BODY[: _SPLIT_AT - 3]] + [bytes([b]) for b in _SPLIT_BODY[_SPLIT_AT - 3 :]]
    return [two, ones]


@pytest.mark.parametrize("cut", range(_SPLIT_AT - 2, _SPLIT_AT + len("--fixedB") + 2))
@pytest.mark.parametrize("mode", ["iter", "aiter", "reader"])
def test_caller_boundary_split_across_streamed_chunks(cut: int, mode: str) -> None:
    """Wherever ``--boundary`` is cut between two streamed chunks (or spread over 1-byte
    chunks), sync, async or read through the reader: the error names the part and the
    offset of the needle, and no byte of the chunk that completes it goes out."""
    import asyncio

    for chunks in _split_sources(cut):
        body = MultipartBody(
            [Part.field("a", "1"), Part(list(chunks), name="s", length=len(_SPLIT_BODY))],
            boundary="fixedB",
        )
        sent = bytearray()

        async def drain(body: MultipartBody, sent: bytearray) -> None:
            async for chunk in body:
                sent.extend(chunk)

        with pytest.raises(UsageError) as caught:
            if mode == "iter":
                for chunk in body:
                    sent.extend(chunk)
            elif mode == "aiter":
                asyncio.run(drain(body, sent))
            else:
                reader = body.reader()
                while data := reader.read(7):
                    sent.extend(data)
        assert caught.value.message.startswith("part 1 (name='s'): boundary 'fixedB' occurs")
        assert f"at offset {_SPLIT_AT}" in caught.value.message
        payload = bytes(sent).split(b"\r\n\r\n", 2)[-1]
        assert b"--fixedB\r\n" not in payload and b"X-Evil" not in payload
