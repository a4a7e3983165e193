"""The portal's own steps and the console's audit log in a real browser (Debian's Chromium driven
by Playwright), at 1440 px and at 390 px: an employee renames their device (a refusal first),
reports it lost through the confirmation page and sees the lock at once, and reads the persona
before enrolling; an auditor verifies the audit chain and reads its details in words. Nothing
overflows sideways on a phone. Devices are rows made through the ORM: no agent needed."""

from __future__ import annotations

import pytest

from devices.choices import ContainerState
from mdm.actors import SYSTEM
from mdm.services import membership_add
from personas.services import persona_update
from tests.devices.test_device_selectors import default_persona, make_device
from tests.e2e.conftest import PASSWORD, set_password, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

VIEWPORTS = {"1440": (1440, 900), "390": (390, 844)}


def fits(page, label: str) -> None:
    if label == "390":
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url


def sign_in(page, base: str, path: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}{path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def test_an_employee_renames_and_reports_a_device_lost_and_reads_the_persona(live_mdm, actors, browser_page):
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    set_password(actors.employee)
    persona = default_persona(actors.org)
    phone = {"model": "Pixel 8", "owner": actors.employee, "persona": persona, "os_version": "14", "compliant": True}
    phones = {
        label: make_device(actors.org, name=f"Pixel {label}", container_state=ContainerState.ACTIVE, **phone)
        for label in VIEWPORTS
    }
    page, base = browser_page, live_mdm.url
    sign_in(page, base, "/portal/login/", actors.employee.email)
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        phone = phones[label]

        # Before enrolling: which persona applies, and what it means.
        page.goto(f"{base}/portal/enroll/")
        preview = page.locator("#persona-preview")
        preview.get_by_role("heading", name=f"Your work profile will follow the persona “{persona.name}”").wait_for()
        assert preview.get_by_text("Your work passcode has at least 4 characters.").is_visible()
        assert preview.get_by_text("your location").is_visible()
        preview.get_by_text("Between work and personal: what may cross").click()
        assert preview.get_by_text("You cannot copy from work apps into personal apps.").is_visible()
        assert page.get_by_role("button", name="Get my enrollment code").is_visible()
        fits(page, label)
        shot(page, f"portal-ux-enroll-preview-{label}")

        # Rename: a refusal shows what was typed and why, then a good name.
        page.goto(f"{base}/portal/devices/{phone.pk}/")
        page.get_by_role("heading", name=phone.name, level=1).wait_for()
        assert page.get_by_text("Work profile active").is_visible()
        name = page.get_by_label("What you call this device")
        name.fill("   ")
        page.get_by_role("button", name="Rename").click()
        page.get_by_text("Give the device a name.").wait_for()
        assert page.get_by_label("What you call this device").get_attribute("aria-invalid") == "true"
        fits(page, label)
        shot(page, f"portal-ux-rename-refused-{label}")
        page.get_by_label("What you call this device").fill(f"Erin's work phone {label}")
        page.get_by_role("button", name="Rename").click()
        page.get_by_role("heading", name=f"Erin's work phone {label}", level=1).wait_for()
        assert page.get_by_text(f"Renamed to “Erin's work phone {label}”.").is_visible()

        # Report lost: a confirmation page first, then the lock shows at once and is not offered again.
        page.get_by_role("link", name="Report this device lost…").click()
        page.get_by_role("heading", name=f"Report Erin's work phone {label} lost?").wait_for()
        assert page.get_by_text("The work profile is locked").is_visible()
        assert page.get_by_text("Everything personal").is_visible()
        fits(page, label)
        shot(page, f"portal-ux-lost-confirm-{label}")
        page.get_by_role("button", name="Yes, lock the work profile").click()
        page.locator("#work-profile-state").get_by_text("Lock pending").wait_for()
        assert page.get_by_text("Your work profile is being locked, and your IT team has been told.").is_visible()
        assert page.get_by_role("link", name="Report this device lost…").count() == 0
        assert page.get_by_text("Work profile active").count() == 0
        fits(page, label)
        shot(page, f"portal-ux-lost-pending-{label}")

    # The console shows the names the employee gave.
    set_password(actors.admin)
    sign_in(page, base, "/console/login/", actors.admin.email)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{base}/console/devices/{phones['1440'].pk}/")
    page.get_by_role("heading", name="Erin's work phone 1440", level=1).wait_for()


def test_the_audit_log_reads_in_words_and_verify_now_shows_its_result(live_mdm, actors, browser_page):
    persona_update(persona=default_persona(actors.org), patch={"access": {"passcode": {"min_length": 8}}})
    set_password(actors.auditor)
    page, base = browser_page, live_mdm.url
    sign_in(page, base, "/console/login/", actors.auditor.email)
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/console/audit/")
        page.get_by_role("heading", name="Audit log", level=1).wait_for()
        assert page.get_by_text("Minimum passcode length: 4 → 8").is_visible()
        assert page.get_by_role("region", name="Audit events").is_visible()
        # "When" holds on one line: its cell is no taller than a line of text.
        when = page.locator("table.audit tbody tr td.nowrap time").first
        assert when.evaluate("e => e.getBoundingClientRect().height") < 30
        if label == "1440":
            page.get_by_role("button", name="Verify now").click()
            page.locator("#chain-state").get_by_text("events intact").wait_for()
            assert page.get_by_role("status").get_by_text("events intact").is_visible()  # the message too
        else:
            assert page.locator("#chain-state").get_by_text("events intact").is_visible()
        fits(page, label)
        shot(page, f"audit-log-{label}")
