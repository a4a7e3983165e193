"""problem+json (RFC 9457) for every API error, raised by DRF or by Django.

`{"type", "title", "status", "detail", "code"}`, plus `"errors": {field: [messages]}` on
validation failures. Unhandled exceptions become a bare 500 problem: the stack trace goes to the
log, never to the client.
"""

from __future__ import annotations

import errno
import logging
from http import HTTPStatus
from typing import Any

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from mdm.errors import ServiceError

logger = logging.getLogger("mdm.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"

# DRF's default codes, renamed where the protocol names them.
_CODES = {
    "parse_error": "invalid",
    "invalid": "invalid",
    "not_authenticated": "not_authenticated",
    "authentication_failed": "invalid_token",
    "permission_denied": "forbidden",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "rate_limited",
}


# When the server ran out of something, how long a client should wait before it tries again.
RETRY_AFTER_SECONDS = 5
_EXHAUSTED_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def is_exhaustion(exc: BaseException) -> bool:
    """The server ran out of something for a moment (database connections or the pool's wait,
    Redis, file descriptors): the answer is 503 with Retry-After, and the client comes back."""
    if isinstance(exc, OperationalError | InterfaceError | redis.ConnectionError | redis.TimeoutError):
        return True
    return isinstance(exc, OSError) and exc.errno in _EXHAUSTED_ERRNOS


def unavailable(exc: BaseException) -> tuple[dict[str, Any], dict[str, str]]:
    """The 503 problem for `is_exhaustion(exc)`, and its headers."""
    logger.warning("Answering 503: %s: %s", type(exc).__name__, exc)
    body = problem(503, code="unavailable", detail="The server is busy; retry after the time in Retry-After.")
    return body, {"Retry-After": str(RETRY_AFTER_SECONDS)}


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "Gone for good."
    default_code = "gone"


def problem(status_code: int, *, code: str, detail: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:mdm:problem:{code}",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status_code: int,
    *,
    code: str,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """A problem as a plain Django response, for code outside DRF (middleware, handlers)."""
    response = JsonResponse(
        problem(status_code, code=code, detail=detail, errors=errors),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail flattened to messages by input path (`apps[0].id`), the shape of
    ServiceError.errors (the API's own serializers raise DRF's ValidationError)."""
    if isinstance(detail, dict):
        out = {}
        for field, messages in detail.items():
            if isinstance(messages, dict):
                for sub, sub_messages in _field_errors(messages).items():
                    # A list's errors come keyed by index: apps[0].id, not apps.0.id.
                    head, _, rest = sub.partition(".")
                    key = f"{field}[{head}]" if head.isdigit() else f"{field}.{head}"
                    out[f"{key}.{rest}" if rest else key] = sub_messages
            elif isinstance(messages, list) and messages and isinstance(messages[0], dict):
                for index, item in enumerate(messages):
                    for sub, sub_messages in _field_errors(item).items():
                        out[f"{field}[{index}].{sub}"] = sub_messages
            else:
                out[str(field)] = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
        return out
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def _first_code(detail: Any) -> str | None:
    if isinstance(detail, dict):
        for value in detail.values():
            found = _first_code(value)
            if found:
                return found
        return None
    if isinstance(detail, list):
        return _first_code(detail[0]) if detail else None
    return getattr(detail, "code", None)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes a problem+json response."""
    headers: dict[str, str] = {}
    if isinstance(exc, ServiceError):
        status_code = exc.status
        body = problem(status_code, code=exc.code, detail=exc.message, errors=exc.errors or None)
        return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)

    if isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        errors: dict[str, list[str]] | None = None
        if isinstance(exc, exceptions.ValidationError):
            code = "invalid"
            detail = "The request has invalid fields."
            errors = _field_errors(exc.detail)
        else:
            raw_code = _first_code(exc.detail) or exc.default_code
            code = _CODES.get(raw_code, raw_code)
            detail = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            status_code = status.HTTP_401_UNAUTHORIZED
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        if (wait := getattr(exc, "wait", None)) is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        body = problem(status_code, code=code, detail=detail, errors=errors)
        return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE, headers=headers)

    if is_exhaustion(exc):
        body, headers = unavailable(exc)
        return Response(body, status=503, content_type=PROBLEM_CONTENT_TYPE, headers=headers)
    view = context.get("view")
    logger.exception("Unhandled error in %s", type(view).__name__ if view else "an API view", exc_info=exc)
    body = problem(500, code="server_error", detail="The server could not complete the request.")
    return Response(body, status=500, content_type=PROBLEM_CONTENT_TYPE)
