"""multipart/related: Content-Type parameters on MultipartBody, Content-ID helpers and cid:
URLs (RFC 2392), the root part (RFC 2387 ``start``) and lookup by Content-ID."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mimewire
from mimewire import MultipartBody, Part, parse, parse_header_params
from mimewire.http import (
    cid_href,
    content_id_from_cid,
    find_by_content_id,
    make_content_id,
    normalize_content_id,
    related_root,
)


def _related(root_first: bool = True) -> MultipartBody:
    root = Part(
        "<Envelope/>",
        content_type='application/xop+xml; charset=UTF-8; type="text/xml"',
        headers={"Content-ID": "<root.k3@ws.example>"},
    )
    blob = Part(
        b"\x89PNG...", content_type="image/png", headers={"Content-ID": "<img 1@ws.example>"}
    )
    parts = [root, blob] if root_first else [blob, root]
    return MultipartBody(
        parts,
        subtype="related",
        params={
            "type": "application/xop+xml",
            "start": "<root.k3@ws.example>",
            "start-info": "text/xml",
        },
    )


def test_params_are_rendered_quoted_and_read_back() -> None:
    body = _related()
    main, params = parse_header_params(body.content_type)
    assert main == "multipart/related"
    assert params == {
        "boundary": body.boundary,
        "type": "application/xop+xml",
        "start": "<root.k3@ws.example>",
        "start-info": "text/xml",
    }
    assert 'start="<root.k3@ws.example>"' in body.content_type
    assert body.headers["Content-Type"] == body.content_type


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"boundary": "x"}, "must not set 'boundary'"),
        ({"Boundary": "x"}, "must not set 'boundary'"),
        ({"type": "a/b", "TYPE": "c/d"}, "names 'TYPE' twice"),
        ({"start": "<a>\r\nX-Evil: 1"}, r"params\['start'\] contains CR at index 3"),
        ({"start": "a\nb"}, "contains LF at index 1"),
        ({"start": "a\0b"}, "contains NUL at index 1"),
        ({"type": 1}, r"params\['type'\] must be a str, not int"),
        ({1: "x"}, "parameter name must be a str, not int"),
        ({"start-info": "caf\u00e9"}, "is not ASCII"),
        ({"bad name": "x"}, "not allowed in an RFC 7230 token"),
        ([("type", "a/b")], "params must be a mapping"),
    ],
)
def test_bad_params_are_usage_errors(params: object, pattern: str) -> None:
    with pytest.raises(mimewire.UsageError, match=pattern):
        MultipartBody([Part.field("a", "1")], subtype="related", params=params)  # type: ignore[arg-type]


def test_make_content_id() -> None:
    first, second = make_content_id(), make_content_id(domain="upload.example.org")
    assert re.fullmatch(r"<[0-9a-f]{32}@mimewire\.invalid>", first)
    assert re.fullmatch(r"<[0-9a-f]{32}@upload\.example\.org>", second)
    assert len({make_content_id() for _ in range(100)}) == 100
    for bad in ["", "a b", "x>y", ".lead", "trail.", "a..b", "é.example"]:
        with pytest.raises(mimewire.UsageError, match="dot-atom"):
            make_content_id(domain=bad)
    with pytest.raises(mimewire.UsageError, match="domain must be a str"):
        make_content_id(domain=None)  # type: ignore[arg-type]


def test_cid_urls_follow_rfc_2392() -> None:
    # RFC 2392 §2: "cid:foo4%25foo1@bar.net" is the URL of Content-ID <foo4%foo1@bar.net>
    assert content_id_from_cid("cid:foo4%25foo1@bar.net") == "<foo4%foo1@bar.net>"
    assert cid_href("<foo4%foo1@bar.net>") == "cid:foo4%25foo1@bar.net"
    assert cid_href("img 1@ws.example") == "cid:img%201@ws.example"
    assert content_id_from_cid(" CID:img%201@ws.example ") == "<img 1@ws.example>"
    assert normalize_content_id(" < a@b > ") == "a@b" and normalize_content_id("1") == "1"
    for bad in ["http://x/", "cid:", "mid:a@b"]:
        with pytest.raises(mimewire.UsageError, match="is not a cid: URL"):
            content_id_from_cid(bad)
    with pytest.raises(mimewire.UsageError, match="empty Content-ID"):
        cid_href("<>")


@pytest.mark.parametrize("root_first", [True, False])
def test_root_is_the_start_part(root_first: bool) -> None:
    body = _related(root_first)
    parts = list(parse(body.to_bytes(), body.content_type))
    root = related_root(parts, body.content_type)
    assert root.content_id == "root.k3@ws.example"
    assert root.read() == b"<Envelope/>"
    for ref in ["<img 1@ws.example>", "img 1@ws.example", "cid:img%201@ws.example"]:
        found = find_by_content_id(parts, ref)
        assert found is not None and found.read() == b"\x89PNG..."
    assert find_by_content_id(parts, "<IMG 1@ws.example>") is None  # ids are case-sensitive


def test_root_without_start_is_the_first_part() -> None:
    body = MultipartBody(
        [Part("{}", content_type="application/json"), Part(b"data", content_type="image/jpeg")],
        subtype="related",
        params={"type": "application/json"},
    )
    parts = list(parse(body.to_bytes(), body.content_type))
    assert related_root(parts, body.content_type).read() == b"{}"


def test_root_errors() -> None:
    body = _related()
    parts = list(parse(body.to_bytes(), body.content_type))
    other = body.content_type.replace("<root.k3@ws.example>", "<gone@ws.example>")
    with pytest.raises(mimewire.MalformedInput, match=r"start='<gone@ws\.example>' names no part"):
        related_root(parts, other)
    with pytest.raises(mimewire.MalformedInput, match="has no part"):
        related_root([], "multipart/related; boundary=x")


_ids = st.from_regex(r"[A-Za-z0-9._%+-]{1,20}@[a-z]{1,10}\.example", fullmatch=True)


_items = st.lists(
    st.tuples(_ids, st.binary(max_size=200)), min_size=1, max_size=6, unique_by=lambda t: t[0]
)


@given(_items, st.data())
def test_built_related_bodies_resolve_root_and_every_reference(
    items: list[tuple[str, bytes]], data: st.DataObject
) -> None:
    root = data.draw(st.integers(0, len(items) - 1))
    with_start = data.draw(st.booleans()) or root != 0
    parts = [
        Part(payload, content_type="application/octet-stream", headers={"Content-ID": f"<{ident}>"})
        for ident, payload in items
    ]
    params = {"type": "application/octet-stream"}
    if with_start:
        params["start"] = f"<{items[root][0]}>"
    body = MultipartBody(parts, subtype="related", params=params)
    decoded = list(parse(body.to_bytes(), body.content_type))
    assert related_root(decoded, body.content_type).read() == items[root][1]
    for ident, payload in items:
        for ref in (f"<{ident}>", ident, cid_href(ident)):
            found = find_by_content_id(decoded, ref)
            assert found is not None and found.read() == payload
        assert content_id_from_cid(cid_href(ident)) == f"<{ident}>"
