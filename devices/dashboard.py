"""What the console's dashboard shows, ready for its template: the tiles (each a link to the list
it counts, in the device list's own filter vocabulary, devices.filters), the charts (server-drawn
SVG, no script: coordinates computed here) and the first-enrollment walkthrough."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from devices.choices import ContainerState, DeviceState, Platform
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


# --- Bars -------------------------------------------------------------------------------------------

# The bar charts' drawing box (SVG user units): a row is the label above its bar, so the chart
# keeps readable words when it shrinks to a phone's width (viewBox + width 100%, app.css).
BAR_WIDTH = 360
BAR_MAX = 300  # the longest bar; its count goes after it
BAR_ROW = 44
# The OS versions drawn; the rest are added up in one row.
TOP_VERSIONS = 8


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    href: str  # the filtered list; empty when no filter describes the row
    y: int = 0
    width: int = 0

    @property
    def text_y(self) -> int:
        return self.y + 14

    @property
    def bar_y(self) -> int:
        return self.y + 20

    @property
    def count_x(self) -> int:
        return self.width + 6

    @property
    def count_y(self) -> int:
        return self.y + 33


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    height: int
    width: int = BAR_WIDTH
    row: int = BAR_ROW  # a row's height: the whole row is the bar's link

    @property
    def total(self) -> int:
        return sum(bar.count for bar in self.bars)


def bar_chart(rows: list[tuple[str, int, str]]) -> BarChart:
    """(label, count, link) rows as bars of a server-drawn SVG chart, in the rows' order."""
    peak = max([count for _, count, _ in rows] + [1])
    bars = [
        Bar(label, count, href, y=4 + index * BAR_ROW, width=max(round(BAR_MAX * count / peak), 2 if count else 0))
        for index, (label, count, href) in enumerate(rows)
    ]
    return BarChart(bars, height=8 + BAR_ROW * len(rows))


def _platform_label(platform: str) -> str:
    return str(Platform(platform).label) if platform in Platform.values else platform


def platform_chart(by_os: list[tuple[str, str, int]]) -> BarChart:
    """Active devices per platform, most first; each bar opens the list of that platform's."""
    counts: dict[str, int] = {}
    for platform, _version, n in by_os:
        counts[platform] = counts.get(platform, 0) + n
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return bar_chart(
        [(_platform_label(p), n, devices_url(platform=p, state=DeviceState.ACTIVE.value)) for p, n in rows]
    )


def os_version_chart(by_os: list[tuple[str, str, int]]) -> BarChart:
    """Active devices per OS version, the most used first; each bar opens the list of the devices
    on that version. A version not reported yet, and the versions past the top ones, have no link."""
    rows: list[tuple[str, int, str]] = []
    rest = 0
    unknown = 0
    for platform, version, n in by_os:  # most devices first
        if not version:
            unknown += n
        elif len(rows) < TOP_VERSIONS and platform in Platform.values:
            href = devices_url(platform=platform, os_version=version, state=DeviceState.ACTIVE.value)
            rows.append((f"{_platform_label(platform)} {version}", n, href))
        else:
            rest += n
    if rest:
        rows.append((str(_("Other versions")), rest, ""))
    if unknown:
        rows.append((str(_("Not reported yet")), unknown, ""))
    return bar_chart(rows)


def work_profile_chart(summary: DashboardSummary) -> BarChart:
    """Active devices per work-profile state, in the states' order (a state with none included)."""
    active = DeviceState.ACTIVE.value
    return bar_chart(
        [
            (str(ContainerState(state).label), n, devices_url(container_state=state.value, state=active))
            for state, n in summary.work_profiles_by_state.items()
        ]
    )


# --- Compliance over time -------------------------------------------------------------------------

DAYS = 30
# The line chart's drawing box (SVG user units) and its plot area inside it.
LINE_WIDTH, LINE_HEIGHT = 720, 270
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 60, 700, 16, 222


@dataclass(frozen=True)
class DayPoint:
    day: date
    devices: int
    compliant: int
    not_compliant: int
    unknown: int
    live: bool = False  # today's numbers as the dashboard reads them, not a snapshot yet


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class DayLabel:
    day: date
    x: float
    anchor: str  # the SVG text-anchor


@dataclass(frozen=True)
class Series:
    name: str
    css: str
    points: str  # an SVG polyline's points
    dots: list[tuple[float, float]]
    first: int
    last: int


