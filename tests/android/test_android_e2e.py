"""End to end, with Google played by the stand-in (tests/amapi/standin.py) over real HTTP: our web
server and Celery worker talk to it with Google's own client library, and it sends them Pub/Sub
pushes signed like Google's. Connect an organization, enroll phones, change the persona until the
phone reports the new version, lock, wipe (WIPE for a personal phone, RELINQUISH_OWNERSHIP for a
company-owned one), and the faults: Google busy (429/5xx), Google refusing (4xx), a notification
delivered twice or never."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from devices.choices import AndroidPolicySync, ContainerState, DeviceState, ManagementChannel, Ownership
from devices.models import AndroidEnterprise, Command, Device, Push, Wipe
from devices.tasks import android_devices_reconcile_task, android_operations_follow_task
from mdm.actors import SYSTEM
from mdm.choices import Role
from mdm.models import AuditEvent
from mdm.services import membership_add
from personas.models import Persona
from tests.live import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def call(stack, token: str, method: str, path: str, body=None, *, expect: int | None = None):
    request = urllib.request.Request(  # noqa: S310 (the live test server)
        stack.web.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            status, text = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    answer = json.loads(text) if text else None
    if expect is not None:
        assert status == expect, (status, answer)
    elif status >= 400:
        pytest.fail(f"{method} {path} answered {status}: {answer}")
    return answer


def connect(stack, actors) -> AndroidEnterprise:
    """The owner connects the organization: signup URL, Google's redirect back, enterprise."""
    owner = actors.token(actors.owner)
    callback = stack.web.url + "/console/android/callback/"
    signup = call(stack, owner, "POST", "/api/v1/android/enterprise/signup/", {"callback_url": callback})
    # The owner signs up at Google, which sends the browser back to the callback.
    with urllib.request.build_opener(NoRedirect).open(signup["signup_url"]) as response:
        location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(callback)
    call(
        stack,
        owner,
        "POST",
        "/api/v1/android/enterprise/connect/",
        {"state": query["state"][0], "enterprise_token": query["enterpriseToken"][0]},
    )
    return AndroidEnterprise.objects.get(organization=actors.org)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

    def http_error_302(self, req, fp, code, msg, headers):
        return fp


def android_token(stack, actors, **body) -> dict:
    answer = call(
        stack, actors.token(actors.admin), "POST", "/api/v1/enrollment-tokens/", {"channel": "android", **body}
    )
    assert answer["channel"] == "android"
    return answer


def commands_to(stack, device_name: str) -> list[str]:
    """The command types Google received for one phone, in order."""
    issued = sent(stack, "androidmanagement.enterprises.devices.issueCommand")
    return [r["body"]["type"] for r in issued if r["params"]["name"] == [device_name]]


def sent(stack, method_id: str) -> list[dict]:
    return [r for r in stack.google.requests if r["method"] == method_id]


