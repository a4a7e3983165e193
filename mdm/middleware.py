"""Keeps the API surfaces speaking problem+json even where DRF is not involved: unknown URLs,
Django-level errors, bodies over the size limit, and crashes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

from mdm.api.errors import PROBLEM_CONTENT_TYPE, problem_response

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
        from mdm.views import public

        probe = {"/healthz": public.healthz, "/readyz": public.readyz}.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


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
