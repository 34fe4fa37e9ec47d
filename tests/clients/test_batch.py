"""mimewire.http batch codec: requests built as application/http parts, answers parsed
from Google-style and OData-style batch responses (values of our own, shaped like the
published examples), typed errors naming the part, a round trip through a local batch
endpoint and property tests through the encoder."""

from __future__ import annotations

import io
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mimewire
from mimewire.http import (
    BatchHeaders,
    BatchRequest,
    BatchResponse,
    build_batch,
    build_batch_response,
    parse_batch_response,
)
from tests.clients._servers import batch_app, serve

# A Google-style answer: parts carry Content-ID <response-...>; each HTTP answer has its own
# Content-Length, and the CRLF before the next delimiter belongs to the delimiter.
GOOGLE_ANSWER = (
    b"--batch_k3pQ\r\n"
    b"Content-Type: application/http\r\n"
    b"Content-ID: <response-fetch-1:a7c2@tasks.example.org>\r\n"
    b"\r\n"
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json; charset=UTF-8\r\n"
    b'ETag: "v-81"\r\n'
    b"Content-Length: 26\r\n"
    b"\r\n"
    b'{"id": "t1", "done": true}\r\n'
    b"--batch_k3pQ\r\n"
    b"Content-Type: application/http\r\n"
    b"Content-ID: <response-fetch-2:a7c2@tasks.example.org>\r\n"
    b"\r\n"
    b"HTTP/1.1 404 Not Found\r\n"
    b"Content-Type: application/json; charset=UTF-8\r\n"
    b"Content-Length: 23\r\n"
    b"\r\n"
    b'{"error": "no task t9"}\r\n'
    b"--batch_k3pQ--\r\n"
)
GOOGLE_TYPE = "multipart/mixed; boundary=batch_k3pQ"

# An OData $batch answer: a query answer, then a change set (nested multipart/mixed) whose
# answers echo the requests' bare Content-IDs; Content-Transfer-Encoding: binary on each part.
ODATA_ANSWER = (
    b"--batchresponse_71e0\r\n"
    b"Content-Type: application/http\r\n"
    b"Content-Transfer-Encoding: binary\r\n"
    b"\r\n"
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"\r\n"
    b'{"value": [{"Code": "K7"}]}\r\n'
    b"--batchresponse_71e0\r\n"
    b"Content-Type: multipart/mixed; boundary=changesetresponse_0b3d\r\n"
    b"\r\n"
    b"--changesetresponse_0b3d\r\n"
    b"Content-Type: application/http\r\n"
    b"Content-Transfer-Encoding: binary\r\n"
    b"Content-ID: 1\r\n"
    b"\r\n"
    b"HTTP/1.1 201 Created\r\n"
    b"Location: Warehouses('K8')\r\n"
    b"Content-Type: application/json\r\n"
    b"\r\n"
    b'{"Code": "K8"}\r\n'
    b"--changesetresponse_0b3d\r\n"
    b"Content-Type: application/http\r\n"
    b"Content-Transfer-Encoding: binary\r\n"
    b"Content-ID: 2\r\n"
    b"\r\n"
    b"HTTP/1.1 204 No Content\r\n"
    b"\r\n"
    b"--changesetresponse_0b3d--\r\n"
    b"\r\n"
    b"--batchresponse_71e0--\r\n"
)
ODATA_TYPE = "multipart/mixed; boundary=batchresponse_71e0"


def test_google_style_answer() -> None:
    first, second = parse_batch_response(GOOGLE_ANSWER, GOOGLE_TYPE)
    assert (first.index, first.status, first.reason, first.ok) == (0, 200, "OK", True)
    assert first.content_id == "fetch-1:a7c2@tasks.example.org"
    assert first.headers["etag"] == '"v-81"' and first.headers["ETAG"] == '"v-81"'
    assert "content-type" in first.headers and "Location" not in first.headers
    assert first.body == b'{"id": "t1", "done": true}'
    assert (second.status, second.reason, second.ok) == (404, "Not Found", False)
    assert second.body == b'{"error": "no task t9"}'
    assert dict(second.part_headers)["Content-ID"].startswith("<response-")


def test_odata_answer_with_a_change_set() -> None:
    answers = list(parse_batch_response(ODATA_ANSWER, ODATA_TYPE))
    assert [(a.index, a.changeset, a.status, a.content_id) for a in answers] == [
        (0, None, 200, None),
        (1, 0, 201, "1"),
        (1, 1, 204, "2"),
    ]
    assert json.loads(answers[0].body) == {"value": [{"Code": "K7"}]}
    assert answers[1].headers.get_all("location") == ["Warehouses('K8')"]
    assert answers[2].body == b""