def test_connect_enroll_push_lock_and_wipe_a_personal_phone(android_stack, actors):
    stack = android_stack
    enterprise = connect(stack, actors)
    assert enterprise.name.startswith("enterprises/")
    assert AuditEvent.objects.filter(organization=actors.org, action="android.connected").exists()
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    # Connecting sends every persona's policy to Google.
    wait_for(lambda: sent(stack, "androidmanagement.enterprises.policies.patch"))

    membership_add(organization=actors.org, user=actors.employee, role=Role.EMPLOYEE, actor=SYSTEM)
    token = android_token(stack, actors, persona=str(persona.pk), ownership="personal", employee=actors.employee.email)
    creation = sent(stack, "androidmanagement.enterprises.enrollmentTokens.create")[-1]["body"]
    assert creation["policyName"] == f"{enterprise.name}/policies/{persona.pk}"
    assert creation["allowPersonalUsage"] == "PERSONAL_USAGE_ALLOWED" and creation["oneTimeOnly"] is True
    assert json.loads(creation["additionalData"]) == {"mdm_token": token["id"]}

    phone = stack.google.enroll_phone(token["android"]["value"], ownership="PERSONALLY_OWNED")
    device = wait_for(lambda: Device.objects.filter(google_name=phone["name"]).first())
    assert (device.channel, device.platform, device.ownership) == (
        ManagementChannel.ANDROID,
        "android",
        Ownership.PERSONAL,
    )
    assert device.persona_id == persona.pk and device.owner_id == actors.employee.pk
    # Google sent a serial number, an IMEI and a MAC address: none is kept.
    stored = json.dumps(Device.objects.filter(pk=device.pk).values().get(), default=str)
    hardware = stack.google.devices[phone["name"]]["hardwareInfo"]
    assert hardware["serialNumber"] not in stored and "490154203237518" not in stored
    listed = call(stack, actors.token(actors.auditor), "GET", f"/api/v1/devices/{device.pk}/")
    assert listed["platform"] == "android"

    # A persona change: Google's policy patched once, the push counts the phone when it reports.
    patches = len(sent(stack, "androidmanagement.enterprises.policies.patch"))
    change = call(
        stack,
        actors.token(actors.admin),
        "PATCH",
        f"/api/v1/personas/{persona.pk}/",
        {"access": {"min_os_version": {"android": "14"}}},
    )
    push = Push.objects.get(pk=change["push"]["id"])
    wait_for(lambda: Push.objects.get(pk=push.pk).android_sync == AndroidPolicySync.SENT, timeout=30)
    push.refresh_from_db()
    assert len(sent(stack, "androidmanagement.enterprises.policies.patch")) == patches + 1
    patched = sent(stack, "androidmanagement.enterprises.policies.patch")[-1]["body"]
    assert patched["minimumApiLevel"] == 34
    progress = call(stack, actors.token(actors.auditor), "GET", f"/api/v1/pushes/{push.pk}/")
    assert progress["android"]["targeted"] == 1 and progress["android"]["applied"] == 0
    stack.google.report_status(phone["name"])  # the phone applies the current version
    wait_for(
        lambda: (
            call(stack, actors.token(actors.auditor), "GET", f"/api/v1/pushes/{push.pk}/")["android"]["applied"] == 1
        )
    )
    assert Device.objects.get(pk=device.pk).applied_policy_version == push.android_policy_version

    # Lock: LOCK through Google, acknowledged when the phone ran it.
    call(
        stack, actors.token(actors.helpdesk), "POST", f"/api/v1/devices/{device.pk}/lock-corporate/", {"reason": "lost"}
    )
    assert wait_for(lambda: commands_to(stack, phone["name"])) == ["LOCK"]
    stack.google.run_commands(phone["name"])
    wait_for(lambda: Device.objects.get(pk=device.pk).container_state == ContainerState.LOCKED)
    # No remote unlock on Android: refused, clearly.
    refused = call(
        stack, actors.token(actors.helpdesk), "POST", f"/api/v1/devices/{device.pk}/unlock-corporate/", {}, expect=409
    )
    assert "passcode" in json.dumps(refused)

    # The corporate wipe of a personal phone: WIPE, which removes only the work profile.
    call(stack, actors.token(actors.admin), "POST", f"/api/v1/devices/{device.pk}/wipe-corporate/", {"reason": "left"})
    wait_for(lambda: commands_to(stack, phone["name"]) == ["LOCK", "WIPE"])
    stack.google.run_commands(phone["name"])
    wait_for(lambda: Device.objects.get(pk=device.pk).state == DeviceState.RETIRED)
    wipe = Wipe.objects.get(device=device)
    assert wipe.state == Wipe.State.DONE
    assert stack.google.factory_resets == []


def test_a_company_owned_phone_is_relinquished(android_stack, actors):
    stack = android_stack
    connect(stack, actors)
    token = android_token(stack, actors, ownership="corporate")
    phone = stack.google.enroll_phone(token["android"]["value"], ownership="COMPANY_OWNED")
    device = wait_for(lambda: Device.objects.filter(google_name=phone["name"]).first())
    assert device.ownership == Ownership.CORPORATE
    call(
        stack,
        actors.token(actors.admin),
        "POST",
        f"/api/v1/devices/{device.pk}/wipe-corporate/",
        {"reason": "returned"},
    )
    assert wait_for(lambda: commands_to(stack, phone["name"])) == ["RELINQUISH_OWNERSHIP"]
    stack.google.run_commands(phone["name"])
    wait_for(lambda: Device.objects.get(pk=device.pk).state == DeviceState.RETIRED)
    assert stack.google.factory_resets == []


