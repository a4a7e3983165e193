"""The employee self-service portal."""

import json
import re

import pytest
from django.core import mail

from devices.models import Device, EnrollmentToken, Wipe
from mdm.actors import SYSTEM
from mdm.models import AuditEvent
from mdm.services import membership_add


@pytest.fixture
def employee(actors):
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    return actors.employee


def enroll_through_the_portal(client, agent_factory):
    html = client.post("/portal/enroll/", {"platform": "android"}).content.decode()
    payload = json.loads(re.search(r'id="payload" readonly value="([^"]+)"', html).group(1).replace("&quot;", '"'))
    agent = agent_factory(enroll=False)
    agent.enroll(server=payload["server"], token=payload["token"], pin=payload["pin"])
    return agent, html


def test_an_employee_enrolls_their_own_device_with_a_single_use_personal_token(client, employee, agent_factory):
    client.force_login(employee)
    assert "no device with a work profile yet" in client.get("/portal/").content.decode()
    agent, html = enroll_through_the_portal(client, agent_factory)
    assert "<svg" in html and "updates by itself" in html
    token = EnrollmentToken.objects.get()
    assert (token.employee, token.uses_allowed, token.ownership) == (employee, 1, "personal")
    assert (token.expires_at - token.created_at).total_seconds() <= 30 * 60
    device = Device.objects.get(pk=agent.identity["device_id"])
    assert device.owner == employee and device.persona.is_default
    status = client.get(f"/portal/enroll/{token.pk}/status/").content.decode()
    assert "is enrolled" in status and "hx-trigger" not in status


def test_the_enrollment_page_shows_the_persona_that_will_apply_before_any_code(client, employee):
    from personas.models import Persona
    from personas.services import persona_update

    persona = Persona.objects.get(organization=employee.memberships.get().organization, is_default=True)
    persona_update(persona=persona, patch={"access": {"min_os_version": {"ios": "17"}}})
    client.force_login(employee)
    page = client.get("/portal/enroll/").content.decode()
    preview = page[page.index('id="persona-preview"') : page.index("Which device?")]
    assert f"Your work profile will follow the persona “{persona.name}”" in preview
    assert persona.description in preview
    # The privacy page's words: its rules, the sharing, what is and is not seen, the offline timer.
    assert "Your work passcode has at least 4 characters." in preview
    assert "iOS 17 or later is required." in preview
    assert "If the device breaks these rules, its work profile is locked in 7 days." in preview
    assert "You can paste from personal apps into work apps." in preview
    assert "You cannot copy from work apps into personal apps." in preview
    assert "your location" in preview and "for 30 days" in preview
    assert "None" not in preview and "access." not in preview
    assert not EnrollmentToken.objects.exists()  # nothing made by looking
    refused = client.post("/portal/enroll/", {"platform": "nokia"})
    assert "Pick your device" in refused.content.decode()
    assert 'id="persona-preview"' in refused.content.decode() and not EnrollmentToken.objects.exists()


def test_my_devices_say_what_to_do_in_plain_words(client, employee, agent_factory):
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    device = Device.objects.get(pk=agent.identity["device_id"])
    persona = device.persona
    persona.min_os_version = {"android": "15"}
    persona.save(update_fields=["min_os_version"])
    agent.checkin()  # reports Android 14
    page = client.get("/portal/").content.decode()
    assert "Update to Android 15 to regain access to work apps." in page


def test_my_devices_never_shows_an_empty_list_of_things_to_fix(client, actors, employee):
    from tests.devices.test_device_selectors import make_device

    make_device(actors.org, name="Pixel 8", owner=employee, compliant=False, os_version="15")
    client.force_login(employee)
    page = client.get("/portal/").content.decode()
    assert "until you fix this" not in page and "It is checked again at its next one." in page
    assert "not checked in yet" in page and "enrolled just now" in page


def test_the_privacy_page_is_computed_from_the_enforced_policy(client, employee, agent_factory):
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    page = client.get(f"/portal/devices/{agent.identity['device_id']}/").content.decode()
    assert "Your organization can see" in page and "your location" in page and "your browsing history" in page
    assert "You can paste from personal apps into work apps." in page
    assert "You cannot copy from work apps into personal apps." in page
    assert "for 30 days" in page  # the byod-basic offline timer


