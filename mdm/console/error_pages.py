"""The 404, 403 and 500 pages of the console and the portal: the site's own layout and its
navigation, so a wrong link is one click from where the person meant to go. The API keeps its
problem+json errors (mdm/middleware.py answers those before a page is ever rendered)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader

from mdm.permissions import context_for_request


def _page(request: HttpRequest, status: int, exception: Exception | None) -> HttpResponse:
    surface = "portal" if request.path.startswith("/portal/") else "console"
    context: dict[str, object] = {"status": status, "surface": surface}
    if surface == "console" and getattr(request, "user", None) is not None and request.user.is_authenticated:
        org = getattr(request, "org", None) or context_for_request(request)
        if org is not None:
            request.org = org  # type: ignore[attr-defined]  # the layout's context processor reads it
    if status == 403 and exception is not None and str(exception):
        context["reason"] = str(exception)
    base = "console/base.html" if getattr(request, "org", None) is not None else f"errors/{surface}_base.html"
    context["base"] = base
    return render(request, f"errors/{status}.html", context, status=status)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _page(request, 404, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _page(request, 403, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Nothing that could fail again: no database, no context processors.
    return HttpResponse(loader.get_template("errors/500.html").render({}), status=500)
