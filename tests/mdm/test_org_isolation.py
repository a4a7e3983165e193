"""A member of one organization can neither read nor change another organization's objects:
they get 404, exactly as if the object did not exist, and nothing changes."""

from mdm.audit import audit_event_record
from mdm.models import ApiToken, AuditEvent
from mdm.services import api_token_create


def test_an_outsider_cannot_read_another_organizations_audit_event(actors):
    event = audit_event_record(organization=actors.org, action="member.added", details={"email": "x@acme.test"})
    outsider = actors.api(actors.outsider)
    assert outsider.get(f"/api/v1/audit-events/{event.pk}/").status_code == 404
    listed = outsider.get("/api/v1/audit-events/").json()["results"]
    assert event.pk not in {row["id"] for row in listed}
    assert all(row["seq"] for row in listed)
    # The same event is there for a member of its organization.
    assert actors.api(actors.auditor).get(f"/api/v1/audit-events/{event.pk}/").status_code == 200


def test_an_outsider_cannot_revoke_another_organizations_token(actors):
    issued = api_token_create(membership=actors.membership(actors.admin), name="victim")
    events_before = AuditEvent.objects.count()
    response = actors.api(actors.outsider).delete(f"/api/v1/api-tokens/{issued.api_token.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    issued.api_token.refresh_from_db()
    assert issued.api_token.revoked_at is None
    assert AuditEvent.objects.count() == events_before + 1  # the outsider's own client token


def test_the_organization_endpoint_answers_the_callers_organization(actors):
    assert actors.api(actors.outsider).get("/api/v1/organization/").json()["name"] == "Globex"
    assert actors.api(actors.helpdesk).get("/api/v1/organization/").json()["name"] == "Acme"


def test_a_nonexistent_object_and_a_foreign_one_answer_the_same(actors):
    foreign = (
        ApiToken.objects.filter(organization=actors.other_org).first()
        or api_token_create(membership=actors.membership(actors.outsider, actors.other_org), name="g").api_token
    )
    api = actors.api(actors.owner)
    missing = api.get("/api/v1/api-tokens/00000000-0000-0000-0000-000000000000/")
    other = api.get(f"/api/v1/api-tokens/{foreign.pk}/")
    assert missing.status_code == other.status_code == 404
    assert missing.json() == other.json()


def test_every_domain_model_belongs_to_an_organization():
    """A new table without an organization would escape every scoping rule above."""
    from django.apps import apps

    not_tenant_data = {
        "mdm.user",  # a person may belong to several organizations, through Membership
        "mdm.externalidentity",  # a person's single sign-on identity, the account's like its e-mail
        "mdm.organization",
        "mdm.signingkey",  # the server's own keys, shared by every organization
        # Google's Pub/Sub message ids, recorded before a message is read (its organization is in
        # it): an id and a notification type, no tenant data.
        "devices.pubsubmessage",
    }
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label not in {"mdm", "personas", "devices", "directory"} or label in not_tenant_data:
            continue
        field = next((f for f in model._meta.fields if f.name == "organization"), None)
        assert field is not None and field.is_relation and not field.null, f"{label} has no organization"
    assert AuditEvent._meta.get_field("organization").remote_field.on_delete.__name__ == "PROTECT"