def test_removing_the_work_persona_wipes_only_work_data(client, employee, agent_factory):
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    agent.sync_policy()
    agent.put_file("personal", "photo.jpg", b"me")
    agent.put_file("work", "memo.txt", b"work")
    device_id = agent.identity["device_id"]
    confirm = client.get(f"/portal/devices/{device_id}/remove/").content.decode()
    assert "Everything personal" in confirm
    client.post(f"/portal/devices/{device_id}/remove/")
    wipe = Wipe.objects.get(device_id=device_id)
    assert wipe.state == "pending" and wipe.requested_by.endswith("(portal)")
    agent.poll()
    assert Device.objects.get(pk=device_id).state == "retired"
    assert not agent.container.corporate.exists() and agent.container.get("personal", "photo.jpg") == b"me"


def test_reporting_a_device_lost_locks_it_and_tells_the_admins(client, employee, agent_factory):
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    device_id = agent.identity["device_id"]
    client.post(f"/portal/devices/{device_id}/lost/")
    (message,) = mail.outbox
    assert "reported lost" in message.subject.lower() or "lost" in message.subject
    assert set(message.to) == {"alice@acme.test", "bob@acme.test"}
    assert AuditEvent.objects.filter(action="device.reported_lost", target_id=device_id).exists()
    assert [c["type"] for c in agent.poll()] == ["lock_corporate"]


def test_reporting_lost_asks_first_then_shows_the_lock_at_once(client, employee, agent_factory):
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    agent.sync_policy()
    agent.checkin()
    device_id = agent.identity["device_id"]
    page = client.get(f"/portal/devices/{device_id}/").content.decode()
    assert "Work profile active" in page and f'href="/portal/devices/{device_id}/lost/"' in page
    # GET: what will happen, and a button to confirm; nothing is locked yet.
    confirm = client.get(f"/portal/devices/{device_id}/lost/")
    text = confirm.content.decode()
    assert confirm.status_code == 200
    assert "The work profile is locked" in text and "Your IT team is told" in text and "not touched" in text
    assert "Yes, lock the work profile" in text and 'method="post"' in text
    assert not AuditEvent.objects.filter(action="device.lock_requested").exists() and not mail.outbox
    # POST: the device page says at once that the lock is on its way, and no longer offers it.
    response = client.post(f"/portal/devices/{device_id}/lost/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/portal/devices/{device_id}/"
    assert "Lock pending" in page and "Work profile active" not in page
    assert f'href="/portal/devices/{device_id}/lost/"' not in page and "Report this device lost" not in page
    assert "Remove the work profile" in page  # still makes sense
    # Reporting again changes nothing: the confirmation page says so, a second POST queues nothing.
    again = client.get(f"/portal/devices/{device_id}/lost/").content.decode()
    assert "already being locked" in again and "Yes, lock the work profile" not in again
    assert "Lock pending" in client.get("/portal/").content.decode()
    client.post(f"/portal/devices/{device_id}/lost/")
    assert AuditEvent.objects.filter(action="device.lock_requested").count() == 1 and len(mail.outbox) == 1
    # The device locks its work profile and says so: "Locked".
    assert [c["type"] for c in agent.poll()] == ["lock_corporate"]
    assert Device.objects.get(pk=device_id).container_state == "locked"
    page = client.get(f"/portal/devices/{device_id}/").content.decode()
    assert ">Locked<" in page and "Lock pending" not in page and "Report this device lost" not in page


def test_an_employee_renames_their_device_and_the_console_shows_the_name(client, actors, employee, agent_factory):
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    device_id = agent.identity["device_id"]
    page = client.get(f"/portal/devices/{device_id}/").content.decode()
    assert f'action="/portal/devices/{device_id}/rename/"' in page and 'maxlength="64"' in page
    response = client.post(f"/portal/devices/{device_id}/rename/", {"name": "  Erin's work phone  "}, follow=True)
    assert "Renamed to “Erin&#x27;s work phone”." in response.content.decode()
    assert Device.objects.get(pk=device_id).name == "Erin's work phone"
    event = AuditEvent.objects.get(action="device.renamed", target_id=device_id)
    assert event.details["new_name"] == "Erin's work phone" and event.actor_label.endswith("(portal)")
    # The same name again: nothing changes, nothing is audited.
    client.post(f"/portal/devices/{device_id}/rename/", {"name": "Erin's work phone"})
    assert AuditEvent.objects.filter(action="device.renamed").count() == 1
    client.force_login(actors.admin)
    assert "Erin&#x27;s work phone" in client.get("/console/devices/").content.decode()
    assert "Erin&#x27;s work phone" in client.get(f"/console/devices/{device_id}/").content.decode()


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("   ", "Give the device a name."),
        ("x" * 65, "The name is 65 characters long: at most 64."),
        ("Pixel\n8", "The name cannot hold control characters."),
    ],
)
def test_a_bad_device_name_is_refused_with_what_was_typed(client, employee, agent_factory, typed, error):
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    device_id = agent.identity["device_id"]
    before = Device.objects.get(pk=device_id).name
    response = client.post(f"/portal/devices/{device_id}/rename/", {"name": typed})
    page = response.content.decode()
    assert response.status_code == 400 and error in page and 'aria-invalid="true"' in page
    assert f'value="{typed}"' in page
    assert Device.objects.get(pk=device_id).name == before
    assert not AuditEvent.objects.filter(action="device.renamed").exists()


