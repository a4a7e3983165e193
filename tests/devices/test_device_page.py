"""The console's device page: only the actions that make sense in the device's state (and the server
refusing the others), status badges in words, one timeline of what happened to the device, and why
a work app its persona requires is not there."""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from devices.choices import ContainerState, DeviceState, ManagementChannel
from devices.commands.apply_policy import apply_policy
from devices.commands.results import command_record_result
from devices.models import Command, ComplianceChange, Device, Wipe
from devices.services import CheckinReport, device_checkin
from devices.wipe import corporate_lock, corporate_wipe_request
from mdm.actors import SYSTEM
from mdm.models import OutboxEvent
from personas.choices import InstallMode
from personas.models import AppRule
from tests.devices.test_device_selectors import default_persona, make_device

LOCK, UNLOCK, WIPE = "Lock work profile", "Unlock work profile", "Wipe work profile"


def page(client, user, device, query=""):
    client.force_login(user)
    response = client.get(f"/console/devices/{device.pk}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def offered(html: str) -> set[str]:
    """The actions offered as buttons (the command table names them too)."""
    buttons = {LOCK: f">{LOCK}</button>", UNLOCK: f">{UNLOCK}</button>", WIPE: f">{WIPE}…</a>"}
    return {action for action, button in buttons.items() if button in html}


def android(org, **fields):
    device = make_device(org, channel=ManagementChannel.ANDROID, **fields)
    Device.objects.filter(pk=device.pk).update(
        signing_public_key=None, google_name=f"enterprises/E/devices/{device.pk}"
    )
    return Device.objects.get(pk=device.pk)


def texts(html: str, css: str) -> list[str]:
    """The text of each <li> of the list with class `css`, tags stripped."""
    block = html.split(f'class="{css}"', 1)[1].split("</ol>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip() for item in block.split("<li")[1:]]


def checkin(device, **compliance):
    device = Device.objects.get(pk=device.pk)
    facts = {"passcode_compliant": True, "compromised": False, **compliance}
    return device_checkin(device=device, report=CheckinReport(
        applied_policy_version=device.applied_policy_version, container_state=device.container_state,
        os_version=device.os_version or "14", agent_version="1.0.0", compliance=facts, work_apps=device.work_apps,
    ))  # fmt: skip


# --- Actions that make sense -----------------------------------------------------------------------


def test_an_unlocked_device_offers_lock_and_wipe_but_no_unlock(client, actors):
    device = make_device(actors.org, container_state=ContainerState.ACTIVE)
    html = page(client, actors.admin, device)
    assert offered(html) == {LOCK, WIPE}
    assert "Work profile active" in html


def test_a_locked_device_offers_unlock_and_wipe_but_no_lock(client, actors):
    device = make_device(actors.org, container_state=ContainerState.LOCKED)
    html = page(client, actors.admin, device)
    assert offered(html) == {UNLOCK, WIPE}
    assert "Work profile locked" in html


def test_a_lock_on_its_way_counts_as_locked_and_says_so(client, actors):
    device = make_device(actors.org, container_state=ContainerState.ACTIVE)
    corporate_lock(device=device, lock=True, actor=SYSTEM)
    html = page(client, actors.admin, device)
    assert offered(html) == {UNLOCK, WIPE}
    assert "Lock on its way" in html and "unlocking now cancels it" in html


@pytest.mark.parametrize("state", [Wipe.State.HELD, Wipe.State.PENDING])
def test_an_open_wipe_offers_neither_lock_nor_unlock_nor_another_wipe(client, actors, state):
    device = make_device(actors.org, container_state=ContainerState.LOCKED)
    Wipe.objects.create(organization=actors.org, device=device, state=state, reason="lost", requested_by="x")
    html = page(client, actors.owner, device)
    assert offered(html) == set()
    assert ("Wipe held for approval" if state == Wipe.State.HELD else "Wipe pending") in html
    assert "Lock and unlock are not offered" in html


@pytest.mark.parametrize(
    "fields", [{"state": DeviceState.RETIRED}, {"container_state": ContainerState.WIPED}], ids=["retired", "wiped"]
)
def test_a_retired_or_wiped_device_offers_nothing(client, actors, fields):
    device = make_device(actors.org, **fields)
    assert offered(page(client, actors.owner, device)) == set()


def test_an_android_device_is_never_offered_an_unlock(client, actors):
    device = android(actors.org, container_state=ContainerState.LOCKED)
    html = page(client, actors.admin, device)
    assert offered(html) == {WIPE} and "Google has no remote unlock" in html


# --- The server refuses what makes no sense --------------------------------------------------------


def test_locking_a_locked_device_is_refused_with_a_reason(client, actors):
    device = make_device(actors.org, container_state=ContainerState.LOCKED)
    client.force_login(actors.helpdesk)
    refused = client.post(f"/console/devices/{device.pk}/lock/")
    assert refused.status_code == 409
    assert "already locked" in refused.content.decode()
    assert not Command.objects.filter(device=device).exists()
    assert client.post(f"/console/devices/{device.pk}/unlock/").status_code == 302
    assert Command.objects.get(device=device).type == "unlock_corporate"
    # The unlock is on its way: another is refused, a lock (which cancels it) is not.
    again = client.post(f"/console/devices/{device.pk}/unlock/")
    assert again.status_code == 409 and "already on its way" in again.content.decode()
    assert client.post(f"/console/devices/{device.pk}/lock/").status_code == 302


def test_unlocking_a_device_that_is_not_locked_is_refused(client, actors):
    device = make_device(actors.org, container_state=ContainerState.ACTIVE)
    client.force_login(actors.admin)
    refused = client.post(f"/console/devices/{device.pk}/unlock/")
    assert refused.status_code == 409 and "is not locked" in refused.content.decode()
    assert not Command.objects.filter(device=device).exists()


def test_lock_unlock_and_wipe_are_refused_while_a_wipe_is_open(client, actors, settings):
    device = make_device(actors.org, container_state=ContainerState.ACTIVE)
    wipe = corporate_wipe_request(device=device, reason="stolen", actor=SYSTEM)
    assert wipe.state == Wipe.State.PENDING
    client.force_login(actors.owner)
    for action in ("lock", "unlock"):
        refused = client.post(f"/console/devices/{device.pk}/{action}/")
        assert refused.status_code == 409 and "corporate wipe is on its way" in refused.content.decode()
    again = client.post(f"/console/devices/{device.pk}/wipe/", {"device_name": device.name, "reason": "again"})
    assert again.status_code == 409 and "already on its way" in again.content.decode()
    assert Wipe.objects.filter(device=device).count() == 1
    assert not Command.objects.filter(device=device, type__in=["lock_corporate", "unlock_corporate"]).exists()


def test_a_retired_device_cannot_be_wiped_or_locked(client, actors):
    device = make_device(actors.org, state=DeviceState.RETIRED)
    client.force_login(actors.owner)
    assert client.get(f"/console/devices/{device.pk}/wipe/").status_code == 409
    assert (
        client.post(f"/console/devices/{device.pk}/wipe/", {"device_name": device.name, "reason": "x"}).status_code
        == 409
    )
    assert client.post(f"/console/devices/{device.pk}/lock/").status_code == 409
    assert not Wipe.objects.exists() and not Command.objects.exists()


def test_the_admin_api_still_re_sends_a_lock(actors):
    """The API contract is unchanged (shared/spec/admin-api.md): a lock of a locked device is queued."""
    device = make_device(actors.org, container_state=ContainerState.LOCKED)
    response = actors.api(actors.admin).post(f"/api/v1/devices/{device.pk}/lock-corporate/", {}, format="json")
    assert response.status_code == 202


def test_another_organizations_device_page_and_actions_are_404(client, actors):
    device = make_device(actors.org, container_state=ContainerState.LOCKED)
    client.force_login(actors.outsider)
    assert client.get(f"/console/devices/{device.pk}/").status_code == 404
    assert client.get(f"/console/devices/{device.pk}/?timeline=2").status_code == 404
    for action in ("lock", "unlock", "wipe"):
        assert client.post(f"/console/devices/{device.pk}/{action}/").status_code == 404
    assert not Command.objects.exists()


def test_an_auditor_sees_the_page_but_no_action(client, actors):
    device = make_device(actors.org, container_state=ContainerState.LOCKED)
    assert offered(page(client, actors.auditor, device)) == set()
    assert client.post(f"/console/devices/{device.pk}/unlock/").status_code == 403


# --- The timeline ---------------------------------------------------------------------------------


def test_the_timeline_tells_the_devices_life_newest_first(client, actors, enrolled):
    agent, device = enrolled, enrolled.server_device
    agent.sync_policy()  # the enrollment's policy, version 1
    agent.checkin()
    with transaction.atomic():  # a push's command: policy version 2
        apply_policy.issue(Device.objects.select_for_update().get(pk=device.pk))
    agent.poll()
    checkin(device, passcode_compliant=False)
    client.force_login(actors.admin)
    assert client.post(f"/console/devices/{device.pk}/lock/").status_code == 302
    agent.poll()  # the lock, done
    checkin(device)
    entries = texts(page(client, actors.admin, device), "timeline")
    titles = [
        "Compliant again", "Work profile locked", "Lock sent to the device", "Not compliant",
        "Policy version 2 applied", "Policy version 2 issued", "Policy version 1 issued", "Enrolled",
    ]  # fmt: skip
    positions = [next(i for i, entry in enumerate(entries) if title in entry) for title in titles]
    assert positions == sorted(positions), entries
    assert "from persona revision r1" in next(entry for entry in entries if "Policy version 1 issued" in entry)
    assert "has applied it or a newer one" in next(entry for entry in entries if "Policy version 1 issued" in entry)
    lock_sent = next(entry for entry in entries if "Lock sent to the device" in entry)
    assert "by bob@acme.test" in lock_sent
    not_compliant = next(entry for entry in entries if "Not compliant" in entry)
    assert "Set a passcode of at least" in not_compliant
    # Who asked is the audit log's: a role that may not read it sees the history without names.
    helpdesk = texts(page(client, actors.helpdesk, device), "timeline")
    assert any("Lock sent to the device" in entry for entry in helpdesk)
    assert not any("bob@acme.test" in entry for entry in helpdesk)


def test_the_timeline_shows_a_wipe_and_a_failed_command(client, actors, settings):
    device = make_device(actors.org, container_state=ContainerState.ACTIVE)
    lock = corporate_lock(device=device, lock=True, actor=SYSTEM)
    command_record_result(device=device, command_id=lock.pk, status="error", detail="screen lock not supported")
    settings.MDM_MASS_WIPE_THRESHOLD = 0
    corporate_wipe_request(device=device, reason="left the company", actor=SYSTEM)
    entries = texts(page(client, actors.owner, device), "timeline")
    assert "Corporate wipe requested" in entries[0] and "left the company" in entries[0]
    assert "Held for the approval of a second admin" in entries[0]
    failed = next(entry for entry in entries if "Lock work profile failed" in entry)
    assert "screen lock not supported" in failed


def test_the_timeline_shows_50_entries_and_pages_on(client, actors):
    device = make_device(actors.org, enrolled_at=timezone.now() - timedelta(days=90))
    start = timezone.now() - timedelta(days=60)
    ComplianceChange.objects.bulk_create(
        ComplianceChange(organization=actors.org, device=device, compliant=n % 2 == 0, previous=n % 2 == 1,
                         created_at=start + timedelta(hours=n))
        for n in range(60)
    )  # fmt: skip
    first = page(client, actors.auditor, device)
    assert len(texts(first, "timeline")) == 50
    assert "?timeline=2#timeline" in first and "Show more" in first
    second = page(client, actors.auditor, device, "?timeline=2")
    entries = texts(second, "timeline")
    assert len(entries) == 11 and "Enrolled" in entries[-1]
    assert "Show more" not in second and "?timeline=1#timeline" in second
    assert page(client, actors.auditor, device, "?timeline=abc").count("<li class=") >= 50


def test_a_checkin_records_a_compliance_change_once(actors):
    device = make_device(actors.org, container_state=ContainerState.ACTIVE)
    checkin(device, compromised=True)
    checkin(device, compromised=True)  # nothing changed: nothing recorded
    checkin(device)
    changes = list(ComplianceChange.objects.filter(device=device).order_by("created_at"))
    assert [(c.previous, c.compliant) for c in changes] == [(None, False), (False, True)]
    assert "rooted" in changes[0].reasons[0] and changes[0].organization_id == actors.org.pk
    assert OutboxEvent.objects.filter(type="device.compliance_changed").count() == 2


# --- Why a required work app is missing --------------------------------------------------------------


def require(persona, app_id, **fields):
    return AppRule.objects.create(organization=persona.organization, persona=persona, app_id=app_id,
                                  install=InstallMode.REQUIRED, **fields)  # fmt: skip


def problems(html: str) -> dict[str, str]:
    block = html.split('class="plain stack app-problems"', 1)[1].split("</section>", 1)[0]
    out = {}
    for item in block.split("<strong>")[1:]:
        app_id, rest = item.split("</strong>", 1)
        out[app_id] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rest)).strip()
    return out


