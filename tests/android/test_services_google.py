"""The bridge's services in this process, against the stand-in of Google over real HTTP with
Google's client: connecting, a persona's policy, enrollment tokens, commands and their operations,
reconciliation. (The web server and the worker doing the same are in test_android_e2e.py.)"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit
from urllib.request import HTTPRedirectHandler, build_opener

import pytest

from devices.android import client, commands, devices, enterprise, policies, tokens
from devices.choices import CommandState, DeviceState, ManagementChannel, Ownership
from devices.models import AndroidEnterprise, Command, Device, Wipe
from devices.services import enrollment_token_revoke
from devices.wipe import corporate_lock, corporate_wipe_request
from mdm.actors import Actor
from mdm.errors import ServiceError
from mdm.lib import discovery
from personas.models import Persona

pytestmark = pytest.mark.django_db


class _NoRedirect(HTTPRedirectHandler):
    def http_error_302(self, req, fp, code, msg, headers):
        return fp


def connect(google, actors) -> AndroidEnterprise:
    actor = Actor.member(actors.owner)
    url = enterprise.enterprise_signup_start(
        organization=actors.org, callback_url="https://mdm.test/console/android/callback/", actor=actor
    )
    with build_opener(_NoRedirect).open(url) as answer:
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
    return enterprise.enterprise_connect(
        organization=actors.org, state=query["state"][0], enterprise_token=query["enterpriseToken"][0], actor=actor
    )


def test_connecting_needs_the_signup_this_organization_started(google, actors):
    record = connect(google, actors)
    assert record.connected and record.name in google.enterprises
    body = google.calls("androidmanagement.enterprises.create")[-1]["body"]
    assert body["pubsubTopic"].endswith("/topics/mdm")
    assert set(body["enabledNotificationTypes"]) == {"ENROLLMENT", "STATUS_REPORT", "COMMAND"}
    with pytest.raises(ServiceError, match="already connected"):
        connect(google, actors)
    # Another organization cannot finish with a state it did not start.
    with pytest.raises(ServiceError) as refused:
        enterprise.enterprise_connect(
            organization=actors.other_org, state="forged", enterprise_token="x", actor=Actor.system("x")
        )
    assert refused.value.code == "android_signup_invalid"


def test_google_busy_or_refusing_is_a_clear_error(google, actors):
    google.fail_next("androidmanagement.signupUrls.create", status=503, times=3)
    with pytest.raises(ServiceError) as busy:
        enterprise.enterprise_signup_start(
            organization=actors.org, callback_url="https://mdm.test/cb", actor=Actor.system("t")
        )
    assert busy.value.status == 503 and busy.value.code == "google_unavailable"
    google.fail_next("androidmanagement.signupUrls.create", status=403, times=1)
    with pytest.raises(ServiceError) as refused:
        enterprise.enterprise_signup_start(
            organization=actors.org, callback_url="https://mdm.test/cb", actor=Actor.system("t")
        )
    assert refused.value.status == 502 and refused.value.code == "google_refused"
    assert not AndroidEnterprise.objects.filter(organization=actors.org).exists()


def test_the_bridge_off_says_what_to_set(settings, actors):
    settings.MDM_ANDROID_SERVICE_ACCOUNT = None
    assert "MDM_ANDROID_SERVICE_ACCOUNT_FILE" in client.missing_settings()
    with pytest.raises(ServiceError) as off:
        enterprise.enterprise_signup_start(
            organization=actors.org, callback_url="https://mdm.test/cb", actor=Actor.system("t")
        )
    assert off.value.code == "android_not_configured"


def test_every_policy_sent_is_valid_for_google(google, actors):
    record = connect(google, actors)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    version = policies.persona_policy_send(enterprise=record.name, persona=persona)
    sent = google.calls("androidmanagement.enterprises.policies.patch")[-1]
    assert sent["params"]["name"] == [f"{record.name}/policies/{persona.pk}"]
    assert discovery.validate(discovery.document(), "Policy", sent["body"], strict=True) == []
    assert policies.persona_policy_send(enterprise=record.name, persona=persona) == version + 1  # idempotent patch


def test_an_android_token_is_googles_and_revoking_it_deletes_it_there(google, actors):
    record = connect(google, actors)
    issued = tokens.android_token_create(organization=actors.org, ownership=Ownership.PERSONAL, uses=3)
    assert issued.enrollment_token.channel == ManagementChannel.ANDROID
    assert issued.value in issued.qr_code and issued.link.endswith(issued.value)
    body = google.calls("androidmanagement.enterprises.enrollmentTokens.create")[-1]["body"]
    assert body["oneTimeOnly"] is False and body["policyName"].startswith(record.name + "/policies/")
    assert tokens.android_token_secret(issued.enrollment_token).value == issued.value
    # The hash and the wrapped copies, never the value in clear.
    stored = json.dumps(list(type(issued.enrollment_token).objects.values("token_hash", "prefix")))
    assert issued.value not in stored
    from devices.tasks import android_enrollment_token_delete_task

    enrollment_token_revoke(enrollment_token=issued.enrollment_token, actor=Actor.system("t"))
    android_enrollment_token_delete_task.apply(args=[issued.enrollment_token.google_name]).get()
    assert issued.enrollment_token.google_name not in google.tokens
    assert tokens.android_token_secret(type(issued.enrollment_token).objects.get(pk=issued.enrollment_token.pk)) is None


def test_an_android_token_needs_a_connected_organization(google, actors):
    with pytest.raises(ServiceError) as refused:
        tokens.android_token_create(organization=actors.org)
    assert refused.value.code == "android_not_connected"


def _enrolled(google, actors, ownership="PERSONALLY_OWNED", token_ownership=Ownership.PERSONAL) -> Device:
    record = connect(google, actors) if not AndroidEnterprise.objects.filter(organization=actors.org).exists() else None
    record = record or AndroidEnterprise.objects.get(organization=actors.org)
    issued = tokens.android_token_create(organization=actors.org, ownership=token_ownership, uses=5)
    phone = google.enroll_phone(issued.value, ownership=ownership)
    return devices.device_report(enterprise=record, data=google.devices[phone["name"]])


def test_lock_and_the_personal_wipe_go_through_google_and_end_with_its_operations(google, actors):
    device = _enrolled(google, actors)
    actor = Actor.system("admin")
    corporate_lock(device=device, lock=True, actor=actor, reason="lost")
    lock = Command.objects.get(device=device, type="lock_corporate")
    assert commands.commands_send(command_ids=[str(lock.pk)]) == {"sent": 1, "refused": 0, "later": 0}
    lock.refresh_from_db()
    assert lock.state == CommandState.DELIVERED and lock.channel_ref
    (operation,) = google.run_commands(device.google_name)
    commands.operation_notified(organization_id=actors.org.pk, operation=operation)
    device.refresh_from_db()
    assert device.container_state == "locked"
    with pytest.raises(ServiceError, match="passcode"):
        corporate_lock(device=device, lock=False, actor=actor, reason="found")

    wipe = corporate_wipe_request(device=device, reason="left", actor=actor)
    command = Command.objects.get(pk=wipe.command_id)
    commands.commands_send(command_ids=[str(command.pk)])
    assert google.calls("androidmanagement.enterprises.devices.issueCommand")[-1]["body"]["type"] == "WIPE"
    (operation,) = google.run_commands(device.google_name)
    commands.operation_notified(organization_id=actors.org.pk, operation=operation)
    assert Wipe.objects.get(pk=wipe.pk).state == Wipe.State.DONE
    assert Device.objects.get(pk=device.pk).state == DeviceState.RETIRED
    assert google.factory_resets == []


def test_a_company_owned_phone_is_relinquished(google, actors):
    device = _enrolled(google, actors, ownership="COMPANY_OWNED", token_ownership=Ownership.CORPORATE)
    wipe = corporate_wipe_request(device=device, reason="returned", actor=Actor.system("admin"))
    commands.commands_send(command_ids=[str(wipe.command_id)])
    assert google.calls("androidmanagement.enterprises.devices.issueCommand")[-1]["body"] == {
        "type": "RELINQUISH_OWNERSHIP"
    }
    google.run_commands(device.google_name)
    assert commands.operations_follow.__name__  # the COMMAND push was missed: the beat asks Google
    Command.objects.filter(pk=wipe.command_id).update(
        delivered_at=Command.objects.get(pk=wipe.command_id).delivered_at.replace(year=2000)
    )
    assert commands.operations_follow() == {"asked": 1, "finished": 1}
    assert Device.objects.get(pk=device.pk).state == DeviceState.RETIRED
    assert google.factory_resets == []


def test_google_refusing_a_command_ends_it_with_googles_words_and_busy_keeps_it_queued(google, actors):
    device = _enrolled(google, actors)
    corporate_lock(device=device, lock=True, actor=Actor.system("a"), reason="x")
    lock = Command.objects.get(device=device, type="lock_corporate")
    google.fail_next("androidmanagement.enterprises.devices.issueCommand", status=503, times=1)
    with pytest.raises(client.GoogleError):
        commands.commands_send(command_ids=[str(lock.pk)])
    assert Command.objects.get(pk=lock.pk).state == CommandState.QUEUED
    google.fail_next("androidmanagement.enterprises.devices.issueCommand", status=400, times=1)
    assert commands.commands_send(command_ids=[str(lock.pk)])["refused"] == 1
    lock.refresh_from_db()
    assert lock.state == CommandState.ERROR and "400" in lock.detail


def test_reconciliation_finds_missed_phones_repairs_policies_and_retires_the_gone(google, actors):
    device = _enrolled(google, actors)
    record = AndroidEnterprise.objects.get(organization=actors.org)
    issued = tokens.android_token_create(organization=actors.org, uses=2)
    missed = google.enroll_phone(issued.value)  # its push went nowhere
    google.devices[device.google_name]["policyName"] = f"{record.name}/policies/elsewhere"
    google.policies[f"{record.name}/policies/elsewhere"] = {"name": "x", "version": "1"}
    totals = devices.devices_reconcile(organization_id=actors.org.pk)
    assert totals == {"seen": 2, "created": 1, "gone": 0, "moved": 1}
    assert Device.objects.filter(google_name=missed["name"]).exists()
    assert google.devices[device.google_name]["policyName"] == f"{record.name}/policies/{device.persona_id}"
    del google.devices[missed["name"]]
    assert devices.devices_reconcile(organization_id=actors.org.pk)["gone"] == 1
    assert Device.objects.get(google_name=missed["name"]).state == DeviceState.RETIRED


def test_disconnecting_needs_the_typed_name_and_no_phone_left(google, actors):
    device = _enrolled(google, actors)
    with pytest.raises(ServiceError, match="1 Android device"):
        enterprise.enterprise_disconnect(organization=actors.org, confirm="Acme", actor=Actor.system("o"))
    Device.objects.filter(pk=device.pk).update(state=DeviceState.RETIRED)
    with pytest.raises(ServiceError, match="Type"):
        enterprise.enterprise_disconnect(organization=actors.org, confirm="acme", actor=Actor.system("o"))
    assert enterprise.enterprise_disconnect(organization=actors.org, confirm="Acme", actor=Actor.system("o")) == 1
    assert not AndroidEnterprise.objects.filter(organization=actors.org).exists()
    assert google.enterprises == {}


def test_a_push_token_must_be_googles_for_our_audience_and_service_account(google, settings):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from devices.android import pubsub

    audience = settings.MDM_ANDROID_PUBSUB_AUDIENCE
    claims = pubsub.verify_push_token(f"Bearer {google.id_token(audience=audience)}")
    assert claims["email"] == google.push_email
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for header, status in [
        ("", 401),
        ("Basic abc", 401),
        ("Bearer not-a-jwt", 401),
        (f"Bearer {google.id_token(audience='https://elsewhere.test/')}", 401),
        (f"Bearer {google.id_token(audience=audience, key=stranger)}", 401),
        (f"Bearer {google.id_token(audience=audience, email='someone@evil.test')}", 403),
    ]:
        with pytest.raises(pubsub.Refused) as refused:
            pubsub.verify_push_token(header)
        assert refused.value.status == status, header
    settings.MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT = ""
    with pytest.raises(pubsub.Refused) as off:
        pubsub.verify_push_token(f"Bearer {google.id_token(audience=audience)}")
    assert off.value.status == 503


def test_the_admin_api_refuses_bad_bodies_and_non_owners(google, actors):
    owner = actors.api(actors.owner)
    for body, field in (
        ({"callback_url": "ftp://mdm.test/cb"}, "callback_url"),
        ({"callback_url": "https://mdm.test/cb", "extra": 1}, "extra"),
        ({}, "callback_url"),
    ):
        answer = owner.post("/api/v1/android/enterprise/signup/", body, format="json")
        assert answer.status_code == 400 and field in answer.json()["errors"], answer.json()
    assert (
        actors.api(actors.admin)
        .post("/api/v1/android/enterprise/signup/", {"callback_url": "https://mdm.test/cb"}, format="json")
        .status_code
        == 403
    )
    state = actors.api(actors.auditor).get("/api/v1/android/enterprise/").json()
    assert state["configured"] is True and state["connected"] is False
    assert actors.api(actors.outsider).get("/api/v1/android/enterprise/").json()["connected"] is False
    connect(google, actors)
    assert actors.api(actors.outsider).get("/api/v1/android/enterprise/").json()["connected"] is False
    refused = owner.delete("/api/v1/android/enterprise/", {"confirm": "Globex"}, format="json")
    assert refused.status_code == 400
