"""Keeps the API surfaces speaking problem+json even where DRF is not involved: unknown URLs,
Django-level errors, bodies over the size limit, and crashes."""

from __future__ import annotations

import io
import json
import logging

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse, HttpResponseBadRequest
from django.utils.deprecation import MiddlewareMixin

from mdm.api.errors import PROBLEM_CONTENT_TYPE, is_exhaustion, problem_response, unavailable
from mdm.views import public

logger = logging.getLogger("mdm.api")

API_PREFIXES = ("/api/", "/.well-known/")

_FALLBACK = {
    400: ("invalid", "The request could not be understood."),
    403: ("forbidden", "This is not allowed."),
    404: ("not_found", "Nothing is here."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("too_large", "The request body is over the size limit."),
    500: ("server_error", "The server could not complete the request."),
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) and not path.startswith(("/api/docs", "/api/redoc"))


class HealthProbeMiddleware:
    """Answers /healthz and /readyz before host validation, HTTPS redirects and sessions.

    Orchestrators probe a container by its own address over plain HTTP; those requests carry no
    public Host header, and the probes reveal nothing a stranger could use.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = {"/healthz": public.healthz, "/readyz": public.readyz}.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


class RequestInputMiddleware(MiddlewareMixin):
    """What every request must be before any view or query sees it.

    - A query string holding a NUL character is refused (400): PostgreSQL cannot compare text
      with one, so any filter of any list would fail deep in the ORM. One check here covers every
      query parameter of every list, in the API, the console and the portal.
    - A chunked body (`Transfer-Encoding: chunked`, no `Content-Length`) is read here, up to the
      same size limit as any other body (413 past it), and given its length: Django and DRF take
      a request without a length for one without a body, which silently dropped chunked writes.
    """

    def process_request(self, request):
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            return _refuse(request, 400, "invalid", "Query parameters may not contain NUL characters.")
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not request.META.get(
            "CONTENT_LENGTH"
        ):
            refused = _read_chunked_body(request)
            if refused is not None:
                return refused
        return None


def _read_chunked_body(request) -> HttpResponse | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    # The server has already undone the chunking: under ASGI the request's stream holds the whole
    # body; under WSGI it is wsgi.input, which Django would have cut to the missing length (0).
    stream = request.environ["wsgi.input"] if isinstance(request, WSGIRequest) else request._stream
    body = stream.read(limit + 1)
    if len(body) > limit:
        return _refuse(request, 413, "too_large", f"The request body is over {limit // 1024} KiB.")
    # What HttpRequest.body itself keeps once read; the length makes DRF and Django parse it.
    request._body = body
    request._stream = io.BytesIO(body)
    request.META["CONTENT_LENGTH"] = str(len(body))
    return None


# The identity provider's SCIM door answers in SCIM's own error format (RFC 7644 §3.12), even here.
SCIM_PREFIX = "/scim/"


def _refuse(request, status: int, code: str, detail: str) -> HttpResponse:
    if request.path.startswith(SCIM_PREFIX):
        error = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(status), "detail": detail}
        if status == 400:
            error["scimType"] = "invalidValue"
        return HttpResponse(json.dumps(error), status=status, content_type="application/scim+json")
    if is_api_path(request.path):
        return problem_response(status, code=code, detail=detail)
    if status == 400:
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


# No inline script or style anywhere in the console or the portal; htmx and CSS are served from here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# The browsable API docs (Swagger UI) run an inline bootstrap script of their own.
CSP_EXEMPT_PREFIXES = ("/api/docs",)


class SecurityHeadersMiddleware(MiddlewareMixin):
    """A strict Content-Security-Policy and a Permissions-Policy on every page."""

    def process_response(self, request, response):
        if not request.path.startswith(CSP_EXEMPT_PREFIXES):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response


class ProblemJsonMiddleware(MiddlewareMixin):
    def process_request(self, request):
        if not is_api_path(request.path):
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, code="invalid", detail="Content-Length is not a number.")
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
            return problem_response(413, code="too_large", detail=f"The request body is over {limit} KiB.")
        return None

    def process_exception(self, request, exception):
        if is_exhaustion(exception):  # out of connections or descriptors for a moment: come back
            body, headers = unavailable(exception)
            if not is_api_path(request.path):
                response = HttpResponse(body["detail"], status=503, content_type="text/plain; charset=utf-8")
                response["Retry-After"] = headers["Retry-After"]
                return response
            return problem_response(503, code=body["code"], detail=body["detail"], headers=headers)
        if not is_api_path(request.path):
            return None
        logger.exception("Unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return problem_response(500, code="server_error", detail=_FALLBACK[500][1])

    def process_response(self, request, response):
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith((PROBLEM_CONTENT_TYPE, "application/json")):
            return response
        code, detail = _FALLBACK.get(response.status_code, ("error", "The request failed."))
        replacement = problem_response(response.status_code, code=code, detail=detail)
        if response.has_header("Allow"):
            replacement["Allow"] = response["Allow"]
        return replacement
