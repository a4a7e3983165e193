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


def test_an_employee_reaches_only_their_own_devices_and_no_admin_page(client, actors, employee, agent_factory):
    colleague_device = agent_factory(employee=actors.admin)
    other = Device.objects.get(pk=colleague_device.identity["device_id"])
    client.force_login(employee)
    for url in ("", "remove/"):
        assert client.get(f"/portal/devices/{other.pk}/{url}").status_code == 404
    assert client.post(f"/portal/devices/{other.pk}/lost/").status_code == 404
    assert client.post(f"/portal/devices/{other.pk}/remove/").status_code == 404
    assert not Wipe.objects.exists()
    for url in ("/console/", "/console/devices/", f"/console/devices/{other.pk}/", "/console/personas/",
                "/console/audit/", "/console/members/"):  # fmt: skip
        assert client.get(url).status_code == 403, url
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
