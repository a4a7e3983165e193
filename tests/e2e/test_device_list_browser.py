"""The device list in a real browser: on a wide screen the table uses the width; a header sorts
and says so; a chip's cross removes its filter; the column chooser hides a column and the list
remembers it; a view saved comes back from its link and is deleted; at 390 px the table scrolls
inside its region, not the page. Rows are made through the ORM: no agent needed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.choices import Ownership, Platform
from devices.models import SavedDeviceView
from tests.devices.test_device_selectors import default_persona, make_device
from tests.e2e.conftest import set_password, shot
from tests.e2e.test_dashboard_browser import axe_problems, no_sideways_scroll, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def names_in_order(page) -> list[str]:
    return page.evaluate(
        "[...document.querySelectorAll('table.devices tbody td > a[href^=\"/console/devices/\"]')]"
        ".map(a => a.textContent)"
    )


def header_texts(page) -> list[str]:
    return page.evaluate(
        "[...document.querySelectorAll('table.devices thead th:not(:has([data-bulk-all]))')]"
        ".map(th => th.cloneNode(true)).map(th => { th.querySelectorAll('.sr-only').forEach(s => s.remove());"
        " return th.textContent.trim(); })"
    )


def test_the_device_list_sorts_filters_chooses_columns_and_saves_views(live_mdm, actors, browser_page):
    set_password(actors.admin)
    now = timezone.now()
    persona = default_persona(actors.org)
    make_device(actors.org, name="Erin's Pixel", owner=actors.employee, persona=persona, os_version="14",
                compliant=True, last_seen_at=now - timedelta(minutes=5), model="Pixel 8")  # fmt: skip
    make_device(actors.org, name="Sales iPad", platform=Platform.IOS, os_version="17.4", ownership=Ownership.CORPORATE,
                compliant=False, last_seen_at=now - timedelta(days=3))  # fmt: skip
    make_device(actors.org, name="Build laptop", platform=Platform.MACOS, os_version="14.5")

    page, base = browser_page, live_mdm.url
    page.set_viewport_size({"width": 1920, "height": 1000})
    sign_in(page, base, "bob@acme.test")
    page.goto(f"{base}/console/devices/")
    # The list uses a wide screen: the table is far wider than the old ~900 px column.
    width = page.evaluate("document.querySelector('.table-wrap').getBoundingClientRect().width")
    assert width > 1600, width  # the old cap of .content was 1600 px, padding included
    assert page.get_by_text("5 minutes ago").count() == 1
    assert page.get_by_text("Company-owned device, no owner").count() == 1
    shot(page, "device-list-1920")

    page.set_viewport_size({"width": 1440, "height": 900})
    # Sorting: a header's link, its aria-sort, and the order turned around by a second click.
    page.get_by_role("link", name="Name (sort ascending)").click()
    page.wait_for_url("**/console/devices/?sort=name")
    assert names_in_order(page) == ["Build laptop", "Erin's Pixel", "Sales iPad"]
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("Name")
    page.get_by_role("link", name="Name (sort descending)").click()
    page.wait_for_url("**/console/devices/?sort=-name")
    assert names_in_order(page) == ["Sales iPad", "Erin's Pixel", "Build laptop"]

    # A filter from the form becomes a chip; the sort is kept; the chip's cross removes it.
    page.get_by_role("search").get_by_label("Platform").select_option("android")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**platform=android**")
    assert "sort=-name" in page.url and names_in_order(page) == ["Erin's Pixel"]
    chip = page.locator("li.chip")
    assert chip.inner_text().startswith("Platform: Android")
    shot(page, "device-list-1440-filtered")
    page.get_by_role("link", name="Remove the filter Platform: Android").click()
    page.wait_for_url("**/console/devices/?sort=-name")
    assert len(names_in_order(page)) == 3 and page.locator("li.chip").count() == 0

    # The column chooser: no persona, the model shown; remembered on the next visit.
    page.get_by_text("Columns", exact=True).click()
    page.locator(".column-chooser").get_by_label("Persona").uncheck()
    page.locator(".column-chooser").get_by_label("Model").check()
    page.get_by_role("button", name="Show these columns").click()
    page.wait_for_url("**cols=**")
    assert "Persona" not in header_texts(page) and "Model" in header_texts(page)
    page.goto(f"{base}/console/devices/")
    assert "Persona" not in header_texts(page) and "Model" in header_texts(page)

    # Save this view: an empty name is refused on the page; a name saves it.
    page.goto(f"{base}/console/devices/?ownership=corporate&sort=name")
    page.get_by_text("Save this view").click()
    page.get_by_role("button", name="Save view").click()
    page.get_by_text("Give the view a name.").wait_for()
    page.get_by_label("Name of this view").fill("Company devices")
    page.get_by_role("button", name="Save view").click()
    page.get_by_text("View “Company devices” saved.").wait_for()
    assert names_in_order(page) == ["Sales iPad"]
    page.goto(f"{base}/console/devices/")
    page.get_by_role("link", name="Company devices").click()
    page.wait_for_url("**ownership=corporate**")
    assert names_in_order(page) == ["Sales iPad"] and "Model" in header_texts(page)
    assert axe_problems(page) == []
    shot(page, "device-list-1440-saved-view")

    # At 390 px: no sideways page scroll, the table scrolls inside its region.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/console/devices/?sort=-last_seen")
    no_sideways_scroll(page)
    region = page.locator(".table-wrap")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")
    assert axe_problems(page) == []
    shot(page, "device-list-390")

    page.get_by_role("button", name="Delete Company devices").click()
    page.get_by_text("View “Company devices” deleted.").wait_for()
    assert not SavedDeviceView.objects.exists()