def test_an_employee_reaches_only_their_own_devices_and_no_admin_page(client, actors, employee, agent_factory):
    colleague_device = agent_factory(employee=actors.admin)
    other = Device.objects.get(pk=colleague_device.identity["device_id"])
    client.force_login(employee)
    for url in ("", "remove/"):
        assert client.get(f"/portal/devices/{other.pk}/{url}").status_code == 404
    assert client.post(f"/portal/devices/{other.pk}/lost/").status_code == 404
    assert client.get(f"/portal/devices/{other.pk}/lost/").status_code == 404
    assert client.post(f"/portal/devices/{other.pk}/rename/", {"name": "Mine now"}).status_code == 404
    assert Device.objects.get(pk=other.pk).name != "Mine now"
    assert client.post(f"/portal/devices/{other.pk}/remove/").status_code == 404
    assert not Wipe.objects.exists()
    for url in ("/console/", "/console/devices/", f"/console/devices/{other.pk}/", "/console/personas/",
                "/console/audit/", "/console/members/"):  # fmt: skip
        # An employee opening the console is sent to the portal: no console page is shown.
        answer = client.get(url)
        assert (answer.status_code, answer["Location"]) == (302, "/portal/"), url
    assert (
        client.post(f"/console/devices/{other.pk}/wipe/", {"device_name": other.name, "reason": "x"}).status_code == 403
    )
    assert client.get("/api/v1/devices/").status_code == 403
    assert client.post(f"/api/v1/devices/{other.pk}/wipe-corporate/", {"reason": "x"},
                       content_type="application/json").status_code == 403  # fmt: skip
    assert not Wipe.objects.exists()


def test_the_portal_needs_a_sign_in_and_an_organization(client, actors):
    assert client.get("/portal/").status_code == 302
    client.force_login(actors.employee)  # no membership at all yet
    assert client.get("/portal/").status_code == 403


def test_the_privacy_page_names_the_exempt_apps(client, employee, agent_factory):
    from personas.models import Persona
    from personas.services import persona_update

    persona = Persona.objects.get(organization=employee.memberships.get().organization, is_default=True)
    persona_update(persona=persona, patch={
        "apps": [{"id": "com.corp.crm", "install": "available"}],
        "data_sharing": {"contacts": {"exemptions": {"personal_to_work": ["com.corp.crm"]}}},
    })  # fmt: skip
    client.force_login(employee)
    agent, _ = enroll_through_the_portal(client, agent_factory)
    page = client.get(f"/portal/devices/{agent.identity['device_id']}/").content.decode()
    assert "Work apps cannot see your personal contacts, except for com.corp.crm." in page


def test_someone_employed_by_two_organizations_picks_one(client, actors, employee):
    membership_add(organization=actors.other_org, user=employee, role="employee", actor=SYSTEM)
    client.force_login(employee)
    page = client.get("/portal/").content.decode()
    assert "Acme" in page and "Globex" in page and 'name="organization"' in page
    client.post("/portal/switch-organization/", {"organization": str(actors.other_org.pk)})
    client.post("/portal/enroll/", {"platform": "ios"})
    assert EnrollmentToken.objects.get().organization == actors.other_org


def test_a_token_cannot_be_bound_to_someone_outside_the_organization(client, actors):
    from personas.models import Persona

    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    response = client.post("/console/enrollment/", {"persona": str(persona.pk), "ownership": "personal", "uses": 1,
                                                     "expires": "1h", "employee": "oscar@globex.test"})  # fmt: skip
    assert "No such member of this organization" in response.content.decode()
    assert not EnrollmentToken.objects.exists()


def test_a_device_model_with_control_characters_is_refused(client, actors, issue_token):
    from tests.agents import Keys, enroll_body

    body = enroll_body(issue_token().token, Keys(), model="Pixel\n8")
    response = client.post("/api/v1/agent/enroll", body, content_type="application/json")
    assert response.status_code == 400 and "device.model" in response.json()["errors"]
