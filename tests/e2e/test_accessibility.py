"""Every page of the console and the portal, in a real browser at 1440 px and at 390 px:
axe-core (installed from the npm registry by scripts/axe-up.sh) finds no serious or critical
violation, nothing overflows the screen sideways on a phone, and the phone's menu works with the
keyboard. The page list comes from the URL map itself: a new console or portal page fails this
test until it is visited here (or listed, with its reason, as not a page).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import PASSWORD, set_password, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}
# WCAG 2.1 A and AA, and the best practices, as axe-core names them; "serious" and "critical" fail.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}
FAILING_IMPACTS = {"serious", "critical"}

# Routes that are not pages a person opens: POST-only actions, downloads, redirects to a
# provider, and the pages that need a one-time secret (their own tests cover them).
NOT_PAGES = {
    "console:login": "visited signed out, below",
    "console:logout": "POST only",
    "console:switch-organization": "POST only",
    "console:audit-export": "a CSV download",
    "console:devices-export": "a CSV download",
    "console:devices-bulk": "POST only: its confirmation pages get axe in tests/e2e/test_bulk_actions_browser.py",
    "console:device-views": "POST only (saves the device list's view)",
    "console:device-view-delete": "POST only",
    "console:push-results-export": "a CSV download",
    "console:device-lock": "POST only",
    "console:device-unlock": "POST only",
    "console:device-wipe-status": "an htmx fragment of the device page",
    "console:push-progress": "an htmx fragment of the persona page",
    "console:wipe-approve": "POST only",
    "console:wipe-cancel": "POST only",
    "console:enrollment-revoke": "POST only",
    "console:android-connect": "POST only (redirects to Google)",
    "console:android-callback": "Google's redirect back, with its one-time token",
    "console:android-disconnect": "POST only",
    "console:member-change": "POST only",
    "console:member-invitation-revoke": "POST only",
    "console:invitation-decide": "POST only",
    "console:api-token-revoke": "POST only",
    "console:invitation": "needs the e-mailed one-time link (tests/mdm covers it)",
    "console:password-set": "the end of the e-mailed link's flow",
    "console:event-destination-replay": "POST only",
    "console:event-destination-test": "POST only",
    "console:event-destination-toggle": "POST only",
    "console:event-destination-rotate-secret": "POST only",
    "console:event-destination-delete": "POST only",
    "console:scim-token-create": "POST only",
    "console:scim-token-revoke": "POST only",
    "console:identity-provider-offboarding": "POST only",
    "console:identity-provider-group": "POST only",
    "console:signing-key-retire": "the confirmation page of a key being retired (tests/devices covers it)",
    "portal:login": "visited signed out, below",
    "portal:logout": "POST only",
    "portal:switch-organization": "POST only",
    "portal:invitation-decide": "POST only",
    "portal:enroll-status": "an htmx fragment of the enrollment page",
    "portal:remove": "the confirmation of removing the work profile (visited with its device)",
    "portal:lost": "the report-lost confirmation (visited with its device, below)",
    "portal:rename": "POST only (its form is on the device page)",
    "console:member-pending-resend": "POST only",
    "console:member-pending-revoke": "POST only",
    "console:member-invitation-resend": "POST only",
    "console:enrollment-qr-png": "a PNG download",
    "console:enrollment-qr-svg": "an SVG download",
    "console:enrollment-send": "POST only (its form is on the token's page)",
    "portal:invitation": "needs the e-mailed one-time link (tests/mdm covers it)",
}


def routes(namespace: str) -> list[URLPattern]:
    resolver = get_resolver()
    _, namespace_resolver = resolver.namespace_dict[namespace]
    found: list[URLPattern] = []

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif pattern.name:
                found.append(pattern)

    walk(namespace_resolver.url_patterns)
    return found


def page_urls(namespace: str, kwargs_for: dict[str, dict]) -> list[str]:
    urls, missing = [], []
    for pattern in routes(namespace):
        name = f"{namespace}:{pattern.name}"
        if name in NOT_PAGES:
            continue
        args = bool(pattern.pattern.converters)
        if args and name not in kwargs_for:
            missing.append(name)
            continue
        urls.append(reverse(name, kwargs=kwargs_for.get(name)) if args else reverse(name))
    assert not missing, f"New pages to visit in this test (or to list in NOT_PAGES): {missing}"
    return sorted(set(urls))


def check(page, url: str, label: str) -> list[str]:
    """axe's serious and critical violations of the page, and a sideways overflow on a phone."""
    try:
        response = page.goto(url)
    except PlaywrightError as error:  # a 405 or an empty error answer: nothing to check, but say so
        return [f"{label} {url}: the browser could not open it ({error.message.splitlines()[0]})"]
    if response is None or response.status >= 500 or response.status == 405:
        return [f"{label} {url}: answered {response and response.status}"]
    problems = []
    page.evaluate(AXE.read_text())
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    assert result["passes"], f"{url}: axe-core checked nothing"
    for violation in result["violations"]:
        if violation["impact"] in FAILING_IMPACTS:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
            rule, impact = violation["id"], violation["impact"]
            problems.append(f"{label} {url}: {rule} ({impact}): {violation['help']} at {targets}")
    slug = "-".join(part for part in url.split("/")[3:] if part and len(part) < 30) or "home"
    shot(page, f"pages/{label}-{slug}")
    width = page.viewport_size["width"]
    if width < 600:
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            problems.append(f"{label} {url}: the page is {scroll} px wide on a {width} px screen")
    return problems


