"""The portal's "Android work profile": Google's token for the employee's own phone, its QR code and
link, the phone appearing on the page; offered only once the organization is connected. And the
console's push progress for Android devices."""

from __future__ import annotations

import pytest

from devices.android import devices as android_devices
from devices.android.tokens import android_token_create
from devices.choices import ManagementChannel, Ownership
from devices.models import AndroidEnterprise, EnrollmentToken
from mdm.actors import SYSTEM
from mdm.choices import Role
from mdm.services import membership_add
from tests.android.test_services_google import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def employee(actors, client):
    membership_add(organization=actors.org, user=actors.employee, role=Role.EMPLOYEE, actor=SYSTEM)
    client.force_login(actors.employee)
    return actors.employee


def test_not_offered_before_the_organization_is_connected(client, employee, google):
    page = client.get("/portal/enroll/").content.decode()
    assert "Android work profile" not in page
    assert client.post("/portal/enroll/", {"platform": "android_enterprise"}).status_code == 200
    assert not EnrollmentToken.objects.filter(channel=ManagementChannel.ANDROID).exists()


def test_an_employee_enrolls_their_phone_through_google(client, employee, google, actors):
    connect(google, actors)
    page = client.get("/portal/enroll/").content.decode()
    assert "Android work profile" in page
    assert "Your work profile will follow the persona" in page  # seen before enrolling
    answer = client.post("/portal/enroll/", {"platform": "android_enterprise"})
    assert answer.status_code == 200
    token = EnrollmentToken.objects.get(channel=ManagementChannel.ANDROID)
    assert (token.employee, token.ownership, token.uses_allowed) == (employee, Ownership.PERSONAL, 1)
    body = answer.content.decode()
    assert "https://enterprise.google.com/android/enroll?et=" in body and "<svg" in body
    value = next(t["value"] for t in google.tokens.values() if t["name"] == token.google_name)
    phone = google.enroll_phone(value)
    record = AndroidEnterprise.objects.get(organization=actors.org)
    device = android_devices.device_report(enterprise=record, data=google.devices[phone["name"]])
    assert device.owner == employee
    status = client.get(f"/portal/enroll/{token.pk}/status/").content.decode()
    assert "is enrolled" in status


def test_google_away_is_said_plainly(client, employee, google, actors):
    connect(google, actors)
    google.fail_next("androidmanagement.enterprises.enrollmentTokens.create", status=503, times=3)
    answer = client.post("/portal/enroll/", {"platform": "android_enterprise"})
    assert answer.status_code == 503
    assert "try again" in answer.content.decode()


def test_the_consoles_push_progress_shows_the_android_part(client, google, actors):
    from devices.android.policies import push_android_sync
    from devices.push import push_start_for_persona
    from personas.models import Persona

    connect(google, actors)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    issued = android_token_create(organization=actors.org, uses=2)
    phone = google.enroll_phone(issued.value)
    record = AndroidEnterprise.objects.get(organization=actors.org)
    android_devices.device_report(enterprise=record, data=google.devices[phone["name"]])
    push = push_start_for_persona(persona=persona)
    client.force_login(actors.admin)
    waiting = client.get(f"/console/pushes/{push.pk}/progress/").content.decode()
    assert "Waiting to send the persona" in waiting
    push_android_sync(push_id=push.pk)
    sent = client.get(f"/console/pushes/{push.pk}/progress/").content.decode()
    assert "0 of 1 Android devices report the new policy" in sent and "hx-get" in sent
    google.push_endpoint = None
    google.report_status(phone["name"])
    android_devices.device_report(enterprise=record, data=google.devices[phone["name"]])
    done = client.get(f"/console/pushes/{push.pk}/progress/").content.decode()
    assert "1 of 1 Android devices report the new policy" in done
    google.fail_next("androidmanagement.enterprises.policies.patch", status=400)
    refused = push_start_for_persona(persona=persona)
    push_android_sync(push_id=refused.pk)
    page = client.get(f"/console/pushes/{refused.pk}/progress/").content.decode()
    assert "Google refused the policy" in page


def test_the_owner_connects_from_the_console_through_googles_signup(client, google, actors):
    from urllib.parse import urlsplit
    from urllib.request import HTTPRedirectHandler, build_opener

    class NoRedirect(HTTPRedirectHandler):
        def http_error_302(self, req, fp, code, msg, headers):
            return fp

    client.force_login(actors.owner)
    to_google = client.post("/console/android/connect/")
    assert to_google.status_code == 302 and to_google["Location"].startswith(google.url + "signup/")
    with build_opener(NoRedirect).open(to_google["Location"]) as answer:
        back = urlsplit(answer.headers["Location"])
    assert back.path == "/console/android/callback/"
    finished = client.get(f"{back.path}?{back.query}")
    assert finished.status_code == 302
    assert AndroidEnterprise.objects.get(organization=actors.org).connected
    page = client.get("/console/android/").content.decode()
    assert AndroidEnterprise.objects.get(organization=actors.org).name in page
