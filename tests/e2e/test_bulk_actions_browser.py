"""Bulk actions of the device list in a real browser (Debian's Chromium driven by Playwright), at
1440 px and at 390 px: two devices ticked, the count said, locked after the confirmation page, the
result on the list; then "select all on this page" and a bulk wipe, whose confirmation wants the
number of devices typed (a wrong one is refused on the page) and a reason. The confirmation pages
pass axe-core (they are POST answers, which the accessibility sweep cannot open)."""

from __future__ import annotations

import pytest

from devices.choices import ContainerState
from devices.models import Command, Wipe
from tests.devices.test_device_selectors import make_device
from tests.e2e.conftest import set_password, shot
from tests.e2e.test_dashboard_browser import axe_problems, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1440, 390])
def test_select_two_devices_lock_them_then_wipe_a_whole_page(live_mdm, actors, browser_page, width):
    set_password(actors.admin)
    phones = [make_device(actors.org, name=name, container_state=ContainerState.ACTIVE) for name in
              ("Anna's phone", "Ben's phone", "Cara's tablet")]  # fmt: skip
    page, base = browser_page, live_mdm.url
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, base, "bob@acme.test")
    page.goto(f"{base}/console/devices/")

    # The script shows "select all" and the count; the boxes post with the bar's form.
    select_all = page.get_by_label("Select all devices on this page")
    select_all.wait_for()
    count = page.locator("[data-bulk-count]")
    assert count.inner_text() == "No device selected"
    page.get_by_label("Select Anna's phone").check()
    page.get_by_label("Select Cara's tablet").check()
    assert count.inner_text() == "2 devices selected"
    assert page.evaluate("document.querySelector('[data-bulk-all]').indeterminate")
    page.get_by_label("With the selected devices").select_option("lock")
    shot(page, f"bulk-list-selected-{width}")
    page.get_by_role("button", name="Continue…").click()

    page.get_by_role("heading", name="Lock work profile: 2 devices selected").wait_for()
    table = page.get_by_role("region", name="The selected devices")
    assert sorted(table.get_by_role("link").all_inner_texts()) == ["Anna's phone", "Cara's tablet"]
    if width == 390:
        no_sideways_scroll(page, width)
    shot(page, f"bulk-lock-confirm-{width}")
    assert axe_problems(page) == []
    page.get_by_role("button", name="Lock work profile: 2 devices").click()

    page.wait_for_url(f"{base}/console/devices/")
    page.get_by_text("Lock sent to 2 devices.").wait_for()
    shot(page, f"bulk-lock-done-{width}")
    assert Command.objects.filter(type="lock_corporate").count() == 2
    assert not Command.objects.filter(device=phones[1]).exists()

    # Every device of the page, then a corporate wipe: the typed number, then a reason.
    page.get_by_label("Select all devices on this page").check()
    assert page.locator("[data-bulk-count]").inner_text() == "3 devices selected"
    page.get_by_label("With the selected devices").select_option("wipe")
    page.get_by_role("button", name="Continue…").click()
    page.get_by_role("heading", name="Corporate wipe: 3 devices selected").wait_for()
    page.get_by_role("heading", name="What will not be touched").wait_for()
    page.get_by_label("Type the number of devices to confirm").fill("2")
    page.get_by_label("Reason (kept in the audit log)").fill("Stolen bag")
    page.get_by_role("button", name="Corporate wipe: 3 devices").click()
    page.get_by_text("That is not what was asked: nothing was wiped.").wait_for()
    assert not Wipe.objects.exists()
    shot(page, f"bulk-wipe-refused-{width}")
    assert axe_problems(page) == []
    if width == 390:
        no_sideways_scroll(page, width)
    page.get_by_label("Type the number of devices to confirm").fill("3")
    shot(page, f"bulk-wipe-confirm-{width}")
    page.get_by_role("button", name="Corporate wipe: 3 devices").click()

    page.wait_for_url(f"{base}/console/devices/")
    page.get_by_text("Corporate wipe requested for 3 devices.").wait_for()
    shot(page, f"bulk-wipe-done-{width}")
    assert Wipe.objects.filter(state="pending", reason="Stolen bag").count() == 3