def test_notifications_twice_or_never_and_google_busy_or_refusing(android_stack, android_settings, actors):
    stack = android_stack
    enterprise = connect(stack, actors)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    token = android_token(stack, actors, uses=5)

    # The same Pub/Sub message twice: one device, one enrollment.
    phone = stack.google.enroll_phone(token["android"]["value"])
    wait_for(lambda: Device.objects.filter(google_name=phone["name"]).exists())
    assert stack.google.redeliver(-1) == 204
    assert Device.objects.filter(organization=actors.org).count() == 1
    assert AuditEvent.objects.filter(organization=actors.org, action="device.enrolled").count() == 1

    # A phone whose notification never arrived: the reconciliation finds it.
    stack.google.push_endpoint = None
    try:
        missed = stack.google.enroll_phone(token["android"]["value"])
    finally:
        stack.google.push_endpoint = stack.env["MDM_ANDROID_PUBSUB_AUDIENCE"]
    assert not Device.objects.filter(google_name=missed["name"]).exists()
    totals = android_devices_reconcile_task()
    assert totals["created"] == 1 and Device.objects.filter(google_name=missed["name"]).exists()
    assert AndroidEnterprise.objects.get(pk=enterprise.pk).reconciled_at is not None

    # Google busy: the policy patch is retried with backoff until it goes through.
    stack.google.fail_next("androidmanagement.enterprises.policies.patch", status=503, times=2)
    busy = call(stack, actors.token(actors.admin), "PATCH", f"/api/v1/personas/{persona.pk}/", {"description": "busy"})
    wait_for(lambda: Push.objects.get(pk=busy["push"]["id"]).android_sync == AndroidPolicySync.SENT, timeout=40)

    # Google refusing: shown on the push, not retried.
    stack.google.fail_next("androidmanagement.enterprises.policies.patch", status=400, times=1)
    refused = call(stack, actors.token(actors.admin), "PATCH", f"/api/v1/personas/{persona.pk}/", {"description": "no"})
    wait_for(lambda: Push.objects.get(pk=refused["push"]["id"]).android_sync == AndroidPolicySync.FAILED, timeout=30)
    progress = call(stack, actors.token(actors.auditor), "GET", f"/api/v1/pushes/{refused['push']['id']}/")
    assert progress["android"]["sync"] == "failed" and progress["android"]["detail"]

    # A COMMAND notification that never came: the beat asks Google for the operation.
    device = Device.objects.get(google_name=phone["name"])
    call(stack, actors.token(actors.helpdesk), "POST", f"/api/v1/devices/{device.pk}/lock-corporate/", {"reason": "x"})
    command = wait_for(lambda: Command.objects.filter(device=device, state="delivered").exclude(channel_ref="").first())
    stack.google.push_endpoint = None
    try:
        stack.google.run_commands(phone["name"])
    finally:
        stack.google.push_endpoint = stack.env["MDM_ANDROID_PUBSUB_AUDIENCE"]
    Command.objects.filter(pk=command.pk).update(delivered_at=command.delivered_at.replace(year=2000))
    assert android_operations_follow_task()["finished"] == 1
    assert Command.objects.get(pk=command.pk).state == "acknowledged"


def test_a_push_from_anyone_but_google_is_refused(android_stack):
    stack = android_stack
    url = stack.env["MDM_ANDROID_PUBSUB_AUDIENCE"]
    body = json.dumps({"message": {"messageId": "1", "attributes": {"notificationType": "ENROLLMENT"}}}).encode()
    for headers, status in [({}, 401), ({"Authorization": "Bearer not-a-jwt"}, 401)]:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310
        assert refused.value.code == status
    # Google's signature, but for another audience, or another service account.
    for token in (
        stack.google.id_token(audience="https://elsewhere.example/"),
        stack.google.id_token(email="x@evil.test"),
    ):
        request = urllib.request.Request(url, data=body, method="POST", headers={"Authorization": f"Bearer {token}"})  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310
        assert refused.value.code in (401, 403)
