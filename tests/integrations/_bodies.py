"""Request bodies for the framework tests: what browsers and curl send, and hostile ones.

Each body is ``(content_type, bytes)``. The browser-like bodies copy the framing of real
clients: Chromium's ``----WebKitFormBoundary`` boundary, Firefox's long dash run with a
decimal boundary, curl's ``------------------------`` boundary, ``filename=""`` with
``application/octet-stream`` for an empty file input, and ``%22`` for a quote in a name.
"""

from __future__ import annotations

import hashlib

Body = tuple[str, bytes]


def form_body(boundary: str, parts: list[tuple[str, bytes]]) -> Body:
    """A CRLF-framed multipart/form-data body of ``(header block, body)`` parts."""
    out = bytearray()
    for headers, data in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


def field(name: str) -> str:
    return f'Content-Disposition: form-data; name="{name}"'


def file(name: str, filename: str, content_type: str) -> str:
    return (
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}"
    )


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
TEXT = "caf\u00e9 \u2603\r\n--not-a-boundary\r\n".encode()

BROWSER_BODIES: dict[str, Body] = {
    "chromium": form_body(
        "----WebKitFormBoundary7MA4YWxkTrZu0gW",
        [
            (field("title"), TEXT),
            (file("pic", "photo.png", "image/png"), PNG),
            (file("empty", "", "application/octet-stream"), b""),
        ],
    ),
    "firefox": form_body(
        "---------------------------4158382938131372661627543452",
        [
            (field("title"), TEXT),
            (file("pic", "photo.png", "image/png"), PNG),
            (field("quote%22d"), b"q"),
        ],
    ),
    "curl": form_body(
        "------------------------d74496d66958873e",
        [(field("title"), TEXT), (file("pic", "photo.png", "image/png"), PNG)],
    ),
}
"""What each browser-like body must parse to: fields, then files (name, filename, sha256)."""

EXPECTED_FIELDS = {
    "chromium": [["title", TEXT.decode()]],
    "firefox": [["title", TEXT.decode()], ['quote"d', "q"]],
    "curl": [["title", TEXT.decode()]],
}
PNG_FILE = ["pic", "photo.png", "image/png", len(PNG), hashlib.sha256(PNG).hexdigest()]

_B = "hostileB0undary"
_CT = f"multipart/form-data; boundary={_B}"


def _raw(text: bytes) -> Body:
    return _CT, text


HOSTILE_BODIES: dict[str, tuple[Body, int]] = {
    "two name= parameters": (
        _raw(
            b'--%s\r\nContent-Disposition: form-data; name="a"; name="b"\r\n\r\nx\r\n'
            b"--%s--\r\n" % (_B.encode(), _B.encode())
        ),
        400,
    ),
    "name* in form-data": (
        _raw(
            b"--%s\r\nContent-Disposition: form-data; name=\"a\"; name*=UTF-8''b\r\n\r\nx\r\n"
            b"--%s--\r\n" % (_B.encode(), _B.encode())
        ),
        400,
    ),
    "filename and disagreeing filename*": (
        _raw(
            b'--%s\r\nContent-Disposition: form-data; name="f"; filename="safe.txt"; '
            b"filename*=UTF-8''evil.php\r\nContent-Type: text/plain\r\n\r\nx\r\n"
            b"--%s--\r\n" % (_B.encode(), _B.encode())
        ),
        400,
    ),
    "two Content-Disposition headers": (
        _raw(
            b'--%s\r\nContent-Disposition: form-data; name="a"\r\n'
            b'Content-Disposition: form-data; name="b"\r\n\r\nx\r\n'
            b"--%s--\r\n" % (_B.encode(), _B.encode())
        ),
        400,
    ),
    "no close delimiter": (
        _raw(b'--%s\r\nContent-Disposition: form-data; name="a"\r\n\r\nx' % _B.encode()),
        400,
    ),
    "header line without colon": (
        _raw(
            b"--%s\r\nContent-Disposition form-data\r\n\r\nx\r\n--%s--\r\n"
            % (_B.encode(), _B.encode())
        ),
        400,
    ),
    "part without a name": (
        _raw(
            b"--%s\r\nContent-Disposition: form-data\r\n\r\nx\r\n--%s--\r\n"
            % (_B.encode(), _B.encode())
        ),
        400,
    ),
    "header line flood": (
        _raw(
            b'--%s\r\nContent-Disposition: form-data; name="a"\r\nX-Pad: %s\r\n\r\nx\r\n'
            b"--%s--\r\n" % (_B.encode(), b"p" * 20000, _B.encode())
        ),
        413,
    ),
    "two boundary= parameters": (
        (
            f"multipart/form-data; boundary={_B}; boundary=other",
            b'--%s\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--%s--\r\n'
            % (_B.encode(), _B.encode()),
        ),
        400,
    ),
    "no boundary": (("multipart/form-data", b"--x\r\n\r\n--x--\r\n"), 400),
}
"""Hostile bodies and the status every integration must answer them with."""

# werkzeug hands its form parser the boundary, not the header: a duplicate boundary=
# parameter is resolved (last wins) before mimewire sees it.
WERKZEUG_RESOLVES = {"two boundary= parameters"}
