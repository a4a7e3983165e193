"""What the console's dashboard shows, ready for its template: the tiles (each a link to the list
it counts, in the device list's own filter vocabulary, devices.filters), the charts (server-drawn
SVG, no script: coordinates computed here) and the first-enrollment walkthrough."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from devices.choices import DeviceState
from devices.selectors import DashboardSummary


def devices_url(**filters: str) -> str:
    """The console's device list narrowed by `filters` (devices.filters' parameter names)."""
    url = reverse("console:devices")
    return f"{url}?{urlencode(filters)}" if filters else url


@dataclass(frozen=True)
class Tile:
    count: int
    label: Promise | str
    href: str
    alert: bool = False
    extra: str = ""  # a second line, in words


def tiles(summary: DashboardSummary) -> list[Tile]:
    """The organization at a glance; every tile opens the list of what it counts."""
    active = DeviceState.ACTIVE.value
    held = summary.wipes_held
    return [
        Tile(summary.active_devices, _("enrolled devices"), devices_url(state=active)),
        Tile(
            summary.not_compliant,
            _("not compliant"),
            devices_url(compliant="false", state=active),
            alert=summary.not_compliant > 0,
        ),
        Tile(summary.compliant, _("compliant"), devices_url(compliant="true", state=active)),
        Tile(summary.silent, _("silent too long"), devices_url(silent="true", state=active)),
        Tile(summary.pushes_in_flight, _("pushes in flight"), reverse("console:personas")),
        Tile(
            summary.wipes_pending,
            _("wipes pending"),
            reverse("console:wipes"),
            alert=held > 0,
            extra=str(_("%(n)s on hold for a second admin") % {"n": held}) if held else "",
        ),
        Tile(summary.retired_devices, _("retired"), devices_url(state=DeviceState.RETIRED.value)),
    ]
