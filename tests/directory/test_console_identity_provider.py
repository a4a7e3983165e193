"""The console's Identity provider page: who sees and changes what, tokens shown once, revocable,
the offboarding rule (owner), group personas (persona editors), everything audited."""

from __future__ import annotations

import pytest
from django.test import Client

from directory.models import DirectoryGroup, DirectorySettings, ScimToken
from directory.selectors import offboarding_of
from directory.services import scim_token_create
from mdm.models import AuditEvent
from personas.models import Persona
from tests.directory.helpers import Provider, assert_scim_error

PAGE = "/console/identity-provider/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sales_group(actors):
    idp = Provider(actors.org)
    member = idp.create_user("rep@acme-corp.com")
    return DirectoryGroup.objects.get(pk=idp.create_group("Sales", [member["id"]])["id"])


def test_it_needs_a_signed_in_member(client, actors):
    assert client.get(PAGE).status_code == 302
    employee = signed_in(actors.employee)
    assert employee.get(PAGE).status_code == 403


def test_the_owner_sees_the_base_url_tokens_and_offboarding(actors, settings):
    scim_token_create(organization=actors.org, name="okta")
    scim_token_create(organization=actors.other_org, name="globex-secret")
    page = signed_in(actors.owner).get(PAGE).content.decode()
    assert f"{settings.MDM_ISSUER}/scim/v2" in page
    assert "okta" in page and "globex-secret" not in page
    assert "Offboarding" in page and "Create a SCIM token" in page
    assert "Identity provider" in signed_in(actors.owner).get("/console/").content.decode()


def test_an_admin_sees_the_page_without_tokens_or_offboarding(actors):
    scim_token_create(organization=actors.org, name="okta")
    page = signed_in(actors.admin).get(PAGE).content.decode()
    assert "okta" not in page and "Create a SCIM token" not in page and "Offboarding" not in page


def test_the_owner_creates_a_token_shown_once(actors):
    owner = signed_in(actors.owner)
    page = owner.post(PAGE + "tokens/", {"name": "Entra ID"}).content.decode()
    token = ScimToken.objects.get(organization=actors.org, name="Entra ID")
    secret = page.split('id="new-scim-token" readonly value="')[1].split('"')[0]
    assert secret.startswith("mdmst_") and secret[:12] == token.prefix
    assert secret not in owner.get(PAGE).content.decode()
    assert Provider(actors.org, token=secret).get("/Users").status_code == 200
    event = AuditEvent.objects.get(action="scim_token.created")
    assert event.actor_id == str(actors.owner.pk) and event.details == {"name": "Entra ID", "prefix": token.prefix}


def test_an_empty_token_name_is_refused_and_nothing_is_created(actors):
    assert signed_in(actors.owner).post(PAGE + "tokens/", {"name": "  "}).status_code == 400
    assert not ScimToken.objects.exists()


@pytest.mark.parametrize("who", ["admin", "helpdesk", "auditor"])
def test_only_the_owner_manages_tokens_and_offboarding(actors, who):
    issued = scim_token_create(organization=actors.org, name="okta")
    client = signed_in(getattr(actors, who))
    assert client.post(PAGE + "tokens/", {"name": "x"}).status_code == 403
    assert client.post(f"{PAGE}tokens/{issued.scim_token.pk}/revoke/").status_code == 403
    assert client.post(PAGE + "offboarding/", {"offboarding": "nothing"}).status_code == 403
    assert ScimToken.objects.count() == 1 and ScimToken.objects.get().revoked_at is None
    assert offboarding_of(actors.org.pk) == "wipe"


def test_the_owner_revokes_a_token_and_the_provider_gets_401(actors):
    issued = scim_token_create(organization=actors.org, name="okta")
    response = signed_in(actors.owner).post(f"{PAGE}tokens/{issued.scim_token.pk}/revoke/")
    assert response.status_code == 302
    assert_scim_error(Provider(actors.org, token=issued.token).get("/Users"), 401)
    assert AuditEvent.objects.get(action="scim_token.revoked").actor_id == str(actors.owner.pk)


def test_another_organizations_token_cannot_be_revoked_here(actors):
    issued = scim_token_create(organization=actors.other_org, name="globex")
    assert signed_in(actors.owner).post(f"{PAGE}tokens/{issued.scim_token.pk}/revoke/").status_code == 404
    assert ScimToken.objects.get().revoked_at is None


def test_the_owner_sets_the_offboarding_rule(actors):
    owner = signed_in(actors.owner)
    assert owner.post(PAGE + "offboarding/", {"offboarding": "lock"}).status_code == 302
    assert offboarding_of(actors.org.pk) == "lock" and offboarding_of(actors.other_org.pk) == "wipe"
    event = AuditEvent.objects.get(action="directory.settings_changed")
    assert event.details == {"offboarding": "lock", "old_offboarding": "wipe"}
    owner.post(PAGE + "offboarding/", {"offboarding": "explode"})
    assert DirectorySettings.objects.get(organization=actors.org).offboarding == "lock"


def test_an_admin_maps_a_group_to_a_persona(actors, sales_group):
    persona = Persona.objects.create(organization=actors.org, name="Sales")
    prefix = str(sales_group.pk)
    response = signed_in(actors.admin).post(f"{PAGE}groups/{sales_group.pk}/",
                                            {f"{prefix}-persona": persona.pk, f"{prefix}-priority": 3})  # fmt: skip
    assert response.status_code == 302
    sales_group.refresh_from_db()
    assert sales_group.persona == persona and sales_group.priority == 3
    page = signed_in(actors.admin).get(PAGE).content.decode()
    assert "Sales" in page and "rep@acme-corp.com" in page


@pytest.mark.parametrize("who", ["helpdesk", "auditor"])
def test_roles_that_cannot_change_personas_cannot_map_groups(actors, sales_group, who):
    persona = Persona.objects.create(organization=actors.org, name="Sales")
    prefix = str(sales_group.pk)
    data = {f"{prefix}-persona": persona.pk, f"{prefix}-priority": 1}
    assert signed_in(getattr(actors, who)).post(f"{PAGE}groups/{sales_group.pk}/", data).status_code == 403
    sales_group.refresh_from_db()
    assert sales_group.persona is None


def test_mapping_refuses_foreign_groups_and_personas(actors, sales_group):
    foreign_persona = Persona.objects.filter(organization=actors.other_org).first()
    prefix = str(sales_group.pk)
    admin = signed_in(actors.admin)
    admin.post(f"{PAGE}groups/{sales_group.pk}/", {f"{prefix}-persona": foreign_persona.pk, f"{prefix}-priority": 1})
    admin.post(f"{PAGE}groups/{sales_group.pk}/", {f"{prefix}-persona": "", f"{prefix}-priority": -1})
    sales_group.refresh_from_db()
    assert sales_group.persona is None and sales_group.priority == 0
    outsider = signed_in(actors.outsider)
    assert outsider.post(f"{PAGE}groups/{sales_group.pk}/", {}).status_code == 404
    assert not AuditEvent.objects.filter(action="directory.group_mapped").exists()