def test_answer_without_the_blank_line_after_its_headers() -> None:
    """Some servers follow the published examples that end a body-less answer right after
    its headers; the answer is read with an empty body."""
    body = (
        b"--b\r\nContent-Type: application/http\r\n\r\n"
        b"HTTP/1.1 204 No Content\r\nX-Trace: 9\r\n--b--\r\n"
    )
    (answer,) = parse_batch_response(body, "multipart/mixed; boundary=b")
    assert (answer.status, answer.headers["x-trace"], answer.body) == (204, "9", b"")


@pytest.mark.parametrize(
    "source",
    [
        lambda: io.BytesIO(GOOGLE_ANSWER),
        lambda: [GOOGLE_ANSWER[i : i + 1] for i in range(len(GOOGLE_ANSWER))],
        lambda: iter([GOOGLE_ANSWER[:100], GOOGLE_ANSWER[100:]]),
    ],
    ids=["file", "one-byte-chunks", "iterator"],
)
def test_any_source_gives_the_same_answers(source: object) -> None:
    expected = list(parse_batch_response(GOOGLE_ANSWER, GOOGLE_TYPE))
    assert list(parse_batch_response(source(), GOOGLE_TYPE)) == expected  # type: ignore[operator]


def _one(message: bytes, part_type: bytes = b"application/http") -> bytes:
    return (
        b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n\r\n"
        b"--b\r\nContent-Type: " + part_type + b"\r\n\r\n" + message + b"\r\n--b--\r\n"
    )


_OK = b"HTTP/1.1 200 OK\r\n"
_HTTP = b"application/http"


@pytest.mark.parametrize(
    ("message", "part_type", "pattern"),
    [
        (b"HTTP/1.1 2OO OK\r\n\r\n", _HTTP, r"batch part 1: .*not an HTTP status line"),
        (b"200 OK\r\n\r\n", _HTTP, r"batch part 1: .*not an HTTP status line"),
        (_OK + b"no colon here\r\n\r\n", _HTTP, r"part 1: line 2 .* not a header"),
        (_OK + b"Content-Length: 10\r\n\r\nshort", _HTTP, r"part 1: body has 5 bytes"),
        (_OK + b"Content-Length: 2\r\n\r\nokay", _HTTP, r"part 1: 2 bytes follow the 2-byte"),
        (_OK + b"Content-Length: -1\r\n\r\n", _HTTP, r"part 1: Content-Length '-1' is not"),
        (_OK + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nx", _HTTP, r"not one byte count"),
        (_OK + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", _HTTP, r"part 1: Transfer-Enc"),
        (_OK + b"\r\n", b"text/plain", r"part 1: Content-Type 'text/plain' is not application/"),
    ],
)
def test_malformed_answers_name_the_part(message: bytes, part_type: bytes, pattern: str) -> None:
    answers = parse_batch_response(_one(message, part_type), "multipart/mixed; boundary=b")
    assert next(answers).status == 200  # the first part is handed over before the bad one
    with pytest.raises(mimewire.MalformedInput, match=pattern) as info:
        next(answers)
    assert info.value.part == 1


def test_bad_answer_inside_a_change_set_names_both_positions() -> None:
    bad = ODATA_ANSWER.replace(b"HTTP/1.1 204 No Content", b"HTTP/1.1 204No Content")
    with pytest.raises(mimewire.MalformedInput, match=r"batch part 1, change set part 1"):
        list(parse_batch_response(bad, ODATA_TYPE))


def test_broken_change_set_framing_names_the_batch_part() -> None:
    bad = ODATA_ANSWER.replace(b"--changesetresponse_0b3d--", b"--changesetresponse_0b3d-")
    with pytest.raises(mimewire.MalformedInput, match=r"^batch part 1: change set") as info:
        list(parse_batch_response(bad, ODATA_TYPE))
    assert info.value.part == 1


@pytest.mark.network
def test_async_answer_through_aiohttp() -> None:
    import asyncio

    import aiohttp

    from mimewire.http import aparse_batch_response

    body = build_batch([BatchRequest("GET", f"/t/{i}", content_id=f"<a{i}@x>") for i in range(3)])

    async def main(url: str) -> list[tuple[str | None, int]]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            async with session.post(url, data=body.to_bytes(), headers=body.headers) as resp:
                return [
                    (a.content_id, a.status)
                    async for a in aparse_batch_response(
                        resp.content.iter_any(),
                        resp.headers["Content-Type"],
                        content_length=resp.headers.get("Content-Length"),
                    )
                ]

    with serve(batch_app) as base:
        got = asyncio.run(main(base + "/batch"))
    assert got == [(f"a{i}@x", 200) for i in range(3)]


def test_build_batch_bytes() -> None:
    body = build_batch(
        [
            BatchRequest("GET", "/tasks/v1/lists/L1/tasks/t1?fields=id", content_id="<fetch-1@x>"),
            [
                BatchRequest(
                    "POST", "Warehouses", {"Content-Type": "application/json"}, '{"Code":"K8"}', "1"
                )
            ],
        ],
        boundary="batch_9",
    )
    wire = body.to_bytes()
    assert body.content_type == "multipart/mixed; boundary=batch_9"
    assert body.content_length == len(wire)
    parts = list(mimewire.parse(wire, body.content_type, nested=True))
    assert parts[0].headers == (
        ("Content-Type", "application/http"),
        ("Content-Transfer-Encoding", "binary"),
        ("Content-ID", "<fetch-1@x>"),
    )
    assert parts[0].read() == b"GET /tasks/v1/lists/L1/tasks/t1?fields=id HTTP/1.1\r\n\r\n"
    assert parts[1].parts is not None
    (inner,) = parts[1].parts
    assert inner.content_id == "1"
    assert inner.read() == (
        b"POST Warehouses HTTP/1.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 13\r\n\r\n{"Code":"K8"}'
    )
    plain = build_batch([BatchRequest("DELETE", "/x")], transfer_encoding=None, boundary="q")
    assert b"Content-Transfer-Encoding" not in plain.to_bytes()


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: BatchRequest("GE T", "/x"), "method 'GE T' is not an HTTP token"),
        (lambda: BatchRequest("GET", "/a b"), "contains a space"),
        (lambda: BatchRequest("GET", ""), "non-empty printable"),
        (lambda: BatchRequest("GET", "/x\r\nHost: evil"), "non-empty printable"),
        (lambda: BatchRequest("GET", "/x", {"X-A": "1\r\nX-B: 2"}), "CR"),
        (lambda: BatchRequest("GET", "/x", body=1), "body must be bytes or str"),  # type: ignore[arg-type]
        (lambda: BatchRequest("GET", "/x", http_version="HTTP/2"), "http_version"),
    ],
)
def test_bad_requests_are_usage_errors(make: object, pattern: str) -> None:
    with pytest.raises(mimewire.UsageError, match=pattern):
        build_batch([make()])  # type: ignore[operator]


