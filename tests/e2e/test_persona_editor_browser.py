"""The persona editor in a real browser (Debian's Chromium driven by Playwright), at 1440 px and at
390 px: a value that is not a number is shown back as typed, marked invalid and named by its label;
the app id field offers the apps the organization's devices report; "Save and push" shows the
change in words and how many devices receive it, and confirming pushes it. Devices are rows made
through the ORM: no agent needed."""

from __future__ import annotations

import pytest

from personas.models import Persona
from personas.services import persona_create
from tests.devices.test_device_selectors import make_device
from tests.e2e.conftest import set_password, shot
from tests.e2e.test_dashboard_browser import axe_problems, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def known_apps(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('#known-apps option')].map(o => o.value)")


@pytest.mark.parametrize("width", [1440, 390])
def test_an_admin_corrects_a_bad_value_picks_a_known_app_and_confirms_the_push(live_mdm, actors, browser_page, width):
    set_password(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    for name in ("Erin's phone", "Sales phone"):
        make_device(actors.org, name=name, persona=persona, work_apps=[{"id": "com.acme.reported", "version": "2.1"}])
    make_device(actors.other_org, work_apps=[{"id": "com.globex.secret", "version": "1"}])
    persona_create(
        organization=actors.org, name="Sales", preset="byod-strict", changes={"apps": [{"id": "com.acme.crm"}]}
    )
    page, base = browser_page, live_mdm.url
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, base, "bob@acme.test")
    page.get_by_role("heading", name="Acme", level=1).wait_for()

    # The list: its table scrolls in its own region, apart from the new persona's card.
    page.goto(f"{base}/console/personas/")
    page.get_by_role("region", name="The organization's personas").wait_for()
    table = page.locator(".table-wrap").bounding_box()
    card = page.locator("form.card").bounding_box()
    assert table["y"] + table["height"] <= card["y"]
    assert page_width(page) <= width
    shot(page, f"persona-list-{width}")

    # A passcode length that is not a number: shown back as typed, marked, named by its label.
    page.get_by_role("link", name="BYOD basic").click()
    page.get_by_role("heading", name="In plain words").wait_for()
    page.get_by_text("Your work passcode has at least 4 characters.").wait_for()
    page.get_by_label("Minimum iOS version").wait_for()
    page.get_by_label("Passcode minimum length").fill("abc")
    page.get_by_role("button", name="Save and push").click()
    page.get_by_text("Nothing was saved").wait_for()
    field = page.get_by_label("Passcode minimum length")
    assert field.input_value() == "abc" and field.get_attribute("aria-invalid") == "true"
    summary = page.locator("#form-errors")
    assert "Passcode minimum length" in summary.inner_text()
    assert "access.passcode" not in summary.inner_text()
    assert page_width(page) <= width
    assert axe_problems(page) == []
    shot(page, f"persona-bad-value-{width}")

    # The app id field offers the organization's known apps (and no other organization's).
    assert known_apps(page) == ["com.acme.crm", "com.acme.reported"]
    assert page.locator("#app-0-id").get_attribute("list") == "known-apps"
    page.locator("#app-0-id").fill("com.acme.reported")
    field.fill("6")
    page.get_by_role("button", name="Save and push").click()

    # The confirmation: the change in words, and the devices that receive it.
    page.get_by_role("heading", name="Save and push “BYOD basic”?").wait_for()
    page.get_by_role("row", name="Passcode minimum length 4 6").wait_for()
    page.get_by_role("row", name="Work app com.acme.reported").wait_for()
    page.get_by_text("sends it to the 2 devices that use this persona").wait_for()
    assert page_width(page) <= width
    assert axe_problems(page) == []
    shot(page, f"persona-confirm-{width}")

    # Going back keeps the edit; confirming saves and pushes.
    page.get_by_role("button", name="Back to editing").click()
    assert page.get_by_label("Passcode minimum length").input_value() == "6"
    assert page.locator("#app-0-id").input_value() == "com.acme.reported"
    persona.refresh_from_db()
    assert persona.revision == 1
    page.get_by_role("button", name="Save and push").click()
    page.get_by_role("button", name="Confirm: save and push").click()
    page.get_by_text("Pushing revision 2").wait_for()
    page.get_by_text("of 2 devices answered").wait_for()
    persona.refresh_from_db()
    assert persona.revision == 2 and persona.passcode_min_length == 6
    assert list(persona.app_rules.values_list("app_id", flat=True)) == ["com.acme.reported"]
    assert page_width(page) <= width
    shot(page, f"persona-pushed-{width}")
