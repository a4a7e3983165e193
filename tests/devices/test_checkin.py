"""POST /api/v1/agent/checkin (agent protocol, section 3), through the reference agent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Command, Device

APP = {"id": "com.acme.mail", "version": "3.2.1", "signing_cert_sha256": "a" * 64}


def test_a_checkin_records_what_the_device_reports(enrolled):
    enrolled.state.update_identity(os_version="15", applied_policy_version=3)
    enrolled.work_apps = lambda: [APP]
    answer = enrolled.checkin()
    assert answer["policy_version"] == 1  # issued at enrollment, from the default persona
    assert answer["commands_pending"] == 0
    assert answer["poll_interval_seconds"] == 900
    assert answer["server_time"].endswith("Z")
    device = Device.objects.get(pk=enrolled.server_device.pk)
    assert device.os_version == "15" and device.agent_version == "1.0.0"
    assert device.applied_policy_version == 3
    assert device.container_state == "active"
    assert device.work_apps == [APP]
    assert device.compliance == {"passcode_compliant": True, "compromised": False}
    assert device.compliant is True and device.noncompliant_since is None
    assert device.last_seen_at is not None


def test_it_counts_pending_commands(enrolled):
    device = enrolled.server_device
    for state in ("queued", "delivered", "acknowledged", "error", "expired"):
        Command.objects.create(organization=device.organization, device=device, type="apply_policy", state=state)
    assert enrolled.checkin()["commands_pending"] == 2


def test_a_compromised_device_becomes_non_compliant(enrolled):
    enrolled.state.update_identity(compliance={"passcode_compliant": True, "compromised": True})
    enrolled.checkin()
    device = Device.objects.get(pk=enrolled.server_device.pk)
    assert device.compliant is False and device.noncompliant_since is not None


def test_an_unchanged_checkin_writes_last_seen_at_most_once_a_minute(enrolled, django_assert_max_num_queries):
    enrolled.checkin()
    first = Device.objects.get(pk=enrolled.server_device.pk).last_seen_at
    enrolled.checkin()
    assert Device.objects.get(pk=enrolled.server_device.pk).last_seen_at == first
    Device.objects.filter(pk=enrolled.server_device.pk).update(last_seen_at=first - timedelta(seconds=61))
    enrolled.checkin()
    assert Device.objects.get(pk=enrolled.server_device.pk).last_seen_at > first


def test_a_changed_fact_is_written_at_once(enrolled):
    enrolled.checkin()
    enrolled.state.update_identity(os_version="15")
    enrolled.checkin()
    assert Device.objects.get(pk=enrolled.server_device.pk).os_version == "15"


def test_the_no_change_checkin_costs_at_most_two_queries(enrolled, django_assert_max_num_queries):
    enrolled.checkin()
    enrolled.access_token()  # the token exchange is not part of a check-in
    with django_assert_max_num_queries(2):
        enrolled.checkin()


def test_a_report_of_active_does_not_cancel_a_pending_wipe(enrolled):
    Device.objects.filter(pk=enrolled.server_device.pk).update(container_state="wipe_pending")
    enrolled.checkin()
    assert Device.objects.get(pk=enrolled.server_device.pk).container_state == "wipe_pending"


def test_a_checkin_changes_only_the_calling_device(agent_factory):
    first, second = agent_factory(), agent_factory()
    first.state.update_identity(os_version="99")
    first.checkin()
    other = Device.objects.get(pk=second.identity["device_id"])
    assert other.os_version == "14" and other.last_seen_at is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"container_state": "wipe_pending", "os_version": "14", "agent_version": "1"},
        {"container_state": "active", "os_version": "14", "agent_version": "1", "applied_policy_version": -1},
        {"container_state": "active", "os_version": "14", "agent_version": "1", "compliance": {"compromised": "no"}},
        {"container_state": "active", "os_version": "14", "agent_version": "1", "work_apps": [{"id": "nodots"}]},
        {"container_state": "active", "os_version": "14", "agent_version": "1",
         "work_apps": [{"id": "com.a.b", "version": "1", "signing_cert_sha256": "zz"}]},
        {"container_state": "active", "os_version": "14", "agent_version": "1", "work_apps": "com.a.b"},
    ],
)  # fmt: skip
def test_an_invalid_report_is_400_and_changes_nothing(enrolled, body):
    from agent.transport import AgentError

    with pytest.raises(AgentError) as caught:
        enrolled.call("POST", "checkin", body)
    assert caught.value.status == 400 and caught.value.code == "invalid"
    assert Device.objects.get(pk=enrolled.server_device.pk).last_seen_at is None


def test_a_device_left_out_fields_keep_their_values(enrolled):
    enrolled.work_apps = lambda: [APP]
    enrolled.checkin()
    enrolled.call("POST", "checkin", {"container_state": "active", "os_version": "14", "agent_version": "1.0.0"})
    device = Device.objects.get(pk=enrolled.server_device.pk)
    assert device.work_apps == [APP] and device.compliance["passcode_compliant"] is True
    assert device.last_seen_at <= timezone.now()
