"""The employee portal in a real browser (Debian's Chromium, driven by Playwright): an employee
signs in, enrolls the reference agent with the portal's QR payload, reads the privacy page,
removes the work persona, and the agent's corporate container is gone while its personal files
are intact."""

import hashlib
import json

import pytest

from mdm.actors import SYSTEM
from mdm.services import membership_add
from tests.e2e.conftest import PASSWORD, set_password, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_an_employee_enrolls_reads_the_privacy_page_and_removes_the_work_profile(
    live_mdm, celery_worker, actors, browser_page, tmp_path
):
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    set_password(actors.employee)
    page, base = browser_page, live_mdm.url

    page.goto(f"{base}/portal/login/")
    page.get_by_label("E-mail").fill("erin@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My devices").wait_for()

    page.get_by_role("link", name="Add a device").click()
    page.get_by_label("Android").check()
    page.get_by_role("button", name="Get my enrollment code").click()
    payload = json.loads(page.locator("#payload").input_value())
    page.get_by_text("this page updates by itself").wait_for()
    shot(page, "11-portal-enroll")

    state = tmp_path / "phone"
    live_mdm.agent(state, "enroll", "--qr-payload", json.dumps(payload), "--model", "Erin's Pixel")
    live_mdm.agent(state, "sync")
    live_mdm.agent(state, "checkin")
    live_mdm.agent(state, "put-file", "--side", "work", "expenses.txt", "--text", "receipts")
    live_mdm.agent(state, "put-file", "--side", "personal", "holiday.jpg", "--text", "sunset")
    personal = hashlib.sha256((state / "personal" / "holiday.jpg").read_bytes()).hexdigest()

    # The page notices by itself, and links to the device.
    page.get_by_role("link", name="See what your organization can and cannot see").click(timeout=20_000)
    page.get_by_role("heading", name="Your privacy").wait_for()
    assert page.get_by_text("You cannot copy from work apps into personal apps.").is_visible()
    assert page.get_by_text("your location").is_visible()
    shot(page, "12-portal-privacy")

    page.get_by_role("link", name="Remove the work profile…").click()
    page.get_by_text("What stays").wait_for()
    page.get_by_role("button", name="Remove the work profile").click()
    page.get_by_text("The work profile is being removed").first.wait_for()
    shot(page, "13-portal-removing")

    ran = live_mdm.agent(state, "run", "--wait", "5", "--max-seconds", "20")
    assert "run ended: retired" in ran.stdout
    assert not (state / "corporate").exists()
    assert hashlib.sha256((state / "personal" / "holiday.jpg").read_bytes()).hexdigest() == personal
    page.reload()
    page.get_by_text("The work profile was removed from this device.").wait_for()
