"""/scim/v2/Groups: members as Okta and Entra ID change them, filters, scoping, refusals."""

from __future__ import annotations

import pytest

from directory.models import DirectoryGroup, DirectoryGroupMember
from mdm.models import AuditEvent
from tests.directory.helpers import GROUP_SCHEMA, Provider, assert_scim_error


@pytest.fixture
def idp(actors):
    return Provider(actors.org)


@pytest.fixture
def people(idp):
    return [idp.create_user(f"member{n}@acme-corp.com")["id"] for n in range(3)]


def members_of(idp, group_id) -> list[str]:
    return sorted(m["value"] for m in idp.get(f"/Groups/{group_id}").json().get("members", []))


def test_it_creates_a_group_with_members_and_audits_it(idp, people, actors):
    group = idp.create_group("Sales", people[:2])
    assert sorted(m["value"] for m in group["members"]) == sorted(people[:2])
    assert group["members"][0]["$ref"].endswith(f"/scim/v2/Users/{group['members'][0]['value']}")
    event = AuditEvent.objects.get(action="directory.group_created")
    assert event.actor_type == "scim_token" and event.details["members"] == 2


def test_it_adds_and_removes_members_in_each_shape_the_providers_send(idp, people):
    group = idp.create_group("Sales")
    path = f"/Groups/{group['id']}"
    assert (
        idp.patch(path, [{"op": "Add", "path": "members", "value": [{"value": p} for p in people]}]).status_code == 200
    )
    assert members_of(idp, group["id"]) == sorted(people)
    # Okta: a path filter.
    assert idp.patch(path, [{"op": "remove", "path": f'members[value eq "{people[0]}"]'}]).status_code == 200
    # Entra ID: path "members" and the member in the value.
    assert idp.patch(path, [{"op": "Remove", "path": "members", "value": [{"value": people[1]}]}]).status_code == 200
    assert members_of(idp, group["id"]) == [people[2]]
    # Adding a member twice keeps one.
    idp.patch(path, [{"op": "add", "path": "members", "value": [{"value": people[2]}]}])
    assert DirectoryGroupMember.objects.filter(group_id=group["id"]).count() == 1
    # Replacing the members, and removing them all.
    idp.patch(path, [{"op": "replace", "path": "members", "value": [{"value": people[0]}]}])
    assert members_of(idp, group["id"]) == [people[0]]
    idp.patch(path, [{"op": "remove", "path": "members"}])
    assert members_of(idp, group["id"]) == []


def test_it_renames_a_group_with_and_without_a_path_and_by_put(idp, people):
    group = idp.create_group("Sales", people[:1])
    path = f"/Groups/{group['id']}"
    assert idp.patch(path, [{"op": "replace", "value": {"id": group["id"], "displayName": "Sales EU"}}]).json()[
        "displayName"] == "Sales EU"  # fmt: skip
    assert idp.patch(path, [{"op": "Replace", "path": "displayName", "value": "Sales DE"}]).json()["displayName"] == (
        "Sales DE")  # fmt: skip
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Sales FR", "members": [{"value": people[1]}]}
    replaced = idp.put(path, body).json()
    assert replaced["displayName"] == "Sales FR" and [m["value"] for m in replaced["members"]] == [people[1]]
    assert replaced["meta"]["version"] == 'W/"4"'


def test_it_leaves_members_out_when_asked(idp, people):
    group = idp.create_group("Sales", people)
    assert "members" not in idp.get(f"/Groups/{group['id']}?excludedAttributes=members").json()
    listed = idp.get("/Groups?excludedAttributes=members").json()["Resources"]
    assert listed and all("members" not in g for g in listed)
    assert "members" in idp.get(f"/Groups/{group['id']}?attributes=members").json()


def test_it_filters_groups(idp, people):
    sales = idp.create_group("Sales", people[:1])
    idp.create_group("Support", people[1:2])

    def names(query):
        response = idp.get("/Groups?filter=" + query)
        assert response.status_code == 200, response.content
        return sorted(g["displayName"] for g in response.json()["Resources"])

    assert names('displayName eq "sales"') == ["Sales"]
    assert names('displayName sw "S"') == ["Sales", "Support"]
    assert names(f'members eq "{people[1]}"') == ["Support"]
    assert names(f'members.value eq "{people[0]}" and displayName co "ale"') == ["Sales"]
    assert names(f'id eq "{sales["id"]}"') == ["Sales"]
    assert_scim_error(idp.get('/Groups?filter=members.display eq "x"'), 400, "invalidFilter")


def test_it_refuses_members_that_are_not_users_of_this_organization(idp, people, actors):
    foreign = Provider(actors.other_org).create_user("gus@globex-corp.com")["id"]
    for value in (foreign, "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        body = {"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": value}]}
        assert_scim_error(idp.post("/Groups", body), 400, "invalidValue")
    group = idp.create_group("Sales", people[:1])
    response = idp.patch(f"/Groups/{group['id']}", [{"op": "add", "path": "members", "value": [{"value": foreign}]}])
    assert_scim_error(response, 400, "invalidValue")
    assert members_of(idp, group["id"]) == [people[0]]


@pytest.mark.parametrize(
    "body",
    [
        {"schemas": [GROUP_SCHEMA]},
        {"schemas": [GROUP_SCHEMA], "displayName": "   "},
        {"schemas": [GROUP_SCHEMA], "displayName": 5},
        {"schemas": [GROUP_SCHEMA], "displayName": "x", "members": "all"},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"},
    ],
)
def test_it_refuses_bad_group_bodies(idp, body):
    response = idp.post("/Groups", body)
    assert response.status_code == 400 and response.json()["scimType"] in ("invalidValue", "invalidSyntax")
    assert not DirectoryGroup.objects.exists()


def test_another_organizations_token_cannot_see_or_change_a_group(idp, people, actors):
    group = idp.create_group("Sales", people)
    other = Provider(actors.other_org)
    assert other.get("/Groups").json()["totalResults"] == 0
    assert_scim_error(other.get(f"/Groups/{group['id']}"), 404)
    assert_scim_error(other.patch(f"/Groups/{group['id']}", [{"op": "remove", "path": "members"}]), 404)
    assert_scim_error(other.delete(f"/Groups/{group['id']}"), 404)
    assert len(members_of(idp, group["id"])) == 3


def test_if_match_guards_group_changes(idp, people):
    group = idp.create_group("Sales")
    response = idp.patch(f"/Groups/{group['id']}", [{"op": "add", "path": "members", "value": [{"value": people[0]}]}],
                         headers={"If-Match": 'W/"9"'})  # fmt: skip
    assert_scim_error(response, 412)
    assert_scim_error(idp.delete(f"/Groups/{group['id']}", headers={"If-Match": 'W/"9"'}), 412)
    assert members_of(idp, group["id"]) == []


def test_deleting_a_group_or_a_user_removes_the_memberships(idp, people):
    group = idp.create_group("Sales", people)
    idp.delete(f"/Users/{people[0]}")
    assert members_of(idp, group["id"]) == sorted(people[1:])
    assert idp.delete(f"/Groups/{group['id']}").status_code == 204
    assert_scim_error(idp.get(f"/Groups/{group['id']}"), 404)
    assert not DirectoryGroupMember.objects.exists()
