"""Unauthenticated endpoints: health probes and the signing keys' JWKS."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from mdm.celery import app as celery_app
from mdm.signing import jwks

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def healthz(request):
    """Liveness: the process answers. Checks nothing else, so a slow database never restarts it."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log only
        logger.warning("readyz: database unreachable: %s", exc)
        return "unreachable"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logger.warning("readyz: broker unreachable: %s", exc)
        return "unreachable"
    return None


@require_GET
@never_cache
def readyz(request):
    """Readiness: the database and the Celery broker answer; 503 otherwise."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(result is None for result in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: (result or "ok") for name, result in checks.items()},
        "mode": settings.MDM_MODE,
    }
    return JsonResponse(body, status=200 if ready else 503)


@require_GET
@cache_control(public=True, max_age=300)
def jwks_view(request):
    """The server's public signing keys (the active one first, then previous ones; never retired ones)."""
    return JsonResponse(jwks(), content_type="application/jwk-set+json")


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever a page's <link rel="icon"> says: send them to it."""
    return HttpResponsePermanentRedirect(static("mdm/favicon.svg"))