def sign_in(page, base: str, login_path: str, email: str) -> None:
    page.goto(f"{base}{login_path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


@pytest.fixture
def fleet(actors):
    """One of everything a page shows: a persona with a push, devices, a token, a destination,
    a directory group, a pending wipe and an invitation."""
    from devices.choices import ContainerState, Ownership
    from devices.push import push_start_for_persona
    from devices.services import enrollment_token_create
    from directory.models import DirectoryGroup
    from events.services import event_destination_create
    from mdm.actors import SYSTEM
    from mdm.services import member_invite, membership_add
    from personas.models import Persona
    from tests.devices.test_device_selectors import make_device

    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    device = make_device(actors.org, name="Pixel 8", owner=actors.employee, persona=persona, compliant=False,
                         container_state=ContainerState.ACTIVE, os_version="15", model="GKWS6")  # fmt: skip
    make_device(actors.org, name="Sales iPad", ownership=Ownership.CORPORATE, persona=persona, compliant=True)
    push = push_start_for_persona(persona=persona, actor=SYSTEM)
    token = enrollment_token_create(organization=actors.org, persona=persona, employee=actors.employee, actor=SYSTEM)
    member_invite(organization=actors.org, email="newbie@acme.test", role="helpdesk", actor=SYSTEM)  # pending
    destination = event_destination_create(
        organization=actors.org, name="SIEM", kind="webhook",
        config={"url": "https://siem.example.com/hooks/mdm"}, actor=SYSTEM,
    ).destination  # fmt: skip
    group = DirectoryGroup.objects.create(organization=actors.org, display_name="Sales", external_id="sales")
    return {"persona": persona, "device": device, "push": push, "destination": destination, "group": group,
            "token": token.enrollment_token}  # fmt: skip


def test_every_page_passes_axe_and_fits_a_phone(live_mdm, celery_worker, actors, fleet, browser_page):
    page, base = browser_page, live_mdm.url
    for user in (actors.owner, actors.employee):
        set_password(user)
    console = page_urls(
        "console",
        {
            "console:device": {"pk": fleet["device"].pk},
            "console:device-wipe": {"pk": fleet["device"].pk},
            "console:persona": {"pk": fleet["persona"].pk},
            "console:persona-preview": {"pk": fleet["persona"].pk},
            "console:persona-android-policy": {"pk": fleet["persona"].pk},
            "console:event-destination": {"pk": fleet["destination"].pk},
            "console:enrollment-token": {"pk": fleet["token"].pk},
            "console:enrollment-print": {"pk": fleet["token"].pk},
        },
    )
    portal = page_urls("portal", {"portal:device": {"pk": fleet["device"].pk}})
    problems: list[str] = []

    # Signed out: the two sign-in pages and the 404 page.
    for url in ("/console/login/", "/portal/login/"):
        for label, size in VIEWPORTS.items():
            page.set_viewport_size(dict(zip(("width", "height"), size, strict=True)))
            problems += check(page, f"{base}{url}", label)

    sign_in(page, base, "/console/login/", actors.owner.email)
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(dict(zip(("width", "height"), size, strict=True)))
        for url in [*console, f"/console/devices/{uuid.uuid4()}/", "/console/no-such-page/"]:
            problems += check(page, f"{base}{url}", label)
    shot(page, "a11y-console-phone")

    # The phone's menu, with the keyboard only: Tab to the Menu button, Enter opens the links.
    page.goto(f"{base}/console/")
    menu = page.get_by_role("button", name="Menu")
    assert menu.is_visible() and not page.get_by_role("link", name="Devices", exact=True).is_visible()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.hasAttribute('data-menu-toggle')"):
            break
    page.keyboard.press("Enter")
    assert menu.get_attribute("aria-expanded") == "true"
    page.get_by_role("link", name="Devices", exact=True).wait_for()
    shot(page, "a11y-console-phone-menu")

    page.context.clear_cookies()
    sign_in(page, base, "/portal/login/", actors.employee.email)
    device = fleet["device"].pk
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(dict(zip(("width", "height"), size, strict=True)))
        for url in [*portal, f"/portal/devices/{device}/remove/", f"/portal/devices/{device}/lost/", "/portal/nope/"]:
            problems += check(page, f"{base}{url}", label)
    shot(page, "a11y-portal-phone")

    assert not problems, "\n".join(problems)
