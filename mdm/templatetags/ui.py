"""The design system's template helpers (docs/design-system.md): navigation links that know the
current page, and times people read ("5 minutes ago", never "0 minutes")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str, exact: bool = False):
    """A navigation link, marked `aria-current="page"` on its own page and the pages under it."""
    url = reverse(url_name)
    request = context.get("request")
    path = getattr(request, "path", "")
    current = path == url if exact else (path == url or path.startswith(url.rstrip("/") + "/"))
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', url, label)
    return format_html('<a href="{}">{}</a>', url, label)


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, as people say it: "just now" under a minute, then "5 minutes ago";
    a time in the future (a clock ahead) reads "just now" too."""
    if not value:
        return ""
    now = now or timezone.now()
    if now - value < timedelta(minutes=1):
        return _("just now")
    return _("%(delta)s ago") % {"delta": timesince(value, now, depth=1)}


@register.inclusion_tag("ui/time.html")
def when(value: datetime | None, relative: bool = False):
    """A <time> element: the exact UTC time as text (or "… ago"), the other form as its title."""
    return {"value": value, "relative": relative}
