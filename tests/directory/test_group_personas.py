"""A provisioned group mapped to a persona: its members' devices get the persona (and a push),
new enrollments of members use it, and the rule for a person in several mapped groups."""

from __future__ import annotations

import pytest

from devices.choices import ContainerState
from devices.models import EnrollmentToken, Push
from directory.models import DirectoryGroup, DirectoryUser
from directory.selectors import persona_for
from directory.services import directory_group_map
from mdm.actors import SYSTEM, Actor
from mdm.errors import ServiceError
from mdm.models import AuditEvent
from personas.models import Persona
from tests.devices.test_device_selectors import default_persona, make_device
from tests.directory.helpers import Provider


@pytest.fixture
def idp(actors):
    return Provider(actors.org)


@pytest.fixture
def sales(actors):
    return Persona.objects.create(organization=actors.org, name="Sales")


@pytest.fixture
def field(actors):
    return Persona.objects.create(organization=actors.org, name="Field")


def person(idp, email):
    created = idp.create_user(email)
    return created["id"], DirectoryUser.objects.get(pk=created["id"]).user


def group(pk) -> DirectoryGroup:
    return DirectoryGroup.objects.get(pk=pk)


def test_mapping_a_group_moves_its_members_devices_and_pushes_the_persona(idp, actors, sales):
    scim_id, user = person(idp, "rep@acme-corp.com")
    device = make_device(actors.org, owner=user, persona=default_persona(actors.org),
                         container_state=ContainerState.ACTIVE)  # fmt: skip
    other = make_device(actors.org, persona=default_persona(actors.org))  # someone else's
    g = idp.create_group("Sales", [scim_id])
    directory_group_map(group=group(g["id"]), persona=sales, priority=5, actor=Actor.member(actors.admin))
    device.refresh_from_db()
    other.refresh_from_db()
    assert device.persona == sales and other.persona == default_persona(actors.org)
    push = Push.objects.get(persona=sales)
    assert push.device_ids == [str(device.pk)]
    assert AuditEvent.objects.get(action="directory.group_mapped").details["persona"] == "Sales"


def test_a_member_added_to_a_mapped_group_gets_its_persona_with_the_scim_token_as_actor(idp, actors, sales):
    g = idp.create_group("Sales")
    directory_group_map(group=group(g["id"]), persona=sales, actor=SYSTEM)
    scim_id, user = person(idp, "late@acme-corp.com")
    device = make_device(actors.org, owner=user, persona=default_persona(actors.org))
    idp.patch(f"/Groups/{g['id']}", [{"op": "Add", "path": "members", "value": [{"value": scim_id}]}])
    device.refresh_from_db()
    assert device.persona == sales
    assigned = AuditEvent.objects.get(action="persona.devices_assigned")
    assert assigned.actor_type == "scim_token"


def test_the_highest_priority_then_the_first_name_decides_between_mapped_groups(idp, actors, sales, field):
    scim_id, user = person(idp, "both@acme-corp.com")
    device = make_device(actors.org, owner=user, persona=default_persona(actors.org))
    a = idp.create_group("Alpha", [scim_id])
    b = idp.create_group("Beta", [scim_id])
    directory_group_map(group=group(a["id"]), persona=sales, priority=1, actor=SYSTEM)
    directory_group_map(group=group(b["id"]), persona=field, priority=1, actor=SYSTEM)
    assert persona_for(organization_id=actors.org.pk, user_id=user.pk) == sales  # equal: "Alpha" first
    directory_group_map(group=group(b["id"]), persona=field, priority=2, actor=SYSTEM)
    device.refresh_from_db()
    assert device.persona == field
    # Leaving Beta: back to the persona of the group still holding them.
    idp.patch(f"/Groups/{b['id']}", [{"op": "remove", "path": f'members[value eq "{scim_id}"]'}])
    device.refresh_from_db()
    assert device.persona == sales
    # Leaving every mapped group: the device keeps the persona it has.
    idp.patch(f"/Groups/{a['id']}", [{"op": "remove", "path": f'members[value eq "{scim_id}"]'}])
    device.refresh_from_db()
    assert device.persona == sales and persona_for(organization_id=actors.org.pk, user_id=user.pk) is None


def test_a_deactivated_person_gets_no_persona_from_groups(idp, actors, sales):
    scim_id, user = person(idp, "inactive@acme-corp.com")
    g = idp.create_group("Sales", [scim_id])
    directory_group_map(group=group(g["id"]), persona=sales, actor=SYSTEM)
    idp.patch(f"/Users/{scim_id}", [{"op": "replace", "value": {"active": False}}])
    assert persona_for(organization_id=actors.org.pk, user_id=user.pk) is None


def test_a_group_cannot_be_mapped_to_another_organizations_persona(idp, actors):
    g = idp.create_group("Sales")
    with pytest.raises(ServiceError):
        directory_group_map(group=group(g["id"]), persona=default_persona(actors.other_org), actor=SYSTEM)
    with pytest.raises(ServiceError):
        directory_group_map(group=group(g["id"]), persona=None, priority=5000, actor=SYSTEM)
    assert group(g["id"]).persona is None


def test_the_portal_enrolls_a_member_with_their_groups_persona(idp, actors, sales, client):
    scim_id, user = person(idp, "portal@acme-corp.com")
    g = idp.create_group("Sales", [scim_id])
    directory_group_map(group=group(g["id"]), persona=sales, actor=SYSTEM)
    client.force_login(user)
    page = client.get("/portal/enroll/")
    assert page.status_code == 200 and "Sales" in page.content.decode()
    assert client.post("/portal/enroll/", {"platform": "android"}).status_code == 200
    assert EnrollmentToken.objects.get(employee=user).persona == sales


def test_an_admin_issued_token_for_a_member_enrolls_with_their_groups_persona(idp, actors, sales, agent_factory):
    from devices.models import Device

    scim_id, user = person(idp, "issued@acme-corp.com")
    g = idp.create_group("Sales", [scim_id])
    directory_group_map(group=group(g["id"]), persona=sales, actor=SYSTEM)
    agent = agent_factory(employee=user)
    assert Device.objects.get(pk=agent.identity["device_id"]).persona == sales
    # An explicit persona on the token still wins.
    agent = agent_factory(employee=user, persona=default_persona(actors.org))
    assert Device.objects.get(pk=agent.identity["device_id"]).persona == default_persona(actors.org)
