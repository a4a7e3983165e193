from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from mdm.models import ApiToken, AuditEvent
from mdm.services import api_token_create


def test_an_owner_creates_a_token_shown_once_and_stored_hashed(actors):
    api = actors.api(actors.owner)
    response = api.post("/api/v1/api-tokens/", {"name": "ci pipeline"}, format="json")
    assert response.status_code == 201
    token = response.json()["token"]
    assert token.startswith("mdmat_") and len(token) > 40
    stored = ApiToken.objects.get(pk=response.json()["id"])
    assert token not in (stored.token_hash, stored.prefix)
    assert all("token" not in row for row in api.get("/api/v1/api-tokens/").json()["results"])
    assert AuditEvent.objects.filter(organization=actors.org, action="api_token.created", target_id=str(stored.pk))
    # The new token works, and acts as its member.
    other = actors.api(None)
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert other.get("/api/v1/organization/").json()["role"] == "owner"


def test_a_revoked_token_stops_working_at_once(actors):
    token = actors.token(actors.admin)
    api = actors.api(None)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/organization/").status_code == 200
    token_id = ApiToken.objects.get(prefix=token[:12]).pk
    assert api.delete(f"/api/v1/api-tokens/{token_id}/").status_code == 204
    assert api.get("/api/v1/organization/").status_code == 401
    assert AuditEvent.objects.filter(organization=actors.org, action="api_token.revoked").count() == 1


def test_an_expired_token_is_refused(actors):
    issued = api_token_create(
        membership=actors.membership(actors.admin), name="short", expires_at=timezone.now() + timedelta(seconds=1)
    )
    ApiToken.objects.filter(pk=issued.api_token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    api = actors.api(None)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert api.get("/api/v1/organization/").status_code == 401


def test_a_token_stops_working_when_its_member_leaves(actors):
    api = actors.api(actors.admin)
    actors.membership(actors.admin).delete()
    assert api.get("/api/v1/organization/").status_code == 401


def test_a_token_acts_with_the_members_current_role(actors):
    api = actors.api(actors.admin)
    assert api.get("/api/v1/audit-events/").status_code == 200
    membership = actors.membership(actors.admin)
    membership.role = "helpdesk"
    membership.save(update_fields=["role"])
    assert api.get("/api/v1/audit-events/").status_code == 403


def test_helpdesk_and_auditor_cannot_manage_tokens_and_nothing_changes(actors):
    before = ApiToken.objects.count()
    for user in (actors.helpdesk, actors.auditor):
        api = actors.api(user)
        assert api.get("/api/v1/api-tokens/").status_code == 403
        assert api.post("/api/v1/api-tokens/", {"name": "x"}, format="json").status_code == 403
    assert ApiToken.objects.count() == before + 2  # only the two tokens the clients themselves use


def test_an_admin_sees_only_their_own_tokens_and_the_owner_sees_all(actors):
    admin_api, owner_api = actors.api(actors.admin), actors.api(actors.owner)
    admin_ids = {row["id"] for row in admin_api.get("/api/v1/api-tokens/").json()["results"]}
    owner_ids = {row["id"] for row in owner_api.get("/api/v1/api-tokens/").json()["results"]}
    assert admin_ids < owner_ids
    owners_token = ApiToken.objects.filter(user=actors.owner).first()
    assert admin_api.delete(f"/api/v1/api-tokens/{owners_token.pk}/").status_code == 404


def test_create_api_token_command_prints_a_working_token(actors, capsys):
    call_command("create_api_token", "--email", "BOB@acme.test", "--org", "Acme")
    token = capsys.readouterr().out.strip()
    api = actors.api(None)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/organization/").json()["role"] == "admin"
