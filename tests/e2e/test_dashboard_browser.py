"""The dashboard in a real browser (Debian's Chromium driven by Playwright): a fleet with a week of
compliance snapshots draws its charts at 1440 px and at 390 px without sideways scrolling, a tile
opens the filtered device list, a bar opens the devices of its OS version; an organization without
devices shows the way to its first enrollment. Rows are made through the ORM: no agent needed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.choices import ContainerState, DeviceState, Platform
from devices.models import ComplianceSnapshot
from tests.devices.test_device_selectors import make_device
from tests.e2e.conftest import PASSWORD, set_password, shot
from tests.e2e.test_accessibility import AXE, AXE_OPTIONS, FAILING_IMPACTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def axe_problems(page) -> list[str]:
    """axe-core's serious and critical violations of the page as it is (its tables opened)."""
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.evaluate(AXE.read_text())
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/console/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def listed_names(page) -> set[str]:
    """The names of the devices the list links to (its rows)."""
    return set(
        page.evaluate(
            "[...document.querySelectorAll('main a')]"
            ".filter(a => /^\\/console\\/devices\\/[0-9a-f-]{36}\\/$/.test(a.getAttribute('href')))"
            ".map(a => a.textContent.trim())"
        )
    )


def test_the_dashboard_charts_the_fleet_and_its_tiles_open_filtered_lists(live_mdm, actors, browser_page):
    set_password(actors.admin)
    org = actors.org
    make_device(org, name="Erin's phone", compliant=True, container_state=ContainerState.ACTIVE, os_version="14")
    make_device(org, name="Bad phone", compliant=False, container_state=ContainerState.ACTIVE, os_version="13")
    make_device(org, name="Old Android", compliant=False, container_state=ContainerState.LOCKED, os_version="13")
    make_device(org, name="Sales iPad", platform=Platform.IOS, compliant=True, os_version="17.2")
    make_device(org, name="Build laptop", platform=Platform.MACOS, compliant=True, os_version="14.5", silent=True)
    make_device(org, name="Gone phone", state=DeviceState.RETIRED, compliant=False, os_version="13")
    today = timezone.now().date()
    for days_ago, (compliant, not_compliant) in zip(range(7, 0, -1), [(1, 4), (1, 4), (2, 3), (2, 3), (3, 2), (3, 2),
                                                                      (3, 2)], strict=True):  # fmt: skip
        ComplianceSnapshot.objects.create(organization=org, day=today - timedelta(days=days_ago), devices=5,
                                          compliant=compliant, not_compliant=not_compliant)  # fmt: skip

    page, base = browser_page, live_mdm.url
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, base, "bob@acme.test")
    page.get_by_role("heading", name="Acme", level=1).wait_for()
    page.get_by_role("heading", name="Compliance over time").wait_for()
    assert page.locator("polyline.chart-line").count() == 2
    page.get_by_role("img", name="Compliance over time").wait_for()
    shot(page, "dashboard-1440")

    # The table alternative of the platforms, opened.
    platforms = page.locator("section", has=page.get_by_role("heading", name="Devices by platform"))
    platforms.get_by_text("Show as a table").click()
    assert platforms.get_by_role("region", name="Devices by platform").get_by_role("link").all_inner_texts() == [
        "Android",
        "iOS",
        "macOS",
    ]
    shot(page, "dashboard-1440-platform-table")
    assert axe_problems(page) == []

    # A tile opens the list it counts.
    page.locator("a.tile", has_text="not compliant").click()
    page.wait_for_url("**/console/devices/?compliant=false&state=active")
    assert listed_names(page) == {"Bad phone", "Old Android"}
    shot(page, "dashboard-tile-not-compliant")

    # A bar opens the devices on its OS version.
    page.goto(f"{base}/console/")
    page.locator("svg a", has_text="Android 13").first.click()
    page.wait_for_url("**/console/devices/?platform=android&os_version=13&state=active")
    assert listed_names(page) == {"Bad phone", "Old Android"}

    # On a phone: the charts shrink with the screen, nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/console/")
    page.get_by_role("heading", name="Compliance over time").wait_for()
    no_sideways_scroll(page)
    widths = page.evaluate(
        "[...document.querySelectorAll('svg.chart-scale')].map(s => s.getBoundingClientRect().right)"
    )
    assert widths and max(widths) <= 390
    shot(page, "dashboard-390")
    assert axe_problems(page) == []
    no_sideways_scroll(page)  # the tables opened scroll inside their region
    shot(page, "dashboard-390-tables")
    page.goto(f"{base}/console/")
    page.locator("a.tile", has_text="silent too long").click()
    page.wait_for_url("**/console/devices/?silent=true&state=active")
    assert listed_names(page) == {"Build laptop"}  # (the list page's own layout is tested with the list)


def test_a_new_organization_sees_the_way_to_its_first_enrollment(live_mdm, actors, browser_page):
    set_password(actors.owner)
    page, base = browser_page, live_mdm.url
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        sign_in(page, base, "alice@acme.test") if width == 1440 else page.goto(f"{base}/console/")
        page.get_by_role("heading", name="Enroll your first device").wait_for()
        assert page.locator("a.tile").count() == 0
        if width == 390:
            no_sideways_scroll(page)
        shot(page, f"dashboard-empty-{width}")
        assert axe_problems(page) == []
    page.get_by_role("link", name="Issue a token").click()
    page.wait_for_url("**/console/enrollment/")
