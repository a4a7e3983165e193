"""Sharing an enrollment token and resending an invitation, in a real browser at 1440 px and at
390 px: the copy button copies the code, the printable page prints the QR code without the
console around it, the PNG and SVG download, the instructions go out by e-mail (the development
server writes it to MDM_MAIL_DIR); on the members page a pending invitation is resent, and a
second click within the minute is refused in words."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.conftest import PASSWORD, set_password, shot
from tests.e2e.test_accessibility import AXE, AXE_OPTIONS, FAILING_IMPACTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/console/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def axe_problems(page) -> list[str]:
    page.evaluate(AXE.read_text())
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return [
        f"{page.url}: {v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


def fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def mail_to(address: str, since: float) -> str:
    """The body of the newest e-mail the live server wrote for `address` since `since`."""
    folder = Path(settings.MDM_MAIL_DIR)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            if path.stat().st_mtime >= since and address in (text := path.read_text(errors="replace")):
                return text
        time.sleep(0.2)
    raise AssertionError(f"No e-mail to {address} in {folder}")


def test_an_enrollment_token_is_copied_printed_downloaded_and_sent(live_mdm, actors, browser_page, tmp_path):
    page, base = browser_page, live_mdm.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    set_password(actors.admin)
    sign_in(page, base, actors.admin.email)
    problems: list[str] = []

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{base}/console/enrollment/")
    page.get_by_label("Note").fill("Front desk tablet")
    page.get_by_role("button", name="Issue token").click()
    page.get_by_role("heading", name="Enrollment token issued").wait_for()
    code = page.locator("#payload").input_value()
    assert '"token":"mdmet_' in code

    copy = page.get_by_role("button", name="Copy code")
    copy.click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == code
    shot(page, "enrollment/01-issued-desktop")
    problems += axe_problems(page)

    # The downloads: a PNG and an SVG of the same QR code, named after the token.
    with page.expect_download() as png:
        page.get_by_role("link", name="Download QR code (PNG)").click()
    png_path = tmp_path / png.value.suggested_filename
    png.value.save_as(png_path)
    assert png_path.suffix == ".png" and png_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with page.expect_download() as svg:
        page.get_by_role("link", name="Download QR code (SVG)").click()
    svg_path = tmp_path / svg.value.suggested_filename
    svg.value.save_as(svg_path)
    assert svg_path.suffix == ".svg" and b"<svg" in svg_path.read_bytes()

    # The printable page: on paper, the QR code and the steps, without the console around them.
    page.get_by_role("link", name="Printable page").click()
    page.get_by_role("heading", name="Enroll a device in Acme").wait_for()
    shot(page, "enrollment/02-print-page-desktop")
    problems += axe_problems(page)
    page.emulate_media(media="print")
    assert page.locator(".print-qr svg").is_visible()
    assert not page.locator(".sidebar").is_visible() and not page.get_by_role("button", name="Print").is_visible()
    shot(page, "enrollment/03-print-media")
    page.emulate_media(media="screen")

    # The instructions by e-mail, from the token's own page.
    page.get_by_role("link", name="Enrollment token").click()
    page.wait_for_load_state()
    token_url = page.url
    started = time.time() - 1
    page.get_by_label("E-mail the instructions to").fill("not an address")
    page.get_by_role("button", name="Send instructions").click()
    page.get_by_text("Enter a valid email address.").wait_for()
    page.get_by_label("E-mail the instructions to").fill("new.hire@example.com")
    page.get_by_role("button", name="Send instructions").click()
    page.get_by_text("Enrollment instructions sent to new.hire@example.com.").wait_for()
    assert code.split('"token":"', 1)[1].split('"', 1)[0] in mail_to("new.hire@example.com", started)
    page.get_by_label("E-mail the instructions to").fill("new.hire@example.com")
    page.get_by_role("button", name="Send instructions").click()
    page.get_by_text("less than a minute ago").wait_for()
    shot(page, "enrollment/04-sent-desktop")

    # At 390 px: the token's page and the printable page fit the phone's width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(token_url)
    assert page.get_by_role("button", name="Copy code").is_visible()
    assert fits(page, 390), "the token page scrolls sideways on a phone"
    shot(page, "enrollment/05-token-phone")
    problems += axe_problems(page)
    page.get_by_role("link", name="Printable page").click()
    page.get_by_role("heading", name="Enroll a device in Acme").wait_for()
    assert fits(page, 390), "the printable page scrolls sideways on a phone"
    shot(page, "enrollment/06-print-phone")
    problems += axe_problems(page)

    # The list links the usable token to its page.
    page.goto(f"{base}/console/enrollment/")
    assert fits(page, 390)
    shot(page, "enrollment/07-list-phone")
    assert not problems, "\n".join(problems)


def test_a_pending_invitation_is_resent_once_a_minute(live_mdm, actors, browser_page):
    page, base = browser_page, live_mdm.url
    set_password(actors.owner)
    sign_in(page, base, actors.owner.email)
    problems: list[str] = []
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        email = f"new.{label}@acme.test"
        page.goto(f"{base}/console/members/")
        page.get_by_label("E-mail", exact=True).fill(email)
        page.get_by_label("Role", exact=True).select_option("employee")
        page.get_by_role("button", name="Invite").click()
        page.get_by_text(f"Invitation sent to {email}.").wait_for()
        row = page.locator("table.pending-invitations tr", has_text=email)
        assert row.get_by_text("Employee (portal only)").is_visible()
        started = time.time() - 1
        row.get_by_role("button", name="Resend").click()
        page.get_by_text(f"A new invitation was sent to {email}; the earlier link no longer works.").wait_for()
        assert "/portal/invitation/" in mail_to(email, started)
        row = page.locator("table.pending-invitations tr", has_text=email)
        row.get_by_role("button", name="Resend").click()
        page.get_by_text("less than a minute ago").wait_for()
        assert "never" in page.locator("table.members-table").inner_text()  # bob, charlie, dana
        assert fits(page, width), f"the members page scrolls sideways at {width} px"
        shot(page, f"enrollment/members-resent-{label}")
        problems += axe_problems(page)
    assert not problems, "\n".join(problems)
