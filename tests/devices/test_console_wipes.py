"""Console: held wipes for a second admin, wiping an employee's devices, and the audit log."""

from devices.models import Device, Wipe
from devices.wipe import corporate_wipe_request
from mdm.actors import Actor
from mdm.audit import audit_event_record


def test_a_second_admin_approves_a_held_wipe_the_requester_cannot(client, actors, agent_factory, settings):
    settings.MDM_MASS_WIPE_THRESHOLD = 0  # every wipe is held
    agent = agent_factory()
    device = Device.objects.get(pk=agent.identity["device_id"])
    wipe = corporate_wipe_request(device=device, reason="audit", actor=Actor.member(actors.admin))
    assert wipe.state == "held"
    client.force_login(actors.admin)
    page = client.get("/console/wipes/").content.decode()
    assert device.name in page and "Approve" not in page  # no button for the requester...
    client.post(f"/console/wipes/{wipe.pk}/approve/", follow=True)  # ...and the server refuses anyway
    assert Wipe.objects.get(pk=wipe.pk).state == "held"
    client.force_login(actors.helpdesk)
    assert client.post(f"/console/wipes/{wipe.pk}/approve/").status_code == 403
    client.force_login(actors.owner)
    assert "Approve" in client.get("/console/wipes/").content.decode()
    client.post(f"/console/wipes/{wipe.pk}/approve/")
    assert Wipe.objects.get(pk=wipe.pk).state == "pending"


def test_wiping_an_employees_devices_shows_them_first_then_wants_their_count(client, actors, agent_factory):
    for _ in range(2):
        agent_factory(employee=actors.employee)
    client.force_login(actors.admin)
    shown = client.post("/console/wipes/employee/", {"employee": "erin@acme.test", "reason": "left"})
    assert "2 devices will be wiped" in shown.content.decode()
    assert not Wipe.objects.exists()
    done = client.post("/console/wipes/employee/", {"employee": "erin@acme.test", "reason": "left", "confirm": "2"})
    assert done.status_code == 302 and Wipe.objects.filter(state="pending").count() == 2
    client.force_login(actors.helpdesk)
    assert client.get("/console/wipes/employee/").status_code == 403


def test_the_audit_log_filters_and_shows_the_chains_state(client, actors):
    audit_event_record(organization=actors.org, action="member.added", details={"email": "zed@acme.test"})
    audit_event_record(organization=actors.other_org, action="member.added", details={"email": "spy@globex.test"})
    client.force_login(actors.auditor)
    page = client.get("/console/audit/").content.decode()
    assert "zed@acme.test" in page and "spy@globex.test" not in page
    assert "Not verified yet" in page
    filtered = client.get("/console/audit/?action=organization.created").content.decode()
    assert "zed@acme.test" not in filtered and "organization.created" in filtered
    from mdm.tasks import audit_chain_verify_task

    audit_chain_verify_task(str(actors.org.pk))
    assert "events intact." in client.get("/console/audit/").content.decode()
    client.force_login(actors.helpdesk)
    assert client.get("/console/audit/").status_code == 403
