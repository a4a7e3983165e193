"""The console in a real browser: Debian's Chromium driven by Playwright (no browser download).

An IT admin signs in, creates a persona from a preset and changes a sharing rule, issues an
enrollment token, enrolls the reference agent with it, sees the device appear, wipes its
corporate persona through the confirmation, and sees the wipe complete, while the agent's
personal files stay byte-identical. Screenshots of the main pages go to test-artifacts/.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, set_password, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def personal_hashes(state: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((state / "personal").iterdir())}


def test_an_admin_enrolls_a_device_and_wipes_its_work_profile_in_the_browser(
    live_mdm, celery_worker, actors, browser_page, tmp_path
):
    set_password(actors.owner)
    page, base = browser_page, live_mdm.url
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    # Sign in.
    page.goto(f"{base}/console/login/")
    page.get_by_label("E-mail").fill("alice@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Acme").wait_for()
    shot(page, "01-dashboard")

    # A persona from a preset, and one sharing rule changed.
    page.get_by_role("link", name="Personas").click()
    page.get_by_label("Name").fill("Field staff")
    page.get_by_label("Personal device, enhanced protection").check()
    page.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Field staff").wait_for()
    page.locator('select[name="data_sharing.files.personal_to_work"]').select_option("allow")
    page.get_by_role("button", name="Save and push").click()
    # A confirmation first: what changes, in words, and how many devices receive it.
    page.get_by_role("row", name="Files, personal to work Deny Allow").wait_for()
    page.get_by_text("No device uses this persona yet").wait_for()
    page.get_by_role("button", name="Confirm: save and push").click()
    page.get_by_text("Pushing revision 2").wait_for()
    shot(page, "02-persona")

    # An enrollment token for it, shown once with its QR code.
    page.get_by_role("link", name="Enrollment").click()
    page.get_by_label("Persona").select_option(label="Field staff")
    page.get_by_role("button", name="Issue token").click()
    page.get_by_text("The token is stored hashed").wait_for()
    assert page.locator(".qr svg").count() == 1
    payload = json.loads(page.locator("#payload").input_value())
    shot(page, "03-enrollment")

    # The reference agent enrolls with it, applies the policy, and fills both sides.
    state = tmp_path / "phone"
    live_mdm.agent(state, "enroll", "--qr-payload", json.dumps(payload), "--model", "Pixel 8")
    live_mdm.agent(state, "sync")
    live_mdm.agent(state, "put-file", "--side", "work", "deal.txt", "--text", "term sheet")
    for name, text in (("kids.jpg", "family photo"), ("diary.txt", "dear diary")):
        live_mdm.agent(state, "put-file", "--side", "personal", name, "--text", text)
    before = personal_hashes(state)
    live_mdm.agent(state, "share", "--channel", "files", "--from", "personal", "--to", "work", "--text", "cv.pdf")

    # The device appears in the registry.
    page.get_by_role("link", name="Devices", exact=True).click()
    device_link = page.get_by_role("link", name="Pixel 8")
    device_link.wait_for()
    shot(page, "04-devices")
    device_link.click()
    device_name = page.get_by_role("heading", level=1).inner_text()
    shot(page, "05-device")

    # The corporate wipe, through its confirmation.
    page.get_by_role("link", name="Wipe work profile…").click()
    page.get_by_text("What will not be touched").wait_for()
    shot(page, "06-wipe-confirmation")
    page.get_by_label("Type the device's name to confirm").fill(device_name)
    page.get_by_label("Reason (kept in the audit log)").fill("Phone stolen")
    page.get_by_role("button", name="Wipe the work profile").click()
    page.get_by_text("Corporate wipe: Pending").wait_for()

    # The device obeys; the page follows it live.
    ran = live_mdm.agent(state, "run", "--wait", "5", "--max-seconds", "20")
    assert "run ended: retired" in ran.stdout
    page.get_by_text("Corporate wipe: Done").wait_for(timeout=20_000)
    shot(page, "07-wipe-done")

    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
    page.get_by_role("link", name="Devices", exact=True).click()
    shot(page, "08-devices-tablet")

    assert not (state / "corporate").exists()
    assert personal_hashes(state) == before
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
