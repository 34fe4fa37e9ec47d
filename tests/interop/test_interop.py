"""Interop matrix over 127.0.0.1 (see conftest.py for the printed matrix).

1. Bodies mimewire encodes are accepted and parsed identically by werkzeug (Flask),
   Starlette (python-multipart, served by uvicorn), aiohttp's web server, a Go
   ``mime/multipart`` server compiled by the test, the ``multipart`` package and the stdlib
   ``email`` parser -- and by mimewire itself.
2. Bodies sent by curl, requests, httpx, aiohttp, urllib3, node's fetch + FormData, headless
   Chromium submitting a real HTML form, and the stdlib ``email`` generator are decoded by
   mimewire into exactly what each client was told to send.

A missing tool skips its cells with the reason (CI installs chromium, golang-go, curl).
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mimewire import MalformedInput, MultipartBody, Part, parse

from ._clients import (
    CASES,
    KNOWN_CLIENT_BUGS,
    PY_CLIENTS,
    TRICKY,
    Capture,
    FormCase,
    Missing,
    capture_server,
    email_generator_body,
    run_chromium,
    send_node_all,
)
from ._servers import (
    SERVERS,
    Row,
    Server,
    go_available,
    parse_with_email,
    parse_with_multipart,
    rows_from_json,
)

pytestmark = pytest.mark.interop

Record = Callable[[str, str, str, str, str], None]


# --------------------------------------------------------------------------- encoded cases


@dataclass
class EncCase:
    id: str
    subtype: str
    build: Callable[[Path], list[Part]]
    expected: list[Row]
    needs: str = "form"  # "form": any server; "mixed": multipart/mixed; "cte": decodes CTE


BIG = 8 << 20


def _big_file(tmp: Path) -> Path:
    path = tmp / "big.bin"
    if not path.exists():
        block = hashlib.sha256(b"seed").digest() * 2048 + b"\r\n--\r\n"
        with path.open("wb") as f:
            written = 0
            while written < BIG:
                chunk = block[: BIG - written]
                f.write(chunk)
                written += len(chunk)
    return path


def _many() -> list[tuple[str, str]]:
    return [(f"f{i:03d}", str(i) * (i % 7)) for i in range(200)]


UNI_FILENAME = "résumé 日本.txt"
ENC_CASES = [
    EncCase(
        "fields",
        "form-data",
        lambda tmp: [Part.field("a", "1"), Part.field("b", "hello world"), Part.field("a", "2")],
        [("a", None, None, b"1"), ("b", None, None, b"hello world"), ("a", None, None, b"2")],
    ),
    EncCase(
        "unicode",
        "form-data",
        lambda tmp: [
            Part.field("ünï", "välue ✓ 日本"),
            Part.file("up", "dätä ✓".encode(), filename=UNI_FILENAME, content_type="text/plain"),
        ],
        [
            ("ünï", None, None, "välue ✓ 日本".encode()),
            ("up", UNI_FILENAME, "text/plain", "dätä ✓".encode()),
        ],
    ),
    EncCase(
        "binary",
        "form-data",
        lambda tmp: [
            Part.file("bin", TRICKY, filename="blob.bin", content_type="application/octet-stream")
        ],
        [("bin", "blob.bin", "application/octet-stream", TRICKY)],
    ),
    EncCase(
        "empty",
        "form-data",
        lambda tmp: [
            Part.field("e", ""),
            Part.file("f", b"", filename="empty.txt", content_type="text/plain"),
        ],
        [("e", None, None, b""), ("f", "empty.txt", "text/plain", b"")],
    ),
    EncCase(
        "quote",
        "form-data",
        lambda tmp: [
            Part.field('we"ird', "v"),
            Part.file("q", b"q", filename='quo"te.txt', content_type="text/plain"),
        ],
        [('we"ird', None, None, b"v"), ("q", 'quo"te.txt', "text/plain", b"q")],
    ),
    EncCase(
        "many",
        "form-data",
        lambda tmp: [Part.field(k, v) for k, v in _many()],
        [(k, None, None, v.encode()) for k, v in _many()],
    ),
    EncCase(
        "large",
        "form-data",
        lambda tmp: [
            Part.field("before", "x"),
            Part.file("big", _big_file(tmp), content_type="application/octet-stream"),
        ],
        [("before", None, None, b"x"), ("big", "big.bin", "application/octet-stream", b"")],
    ),
    EncCase(
        "mixed",
        "mixed",
        lambda tmp: [
            Part(b'{"to":[{"phoneNumber":"+16505550100"}]}', content_type="application/json"),
            Part(
                b"%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n",
                filename="fax.pdf",
                content_type="application/pdf",
                disposition="attachment",
            ),
        ],
        [
            (None, None, "application/json", b'{"to":[{"phoneNumber":"+16505550100"}]}'),
            (None, "fax.pdf", "application/pdf", b"%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n"),
        ],
        needs="mixed",
    ),
    EncCase(
        "cte",
        "mixed",
        lambda tmp: [
            Part(TRICKY, content_type="application/octet-stream", transfer_encoding="base64"),
            Part(
                "façade = 1\r\n".encode() * 20,
                content_type="text/plain; charset=utf-8",
                transfer_encoding="quoted-printable",
            ),
        ],
        [
            (None, None, "application/octet-stream", TRICKY),
            (None, None, "text/plain", "façade = 1\r\n".encode() * 20),
        ],
        needs="cte",
    ),
]


def _big_expected_digest(tmp: Path) -> str:
    return hashlib.sha256(_big_file(tmp).read_bytes()).hexdigest()


def _whatwg(s: str) -> str:
    return s.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _media(ct: str | None) -> str | None:
    return ct.split(";")[0].strip().lower() if ct else None


def compare(
    got: list[Row], case: EncCase, tmp: Path, *, ordered: bool, fields_have_ct: bool = False
) -> tuple[str, str]:
    """('pass' | 'pass*' | 'FAIL', detail). 'pass*' = names/filenames equal only after the
    server's lack of WHATWG %22 unescaping is accounted for."""
    want = list(case.expected)
    if case.id == "large":
        digest = _big_expected_digest(tmp)
        got = [
            (n, f, ct, hashlib.sha256(d).hexdigest().encode() if n == "big" else d)
            for n, f, ct, d in got
        ]
        want = [(n, f, ct, digest.encode() if n == "big" else d) for n, f, ct, d in want]

    def norm(rows: list[Row], escaped: bool) -> list[tuple[Any, ...]]:
        out = []
        for n, f, ct, d in rows:
            if escaped:
                n = _whatwg(n) if n is not None else None
                f = _whatwg(f) if f is not None else None
            keep_ct = f is not None or case.subtype != "form-data"
            out.append((n, f, _media(ct) if keep_ct else None, d))
        return out if ordered else sorted(out, key=repr)

    g = norm(got, False)
    if g == norm(want, False):
        return "pass", ""
    if g == norm(want, True):
        return "pass*", "server keeps WHATWG %22 escapes (does not unescape)"
    return "FAIL", f"got {_short(g)} want {_short(norm(want, False))}"


