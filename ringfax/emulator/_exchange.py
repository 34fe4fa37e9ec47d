"""Request and response values of the socket-free API layer, and the per-request base
(:class:`Exchange`: headers, query parameters, paging links) the handlers build on."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlencode, urlsplit

from ._clock import parse_time
from ._errors import ApiError, cmn101
from ._httpd import RequestBody
from ._services import Services

__all__ = [
    "JSON_TYPE",
    "ApiRequest",
    "ApiResponse",
    "Exchange",
    "error_response",
    "json_response",
]

JSON_TYPE = "application/json; charset=UTF-8"


@dataclass
class ApiRequest:
    """One request: ``target`` is the request-target (path and query), ``headers`` is
    looked up case-insensitively, ``base_url`` is used when there is no usable ``Host``."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: RequestBody
    base_url: str

    @classmethod
    def of(
        cls,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        base_url: str = "http://127.0.0.1",
        cap: int = 1 << 30,
    ) -> ApiRequest:
        """A request with an in-memory body (tests, in-process callers)."""
        stream = RequestBody(io.BytesIO(body), len(body), False, cap)
        return cls(method, target, headers or {}, stream, base_url)


@dataclass
class ApiResponse:
    """One answer. ``stream`` (``length`` bytes) is a document the caller sends and then
    closes; otherwise ``body``. ``close``: the connection cannot be reused."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    stream: BinaryIO | None = None
    length: int = 0
    close: bool = False

    def json(self) -> Any:
        """The body parsed as JSON (tests)."""
        return json.loads(self.body)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> ApiResponse:
    """RingCentral's pretty-printed JSON (``" : "`` separators)."""
    text = json.dumps(obj, indent=2, separators=(",", " : "), ensure_ascii=False)
    return ApiResponse(status, text.encode("utf-8"), headers=dict(headers or {}))


def error_response(err: ApiError, *, close: bool = False) -> ApiResponse:
    """The answer for an API (or OAuth) error."""
    response = json_response(err.status, err.body(), err.headers)
    response.close = close
    return response


class Exchange:
    """One request being answered: the handlers, with the request's query and headers."""

    def __init__(self, services: Services, request: ApiRequest) -> None:
        self.svc = services
        self.request = request
        self.method = request.method
        self.body = request.body
        self.extra_headers: dict[str, str] = {}
        url = urlsplit(request.target)
        self.query = parse_qs(url.query, keep_blank_values=True)
        self.path = url.path
        self._headers = {k.lower(): v for k, v in request.headers.items()}

    def header(self, name: str) -> str | None:
        return self._headers.get(name)

    def _send(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = JSON_TYPE,
        headers: dict[str, str] | None = None,
        stream: BinaryIO | None = None,
        length: int = 0,
    ) -> ApiResponse:
        return ApiResponse(status, body, content_type, dict(headers or {}), stream, length)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> ApiResponse:
        return json_response(status, obj, headers)

    @property
    def _base(self) -> str:
        host = self.header("host")
        if host and re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", host):
            return f"http://{host}"
        return self.request.base_url

    def _q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def _int_param(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise cmn101(name, raw) from None
        if not low <= value <= high:
            raise cmn101(name, raw)
        return value

    def _maybe_time(self, name: str) -> float | None:
        return None if not self._q(name) else self._time_param(name, 0.0)

    def _time_param(self, name: str, default: float) -> float:
        raw = self._q(name)
        if raw is None or raw == "":
            return default
        try:
            return parse_time(raw)
        except ValueError:
            raise cmn101(name, raw) from None

    def _paging(
        self, path: str, page: int, per_page: int, total: int, count: int
    ) -> dict[str, Any]:
        total_pages = max(1, -(-total // per_page))
        query = {k: v for k, v in self.query.items() if k not in ("page", "perPage")}

        def link(n: int) -> dict[str, str]:
            params = [(k, x) for k, vs in query.items() for x in vs]
            params += [("page", str(n)), ("perPage", str(per_page))]
            return {"uri": f"{self._base}{path}?{urlencode(params)}"}

        nav: dict[str, Any] = {"firstPage": link(1)}
        if page < total_pages:
            nav["nextPage"] = link(page + 1)
        if page > 1:
            nav["previousPage"] = link(page - 1)
        nav["lastPage"] = link(total_pages)
        paging: dict[str, Any] = {
            "page": page,
            "totalPages": total_pages,
            "perPage": per_page,
            "totalElements": total,
        }
        if count:
            start = (page - 1) * per_page
            paging["pageStart"] = start
            paging["pageEnd"] = start + count - 1
        return {"navigation": nav, "paging": paging, "self": link(page)["uri"]}
