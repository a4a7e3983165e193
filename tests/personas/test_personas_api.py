"""/api/v1/personas/: CRUD with per-field errors, the policy preview, 409 when in use, roles,
and isolation between organizations."""

import pytest

from devices.models import Push
from mdm.models import AuditEvent
from personas.models import Persona

URL = "/api/v1/personas/"


@pytest.fixture
def persona(actors):
    return Persona.objects.get(organization=actors.org, is_default=True)


def test_a_new_organization_starts_with_the_byod_basic_persona(actors):
    rows = actors.api(actors.auditor).get(URL).json()["results"]
    (row,) = rows
    assert (row["name"], row["preset"], row["is_default"], row["revision"]) == ("BYOD basic", "byod-basic", True, 1)
    assert row["data_sharing"]["clipboard"] == {
        "work_to_personal": "deny", "personal_to_work": "allow", "max_chars": 0,
        "exemptions": {"work_to_personal": [], "personal_to_work": []},
    }  # fmt: skip
    assert row["enforcement"] == {"block_after_days": 7, "wipe_after_days": 30}


def test_an_admin_creates_a_persona_from_a_preset_with_changes(actors):
    response = actors.api(actors.admin).post(
        URL,
        {"name": "Sales", "preset": "byod-strict", "apps": [{"id": "com.acme.crm", "install": "required"}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["preset"] == "byod-strict" and body["access"]["max_offline_days"] == 7
    assert body["apps"] == [
        {"id": "com.acme.crm", "install": "required", "min_version": None, "signing_cert_sha256": [],
         "managed_config": {}}
    ]  # fmt: skip
    assert AuditEvent.objects.filter(organization=actors.org, action="persona.created", target_id=body["id"]).exists()


def test_a_change_bumps_the_revision_audits_the_diff_and_starts_a_push(actors, persona, agent_factory):
    agent_factory()
    response = actors.api(actors.admin).patch(
        f"{URL}{persona.pk}/", {"access": {"max_offline_days": 10}}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revision"] == 2 and body["access"]["max_offline_days"] == 10
    push = Push.objects.get(pk=body["push"]["id"])
    assert (push.persona_revision, push.targeted) == (2, 1)
    event = AuditEvent.objects.get(organization=actors.org, action="persona.updated")
    assert event.details["diff"] == ["access.max_offline_days: 30 -> 10"]
    # The same change again changes nothing: no revision, no push, no event.
    again = actors.api(actors.admin).patch(f"{URL}{persona.pk}/", {"access": {"max_offline_days": 10}}, format="json")
    assert again.json()["revision"] == 2 and "push" not in again.json()
    assert Push.objects.count() == 1


def test_put_replaces_the_whole_spec(actors, persona):
    api = actors.api(actors.admin)
    spec = api.get(f"{URL}{persona.pk}/").json()
    spec["apps"] = [{"id": "com.acme.mail", "install": "available", "min_version": "3.2"}]
    spec["data_sharing"]["contacts"]["personal_to_work"] = "allow"
    response = api.put(f"{URL}{persona.pk}/", spec, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["apps"][0]["min_version"] == "3.2"
    assert response.json()["data_sharing"]["contacts"]["personal_to_work"] == "allow"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"apps": [{"id": "not an app"}]}, "apps[0].id"),
        ({"apps": [{"id": "com.a.b", "signing_cert_sha256": ["abc"]}]}, "apps[0].signing_cert_sha256"),
        ({"enforcement": {"block_after_days": 10, "wipe_after_days": 10}}, "enforcement.wipe_after_days"),
        ({"access": {"max_offline_days": 0}}, "access.max_offline_days"),
        ({"access": {"passcode": {"required": "yes"}}}, "access.passcode.required"),
        ({"data_sharing": {"files": {"work_to_personal": "maybe"}}}, "data_sharing.files.work_to_personal"),
        ({"encryption": {"cipher": "DES"}}, "encryption.cipher"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_changes_are_400_with_the_field_and_change_nothing(actors, persona, change, field):
    response = actors.api(actors.admin).patch(f"{URL}{persona.pk}/", change, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()["errors"]
    persona.refresh_from_db()
    assert persona.revision == 1
    assert not AuditEvent.objects.filter(action="persona.updated").exists()


def test_the_policy_preview_is_the_compiled_document(actors, persona):
    body = actors.api(actors.helpdesk).get(f"{URL}{persona.pk}/policy-preview/").json()
    assert body["policy"]["schema"] == "mdm-policy/1"
    assert body["policy"]["persona"] == {"id": str(persona.pk), "name": "BYOD basic", "revision": 1}
    assert body["policy"]["apps"]["default"] == "block"
    assert "encryption.key_id" in body["placeholders"]


def test_a_persona_in_use_cannot_be_deleted(actors, agent_factory):
    api = actors.api(actors.admin)
    created = api.post(URL, {"name": "Lab"}, format="json").json()
    persona = Persona.objects.get(pk=created["id"])
    agent_factory(persona=persona)
    response = api.delete(f"{URL}{persona.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert Persona.objects.filter(pk=persona.pk).exists()


def test_an_unused_persona_is_deleted_but_not_the_default(actors, persona):
    api = actors.api(actors.admin)
    created = api.post(URL, {"name": "Temp"}, format="json").json()
    assert api.delete(f"{URL}{created['id']}/").status_code == 204
    assert AuditEvent.objects.filter(action="persona.deleted", target_id=created["id"]).exists()
    assert api.delete(f"{URL}{persona.pk}/").status_code == 409


def test_roles(actors, persona):
    for user in (actors.helpdesk, actors.auditor):
        api = actors.api(user)
        assert api.get(URL).status_code == 200
        assert api.post(URL, {"name": "x"}, format="json").status_code == 403
        assert api.patch(f"{URL}{persona.pk}/", {"description": "x"}, format="json").status_code == 403
        assert api.delete(f"{URL}{persona.pk}/").status_code == 403
    persona.refresh_from_db()
    assert persona.revision == 1 and Persona.objects.filter(organization=actors.org).count() == 1


def test_another_organizations_persona_is_404(actors, persona):
    api = actors.api(actors.outsider)
    for response in (
        api.get(f"{URL}{persona.pk}/"),
        api.patch(f"{URL}{persona.pk}/", {"description": "mine now"}, format="json"),
        api.delete(f"{URL}{persona.pk}/"),
        api.get(f"{URL}{persona.pk}/policy-preview/"),
    ):
        assert response.status_code == 404
    assert [row["name"] for row in api.get(URL).json()["results"]] == ["BYOD basic"]
    assert api.get(URL).json()["results"][0]["id"] != str(persona.pk)
    persona.refresh_from_db()
    assert persona.description.startswith("Personal device")


def test_an_invalid_change_answers_the_problem_it_always_has(actors, persona):
    response = actors.api(actors.admin).patch(
        f"{URL}{persona.pk}/",
        {"name": "", "apps": [{"id": "com.a.b", "signing_cert_sha256": [42]}], "access": {"max_offline_days": "7"}},
        format="json",
    )
    assert response.status_code == 400 and response["Content-Type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "urn:mdm:problem:invalid",
        "title": "Bad Request",
        "status": 400,
        "detail": "The request has invalid fields.",
        "code": "invalid",
        "errors": {
            "name": ["This field may not be blank."],
            "apps[0].signing_cert_sha256[0]": ["Not a valid string."],
            "access.max_offline_days": ["A valid integer is required."],
        },
    }


def test_a_name_already_taken_is_a_400_on_the_name(actors, persona):
    api = actors.api(actors.admin)
    created = api.post(URL, {"name": "Sales"}, format="json").json()
    for response in (
        api.post(URL, {"name": "byod basic"}, format="json"),
        api.patch(f"{URL}{created['id']}/", {"name": "BYOD Basic"}, format="json"),
    ):
        assert response.status_code == 400
        body = response.json()
        assert (body["code"], body["detail"]) == ("invalid", "The request has invalid fields.")
        assert list(body["errors"]) == ["name"] and "already exists" in body["errors"]["name"][0]
    assert Persona.objects.get(pk=created["id"]).name == "Sales"


def test_the_device_counts_are_the_active_devices_of_each_persona(actors, persona, agent_factory):
    agent_factory()
    agent_factory()
    other = actors.api(actors.admin).post(URL, {"name": "Lab"}, format="json").json()
    rows = {row["name"]: row["devices"] for row in actors.api(actors.auditor).get(URL).json()["results"]}
    assert rows == {"BYOD basic": 2, "Lab": 0}
    assert actors.api(actors.auditor).get(f"{URL}{persona.pk}/").json()["devices"] == 2
    assert actors.api(actors.auditor).get(f"{URL}{other['id']}/").json()["devices"] == 0
