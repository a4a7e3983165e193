"""POST /api/v1/agent/enroll (agent protocol, section 1)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device, EnrollmentToken
from mdm.models import AuditEvent
from mdm.signing import jwks
from tests.agents import Keys, enroll_body

URL = "/api/v1/agent/enroll"


def post(client, body, **extra):
    return client.post(URL, body, content_type="application/json", **extra)


def test_it_enrolls_a_device(client, actors, issue_token):
    issued = issue_token(ownership="personal", employee=actors.employee)
    keys = Keys()
    response = post(client, enroll_body(issued.token, keys))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organization"] == {"id": str(actors.org.pk), "name": "Acme"}
    assert body["ownership"] == "personal"
    assert body["issuer"] == "http://localhost:8000"
    assert body["signing_keys"] == jwks()
    assert body["poll_interval_seconds"] == 900
    device = Device.objects.get(pk=body["device_id"])
    assert device.organization == actors.org and device.owner == actors.employee
    assert (device.platform, device.os_version, device.model) == ("android", "14", "Pixel 8")
    assert device.state == "active" and device.container_state == "pending"
    event = AuditEvent.objects.get(organization=actors.org, action="device.enrolled")
    assert event.target_id == str(device.pk) and event.actor_type == "device"
    issued.enrollment_token.refresh_from_db()
    assert issued.enrollment_token.uses_count == 1
    # Used up: the wrapped copy of the token (kept for its QR code) is gone.
    assert issued.enrollment_token.wrapped_token is None


def test_a_personal_device_stores_no_hardware_identifier(client, actors, issue_token):
    body = enroll_body(issue_token().token, Keys())
    body["device"]["serial_number"] = "R58M123456"
    body["device"]["imei"] = "490154203237518"
    response = post(client, body)
    assert response.status_code == 201
    device = Device.objects.get(pk=response.json()["device_id"])
    stored = " ".join(str(getattr(device, f.attname)) for f in Device._meta.fields)
    assert "R58M123456" not in stored and "490154203237518" not in stored
    assert not {"serial_number", "imei", "serial"} & {f.name for f in Device._meta.fields}


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def test_an_unknown_token_is_403(client, actors):
    _problem(post(client, enroll_body("mdmet_" + "x" * 43, Keys())), 403, "enrollment_token_invalid")
    _problem(post(client, enroll_body("not-even-a-token", Keys())), 403, "enrollment_token_invalid")


def test_a_revoked_token_is_403(client, actors, issue_token):
    from devices.services import enrollment_token_revoke

    issued = issue_token()
    enrollment_token_revoke(enrollment_token=issued.enrollment_token)
    _problem(post(client, enroll_body(issued.token, Keys())), 403, "enrollment_token_invalid")


def test_an_expired_token_is_410(client, actors, issue_token):
    issued = issue_token(expires_at=timezone.now() + timedelta(minutes=1))
    EnrollmentToken.objects.filter(pk=issued.enrollment_token.pk).update(expires_at=timezone.now())
    _problem(post(client, enroll_body(issued.token, Keys())), 410, "enrollment_token_expired")
    assert not Device.objects.exists()


def test_a_used_up_token_is_410(client, actors, issue_token):
    issued = issue_token(uses=2)
    assert post(client, enroll_body(issued.token, Keys())).status_code == 201
    assert post(client, enroll_body(issued.token, Keys())).status_code == 201
    _problem(post(client, enroll_body(issued.token, Keys())), 410, "enrollment_token_used")
    assert Device.objects.count() == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["device"].update(platform="symbian"), "device.platform"),
        (lambda b: b["device"].pop("os_version"), "device.os_version"),
        (lambda b: b["device"].update(agent_version="x" * 33), "device.agent_version"),
        (lambda b: b["keys"].update(signing="AAAA"), "keys.signing"),
        (lambda b: b["keys"].update(encryption="not base64!"), "keys.encryption"),
        (lambda b: b["keys"].update(encryption="A" * 43), "keys.encryption"),  # 32 zero bytes
        (lambda b: b["keys"].update(signing=b["keys"]["signing"] + "AAAA"), "keys.signing"),
        (lambda b: b.pop("keys"), "keys"),
        (lambda b: b.update(token=7), "token"),
        (lambda b: b.update(device="android"), "device.non_field_errors"),
    ],
)
def test_an_invalid_field_is_400_and_names_it(client, actors, issue_token, mutate, field):
    issued = issue_token()
    body = enroll_body(issued.token, Keys())
    mutate(body)
    problem = _problem(post(client, body), 400, "invalid")
    assert field in problem["errors"], problem
    issued.enrollment_token.refresh_from_db()
    assert issued.enrollment_token.uses_count == 0  # a refused enrollment spends nothing


def test_a_signing_key_already_enrolled_is_409(client, actors, issue_token):
    keys = Keys()
    assert post(client, enroll_body(issue_token().token, keys)).status_code == 201
    issued = issue_token()
    _problem(post(client, enroll_body(issued.token, keys)), 409, "key_in_use")
    issued.enrollment_token.refresh_from_db()
    assert issued.enrollment_token.uses_count == 0


def test_not_json_is_415_and_too_big_is_413(client, actors, issue_token):
    _problem(
        client.post(URL, "token=x", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type"
    )
    big = enroll_body(issue_token().token, Keys())
    big["device"]["model"] = "x" * 70_000
    _problem(post(client, big), 413, "too_large")


def test_the_device_gets_the_tokens_persona(client, actors, issue_token):
    from personas.models import Persona

    persona = Persona.objects.create(organization=actors.org, name="BYOD")
    response = post(client, enroll_body(issue_token(persona=persona, ownership="corporate").token, Keys()))
    device = Device.objects.get(pk=response.json()["device_id"])
    assert device.persona == persona and device.ownership == "corporate"