def _short(rows: list[tuple[Any, ...]]) -> str:
    return repr([(n, f, ct, d[:40] if isinstance(d, bytes) else d) for n, f, ct, d in rows])[:600]


def _post(url: str, body: MultipartBody, streaming_iter: bool) -> tuple[int, bytes]:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        payload: Any = iter(body) if streaming_iter else body.reader()
        headers = dict(body.headers)
        assert "Content-Length" in headers, "mimewire should know the exact length"
        conn.request("POST", u.path, body=payload, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _applies(case: EncCase, server: Server | str) -> str | None:
    """None if the case applies to the server, else why not."""
    name = server if isinstance(server, str) else server.name
    mixed = name in ("email", "mimewire") or (isinstance(server, Server) and server.mixed)
    cte = name in ("email", "mimewire") or (isinstance(server, Server) and server.cte)
    if case.needs == "mixed" and not mixed:
        return "form-data only"
    if case.needs == "cte" and not cte:
        return "does not decode Content-Transfer-Encoding"
    if name == "multipart" and case.subtype != "form-data":
        return "form-data only"
    return None


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interop-big")


def _server_cm(name: str) -> Any:
    if name == "go":
        reason = go_available()
        if reason:
            pytest.skip(reason)
    needs = {"starlette": "uvicorn", "werkzeug": "flask", "aiohttp": "aiohttp"}.get(name)
    if needs and importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} not installed (pip install {needs})")
    return SERVERS[name]()


@pytest.mark.parametrize("server_name", list(SERVERS))
def test_real_servers_parse_mimewire_bodies(
    server_name: str, record: Record, big_dir: Path
) -> None:
    failures = []
    try:
        cm = _server_cm(server_name)
    except pytest.skip.Exception as exc:
        for case in ENC_CASES:
            record("servers", server_name, case.id, "skip", str(exc))
        raise
    with cm as server:
        for case in ENC_CASES:
            why = _applies(case, server)
            if why:
                record("servers", server.name, case.id, "n/a", why)
                continue
            body = MultipartBody(case.build(big_dir), subtype=case.subtype)
            status, raw = _post(server.url, body, streaming_iter=case.id == "large")
            if status != 200:
                record("servers", server.name, case.id, "FAIL", f"HTTP {status}: {raw[:200]!r}")
                failures.append(case.id)
                continue
            rows = rows_from_json(json.loads(raw))
            if server.name == "aiohttp" and case.needs != "form":
                rows = [(None if n == "" else n, f, ct, d) for n, f, ct, d in rows]
            verdict, detail = compare(rows, case, big_dir, ordered=server.ordered)
            record("servers", server.name, case.id, verdict, detail)
            if verdict == "FAIL":
                failures.append(f"{case.id}: {detail}")
    assert not failures, failures


