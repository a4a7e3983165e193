"""Remote wipe of the corporate persona: the journey, mass-wipe protection, roles, enforcement."""

import hashlib
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agent.transport import AgentError
from devices.models import Command, ContainerKey, Device, Wipe
from devices.wipe import corporate_wipe_request, enforcement_apply
from mdm.models import AuditEvent


def personal_hashes(agent) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(agent.container.personal.iterdir())}


def wipe_url(agent) -> str:
    return f"/api/v1/devices/{agent.identity['device_id']}/wipe-corporate/"


@pytest.fixture
def phone(enrolled):
    enrolled.sync_policy()
    enrolled.put_file("work", "contract.pdf", b"%PDF confidential")
    for name, data in (("photo.jpg", b"\xff\xd8 holiday"), ("notes.txt", b"buy milk"), ("music.mp3", b"ID3")):
        enrolled.put_file("personal", name, data)
    return enrolled


def test_the_wipe_journey_erases_work_and_leaves_every_personal_byte(phone, actors):
    before = personal_hashes(phone)
    response = actors.api(actors.admin).post(wipe_url(phone), {"reason": "phone stolen"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["wipe"]["state"] == "pending" and body["wipe"]["reason"] == "phone stolen"
    assert body["command"]["type"] == "wipe_corporate" and body["command"]["priority"] == 0
    device = Device.objects.get(pk=phone.identity["device_id"])
    assert device.container_state == "wipe_pending"
    # Crypto-shredding: the key is gone before the device even hears of the wipe.
    assert set(ContainerKey.objects.filter(device=device).values_list("state", flat=True)) == {"destroyed"}
    with pytest.raises(AgentError) as caught:
        phone.call("GET", "container-key")
    assert caught.value.status == 410
    token = phone.access_token()

    (ran,) = phone.poll()
    assert ran["type"] == "wipe_corporate" and ran["result"] == "acknowledged"
    assert not phone.container.corporate.exists() and not phone.container.key_path.exists()
    assert personal_hashes(phone) == before

    device.refresh_from_db()
    assert device.state == "retired" and device.container_state == "wiped"
    wipe = Wipe.objects.get(pk=body["wipe"]["id"])
    assert wipe.state == "done" and wipe.completed_at and wipe.command.delivered_at
    with pytest.raises(AgentError) as caught:
        phone.transport.request("POST", phone.url("checkin"), body={}, token=token)
    assert caught.value.status == 403 and caught.value.code == "device_retired"
    history = actors.api(actors.auditor).get(f"/api/v1/devices/{device.pk}/wipes/").json()["results"]
    assert [(w["state"], w["requested_by"].split()[0]) for w in history] == [("done", "bob@acme.test")]
    assert history[0]["delivered_at"] and history[0]["completed_at"]
    actions = set(AuditEvent.objects.filter(target_id=str(device.pk)).values_list("action", flat=True))
    assert {"wipe.requested", "wipe.completed", "device.retired"} <= actions


def test_two_requests_for_the_same_device_are_one_wipe(phone, actors):
    api = actors.api(actors.admin)
    first = api.post(wipe_url(phone), {"reason": "lost"}, format="json").json()
    second = actors.api(actors.owner).post(wipe_url(phone), {"reason": "lost too"}, format="json").json()
    assert first["wipe"]["id"] == second["wipe"]["id"]
    assert Command.objects.filter(type="wipe_corporate").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_admins_racing_produce_one_wipe(agent_factory, actors):
    agent = agent_factory()
    device = Device.objects.get(pk=agent.identity["device_id"])
    barrier = threading.Barrier(2)
    wipes = []

    def request():
        barrier.wait()
        wipes.append(corporate_wipe_request(device=device, reason="race").pk)
        connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(wipes)) == 1 and Wipe.objects.count() == 1
    assert Command.objects.filter(type="wipe_corporate").count() == 1


def test_a_wipe_waits_for_an_offline_device_and_never_reaches_a_reenrolled_one(actors, agent_factory):
    old = agent_factory()
    corporate_wipe_request(device=Device.objects.get(pk=old.identity["device_id"]), reason="left the company")
    # The same phone enrolled again (new token, new keys, new device id) never sees that wipe.
    new = agent_factory()
    assert new.poll() == []
    # The old enrollment, coming back online days later, gets it at its next poll.
    (ran,) = old.poll()
    assert ran["type"] == "wipe_corporate"


def test_a_wipe_needs_a_reason_and_a_live_device(phone, actors):
    api = actors.api(actors.admin)
    for body in ({}, {"reason": ""}, {"reason": "x" * 501}):
        response = api.post(wipe_url(phone), body, format="json")
        assert response.status_code == 400 and "reason" in response.json()["errors"]
    assert not Wipe.objects.exists()


def test_the_mass_wipe_hold_and_a_second_admins_approval(actors, agent_factory, settings):
    settings.MDM_MASS_WIPE_THRESHOLD = 10
    agents = [agent_factory() for _ in range(12)]
    api = actors.api(actors.admin)
    states = [
        api.post(wipe_url(a), {"reason": "runaway script"}, format="json").json()["wipe"]["state"] for a in agents
    ]
    assert states == ["pending"] * 10 + ["held", "held"]
    held = api.get("/api/v1/wipes/?state=held").json()["results"]
    assert len(held) == 2
    eleventh, twelfth = held[1]["id"], held[0]["id"]
    eleventh_device = Device.objects.get(pk=held[1]["device"]["id"])
    # A held wipe has touched nothing yet.
    assert eleventh_device.container_state != "wipe_pending"
    assert ContainerKey.objects.filter(device=eleventh_device, state="active").exists()
    # The requester cannot approve it, even through another token of theirs.
    response = actors.api(actors.admin).post(f"/api/v1/wipes/{eleventh}/approve/")
    assert response.status_code == 403 and response.json()["code"] == "second_admin_required"
    # A helpdesk member cannot either; the owner can.
    assert actors.api(actors.helpdesk).post(f"/api/v1/wipes/{eleventh}/approve/").status_code == 403
    approved = actors.api(actors.owner).post(f"/api/v1/wipes/{eleventh}/approve/").json()
    assert approved["wipe"]["state"] == "pending" and approved["wipe"]["approved_by"].startswith("alice@acme.test")
    assert approved["command"]["type"] == "wipe_corporate"
    cancelled = actors.api(actors.owner).post(f"/api/v1/wipes/{twelfth}/cancel/").json()
    assert cancelled["wipe"]["state"] == "cancelled" and cancelled["command"] is None
    assert actors.api(actors.owner).post(f"/api/v1/wipes/{twelfth}/approve/").status_code == 409
    actions = list(AuditEvent.objects.filter(action__startswith="wipe.").values_list("action", flat=True))
    assert actions.count("wipe.held") == 2 and "wipe.approved" in actions and "wipe.cancelled" in actions


@pytest.mark.parametrize(
    ("who", "wipe", "lock", "unlock"),
    [("owner", 202, 202, 202), ("admin", 202, 202, 202), ("helpdesk", 403, 202, 202), ("auditor", 403, 403, 403)],
)
def test_each_role_against_each_action(actors, agent_factory, who, wipe, lock, unlock):
    agent = agent_factory()
    api = actors.api(getattr(actors, who))
    base = f"/api/v1/devices/{agent.identity['device_id']}"
    assert api.post(f"{base}/lock-corporate/", {}, format="json").status_code == lock
    assert api.post(f"{base}/unlock-corporate/", {}, format="json").status_code == unlock
    assert api.post(f"{base}/wipe-corporate/", {"reason": "r"}, format="json").status_code == wipe
    assert api.get(f"{base}/commands/").status_code == 200
    if wipe == 403:
        assert not Wipe.objects.exists()


def test_another_organizations_device_is_404_and_untouched(actors, agent_factory):
    agent = agent_factory()
    api = actors.api(actors.outsider)
    base = f"/api/v1/devices/{agent.identity['device_id']}"
    for path, body in (("wipe-corporate/", {"reason": "mine"}), ("lock-corporate/", {}), ("unlock-corporate/", {})):
        assert api.post(base + "/" + path, body, format="json").status_code == 404
    assert api.get(f"{base}/commands/").status_code == 404
    assert api.get(f"{base}/wipes/").status_code == 404
    assert not Command.objects.filter(device_id=agent.identity["device_id"]).exists()


def test_lock_and_unlock_reach_the_agent(actors, phone):
    base = f"/api/v1/devices/{phone.identity['device_id']}"
    actors.api(actors.helpdesk).post(f"{base}/lock-corporate/", {"reason": "reported lost"}, format="json")
    phone.poll()
    assert phone.container.status == "locked"
    assert Device.objects.get(pk=phone.identity["device_id"]).container_state == "locked"
    with pytest.raises(Exception, match="locked"):
        phone.container.get("work", "contract.pdf")
    actors.api(actors.helpdesk).post(f"{base}/unlock-corporate/", {}, format="json")
    phone.poll()
    assert phone.container.get("work", "contract.pdf") == b"%PDF confidential"


def test_wipe_all_of_an_employees_devices(actors, agent_factory):
    phones = [agent_factory(employee=actors.employee) for _ in range(2)]
    other = agent_factory()
    response = actors.api(actors.admin).post(
        "/api/v1/employees/wipe-corporate/", {"employee": "erin@acme.test", "reason": "left"}, format="json"
    )
    assert response.status_code == 202
    wiped = {w["wipe"]["device"]["id"] for w in response.json()["wipes"]}
    assert wiped == {p.identity["device_id"] for p in phones}
    assert not Wipe.objects.filter(device_id=other.identity["device_id"]).exists()
    unknown = actors.api(actors.admin).post(
        "/api/v1/employees/wipe-corporate/", {"employee": "nobody@acme.test", "reason": "x"}, format="json"
    )
    assert unknown.status_code == 400


def test_enforcement_locks_after_n_days_and_wipes_after_m(actors, agent_factory):
    agent = agent_factory()  # the default persona: lock after 7 days, wipe after 30
    agent.sync_policy()
    agent.state.update_identity(compliance={"passcode_compliant": False, "compromised": False})
    agent.checkin()
    device = Device.objects.get(pk=agent.identity["device_id"])
    since = device.noncompliant_since
    assert enforcement_apply(now=since + timedelta(days=6)) == {"locked": 0, "wiped": 0, "offline": 0}
    assert enforcement_apply(now=since + timedelta(days=7, minutes=1)) == {"locked": 1, "wiped": 0, "offline": 0}
    assert enforcement_apply(now=since + timedelta(days=8)) == {"locked": 0, "wiped": 0, "offline": 0}  # once
    agent.poll()
    assert agent.container.status == "locked"
    assert enforcement_apply(now=since + timedelta(days=30, minutes=1)) == {"locked": 0, "wiped": 1, "offline": 0}
    wipe = Wipe.objects.get(device=device)
    assert "Non-compliant for 30 days" in wipe.reason and wipe.requested_by == "enforcement rules"
    assert AuditEvent.objects.filter(target_id=str(device.pk), action="device.lock_requested").exists()


def test_a_compliant_device_is_left_alone(actors, agent_factory):
    agent = agent_factory()
    agent.checkin()
    assert enforcement_apply(now=timezone.now() + timedelta(days=365)) == {"locked": 0, "wiped": 0, "offline": 0}
