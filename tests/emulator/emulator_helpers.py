"""Raw HTTP helpers for the emulator tests (exact bytes, one connection per request)."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from ringfax.emulator import Emulator

FAX_PATH = "/restapi/v1.0/account/~/extension/~/fax"
STORE_PATH = "/restapi/v1.0/account/~/extension/~/message-store"


@dataclass
class Reply:
    """A raw HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Raw:
    """Raw HTTP/1.1 requests to the emulator (exact bytes, one connection)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        parts = urlsplit(emu.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        auth: bool = True,
        chunked: bool = False,
    ) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            hdrs = dict(headers or {})
            if auth and "Authorization" not in hdrs:
                hdrs["Authorization"] = f"Bearer {self.token()}"
            if chunked:
                conn.putrequest(method, path)
                for k, v in hdrs.items():
                    conn.putheader(k, v)
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                data = body or b""
                for i in range(0, len(data), 777):
                    piece = data[i : i + 777]
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                conn.send(b"0\r\n\r\n")
            else:
                conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            pairs = resp.getheaders()
            return Reply(resp.status, {k.lower(): v for k, v in pairs}, data, pairs)
        finally:
            conn.close()

    def token_reply(self, form: dict[str, str], basic: str | None = None) -> Reply:
        if basic is None:
            raw = f"{self.emu.client_id}:{self.emu.client_secret}".encode()
            basic = "Basic " + base64.b64encode(raw).decode()
        return self.request(
            "POST",
            "/restapi/oauth/token",
            urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic},
            auth=False,
        )

    def login(self) -> dict[str, Any]:
        reply = self.token_reply(
            {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self.emu.jwt}
        )
        assert reply.status == 200, reply.body
        data: dict[str, Any] = reply.json()
        return data

    def token(self) -> str:
        if self._token is None:
            self._token = str(self.login()["access_token"])
        return self._token

    def post_fax(self, body: bytes, content_type: str, **kw: Any) -> Reply:
        return self.request("POST", FAX_PATH, body, {"Content-Type": content_type}, **kw)


SYNC_PATH = "/restapi/v1.0/account/~/extension/~/message-sync"
INBOUND_PATH = "/emulator/v1/inbound-fax"


def form_data(
    fields: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, str | None, str | None, bytes]],
    boundary: str = "emu-test-boundary",
) -> tuple[bytes, str]:
    """A multipart/form-data body: text ``fields`` (name, value), then ``files`` (name,
    filename or None, content type or None, data). Returns ``(body, content_type)``."""
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, filename, ctype, data in files:
        disp = f'form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if ctype is not None:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def sync(raw: Raw, **params: str) -> Reply:
    """GET message-sync with these query parameters."""
    return raw.request("GET", f"{SYNC_PATH}?{urlencode(params)}")
