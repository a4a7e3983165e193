"""Devices as Google reports them (devices.android.devices and the Pub/Sub handler), without
Google: the reports are Device resources as AMAPI publishes them. What reaches Google is tested
against the stand-in (test_android_e2e.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from devices.android import pubsub
from devices.android.devices import device_report, pubsub_messages_forget
from devices.choices import ContainerState, DeviceState, ManagementChannel, Ownership, Platform
from devices.models import AndroidEnterprise, Command, Device, EnrollmentToken, PubSubMessage, Wipe
from devices.wipe import corporate_wipe_request
from mdm.actors import SYSTEM
from mdm.models import AuditEvent
from personas.services import default_persona

ENTERPRISE = "enterprises/LCtest"


@pytest.fixture
def enterprise(actors):
    return AndroidEnterprise.objects.create(organization=actors.org, name=ENTERPRISE, connected_at=timezone.now())


def android_token(
    actors, *, ownership=Ownership.PERSONAL, uses=1, employee=None, name="enterprises/LCtest/enrollmentTokens/t1"
):
    return EnrollmentToken.objects.create(
        organization=actors.org,
        token_hash=name.rsplit("/", 1)[1].ljust(64, "0"),
        prefix="ABCDEFGH",
        persona=default_persona(actors.org.pk),
        ownership=ownership,
        employee=employee,
        uses_allowed=uses,
        expires_at=timezone.now() + timedelta(days=1),
        channel=ManagementChannel.ANDROID,
        google_name=name,
    )


def report(token, *, device="d1", ownership="PERSONALLY_OWNED", at="2026-12-02T10:00:00.123456789Z", **extra):
    data = {
        "name": f"{ENTERPRISE}/devices/{device}",
        "managementMode": "PROFILE_OWNER",
        "ownership": ownership,
        "state": "ACTIVE",
        "appliedState": "ACTIVE",
        "policyName": f"{ENTERPRISE}/policies/{token.persona_id}",
        "appliedPolicyVersion": "3",
        "policyCompliant": True,
        "enrollmentTokenName": token.google_name,
        "enrollmentTokenData": json.dumps({"mdm_token": str(token.pk)}),
        "enrollmentTime": "2026-12-02T09:59:00Z",
        "lastStatusReportTime": at,
        "softwareInfo": {"androidVersion": "14", "androidBuildNumber": "UQ1A"},
        "hardwareInfo": {"brand": "google", "model": "Pixel 8", "serialNumber": "SERIAL123", "hardware": "shiba"},
        "networkInfo": {"imei": "490154203237518", "wifiMacAddress": "00:11:22:33:44:55"},
        "securityPosture": {"devicePosture": "SECURE"},
    }
    data.update(extra)
    return data


@pytest.mark.django_db
def test_an_enrollment_report_puts_the_phone_in_the_registry_with_its_tokens_persona_and_owner(actors, enterprise):
    token = android_token(actors, employee=actors.employee)
    device = device_report(enterprise=enterprise, data=report(token))
    assert device is not None
    device.refresh_from_db()
    assert (device.platform, device.channel, device.ownership) == (
        Platform.ANDROID,
        ManagementChannel.ANDROID,
        Ownership.PERSONAL,
    )
    assert device.persona_id == token.persona_id and device.owner == actors.employee
    assert device.google_name == f"{ENTERPRISE}/devices/d1"
    assert (device.policy_version, device.applied_policy_version, device.compliant) == (3, 3, True)
    assert device.os_version == "14" and device.model == "Pixel 8"
    assert device.signing_public_key is None and device.container_state == ContainerState.ACTIVE
    token.refresh_from_db()
    assert token.uses_count == 1 and token.wrapped_token is None
    assert AuditEvent.objects.filter(
        organization=actors.org, action="device.enrolled", target_id=str(device.pk)
    ).exists()


@pytest.mark.django_db
def test_no_hardware_identifier_of_a_personal_phone_is_stored(actors, enterprise):
    token = android_token(actors)
    device = device_report(enterprise=enterprise, data=report(token))
    row = Device.objects.filter(pk=device.pk).values().get()
    stored = json.dumps(row, default=str)
    for identifier in ("SERIAL123", "490154203237518", "00:11:22:33:44:55", "shiba"):
        assert identifier not in stored


@pytest.mark.django_db
def test_google_decides_the_ownership_and_no_phone_keeps_a_serial_number(actors, enterprise):
    corporate = android_token(actors, ownership=Ownership.CORPORATE)
    device = device_report(enterprise=enterprise, data=report(corporate, ownership="COMPANY_OWNED"))
    assert device.ownership == Ownership.CORPORATE
    assert "SERIAL123" not in json.dumps(Device.objects.filter(pk=device.pk).values().get(), default=str)
    # A personal token used on a phone set up from a factory reset: company-owned, but no serial.
    personal = android_token(actors, name="enterprises/LCtest/enrollmentTokens/t2")
    other = device_report(enterprise=enterprise, data=report(personal, device="d2", ownership="COMPANY_OWNED"))
    assert other.ownership == Ownership.CORPORATE


@pytest.mark.django_db
def test_the_same_report_twice_and_an_older_one_change_nothing(actors, enterprise):
    token = android_token(actors, uses=5)
    first = device_report(enterprise=enterprise, data=report(token))
    again = device_report(enterprise=enterprise, data=report(token))
    assert again.pk == first.pk and Device.objects.count() == 1
    token.refresh_from_db()
    assert token.uses_count == 1
    newer = report(
        token,
        at="2026-12-02T11:00:00Z",
        appliedPolicyVersion="4",
        policyCompliant=False,
        nonComplianceDetails=[{"settingName": "passwordPolicies", "nonComplianceReason": "USER_ACTION"}],
    )
    device_report(enterprise=enterprise, data=newer)
    device_report(enterprise=enterprise, data=report(token, at="2026-12-02T10:30:00Z", appliedPolicyVersion="3"))
    device = Device.objects.get()
    assert device.applied_policy_version == 4 and device.compliant is False and device.noncompliant_since
    assert device.last_seen_at.hour == 11


@pytest.mark.django_db
def test_a_compromised_phone_is_non_compliant_with_reasons_in_plain_words(actors, enterprise):
    from devices.compliance import evaluate_compliance

    token = android_token(actors)
    device = device_report(
        enterprise=enterprise,
        data=report(
            token,
            securityPosture={"devicePosture": "POTENTIALLY_COMPROMISED"},
            policyCompliant=False,
            nonComplianceDetails=[
                {
                    "settingName": "applications",
                    "nonComplianceReason": "APP_NOT_INSTALLED",
                    "packageName": "com.example.mail",
                }
            ],
        ),
    )
    compliant, reasons = evaluate_compliance(device=device, facts=device.compliance, os_version=device.os_version)
    assert compliant is False and device.compliant is False
    assert "Install com.example.mail: your work profile requires it." in reasons
    assert any("rooted" in r for r in reasons)


@pytest.mark.django_db
def test_a_report_of_a_phone_not_enrolled_with_our_token_or_of_another_enterprise_is_left_out(actors, enterprise):
    token = android_token(actors)
    stranger = report(token, enrollmentTokenData="", enrollmentTokenName="enterprises/LCtest/enrollmentTokens/other")
    assert device_report(enterprise=enterprise, data=stranger) is None
    elsewhere = report(token, name="enterprises/LCother/devices/d9")
    assert device_report(enterprise=enterprise, data=elsewhere) is None
    assert not Device.objects.exists()


@pytest.mark.django_db
def test_a_token_of_another_organization_is_never_matched(actors, enterprise):
    foreign = EnrollmentToken.objects.create(
        organization=actors.other_org,
        token_hash="f" * 64,
        prefix="F",
        ownership=Ownership.PERSONAL,
        expires_at=timezone.now() + timedelta(days=1),
        channel=ManagementChannel.ANDROID,
        google_name="enterprises/LCx/enrollmentTokens/f",
    )
    data = report(
        android_token(actors),
        enrollmentTokenData=json.dumps({"mdm_token": str(foreign.pk)}),
        enrollmentTokenName=foreign.google_name,
    )
    assert device_report(enterprise=enterprise, data=data) is None


@pytest.mark.django_db
def test_a_deleted_report_retires_the_phone_and_completes_a_pending_wipe(actors, enterprise, settings):
    token = android_token(actors, uses=2)
    removed = device_report(enterprise=enterprise, data=report(token))
    device_report(enterprise=enterprise, data=report(token, at="2026-12-02T12:00:00Z", state="DELETED"))
    removed.refresh_from_db()
    assert removed.state == DeviceState.RETIRED
    assert AuditEvent.objects.filter(action="device.unenrolled", target_id=str(removed.pk)).exists()

    wiped = device_report(enterprise=enterprise, data=report(token, device="d2"))
    wipe = corporate_wipe_request(device=wiped, reason="left the company", actor=SYSTEM)
    device_report(enterprise=enterprise, data=report(token, device="d2", at="2026-12-02T12:00:00Z", state="DELETED"))
    wipe.refresh_from_db()
    wiped.refresh_from_db()
    assert wipe.state == wipe.State.DONE and wiped.state == DeviceState.RETIRED
    assert wiped.container_state == ContainerState.WIPED


def push_body(message_id, kind, data):
    import base64

    return {
        "message": {
            "messageId": message_id,
            "attributes": {"notificationType": kind},
            "data": base64.b64encode(json.dumps(data).encode()).decode(),
        },
        "subscription": "projects/p/subscriptions/s",
    }


@pytest.mark.django_db
def test_a_pubsub_message_is_handled_once(actors, enterprise):
    token = android_token(actors, uses=3)
    body = json.dumps(push_body("m-1", "ENROLLMENT", report(token))).encode()
    assert pubsub.handle(*pubsub._message(body)) is True
    assert pubsub.handle(*pubsub._message(body)) is False
    assert Device.objects.count() == 1 and PubSubMessage.objects.count() == 1
    test_message = json.dumps({"message": {"messageId": "m-2", "attributes": {"notificationType": "test"}}}).encode()
    assert pubsub.handle(*pubsub._message(test_message)) is True


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"message": 3}',
        b'{"message": {}}',
        b'{"message": {"messageId": "m", "data": "%%%"}}',
        b'{"message": {"messageId": "m", "data": "WzFd"}}',
    ],
)
def test_a_malformed_push_is_a_400(body):
    with pytest.raises(pubsub.Refused) as refused:
        pubsub._message(body)
    assert refused.value.status == 400


@pytest.mark.django_db
def test_old_message_ids_are_forgotten():
    PubSubMessage.objects.create(
        message_id="old", notification_type="STATUS_REPORT", received_at=timezone.now() - timedelta(days=9)
    )
    PubSubMessage.objects.create(message_id="new", notification_type="STATUS_REPORT")
    assert pubsub_messages_forget() == 1
    assert list(PubSubMessage.objects.values_list("message_id", flat=True)) == ["new"]


@pytest.mark.django_db
def test_a_work_profile_offline_past_the_personas_limit_is_wiped_by_the_server(actors, enterprise):
    """Android has no offline timer: the enforcement beat asks Google to remove the work profile."""
    from devices.wipe import enforcement_apply

    token = android_token(actors, uses=2)
    device = device_report(enterprise=enterprise, data=report(token))
    limit = device.persona.max_offline_days
    seen = device.last_seen_at
    assert enforcement_apply(now=seen + timedelta(days=limit - 1))["offline"] == 0
    assert enforcement_apply(now=seen + timedelta(days=limit, minutes=1))["offline"] == 1
    assert enforcement_apply(now=seen + timedelta(days=limit + 1))["offline"] == 0  # once
    wipe = Wipe.objects.get(device=device)
    assert wipe.reason.startswith(f"Offline for more than {limit} days")
    assert Command.objects.get(device=device, type="wipe_corporate").state == "queued"


@pytest.mark.django_db
def test_the_work_apps_come_from_googles_application_reports(actors, enterprise):
    token = android_token(actors)
    apps = [
        {"packageName": "com.example.mail", "versionName": "3.2", "state": "INSTALLED"},
        {"packageName": "com.example.old", "versionName": "1", "state": "REMOVED"},
    ]
    device = device_report(enterprise=enterprise, data=report(token, applicationReports=apps))
    assert device.work_apps == [{"id": "com.example.mail", "version": "3.2"}]
    later = report(token, at="2026-12-02T11:00:00Z")  # a report without application reports keeps them
    device_report(enterprise=enterprise, data=later)
    assert Device.objects.get(pk=device.pk).work_apps == [{"id": "com.example.mail", "version": "3.2"}]


@pytest.mark.django_db
def test_a_status_report_larger_than_the_agent_apis_limit_is_read(client, settings, google):
    """A report listing a few hundred apps is well past 64 KiB: it still reaches the handler."""
    from devices.android import pubsub

    settings.MDM_ANDROID_PUBSUB_AUDIENCE = "http://testserver/android/pubsub/"
    body = json.dumps(
        {"message": {"messageId": "big", "attributes": {"notificationType": "test"}, "data": "", "pad": "x" * 200_000}}
    )
    token = google.id_token(audience=settings.MDM_ANDROID_PUBSUB_AUDIENCE)
    answer = client.post(
        "/android/pubsub/", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert answer.status_code == 204, answer.content
    assert PubSubMessage.objects.filter(message_id="big").exists()
    too_big = body.replace("x" * 200_000, "x" * (pubsub.MAX_BODY + 1))
    answer = client.post(
        "/android/pubsub/", data=too_big, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert answer.status_code == 413
