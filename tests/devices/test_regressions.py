"""Regression tests, each named after the bug it pins (found in review)."""

import base64
import json

import pytest

from agent.transport import AgentError
from devices.models import Command, Device
from devices.services import CheckinReport, device_checkin, device_retire
from tests.agents import Keys, enroll_body


def test_deeply_nested_json_is_a_400_not_a_500(client, db):
    body = "[" * 5000 + "]" * 5000
    for url in ("/api/v1/agent/enroll", "/api/v1/agent/token"):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "invalid"


@pytest.mark.parametrize("wait", ["%C2%B2", "1" * 5000, "٣"])
def test_a_non_ascii_or_huge_wait_is_a_400_not_a_500(enrolled, wait):
    with pytest.raises(AgentError) as caught:
        enrolled.call("GET", f"commands?wait={wait}")
    assert caught.value.status == 400


def test_a_low_order_x25519_key_is_refused_at_enrollment(client, actors, issue_token):
    body = enroll_body(issue_token().token, Keys())
    body["keys"]["encryption"] = base64.urlsafe_b64encode(b"\x01" + b"\x00" * 31).rstrip(b"=").decode()
    response = client.post("/api/v1/agent/enroll", body, content_type="application/json")
    assert response.status_code == 400 and "keys.encryption" in response.json()["errors"]


@pytest.mark.parametrize("since", ["2024-02-30T00:00:00Z", "2024-01-01T00:00:00+99:00"])
def test_an_impossible_date_in_the_audit_filter_is_a_400(actors, since):
    response = actors.api(actors.auditor).get("/api/v1/audit-events/", {"since": since})
    assert response.status_code == 400 and "since" in response.json()["errors"]


def test_a_lone_surrogate_in_a_managed_config_is_a_400(actors):
    from personas.models import Persona

    persona = Persona.objects.get(organization=actors.org, is_default=True)
    raw = '{"apps": [{"id": "com.acme.mail", "managed_config": {"k": "\\ud800"}}]}'
    response = actors.api(actors.admin).generic(
        "PATCH", f"/api/v1/personas/{persona.pk}/", raw, content_type="application/json"
    )
    assert response.status_code == 400 and "apps[0].managed_config" in response.json()["errors"]


def test_a_stale_checkin_never_overwrites_a_wipe_committed_meanwhile(enrolled):
    stale = Device.objects.get(pk=enrolled.server_device.pk)  # read before the wipe
    Device.objects.filter(pk=stale.pk).update(container_state="wipe_pending")
    report = CheckinReport(applied_policy_version=1, container_state="active", os_version="15",
                           agent_version="1.0.0", compliance={}, work_apps=[])  # fmt: skip
    device_checkin(device=stale, report=report)
    fresh = Device.objects.get(pk=stale.pk)
    assert fresh.container_state == "wipe_pending" and fresh.os_version == "15"


def test_a_late_checkin_never_moves_the_applied_version_back(enrolled):
    Device.objects.filter(pk=enrolled.server_device.pk).update(applied_policy_version=12)
    stale = Device.objects.get(pk=enrolled.server_device.pk)
    stale.applied_policy_version = 10  # as read before the acknowledgement of 12 landed
    report = CheckinReport(applied_policy_version=11, container_state="active", os_version="14",
                           agent_version="1.0.0", compliance={}, work_apps=[])  # fmt: skip
    device_checkin(device=stale, report=report)
    assert Device.objects.get(pk=stale.pk).applied_policy_version == 12


def test_retiring_a_device_ends_its_pending_commands(enrolled):
    from devices.commands import registry

    registry["wipe_corporate"].build(enrolled.server_device, {"wipe_id": "x", "reason": "r"}).save()
    device_retire(device=enrolled.server_device, reason="left")
    (command,) = Command.objects.filter(device=enrolled.server_device)
    assert command.state == "expired" and "device retired" in command.detail


def test_a_reader_never_overwrites_a_retired_state_in_the_cache(enrolled, django_capture_on_commit_callbacks):
    from devices import device_state
    from devices.agent_api.authentication import device_principal

    device = enrolled.server_device
    device.state = "retired"  # as device_retire publishes it; the row itself is not written here
    with django_capture_on_commit_callbacks(execute=True):
        device_state.publish(device)
    # A reader that loaded the row before the retire committed comes too late to overwrite it.
    device_state.remember(device.pk, device_state.CachedState(device.organization_id, "active"))
    assert device_principal(device.pk).state == "retired"


def test_a_signing_key_rotation_does_not_cut_off_enrolled_devices(agent_factory):
    from django.core.management import call_command

    from agent.device import key_pin
    from devices.policy import policy_issue

    before = agent_factory()
    before.sync_policy()
    call_command("rotate_signing_key")
    after = agent_factory()
    # The new device trusts only the key its QR code pinned, though the server lists two.
    assert [key_pin(k) for k in after.identity["signing_keys"]] == [after.identity["pin"]]
    assert len(after.call("GET", "policy").body["jws"]) > 0
    for agent in (before, after):
        policy_issue(device=Device.objects.get(pk=agent.identity["device_id"]))
        assert agent.sync_policy() == 2  # each verifies the policy with the key it pinned


def test_unenrolling_erases_the_work_side_on_the_device_too(enrolled):
    enrolled.sync_policy()
    enrolled.put_file("work", "plan.txt", b"secret")
    enrolled.put_file("personal", "me.txt", b"mine")
    enrolled.unenroll()
    assert not enrolled.container.corporate.exists() and not enrolled.container.key_path.exists()
    assert enrolled.container.get("personal", "me.txt") == b"mine"
    assert json.loads((enrolled.state.root / "container.json").read_text())["state"] == "wiped"
