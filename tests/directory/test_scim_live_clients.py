"""The SCIM door against a real SCIM client (scim2-client over httpx2) and the real web server,
playing the request sequences Okta and Microsoft Entra ID send: look up by userName, create, read,
deactivate, reactivate, push a group, add and remove its members, delete.

The payloads are the providers' own shapes (Okta's PATCH with no path and a value object, Entra's
capitalised ops and "False" as a string, its member removal with a value list), sent as they are
(check_request_payload=False); every answer is read back through the client's models, which the
client built from our discovery endpoints."""

from __future__ import annotations

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Context, Group, ListResponse, PatchOp, SearchRequest

from devices.choices import ContainerState
from devices.models import Device, Wipe
from directory.models import DirectoryGroup, DirectoryUser
from mdm.models import AuditEvent, Membership
from mdm.services import bootstrap
from personas.models import Persona
from tests.devices.test_device_selectors import make_device

pytestmark = pytest.mark.django_db(transaction=True)

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def scim(live_mdm):
    organization = bootstrap(org_name="Initech", email="owner@initech-corp.com", password="x" * 20).organization
    token = live_mdm.manage("create_scim_token", "--org", "Initech", "--name", "idp").strip()
    assert token.startswith("mdmst_")
    http = httpx2.Client(base_url=f"{live_mdm.url}/scim/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    yield client, organization
    http.close()


def _user_model(client):
    model = client.get_resource_model("User")
    assert model is not None
    return model


def _read(model, payload):
    """An unchecked request's answer (a dict when the client had no model to expect: its status
    and content type are checked all the same), read through the model the client discovered."""
    if isinstance(payload, model):
        return payload
    assert isinstance(payload, dict), payload
    return model.model_validate(payload, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def send(client, model, verb: str, path: str, payload: dict):
    """Send a provider's payload as it is, to `path`, and read the answer through `model`."""
    options = {"check_request_payload": False, "url": path}
    if verb == "POST":
        return _read(model, client.create(model, resource=payload, **options))
    if verb == "PUT":
        return _read(model, client.replace(model, resource=payload, **options))
    return _read(model, client.modify(model, path.rsplit("/", 1)[1], payload, **options))


def _find(client, user_name: str):
    model = _user_model(client)
    found = client.query(model, query_parameters=SearchRequest(filter=f'userName eq "{user_name}"', start_index=1,
                                                                count=100))  # fmt: skip
    assert isinstance(found, ListResponse)
    return found


def test_it_serves_okta_s_provisioning_sequence(scim):
    client, organization = scim
    model = _user_model(client)
    # Okta's "create if absent": look the user up by userName first.
    assert _find(client, "peter@initech-corp.com").total_results == 0
    okta_user = {
        "schemas": [CORE_USER],
        "userName": "peter@initech-corp.com",
        "name": {"givenName": "Peter", "familyName": "Gibbons"},
        "emails": [{"primary": True, "value": "peter@initech-corp.com", "type": "work"}],
        "displayName": "Peter Gibbons",
        "locale": "en-US",
        "externalId": "00u1ab2cd3EF4gh5i6j7",
        "groups": [],
        "active": True,
    }
    created = send(client, model, "POST", "/Users", okta_user)
    assert created.user_name == "peter@initech-corp.com" and created.active is True
    assert _find(client, "peter@initech-corp.com").total_results == 1
    record = DirectoryUser.objects.get(pk=created.id)
    assert Membership.objects.get(organization=organization, user=record.user).role == "employee"
    phone = make_device(organization, owner=record.user, container_state=ContainerState.ACTIVE)

    fetched = client.query(model, created.id)
    assert fetched.display_name == "Peter Gibbons" and fetched.meta.version == created.meta.version

    # Deactivation: Okta's PATCH has no path, and the value is an object.
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    deactivated = send(client, model, "PATCH", f"/Users/{created.id}", deactivate)
    assert deactivated.active is False
    wipe = Wipe.objects.get(device=phone)
    assert wipe.state == "pending" and wipe.requested_by.startswith("SCIM token mdmst_")
    event = AuditEvent.objects.get(organization=organization, action="directory.user_deactivated")
    assert event.actor_type == "scim_token" and event.details["wipes"] == 1

    reactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]}
    assert send(client, model, "PATCH", f"/Users/{created.id}", reactivate).active is True

    # A profile change: Okta replaces the whole user.
    okta_user["name"]["familyName"] = "Gibbons-Smith"
    replaced = send(client, model, "PUT", f"/Users/{created.id}", okta_user)
    assert replaced.name.family_name == "Gibbons-Smith"

    # Group push: create, add a member, rename, remove the member with a path filter, delete.
    group_model = client.get_resource_model("Group")
    payload = {"schemas": [GROUP], "displayName": "Engineering", "members": []}
    group = send(client, group_model, "POST", "/Groups", payload)
    member = {"value": created.id, "display": "peter@initech-corp.com"}
    add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [member]}]}
    send(client, group_model, "PATCH", f"/Groups/{group.id}", add)
    assert [m.value for m in client.query(group_model, group.id).members] == [created.id]
    rename = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": group.id, "displayName": "Eng"}}]}
    assert send(client, group_model, "PATCH", f"/Groups/{group.id}", rename).display_name == "Eng"
    remove = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{created.id}"]'}]}
    send(client, group_model, "PATCH", f"/Groups/{group.id}", remove)
    assert not client.query(group_model, group.id).members
    client.delete(group_model, group.id)
    assert not DirectoryGroup.objects.filter(pk=group.id).exists()