def test_bad_batch_items_are_usage_errors() -> None:
    with pytest.raises(mimewire.UsageError, match="a BatchRequest or a list"):
        build_batch(["GET /x"])  # type: ignore[list-item]
    with pytest.raises(mimewire.UsageError, match="change set holds BatchRequest"):
        build_batch([["GET /x"]])  # type: ignore[list-item]


@pytest.mark.network
def test_round_trip_through_a_local_batch_endpoint() -> None:
    import urllib3

    requests_ = [
        BatchRequest("GET", f"/tasks/{i}", content_id=f"<item{i}:77@tasks.example.org>")
        for i in range(3)
    ] + [BatchRequest("GET", "/missing", content_id="<item3:77@tasks.example.org>")]
    body = build_batch(requests_)
    with serve(batch_app) as base, urllib3.PoolManager() as pool:
        resp = pool.request(
            "POST", base + "/batch", body=body.reader(), headers=body.headers,
            preload_content=False, timeout=20.0,
        )  # fmt: skip
        with resp:
            answers = list(
                parse_batch_response(
                    resp,
                    resp.headers["Content-Type"],
                    content_length=resp.headers.get("Content-Length"),
                )
            )
    assert [a.content_id for a in answers] == [f"item{i}:77@tasks.example.org" for i in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 404]
    assert json.loads(answers[1].body) == {"method": "GET", "target": "/tasks/1"}


# ---------------------------------------------------------------------------- properties

