"""RingCentral-style error bodies (see docs/ringcentral.md §5.4, §6.1, §6.2).

Two shapes:

* API errors (legacy/actual format): ``{"errorCode", "message", "errors": [{"errorCode",
  "message", "parameterName"?, "parameterValue"?}], "parameterName"?}``.
* OAuth errors: ``{"error", "error_description", "errors": [{"errorCode", "message", ...}]}``
  -- all three keys, as the reference recommends.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "BodyTooLarge", "OAuthError", "cmn101", "cmn102", "too_large"]


MAX_PARAMETER_VALUE = 200
"""Longest ``parameterValue`` echoed back (a client's bad input can be megabytes)."""


def _clip(value: str | None) -> str | None:
    if value is None or len(value) <= MAX_PARAMETER_VALUE:
        return value
    return value[:MAX_PARAMETER_VALUE] + "..."


class ApiError(Exception):
    """An HTTP error answer in RingCentral's API error format."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        parameter_name: str | None = None,
        parameter_value: str | None = None,
        headers: dict[str, str] | None = None,
        top_code: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.parameter_name = parameter_name
        self.parameter_value = _clip(parameter_value)
        self.headers = dict(headers or {})
        self.top_code = top_code

    def body(self) -> dict[str, Any]:
        """The JSON body of this error."""
        item: dict[str, Any] = {"errorCode": self.code, "message": self.message}
        if self.parameter_name is not None:
            item["parameterName"] = self.parameter_name
        if self.parameter_value is not None:
            item["parameterValue"] = self.parameter_value
        out: dict[str, Any] = {
            "errorCode": self.top_code or self.code,
            "message": self.message,
            "errors": [item],
        }
        if self.parameter_name is not None:
            out["parameterName"] = self.parameter_name
        return out


class OAuthError(ApiError):
    """An error of the token/revoke endpoints, in the OAuth format."""

    def __init__(
        self,
        status: int,
        error: str,
        code: str,
        message: str,
        *,
        parameter_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, code, message, parameter_name=parameter_name, headers=headers)
        self.error = error

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"errorCode": self.code, "message": self.message}
        if self.parameter_name is not None:
            item["parameterName"] = self.parameter_name
        return {"error": self.error, "errors": [item], "error_description": self.message}


def cmn101(parameter: str, value: str | None = None, *, status: int = 400) -> ApiError:
    """``CMN-101 Parameter [x] value is invalid.``"""
    return ApiError(
        status,
        "CMN-101",
        f"Parameter [{parameter}] value is invalid.",
        parameter_name=parameter,
        parameter_value=value,
    )


def cmn102(parameter: str, value: str | None = None) -> ApiError:
    """``404 CMN-102 Resource for parameter [x] is not found``."""
    return ApiError(
        404,
        "CMN-102",
        f"Resource for parameter [{parameter}] is not found",
        parameter_name=parameter,
        parameter_value=value,
    )


class BodyTooLarge(Exception):
    """The request body exceeded ``EmulatorConfig.max_body_size``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> ApiError:
    """The 413 answer for a body over the gateway cap (status: docs/ringcentral.md §9.3;
    the code is composed)."""
    return ApiError(413, "AGW-413", f"Request entity too large (limit {limit} bytes)")
