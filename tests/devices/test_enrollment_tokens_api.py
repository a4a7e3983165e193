"""/api/v1/enrollment-tokens/ and the create_enrollment_token command."""

import json

import pytest
from django.core.management import call_command

from devices.models import EnrollmentToken
from mdm.models import AuditEvent
from mdm.signing import public_key_pin, signing_key_current

URL = "/api/v1/enrollment-tokens/"


def test_an_admin_creates_a_token_shown_once_with_its_qr_payload(actors):
    api = actors.api(actors.admin)
    response = api.post(URL, {"uses": 3, "expires_in": "1h", "ownership": "corporate", "note": "lab"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert token.startswith("mdmet_") and len(token) >= 6 + 43  # 256 random bits, base64url
    assert body["qr_payload"] == {
        "v": 1, "server": "http://localhost:8000", "token": token,
        "pin": public_key_pin(bytes(signing_key_current().public_key)),
    }  # fmt: skip
    assert body["uses_allowed"] == 3 and body["ownership"] == "corporate" and body["status"] == "usable"
    record = EnrollmentToken.objects.get(pk=body["id"])
    assert token not in (record.token_hash, record.prefix) and token.encode() not in bytes(record.wrapped_token)
    listed = api.get(URL).json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert "token" not in listed[0] and "qr_payload" not in listed[0]
    assert "token" not in api.get(f"{URL}{body['id']}/").json()
    event = AuditEvent.objects.get(organization=actors.org, action="enrollment_token.created")
    assert token not in json.dumps(event.details)


def test_the_qr_code_is_served_while_the_token_is_usable_then_410(actors):
    api = actors.api(actors.helpdesk)
    created = api.post(URL, {}, format="json").json()
    response = api.get(f"{URL}{created['id']}/qr.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml" and b"<svg" in response.content
    assert api.delete(f"{URL}{created['id']}/").status_code == 204
    gone = api.get(f"{URL}{created['id']}/qr.svg")
    assert gone.status_code == 410 and gone.json()["code"] == "gone"
    record = EnrollmentToken.objects.get(pk=created["id"])
    assert record.revoked_at is not None and record.wrapped_token is None
    assert AuditEvent.objects.filter(organization=actors.org, action="enrollment_token.revoked").count() == 1
    # Revoking again changes nothing and writes nothing.
    assert api.delete(f"{URL}{created['id']}/").status_code == 204
    assert AuditEvent.objects.filter(organization=actors.org, action="enrollment_token.revoked").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"uses": 0}, "uses"),
        ({"uses": "many"}, "uses"),
        ({"expires_in": "forever"}, "expires_in"),
        ({"expires_in": "100d"}, "expires_in"),  # named where it was given
        ({"expires_in": "1h", "expires_at": "2030-01-01T00:00:00Z"}, "expires_in"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"ownership": "stolen"}, "ownership"),
        ({"persona": "not-a-uuid"}, "persona"),
        ({"persona": "00000000-0000-0000-0000-000000000000"}, "persona"),
        ({"employee": "nobody@acme.test"}, "employee"),
        ({"employee": "erin@acme.test", "uses": 2}, "uses"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(actors, body, field):
    if body.get("employee") == "erin@acme.test":
        from mdm.services import membership_add

        membership_add(organization=actors.org, user=actors.employee, role="auditor")
    response = actors.api(actors.admin).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not EnrollmentToken.objects.exists()


def test_a_persona_of_another_organization_is_refused(actors):
    from personas.models import Persona

    foreign = Persona.objects.create(organization=actors.other_org, name="Theirs")
    response = actors.api(actors.admin).post(URL, {"persona": str(foreign.pk)}, format="json")
    assert response.status_code == 400 and "persona" in response.json()["errors"]


def test_roles(actors):
    assert actors.api(actors.auditor).get(URL).status_code == 200
    assert actors.api(actors.auditor).post(URL, {}, format="json").status_code == 403
    assert actors.api(actors.helpdesk).post(URL, {}, format="json").status_code == 201
    token_id = EnrollmentToken.objects.get().pk
    assert actors.api(actors.auditor).delete(f"{URL}{token_id}/").status_code == 403
    assert actors.api(actors.auditor).get(f"{URL}{token_id}/qr.svg").status_code == 403
    assert EnrollmentToken.objects.get().revoked_at is None


def test_another_organizations_token_is_404_and_stays_usable(actors):
    created = actors.api(actors.outsider).post(URL, {}, format="json").json()
    api = actors.api(actors.owner)
    for response in (
        api.get(f"{URL}{created['id']}/"),
        api.get(f"{URL}{created['id']}/qr.svg"),
        api.delete(f"{URL}{created['id']}/"),
    ):
        assert response.status_code == 404
    assert EnrollmentToken.objects.get(pk=created["id"]).status == "usable"
    assert created["id"] not in {row["id"] for row in api.get(URL).json()["results"]}


def test_the_command_prints_the_token_and_its_qr_payload(actors, capsys):
    call_command(
        "create_enrollment_token", "--org", "acme", "--uses", "2", "--expires", "1h", "--ownership", "corporate"
    )
    out = capsys.readouterr().out
    token = out.split("token: ")[1].split()[0]
    payload = json.loads(out.split("qr payload: ")[1].splitlines()[0])
    assert payload["token"] == token and payload["v"] == 1
    record = EnrollmentToken.objects.get()
    assert (record.uses_allowed, record.ownership, record.status) == (2, "corporate", "usable")
    call_command("create_enrollment_token", "--org", "acme", "--json")
    assert json.loads(capsys.readouterr().out)["token"].startswith("mdmet_")


def test_the_command_refuses_bad_input(actors):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="duration"):
        call_command("create_enrollment_token", "--org", "acme", "--expires", "soon")
    with pytest.raises(CommandError, match="No organization"):
        call_command("create_enrollment_token", "--org", "nope")
    with pytest.raises(CommandError, match="between 1 and"):
        call_command("create_enrollment_token", "--org", "acme", "--uses", "0")
