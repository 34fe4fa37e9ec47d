"""The API layer, free of sockets: a request value (method, target, headers, body) in, a
response value out (:mod:`ringfax.emulator._exchange`). Routing, authentication and rate
limiting live here, the handlers in :mod:`ringfax.emulator._messages_api`; the HTTP server
(:mod:`ringfax.emulator._server`) only frames bytes, and tests can call :meth:`Api.handle`
directly. Services (store, clock, rate limiter, config, ...) come in through
:class:`~ringfax.emulator._services.Services`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import parse_qs

from ._documents import media_type_of
from ._errors import ApiError, BodyTooLarge, OAuthError, cmn102, too_large
from ._exchange import ApiRequest, ApiResponse, error_response
from ._files import StorageFull, is_storage_full
from ._httpd import BadRequestBody
from ._messages_api import API, MAX_FORM, MessageHandlers
from ._push_api import PushHandlers
from ._ratelimit import Decision
from ._services import Services

__all__ = ["API", "INBOUND_PATH", "Api", "ApiRequest", "ApiResponse"]

log = logging.getLogger("ringfax.emulator")

INBOUND_PATH = "/emulator/v1/inbound-fax"
SUBSCRIPTIONS = f"{API}/subscription"
_EXT = re.compile(r"^/restapi/v1\.0/account/([^/]+)/extension/([^/]+)(/.*)$")


class Api:
    """Routes requests to handlers; one instance serves every connection."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; every failure is an error response except a broken
        connection (``ConnectionError``/``TimeoutError`` propagate)."""
        exchange = _Exchange(self.services, request)
        try:
            if request.body.length is not None and request.body.length > request.body.cap:
                raise BodyTooLarge(request.body.cap)
            response = exchange.route()
        except (OAuthError, ApiError) as exc:
            response = error_response(exc)
        except BodyTooLarge as exc:
            response = error_response(too_large(exc.limit))
        except BadRequestBody as exc:
            err = ApiError(400, "CMN-104", "Cannot parse request")
            err.parameter_value = str(exc)
            response = error_response(err, close=True)
        except (ConnectionError, TimeoutError):
            raise
        except Exception as exc:
            if is_storage_full(exc):  # e.g. the upload spool (temporary directory) is full
                response = error_response(StorageFull(str(exc)))
            else:  # pragma: no cover - a bug; answer like RingCentral would
                log.exception("emulator error")
                response = error_response(ApiError(500, "CMN-500", "Internal Server Error"))
        response.headers = {**exchange.extra_headers, **response.headers}
        return response


class _Exchange(MessageHandlers, PushHandlers):
    """One request being answered: routing, auth and rate limits."""

    def route(self) -> ApiResponse:
        path = self.path.rstrip("/") or "/"
        method = self.method
        if path == "/restapi/oauth/token" and method == "POST":
            return self._oauth(revoke=False)
        if path == "/restapi/oauth/revoke" and method == "POST":
            return self._oauth(revoke=True)
        if path == INBOUND_PATH:
            self._only(method, "POST")
            return self._inject_inbound()
        if path == "/restapi/oauth/wstoken":
            self._only(method, "POST")
            self._api_auth("Auth")
            return self._wstoken()
        if path == SUBSCRIPTIONS or path.startswith(SUBSCRIPTIONS + "/"):
            group, handler, allowed = self._subscription_route(path, method)
            self._api_auth(group)
            self._only(method, allowed)
            return handler()
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
    ) -> tuple[str, Callable[[], ApiResponse], str] | None:
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

    def _subscription_route(
        self, path: str, method: str
    ) -> tuple[str, Callable[[], ApiResponse], str]:
        """``(rate-limit group, handler, allowed method)`` under ``/subscription``."""
        if path == SUBSCRIPTIONS:
            if method == "POST":
                return "Medium", self._create_subscription, "POST"
            return "Light", self._list_subscriptions, "GET"
        rest = path[len(SUBSCRIPTIONS) + 1 :]
        sub_id, _, action = rest.partition("/")
        if action == "renew":
            return "Light", lambda: self._renew_subscription(sub_id), "POST"
        if action:
            raise ApiError(404, "AGW-404", "Resource not found")
        if method == "PUT":
            return "Medium", lambda: self._update_subscription(sub_id), "PUT"
        if method == "DELETE":
            return "Medium", lambda: self._delete_subscription(sub_id), "DELETE"
        return "Light", lambda: self._get_subscription(sub_id), "GET"

    @staticmethod
    def _only(method: str, allowed: str) -> None:
        if method != allowed:
            raise ApiError(405, "AGW-405", f"Method {method} not allowed")

    def _check_ids(self, account: str, extension: str) -> None:
        cfg = self.svc.config
        if account not in ("~", cfg.account_id):
            raise cmn102("accountId", account)
        if extension not in ("~", cfg.extension_id):
            raise cmn102("extensionId", extension)

    def _api_auth(self, group: str) -> None:
        server = self.svc
        limit = server.config.rate_limits.get(group)
        if limit is not None:
            unauth = Decision(True, group, limit.limit, limit.limit, limit.window)
            self.extra_headers.update(unauth.headers())
        token = server.auth.check_bearer(self.header("authorization"), self._q("access_token"))
        self.owner = token.client_id
        self._rate_limit(f"{token.client_id}:{server.config.extension_id}", group)

    def _rate_limit(self, key: str, group: str) -> None:
        decision = self.svc.limiter.check(key, group)
        self.extra_headers.update(decision.headers())
        if not decision.allowed:
            raise ApiError(429, "CMN-301", "Request rate exceeded")

    # -- OAuth ------------------------------------------------------------------------------

    def _oauth(self, *, revoke: bool) -> ApiResponse:
        auth_header = self.header("authorization")
        key = "anon"
        if auth_header and auth_header.lower().startswith("basic "):
            key = auth_header.split(None, 1)[1].strip()[:64]
        self._rate_limit(f"auth:{key}", "Auth")
        media = media_type_of(self.header("content-type"))
        form: dict[str, str] = {}
        if revoke:
            form.update({k: v[0] for k, v in self.query.items() if v})
        if media == "application/x-www-form-urlencoded":
            raw = self.body.read_all(MAX_FORM)
            try:
                parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise OAuthError(
                    400, "invalid_request", "OAU-101", "Cannot parse request"
                ) from None
            form.update({k: v[0] for k, v in parsed.items() if v})
        elif not (revoke and not self.body.consumed and self.body.done):
            raise OAuthError(
                415,
                "invalid_request",
                "CMN-415",
                "Unsupported Media Type",
                parameter_name="Content-Type",
            )
        if revoke:
            self.svc.auth.revoke(auth_header, form)
            return self._send(200)
        info = self.svc.auth.token(auth_header, form)
        return self._json(200, info, {"Cache-Control": "no-store", "Pragma": "no-cache"})