def test_a_device_that_never_checked_in_says_so(client, actors):
    persona = default_persona(actors.org)
    require(persona, "com.acme.mail")
    AppRule.objects.create(organization=actors.org, persona=persona, app_id="com.acme.wiki")  # only available
    device = make_device(actors.org, persona=persona)
    found = problems(page(client, actors.helpdesk, device))
    assert list(found) == ["com.acme.mail"]
    assert "Not installed" in found["com.acme.mail"] and "has not checked in" in found["com.acme.mail"]


def test_an_app_added_after_the_applied_policy_is_waiting_for_a_push(client, actors, enrolled):
    enrolled.sync_policy()
    enrolled.checkin()
    device = Device.objects.get(pk=enrolled.server_device.pk)
    require(device.persona, "com.acme.chat")
    found = problems(page(client, actors.admin, device))
    assert "added to the persona after policy version 1" in found["com.acme.chat"]


def test_a_failed_policy_an_offline_device_and_an_old_version_are_told(client, actors):
    persona = default_persona(actors.org)
    require(persona, "com.acme.mail")
    require(persona, "com.acme.chat", min_version="2.0")
    seen = timezone.now() - timedelta(days=3)
    device = make_device(actors.org, persona=persona, last_seen_at=seen, silent=True, applied_policy_version=1,
                         work_apps=[{"id": "com.acme.chat", "version": "1.5"}])  # fmt: skip
    command = Command.objects.create(
        organization=actors.org, device=device, type="apply_policy", payload={"version": 2},
        state=Command.State.ERROR, detail="no space left",
    )  # fmt: skip
    found = problems(page(client, actors.admin, device))
    assert "offline since" in found["com.acme.mail"] and "3 days ago" in found["com.acme.mail"]
    assert "could not apply policy version 2: no space left" in found["com.acme.mail"]
    assert "Too old" in found["com.acme.chat"] and "1.5" in found["com.acme.chat"] and "2.0" in found["com.acme.chat"]
    command.delete()
    found = problems(page(client, actors.admin, device))
    assert "could not apply" not in found["com.acme.mail"]


