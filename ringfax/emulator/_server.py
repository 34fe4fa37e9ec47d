"""The HTTP layer: routes and handlers of the RingCentral fax API (connections, pool and
deadlines: :mod:`ringfax.emulator._httpd`)."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from mimewire import MultipartBody, Part

from ._auth import Auth
from ._clock import Clock, parse_time
from ._config import EmulatorConfig
from ._errors import ApiError, OAuthError, cmn101, cmn102
from ._faxes import COVER_PAGES, BodyTooLarge, FaxService, media_type_of, too_large
from ._files import StorageFull, is_storage_full
from ._httpd import (
    BadRequestBody,
    DeadlineHandler,
    PooledHTTPServer,
    RequestBody,
    iter_chunks,
)
from ._inbound import InboundFaxes
from ._input import load_json, parse_id
from ._ratelimit import Decision, RateLimiter
from ._store import FaxRow, Store
from ._sync import SyncService

__all__ = ["EmulatorServer", "bind_http_server"]

log = logging.getLogger("ringfax.emulator")

API = "/restapi/v1.0"
INBOUND_PATH = "/emulator/v1/inbound-fax"
_EXT = re.compile(r"^/restapi/v1\.0/account/([^/]+)/extension/([^/]+)(/.*)$")
_MAX_FORM = 64 * 1024
_DRAIN_LIMIT = 128 * 1024 * 1024
_EPILOGUE_DRAIN = 1024 * 1024


class _Handler(DeadlineHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ringfax-emulator"
    sys_version = ""
    # Responses are written in several small pieces; with Nagle on, each one waits for the
    # client's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    server: _HTTPServer

    # -- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(
        self,
        status: int,
        body: bytes | None = None,
        *,
        content_type: str = "application/json; charset=UTF-8",
        headers: dict[str, str] | None = None,
        stream: BinaryIO | None = None,
        length: int = 0,
    ) -> None:
        self.send_response(status)
        self.send_header("RCRequestId", self._request_id)
        self.send_header("RoutingKey", "EMU01P01")
        self.send_header("Content-Language", "en-US")
        for key, value in {**self._extra_headers, **(headers or {})}.items():
            self.send_header(key, value)
        if status == 204:
            self.send_header("Content-Length", "0")
        elif stream is not None:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(length))
        else:
            payload = body or b""
            if payload:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD" or status == 204:
            return
        if stream is not None:
            sent = 0
            for chunk in iter_chunks(stream, length):
                self.wfile.write(chunk)
                sent += len(chunk)
            if sent != length:  # cannot happen to a file held open; never answer short
                log.error("document shorter than its Content-Length (%d < %d)", sent, length)
                self.close_connection = True
        elif body:
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        text = json.dumps(obj, indent=2, separators=(",", " : "), ensure_ascii=False)
        self._send(status, text.encode("utf-8"), headers=headers)

    def _handle(self) -> None:
        self._request_id = str(uuid.uuid4())
        self._extra_headers: dict[str, str] = {}
        url = urlsplit(self.path)
        self._query = parse_qs(url.query, keep_blank_values=True)
        self._route_path = url.path
        cap = self.server.emulator_config.max_body_size
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length: int | None = None
        try:
            if not chunked:
                raw_len = self.headers.get("Content-Length")
                length = int(raw_len) if raw_len is not None else 0
                if length < 0:
                    raise ValueError
        except ValueError:
            self.close_connection = True
            self._json(400, ApiError(400, "CMN-104", "Cannot parse request").body())
            return
        self.begin_body()
        self._body = RequestBody(self.rfile, length, chunked, cap)  # type: ignore[arg-type]
        try:
            if length is not None and length > cap:
                raise BodyTooLarge(cap)
            self._route()
        except OAuthError as exc:
            self._finish_body()
            self._json(exc.status, exc.body(), exc.headers)
        except ApiError as exc:
            self._finish_body()
            self._json(exc.status, exc.body(), exc.headers)
        except BodyTooLarge as exc:
            self._finish_body()
            err = too_large(exc.limit)
            self._json(err.status, err.body())
        except BadRequestBody as exc:
            self.close_connection = True
            err = ApiError(400, "CMN-104", "Cannot parse request")
            err.parameter_value = str(exc)
            self._json(400, err.body())
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:
            if is_storage_full(exc):  # e.g. the upload spool (temporary directory) is full
                err = StorageFull(str(exc))
            else:  # pragma: no cover - a bug; answer like RingCentral would
                log.exception("emulator error")
                err = ApiError(500, "CMN-500", "Internal Server Error")
            self._finish_body()
            self._json(err.status, err.body())
            return
        if not self._body.done and not self._body.drain(_EPILOGUE_DRAIN):
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        """Refuse an ``Expect: 100-continue`` upload over the body cap before it is sent."""
        cap = self.server.emulator_config.max_body_size
        raw_len = (self.headers.get("Content-Length") or "").strip()
        if raw_len.isdigit() and int(raw_len) > cap:
            self._request_id = str(uuid.uuid4())
            self._extra_headers = {}
            self.close_connection = True
            err = too_large(cap)
            self._json(err.status, err.body())
            return False
        return super().handle_expect_100()

    def _finish_body(self) -> None:
        if not self._body.done and not self._body.drain(_DRAIN_LIMIT):
            self.close_connection = True

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle

    # -- routing ----------------------------------------------------------------------------

    @property
    def _base(self) -> str:
        host = self.headers.get("Host")
        if host and re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", host):
            return f"http://{host}"
        return self.server.base_url

    def _q(self, name: str) -> str | None:
        values = self._query.get(name)
        return values[0] if values else None

    def _route(self) -> None:
        path = self._route_path.rstrip("/") or "/"
        method = self.command
        if path == "/restapi/oauth/token" and method == "POST":
            return self._oauth(revoke=False)
        if path == "/restapi/oauth/revoke" and method == "POST":
            return self._oauth(revoke=True)
        if path == INBOUND_PATH:
            self._only(method, "POST")
            return self._inject_inbound()
        if path == f"{API}/dictionary/fax-cover-page":
            self._api_auth("Light")
            self._only(method, "GET")
            return self._cover_pages()
        match = _EXT.match(path)
        if match:
            rest = match.group(3)
            route = self._extension_route(rest, method)
            if route is not None:
                group, handler, allowed = route
                self._api_auth(group)
                self._check_ids(match.group(1), match.group(2))
                self._only(method, allowed)
                return handler()
        raise ApiError(404, "AGW-404", "Resource not found")

    def _extension_route(
        self, rest: str, method: str
    ) -> tuple[str, Callable[[], None], str] | None:
        """``(rate-limit group, handler, allowed method(s))`` for a path under
        ``/account/{a}/extension/{e}``, or None."""
        if rest == "/fax":
            return "Heavy", self._send_fax, "POST"
        if rest == "/message-store":
            return "Light", self._list, "GET"
        if rest == "/message-sync":
            return "Light", self._message_sync, "GET"
        m = re.fullmatch(r"/message-store/([^/]+)", rest)
        if m:
            ident = m.group(1)
            if method == "DELETE":
                return "Medium", lambda: self._delete_message(ident), "DELETE"
            if method in ("PUT", "PATCH"):
                return "Medium", lambda: self._update_message(ident), method
            return "Light", lambda: self._get_message(ident), "GET"
        m = re.fullmatch(r"/message-store/([^/]+)/content/([^/]+)", rest)
        if m:
            ident, att = m.group(1), m.group(2)
            return "Medium", lambda: self._content(ident, att), "GET"
        return None

    @staticmethod
    def _only(method: str, allowed: str) -> None:
        if method != allowed:
            raise ApiError(405, "AGW-405", f"Method {method} not allowed")

    def _check_ids(self, account: str, extension: str) -> None:
        cfg = self.server.emulator_config
        if account not in ("~", cfg.account_id):
            raise cmn102("accountId", account)
        if extension not in ("~", cfg.extension_id):
            raise cmn102("extensionId", extension)

    def _api_auth(self, group: str) -> None:
        server = self.server
        limit = server.emulator_config.rate_limits.get(group)
        if limit is not None:
            unauth = Decision(True, group, limit.limit, limit.limit, limit.window)
            self._extra_headers.update(unauth.headers())
        token = server.auth.check_bearer(self.headers.get("Authorization"), self._q("access_token"))
        self._rate_limit(f"{token.client_id}:{server.emulator_config.extension_id}", group)

    def _rate_limit(self, key: str, group: str) -> None:
        decision = self.server.limiter.check(key, group)
        self._extra_headers.update(decision.headers())
        if not decision.allowed:
            raise ApiError(429, "CMN-301", "Request rate exceeded")

    # -- OAuth ------------------------------------------------------------------------------

    def _oauth(self, *, revoke: bool) -> None:
        auth_header = self.headers.get("Authorization")
        key = "anon"
        if auth_header and auth_header.lower().startswith("basic "):
            key = auth_header.split(None, 1)[1].strip()[:64]
        self._rate_limit(f"auth:{key}", "Auth")
        media = media_type_of(self.headers.get("Content-Type"))
        form: dict[str, str] = {}
        if revoke:
            form.update({k: v[0] for k, v in self._query.items() if v})
        if media == "application/x-www-form-urlencoded":
            raw = self._body.read_all(_MAX_FORM)
            try:
                parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise OAuthError(
                    400, "invalid_request", "OAU-101", "Cannot parse request"
                ) from None
            form.update({k: v[0] for k, v in parsed.items() if v})
        elif not (revoke and not self._body.consumed and self._body.done):
            raise OAuthError(
                415,
                "invalid_request",
                "CMN-415",
                "Unsupported Media Type",
                parameter_name="Content-Type",
            )
        if revoke:
            self.server.auth.revoke(auth_header, form)
            self._send(200)
            return
        info = self.server.auth.token(auth_header, form)
        self._json(200, info, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # -- fax --------------------------------------------------------------------------------

    def _send_fax(self) -> None:
        content_type = self.headers.get("Content-Type") or ""
        media = media_type_of(content_type)
        faxes = self.server.faxes
        if media in ("multipart/form-data", "multipart/mixed"):
            row = faxes.create_from_multipart(self._body, content_type)
        elif media == "application/json":
            row = faxes.create_from_json(self._body.read_all(_MAX_FORM))
        else:
            raise ApiError(
                415,
                "CMN-415",
                "Unsupported Media Type",
                parameter_name="Content-Type",
                parameter_value=content_type,
            )
        self._json(200, faxes.render(row, self._base, store_style=False))

    def _get_message(self, ident: str) -> None:
        faxes = self.server.faxes
        if "," in ident:
            return self._bulk(ident.split(","))
        row = faxes.get(ident)
        self._json(200, faxes.render(row, self._base, store_style=True))

    def _bulk(self, ids: list[str]) -> None:
        """Bulk read (§4.5): 207 Multi-Status as ``multipart/mixed`` (first part: the
        ``response[]`` summary, then one JSON part per id), or a JSON array of
        ``{resourceId, status, body}`` with
        ``Accept: application/vnd.ringcentral.multipart+json``."""
        faxes = self.server.faxes
        items: list[tuple[str, int, dict[str, Any]]] = []
        for ident in (i.strip() for i in ids):
            try:
                row = faxes.get(ident)
                items.append((ident, 200, faxes.render(row, self._base, store_style=True)))
            except ApiError as exc:
                items.append((ident, exc.status, exc.body()))
        accept = (self.headers.get("Accept") or "").lower()
        if "application/vnd.ringcentral.multipart+json" in accept:
            self._json(207, [{"resourceId": i, "status": st, "body": b} for i, st, b in items])
            return

        def href(ident: str) -> str:
            try:
                number = parse_id(ident, "messageId")
            except ApiError:
                number = None
            return ident if number is None else faxes.message_uri(self._base, number)

        summary = {
            "response": [
                {
                    "href": href(i),
                    "status": st,
                    "responseDescription": HTTPStatus(st).phrase,
                }
                for i, st, _ in items
            ]
        }

        def dump(obj: Any) -> bytes:
            return json.dumps(obj, indent=2, separators=(",", " : ")).encode("utf-8")

        parts = [Part(dump(summary), content_type="application/json")]
        parts += [Part(dump(b), content_type="application/json") for _, _, b in items]
        body = MultipartBody(parts, subtype="mixed")
        self._send(207, b"".join(body), content_type=body.content_type)

    def _delete_message(self, ident: str) -> None:
        faxes = self.server.faxes
        row = faxes.get(ident)
        purge = (self._q("purge") or "").lower() == "true"
        if faxes.store.delete_fax(row.id, purge=purge, now=faxes.clock.now()) is None:
            raise cmn102("messageId", ident)  # purged meanwhile
        self._send(204)

    def _update_message(self, ident: str) -> None:
        faxes = self.server.faxes
        row = faxes.get(ident)
        unreadable = ApiError(400, "CMN-103", "JSON can't be parsed.")
        body = load_json(self._body.read_all(_MAX_FORM) or b"{}", unreadable)
        if not isinstance(body, dict):
            raise unreadable
        read = body.get("readStatus")
        if read is not None and read not in ("Read", "Unread"):
            raise cmn101("readStatus", str(read))
        availability = body.get("availability")
        if availability is not None and availability != "Alive":
            raise cmn101("availability", str(availability))
        restore = availability is not None
        now = faxes.clock.now()
        if not faxes.store.update_fax(row.id, read_status=read, restore=restore, now=now):
            raise cmn102("messageId", ident)  # purged meanwhile
        row = faxes.get(ident)
        self._json(200, faxes.render(row, self._base, store_style=True))

    def _content(self, ident: str, att_ident: str) -> None:
        """Serve a document from a descriptor opened before the headers go out: a purge
        after that cannot shorten the answer; a document purged (or lost) before it is a
        404 ``CMN-102``, never a 500."""
        faxes = self.server.faxes
        row = faxes.get(ident)
        for att in row.attachments:
            if str(att.id) == att_ident:
                break
        else:
            raise cmn102("attachmentId", att_ident)
        try:
            document = open(faxes.store.path_of(att), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            faxes.get(ident)  # 404 messageId when purged meanwhile
            log.warning(
                "document %s of message %s is missing from the data directory", att.id, ident
            )
            raise cmn102("attachmentId", att_ident) from None
        with document:
            faxes.get(ident)  # opened just as a purge committed: answer as purged
            disposition = (self._q("contentDisposition") or "").lower()
            headers = {}
            if disposition in ("inline", "attachment"):
                name = self._q("contentDispositionFilename") or att.filename or str(att.id)
                safe = name.replace('"', "").replace("\r", "").replace("\n", "")
                headers["Content-Disposition"] = (
                    f'{disposition}; filename="{safe.encode("ascii", "replace").decode()}"'
                    f"; filename*=UTF-8''{quote(safe)}"
                )
            self._send(
                200,
                content_type=att.content_type,
                headers=headers,
                stream=document,
                length=os.fstat(document.fileno()).st_size,
            )

    # -- listing ----------------------------------------------------------------------------

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
        query = {k: v for k, v in self._query.items() if k not in ("page", "perPage")}

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

    def _list(self) -> None:
        faxes = self.server.faxes
        now = faxes.clock.now()
        page = self._int_param("page", 1, 1, 1_000_000)
        per_page = self._int_param("perPage", 100, 1, 1000)
        date_to = self._time_param("dateTo", now + 0.001)
        date_from = self._time_param("dateFrom", date_to - 86400)
        types = [t for v in self._query.get("messageType", []) for t in v.split(",") if t]
        direction = self._q("direction")
        if direction not in (None, "", "Inbound", "Outbound"):
            raise cmn101("direction", direction)
        avail = [a for v in self._query.get("availability", []) for a in v.split(",") if a]
        for a in avail:
            if a not in ("Alive", "Deleted", "Purged"):
                raise cmn101("availability", a)
        read_status = self._q("readStatus") or None
        if read_status not in (None, "Read", "Unread"):
            raise cmn101("readStatus", read_status)
        rows: list[FaxRow] = []
        if types and "Fax" not in types:
            total = 0
        else:
            total, rows = faxes.store.list_faxes(
                date_from=date_from,
                date_to=date_to,
                direction=direction or None,
                availability=avail or ("Alive", "Deleted"),
                read_status=read_status,
                offset=(page - 1) * per_page,
                limit=per_page,
            )
        path = self._route_path.rstrip("/")
        meta = self._paging(path, page, per_page, total, len(rows))
        self._json(
            200,
            {
                "uri": meta["self"],
                "records": [faxes.render(r, self._base, store_style=True) for r in rows],
                "paging": meta["paging"],
                "navigation": meta["navigation"],
            },
        )

    # -- message sync and inbound faxes -----------------------------------------------------

    def _message_sync(self) -> None:
        sync_type = self._q("syncType") or None
        token = self._q("syncToken") or None
        if sync_type is None:
            sync_type = "ISync" if token else "FSync"
        if sync_type not in ("FSync", "ISync"):
            raise cmn101("syncType", sync_type)
        types = [t for v in self._query.get("messageType", []) for t in v.split(",") if t]
        direction = self._q("direction") or None
        if direction not in (None, "Inbound", "Outbound"):
            raise cmn101("direction", direction)
        server = self.server
        if sync_type == "ISync":
            if token is None:
                raise cmn101("syncToken")
            answer = server.sync.incremental(
                self._base, token=token, direction=direction, faxes_wanted=self._wants_fax(types)
            )
        else:
            count = self._q("recordCount")
            answer = server.sync.full(
                self._base,
                direction=direction,
                faxes_wanted=self._wants_fax(types),
                date_from=self._maybe_time("dateFrom"),
                date_to=self._maybe_time("dateTo"),
                record_count=None if not count else self._int_param("recordCount", 0, 1, 10**6),
            )
        self._json(200, answer)

    @staticmethod
    def _wants_fax(types: list[str]) -> bool:
        return not types or "Fax" in types

    def _inject_inbound(self) -> None:
        content_type = self.headers.get("Content-Type") or ""
        row = self.server.inbound.inject_multipart(self._body, content_type)
        self._json(200, self.server.faxes.render(row, self._base, store_style=True))

    def _cover_pages(self) -> None:
        page = self._int_param("page", 1, 1, 1_000_000)
        per_page = self._int_param("perPage", 100, 1, 1000)
        records = [{"id": str(i), "name": n} for i, n in enumerate(COVER_PAGES) if i]
        chunk = records[(page - 1) * per_page : page * per_page]
        meta = self._paging(
            f"{API}/dictionary/fax-cover-page", page, per_page, len(records), len(chunk)
        )
        self._json(
            200,
            {
                "uri": meta["self"],
                "records": chunk,
                "paging": meta["paging"],
                "navigation": meta["navigation"],
            },
        )


class _HTTPServer(PooledHTTPServer):
    emulator_config: EmulatorConfig
    auth: Auth
    faxes: FaxService
    inbound: InboundFaxes
    sync: SyncService
    limiter: RateLimiter
    base_url: str


def bind_http_server(host: str, port: int) -> _HTTPServer:
    """Bind (and listen on) ``host:port``. A failure is an ``OSError`` whose message says
    what went wrong in words, e.g. ``port 8099 is already in use on 127.0.0.1``; its
    ``errno`` is the original one. Nothing stays open after a failure (socketserver closes
    the socket itself)."""
    try:
        return _HTTPServer((host, port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            text = f"port {port} is already in use on {host}"
        elif exc.errno == errno.EACCES:
            text = f"no permission to listen on port {port} ({host})"
        elif exc.errno == errno.EADDRNOTAVAIL:
            text = f"address {host} is not available on this machine (port {port})"
        else:
            text = f"cannot listen on {host} port {port}: {exc.strerror or exc}"
        err = OSError(text)
        err.errno = exc.errno
        raise err from exc
    except (OverflowError, UnicodeError) as exc:  # port > 65535, bad host name
        raise OSError(f"cannot listen on {host!r} port {port}: {exc}") from exc


class EmulatorServer:
    """Runs a bound HTTP server (see :func:`bind_http_server`) in a background thread."""

    def __init__(
        self, httpd: _HTTPServer, config: EmulatorConfig, store: Store, clock: Clock
    ) -> None:
        self.httpd = httpd
        self.httpd.emulator_config = config
        self.httpd.limits = config
        self.httpd.auth = Auth(store, config, clock)
        self.httpd.faxes = FaxService(store, config, clock)
        self.httpd.inbound = InboundFaxes(self.httpd.faxes)
        self.httpd.sync = SyncService(self.httpd.faxes)
        self.httpd.limiter = RateLimiter(config.rate_limits, clock, enabled=config.rate_limiting)
        bound_host, bound_port = self.httpd.server_address[:2]
        if isinstance(bound_host, bytes):
            bound_host = bound_host.decode()
        shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        self.url = f"http://{shown}:{bound_port}"
        self.httpd.base_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self.httpd.server_close()
        self.httpd.close_connections()