@pytest.mark.parametrize("oracle", ["multipart", "email", "mimewire"])
def test_in_process_parsers_parse_mimewire_bodies(
    oracle: str, record: Record, big_dir: Path
) -> None:
    failures = []
    for case in ENC_CASES:
        why = _applies(case, oracle)
        if why:
            record("servers", oracle, case.id, "n/a", why)
            continue
        body = MultipartBody(case.build(big_dir), subtype=case.subtype)
        raw = b"".join(body)
        assert len(raw) == body.content_length
        if oracle == "multipart":
            rows = parse_with_multipart(raw, body.boundary)
        elif oracle == "email":
            rows = parse_with_email(raw, body.content_type)
        else:
            rows = [
                (p.name, p.filename, p.content_type, p.read())
                for p in parse(raw, body.content_type)
            ]
        verdict, detail = compare(rows, case, big_dir, ordered=True)
        record("servers", oracle, case.id, verdict, detail)
        if verdict == "FAIL":
            failures.append(f"{case.id}: {detail}")
    assert not failures, failures


# --------------------------------------------------------------------------- clients


def expected_rows(case: FormCase) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [(k, None, None, v.encode()) for k, v in case.fields]
    rows += [(f.name, f.filename, f.content_type, f.data) for f in case.files]
    return sorted(rows, key=repr)


def decoded_rows(cap: Capture, decode_transfer: bool | None = None) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for p in parse(cap.body, cap.content_type, decode_transfer=decode_transfer):
        data = p.read()
        ct = p.content_type if p.filename is not None else None
        rows.append((p.name, p.filename, ct, data))
    return sorted(rows, key=repr)


def check_capture(
    client: str,
    case: FormCase,
    cap: Capture,
    record: Record,
    decode_transfer: bool | None = None,
) -> str | None:
    try:
        got = decoded_rows(cap, decode_transfer)
    except Exception as exc:  # a decode error is a FAIL cell with the reason
        record("clients", client, case.id, "FAIL", f"{type(exc).__name__}: {exc}")
        return f"{case.id}: {exc}"
    want = expected_rows(case)
    if got == want:
        record("clients", client, case.id, "pass", "")
        return None
    detail = f"got {_short(got)} want {_short(want)}"
    record("clients", client, case.id, "FAIL", detail)
    return f"{case.id}: {detail}"


@pytest.mark.parametrize("client", list(PY_CLIENTS))
def test_clients_decode(client: str, record: Record) -> None:
    failures = []
    with capture_server() as srv:
        for case in CASES:
            path = f"/capture/{client}/{case.id}"
            try:
                PY_CLIENTS[client](srv.url(path), case)
            except Missing as exc:
                for c in CASES:
                    record("clients", client, c.id, "skip", str(exc))
                pytest.skip(str(exc))
            except Exception as exc:
                known = KNOWN_CLIENT_BUGS.get((client, case.id))
                if known is None:
                    raise
                record("clients", client, case.id, "clientbug", f"{known} [{exc!r}]"[:300])
                continue
            err = check_capture(client, case, srv.wait_for(path), record)
            if err:
                failures.append(err)
    assert not failures, failures


def _run_batch(client: str, record: Record, runner: Callable[[Any], list[Capture]]) -> None:
    failures = []
    with capture_server() as srv:
        try:
            captures = runner(srv)
        except Missing as exc:
            for c in CASES:
                record("clients", client, c.id, "skip", str(exc))
            pytest.skip(str(exc))
        for case, cap in zip(CASES, captures, strict=True):
            err = check_capture(client, case, cap, record)
            if err:
                failures.append(err)
    assert not failures, failures


def test_node_fetch_formdata_decode(record: Record) -> None:
    _run_batch("node-fetch", record, send_node_all)


def test_chromium_form_submit_decode(record: Record) -> None:
    _run_batch("chromium", record, run_chromium)


def test_email_generator_decode(record: Record) -> None:
    """The stdlib email generator (mail-style form-data: base64 parts, RFC 2231 ``name*`` for
    non-ASCII field names). ``name*`` in form-data is refused on purpose (RFC 7578 §4.2; werkzeug
    reads it, python-multipart and multipart ignore it, so they see different field names):
    those cells must be that refusal, recorded as ``refused*``."""
    failures = []
    for case in CASES:
        ctype, body = email_generator_body(case)
        capture = Capture("/", ctype, body)
        if b"name*=" in body:
            with pytest.raises(MalformedInput, match=r"'name\*' in form-data"):
                decoded_rows(capture, decode_transfer=True)
            record("clients", "email-gen", case.id, "refused*", "name* in form-data (RFC 7578)")
            continue
        # base64 parts: form-data is transfer-decoded only on request (RFC 7578 §4.7), and
        # this mail-style producer needs it
        err = check_capture("email-gen", case, capture, record, decode_transfer=True)
        if err:
            failures.append(err)
    assert not failures, failures