def test_it_serves_entra_id_s_provisioning_sequence(scim):
    client, organization = scim
    model = _user_model(client)
    sales = Persona.objects.create(organization=organization, name="Sales")
    # Entra probes with a userName that cannot exist, then looks the real one up.
    assert _find(client, "7a2d8a6c-0000-4000-8000-000000000000").total_results == 0
    assert _find(client, "milton@initech-corp.com").total_results == 0
    entra_user = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": "milton",
        "userName": "milton@initech-corp.com",
        "active": True,
        "displayName": "Milton Waddams",
        "emails": [{"primary": True, "type": "work", "value": "milton@initech-corp.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Milton Waddams", "familyName": "Waddams", "givenName": "Milton"},
        "roles": [],
        ENTERPRISE: {"employeeNumber": "42", "department": "Storage"},
    }
    created = send(client, model, "POST", "/Users", entra_user)
    assert created[ENTERPRISE].employee_number == "42"
    record = DirectoryUser.objects.get(pk=created.id)
    phone = make_device(organization, owner=record.user, container_state=ContainerState.ACTIVE)

    # Attribute updates, Entra style: capitalised ops, an e-mail through a path filter.
    update = {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "displayName", "value": "Milton W."},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "milton.w@initech-corp.com"},
    ]}  # fmt: skip
    updated = send(client, model, "PATCH", f"/Users/{created.id}", update)
    assert updated.display_name == "Milton W." and updated.emails[0].value == "milton.w@initech-corp.com"

    # Group: look up (members excluded), create, add the member, map it to a persona.
    group_model = client.get_resource_model("Group")
    found = client.query(group_model, query_parameters=SearchRequest(filter='displayName eq "Sales"'))
    assert found.total_results == 0
    payload = {"schemas": [GROUP], "externalId": "g-sales", "displayName": "Sales", "meta": {"resourceType": "Group"},
               "members": []}  # fmt: skip
    group = send(client, group_model, "POST", "/Groups", payload)
    add = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": created.id}]}]}
    send(client, group_model, "PATCH", f"/Groups/{group.id}", add)
    from directory.services import directory_group_map
    from mdm.actors import SYSTEM

    directory_group_map(group=DirectoryGroup.objects.get(pk=group.id), persona=sales, priority=1, actor=SYSTEM)
    phone.refresh_from_db()
    assert phone.persona == sales
    remove = {"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": created.id}]}]}
    send(client, group_model, "PATCH", f"/Groups/{group.id}", remove)
    assert not client.query(group_model, group.id).members

    # Deactivation, Entra style: "False" as a string, then deletion.
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert send(client, model, "PATCH", f"/Users/{created.id}", deactivate).active is False
    assert Wipe.objects.get(device=phone).state == "pending"
    client.delete(model, created.id)
    record.refresh_from_db()
    assert record.deleted_at is not None
    missing = client.query(model, created.id, raise_scim_errors=False)
    assert missing.status == 404
    client.delete(group_model, group.id)
    assert Device.objects.get(pk=phone.pk).container_state == "wipe_pending"


def test_it_answers_the_real_client_with_scim_errors(scim):
    client, _ = scim
    model = _user_model(client)
    client.create(model, resource=model(user_name="bill@initech-corp.com"))
    duplicate = client.create(model, resource=model(user_name="bill@initech-corp.com"), raise_scim_errors=False)
    assert duplicate.status == 409 and duplicate.scim_type == "uniqueness"
    bad_filter = client.query(model, query_parameters={"filter": 'title eq "x"'}, raise_scim_errors=False,
                              check_request_payload=False, url="/Groups")  # fmt: skip
    assert bad_filter.status == 400 and bad_filter.scim_type == "invalidFilter"
    op = PatchOp[Group](operations=[{"op": "replace", "path": "displayName", "value": "x"}])
    missing = client.modify(Group, "00000000-0000-0000-0000-000000000000", op, raise_scim_errors=False)
    assert missing.status == 404