@dataclass(frozen=True)
class LineChart:
    points: list[DayPoint]  # oldest first
    series: list[Series]
    ticks: list[Tick]
    labels: list[DayLabel]
    since: date
    width: int = LINE_WIDTH
    height: int = LINE_HEIGHT
    left: int = PLOT_LEFT
    right: int = PLOT_RIGHT
    bottom: int = PLOT_BOTTOM

    @property
    def drawable(self) -> bool:
        """Two days at least: one point is no trend."""
        return len(self.points) >= 2

    @property
    def newest_first(self) -> list[DayPoint]:
        return self.points[::-1]


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least `value` (the axis' top)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def compliance_chart(snapshots: list, today: date, summary: DashboardSummary) -> LineChart:
    """The last DAYS days' snapshots (oldest first, today excluded) and today's live numbers as
    the latest point, as an SVG line chart: compliant and not-compliant active devices."""
    since = today - timedelta(days=DAYS - 1)
    points = [
        DayPoint(s.day, s.devices, s.compliant, s.not_compliant, s.unknown) for s in snapshots if since <= s.day < today
    ]
    points.append(
        DayPoint(
            today,
            summary.active_devices,
            summary.compliant,
            summary.not_compliant,
            summary.compliance_unknown,
            live=True,
        )
    )
    top = _nice_ceiling(max([max(p.compliant, p.not_compliant) for p in points] + [1]))
    span_x = (PLOT_RIGHT - PLOT_LEFT) / (DAYS - 1)
    span_y = PLOT_BOTTOM - PLOT_TOP

    def x(day: date) -> float:
        return round(PLOT_LEFT + (day - since).days * span_x, 1)

    def y(value: int) -> float:
        return round(PLOT_BOTTOM - span_y * value / top, 1)

    series = []
    for name, css, attr in (
        (_("Compliant"), "series-3", "compliant"),
        (_("Not compliant"), "series-2", "not_compliant"),
    ):
        dots = [(x(p.day), y(getattr(p, attr))) for p in points]
        series.append(
            Series(
                str(name),
                css,
                " ".join(f"{dx},{dy}" for dx, dy in dots),
                dots,
                getattr(points[0], attr),
                getattr(points[-1], attr),
            )
        )
    values = (0, top // 2, top) if top % 2 == 0 else (0, top)
    ticks = [Tick(value, y(value)) for value in values]
    middle = since + timedelta(days=DAYS // 2)
    labels = [
        DayLabel(since, x(since), "start"),
        DayLabel(middle, x(middle), "middle"),
        DayLabel(today, x(today), "end"),
    ]
    return LineChart(points, series, ticks, labels, since)


# --- The first enrollment -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: Promise | str
    text: Promise | str
    href: str
    action: Promise | str
    done: str = ""  # what is already there, in words


def first_enrollment_steps(*, personas: int, tokens: int) -> list[Step]:
    """What a new admin does, in order, until the first device checks in and gets a policy."""
    return [
        Step(
            _("Check a persona"),
            _(
                "A persona is what a work profile enforces (passcode, apps, sharing). Every organization "
                "starts with a default one: check it, or create one per team."
            ),
            reverse("console:personas"),
            _("Review the default persona"),
            done=ngettext("%(n)s persona ready", "%(n)s personas ready", personas) % {"n": personas}
            if personas
            else "",
        ),
        Step(
            _("Issue an enrollment token"),
            _("A token (or its QR code) lets one device, or a given number of them, join with a persona."),
            reverse("console:enrollment"),
            _("Issue a token"),
            done=ngettext("%(n)s token ready to use", "%(n)s tokens ready to use", tokens) % {"n": tokens}
            if tokens
            else "",
        ),
        Step(
            _("Enroll a device"),
            _(
                "Run the MDM agent on the device with the token's QR payload, or send the employee to "
                "the portal: they sign in and enroll their device there."
            ),
            reverse("portal:enroll"),
            _("Open the employee portal"),
        ),
        Step(
            _("Push a policy"),
            _(
                "Open the device's persona, change what it needs and choose Save and push: every device "
                "of that persona receives the new policy and the console follows their answers."
            ),
            reverse("console:personas"),
            _("Choose a persona to push"),
        ),
    ]


# --- Recent activity --------------------------------------------------------------------------------

# What an audit action's first part names, where its identifier is not already a word.
_NOUNS = {
    "api_token": _("API token"),
    "scim_token": _("SCIM token"),
    "android": _("Android Enterprise"),
    "directory": _("Identity provider"),
    "audit": _("Audit log"),
    "event_destination": _("Event destination"),
    "enrollment_token": _("Enrollment token"),
    "signing_key": _("Signing key"),
}
_VERBS = {
    "sso_bound": _("linked to single sign-on"),
    "chain_verified": _("verified"),
    "wiped_by_agent": _("wiped by its agent (offline too long)"),
    "signing_key_rolled_over": _("got a new signing key"),
    "devices_assigned": _("assigned to devices"),
    "lock_requested": _("lock requested"),
    "unlock_requested": _("unlock requested"),
    "held": _("held for a second admin"),
}


def action_words(action: str) -> str:
    """An audit action in words: `device.lock_requested` reads "Device: lock requested"."""
    noun, _sep, verb = action.partition(".")
    noun_words = str(_NOUNS.get(noun, noun.replace("_", " ").capitalize()))
    verb_words = str(_VERBS.get(verb, verb.replace("_", " ")))
    return f"{noun_words}: {verb_words}" if verb_words else noun_words


@dataclass(frozen=True)
class Activity:
    at: object  # a datetime
    who: str
    what: str
    target: str


def recent_activity(events: list) -> list[Activity]:
    """The dashboard's latest audit events, in words (who did what to what)."""
    return [
        Activity(
            event.created_at,
            str(_("The system")) if event.actor_type == "system" or not event.actor_label else event.actor_label,
            action_words(event.action),
            event.target_label,
        )
        for event in events
    ]
