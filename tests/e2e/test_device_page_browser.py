"""The device page in a real browser (Debian's Chromium driven by Playwright): a device in a few
states offers only the actions that make sense; an admin locks it then unlocks it from the page;
the page reads well at 1440 px and at 390 px (nothing overflows sideways). Rows are made through
the ORM and the services: no agent needed."""

from __future__ import annotations

import pytest

from devices.choices import ContainerState, DeviceState
from devices.models import Command, Wipe
from personas.choices import InstallMode
from personas.models import AppRule
from tests.devices.test_device_selectors import default_persona, make_device
from tests.e2e.conftest import PASSWORD, set_password, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def buttons(page) -> set[str]:
    names = ("Lock work profile", "Unlock work profile", "Wipe work profile…")
    header = page.locator(".page-header")
    return {name for name in names if header.get_by_role("button", name=name, exact=True).count()
            or header.get_by_role("link", name=name, exact=True).count()}  # fmt: skip


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_device_page_offers_what_makes_sense_and_locks_then_unlocks(live_mdm, actors, browser_page):
    set_password(actors.admin)
    persona = default_persona(actors.org)
    AppRule.objects.create(organization=actors.org, persona=persona, app_id="com.acme.mail",
                           install=InstallMode.REQUIRED)  # fmt: skip
    phone = make_device(actors.org, name="Erin's phone", model="Pixel 8", owner=actors.employee, persona=persona,
                        container_state=ContainerState.ACTIVE, os_version="14")  # fmt: skip
    held = make_device(actors.org, name="Held phone", container_state=ContainerState.ACTIVE)
    Wipe.objects.create(organization=actors.org, device=held, state=Wipe.State.HELD, reason="lost",
                        requested_by="alice@acme.test")  # fmt: skip
    retired = make_device(actors.org, name="Old phone", state=DeviceState.RETIRED)

    page, base = browser_page, live_mdm.url
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{base}/console/login/")
    page.get_by_label("E-mail").fill("bob@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Acme").wait_for()

    # An active, unlocked device: lock and wipe, no unlock; why its required app is missing.
    page.goto(f"{base}/console/devices/{phone.pk}/")
    page.get_by_role("heading", name="Erin's phone", level=1).wait_for()
    assert buttons(page) == {"Lock work profile", "Wipe work profile…"}
    page.get_by_text("Personal device (BYOD) · erin@acme.test").first.wait_for()
    page.get_by_text("has not checked in since it enrolled").wait_for()
    shot(page, "device-page-1440")

    # Lock: the page now offers the unlock (which would cancel the lock on its way), not the lock.
    page.get_by_role("button", name="Lock work profile", exact=True).click()
    page.get_by_text("Lock sent to the device.").first.wait_for()
    assert buttons(page) == {"Unlock work profile", "Wipe work profile…"}
    page.locator(".badge", has_text="Lock on its way").wait_for()
    page.locator(".timeline").get_by_text("Lock sent to the device").wait_for()
    shot(page, "device-page-lock-sent")
    page.get_by_role("button", name="Unlock work profile", exact=True).click()
    page.get_by_text("Unlock sent to the device.").first.wait_for()
    assert buttons(page) == {"Lock work profile", "Wipe work profile…"}
    assert list(Command.objects.filter(device=phone).order_by("created_at").values_list("type", "state")) == [
        ("lock_corporate", "expired"),
        ("unlock_corporate", "queued"),
    ]

    # A wipe held for a second admin: nothing else to do here.
    page.goto(f"{base}/console/devices/{held.pk}/")
    page.locator(".badge", has_text="Wipe held for approval").wait_for()
    assert buttons(page) == set()
    page.get_by_text("Lock and unlock are not offered").wait_for()

    # On a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/console/devices/{phone.pk}/")
    page.get_by_role("heading", name="Erin's phone", level=1).wait_for()
    no_sideways_scroll(page)
    shot(page, "device-page-390")
    page.goto(f"{base}/console/devices/{held.pk}/")
    page.locator(".badge", has_text="Wipe held for approval").wait_for()
    no_sideways_scroll(page)
    shot(page, "device-page-held-wipe-390")
    page.goto(f"{base}/console/devices/{retired.pk}/")
    page.locator(".badge", has_text="Retired").wait_for()
    assert buttons(page) == set()
    no_sideways_scroll(page)