_tokens = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True)
_values = st.from_regex(r"[!-~]([ -~]{0,30}[!-~])?", fullmatch=True)
_answers = st.builds(
    lambda i, status, reason, headers, body, cid: BatchResponse(
        index=i,
        status=status,
        reason=reason,
        headers=BatchHeaders(
            [(n, v) for n, v in headers if n.lower() not in ("content-length", "transfer-encoding")]
            + [("Content-Length", str(len(body)))]
        ),
        body=body,
        content_id=cid,
    ),
    st.just(0),
    st.integers(100, 599),
    st.from_regex(r"[A-Za-z]([A-Za-z ]{0,20}[A-Za-z])?", fullmatch=True),
    st.lists(st.tuples(_tokens, _values), max_size=4),
    st.binary(max_size=300),
    st.none() | st.from_regex(r"[a-z0-9][a-z0-9.:-]{0,20}@[a-z]{1,8}\.example", fullmatch=True),
)


@given(st.lists(_answers, max_size=5), st.integers(1, 64))
def test_built_answers_parse_back(answers: list[BatchResponse], chunk: int) -> None:
    body = build_batch_response(answers)
    wire = body.to_bytes()
    chunks = [wire[i : i + chunk] for i in range(0, len(wire), chunk)]
    got = list(parse_batch_response(chunks, body.content_type))
    assert [(a.status, a.reason, a.headers.pairs, a.body, a.content_id) for a in got] == [
        (a.status, a.reason, a.headers.pairs, a.body, a.content_id) for a in answers
    ]
    assert [a.index for a in got] == list(range(len(answers)))


_REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.1\Z")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
            st.from_regex(r"/[A-Za-z0-9/?=&%._-]{0,40}", fullmatch=True),
            st.lists(st.tuples(_tokens, _values), max_size=3),
            st.binary(max_size=200),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_built_requests_decode_to_what_was_asked(
    items: list[tuple[str, str, list[tuple[str, str]], bytes]],
) -> None:
    headers_ok = [
        [(n, v) for n, v in h if n.lower() not in ("content-length", "transfer-encoding")]
        for _, _, h, _ in items
    ]
    requests_ = [
        BatchRequest(m, t, hs, b, content_id=f"<r{i}@x>")
        for i, ((m, t, _, b), hs) in enumerate(zip(items, headers_ok, strict=True))
    ]
    body = build_batch(requests_)
    parts = list(mimewire.parse(body.to_bytes(), body.content_type))
    assert [p.content_id for p in parts] == [f"r{i}@x" for i in range(len(items))]
    for part, (method, target, _, payload), hs in zip(parts, items, headers_ok, strict=True):
        head, _, rest = part.read().partition(b"\r\n\r\n")
        line, *header_lines = head.split(b"\r\n")
        m = _REQUEST_LINE.match(line)
        assert m is not None and m.groups() == (method.encode(), target.encode())
        sent = [tuple(x.decode().split(": ", 1)) for x in header_lines]
        expected = hs + ([("Content-Length", str(len(payload)))] if payload else [])
        assert sent == expected
        assert rest == payload


def _answer(**kw: object) -> BatchResponse:
    fields: dict[str, object] = {
        "index": 0,
        "status": 200,
        "reason": "OK",
        "headers": BatchHeaders([]),
        "body": b"",
        "content_id": None,
    }
    fields.update(kw)
    return BatchResponse(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "pattern"),
    [
        (_answer(status=99), "status must be an int from 100 to 999"),
        (_answer(status="200"), "status must be an int"),
        (_answer(reason="OK\r\nX-Evil: 1"), "must be a printable str"),
        (_answer(headers=BatchHeaders([("X-Sign", "\u20ac")])), "not Latin-1"),
        (_answer(headers=BatchHeaders([("X-A", "1\r\nX-B: 2")])), "CR"),
    ],
)
def test_bad_answers_are_usage_errors(answer: BatchResponse, pattern: str) -> None:
    with pytest.raises(mimewire.UsageError, match=pattern):
        build_batch_response([answer])


def test_bad_answer_items_are_usage_errors() -> None:
    with pytest.raises(mimewire.UsageError, match="must be a BatchResponse, not str"):
        build_batch_response(["HTTP/1.1 200 OK"])  # type: ignore[list-item]
    with pytest.raises(mimewire.UsageError, match="must be a BatchResponse, not int"):
        build_batch_response([[1]])  # type: ignore[list-item]


def test_answers_in_a_change_set_round_trip() -> None:
    body = build_batch_response(
        [_answer(content_id="q"), [_answer(status=201, reason="Created", content_id="1")]],
        content_id_prefix="",
    )
    got = list(parse_batch_response(body.to_bytes(), body.content_type))
    assert [(a.index, a.changeset, a.status, a.content_id) for a in got] == [
        (0, None, 200, "q"),
        (1, 0, 201, "1"),
    ]
    assert dict(got[0].part_headers)["Content-ID"] == "<q>"