def test_google_s_report_and_a_blocking_non_compliance_are_told(client, actors):
    persona = default_persona(actors.org)
    require(persona, "com.acme.mail")
    facts = {
        "source": "android",
        "policy_compliant": False,
        "posture": "SECURE",
        "non_compliance": [{"setting": "applications", "reason": "APP_NOT_INSTALLED", "package": "com.acme.mail"}],
    }
    device = android(actors.org, persona=persona, last_seen_at=timezone.now(), compliance=facts, compliant=False)
    found = problems(page(client, actors.admin, device))
    assert "Google reports that this app needs an app that is not installed" in found["com.acme.mail"]
    assert "not compliant, so work apps stay blocked" in found["com.acme.mail"]
    html = page(client, actors.admin, device)
    assert "Security posture (Google)</dt><dd>Secure" in html and "non_compliance" not in html


# --- Human words --------------------------------------------------------------------------------------


def test_the_page_speaks_in_words_not_identifiers(client, actors, enrolled):
    enrolled.sync_policy()
    enrolled.checkin()
    with transaction.atomic():
        apply_policy.issue(Device.objects.select_for_update().get(pk=enrolled.server_device.pk))
    device = Device.objects.get(pk=enrolled.server_device.pk)
    Device.objects.filter(pk=device.pk).update(owner=actors.employee)
    checkin(device, passcode_compliant=False)
    corporate_lock(device=device, lock=True, actor=SYSTEM)
    html = page(client, actors.owner, device)
    for raw in ("apply_policy", "lock_corporate", "wipe_corporate", "passcode_compliant", ">None<", "(Personal (BYOD))",
                "[&#x27;", "0 minutes"):  # fmt: skip
        assert raw not in html, raw
    assert "Personal device (BYOD) · erin@acme.test" in html
    assert "Passcode meets the policy" in html and "Apply policy" in html
    assert "just now" in html or " ago" in html
    assert "counts the policies signed for this device" in html and "counts the edits of the persona" in html
    nobody = make_device(actors.org)
    assert "Personal device (BYOD) · No owner" in page(client, actors.owner, nobody)


def test_the_page_costs_the_same_queries_for_a_short_or_a_long_history(client, actors):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(device) -> int:
        client.force_login(actors.admin)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/console/devices/{device.pk}/").status_code == 200
        return len(queries)

    def busy(n: int):
        device = make_device(actors.org, persona=default_persona(actors.org), container_state=ContainerState.ACTIVE)
        for i in range(n):
            corporate_lock(device=device, lock=i % 2 == 0, actor=SYSTEM)
            ComplianceChange.objects.create(organization=actors.org, device=device, compliant=i % 2 == 0)
        return device

    require(default_persona(actors.org), "com.acme.mail")
    assert cost(busy(2)) == cost(busy(30))
