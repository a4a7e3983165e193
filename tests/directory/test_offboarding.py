"""Offboarding: what the provider's deactivation or deletion of a person does here — sessions end,
API tokens in the organization are revoked, devices are wiped (through the wipe service, so the
mass-wipe hold applies), locked, or left alone; a reactivation cancels held wipes."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from devices.choices import ContainerState
from devices.models import Command, Wipe
from devices.services import enrollment_token_create
from directory.services import directory_settings_update
from mdm.actors import SYSTEM
from mdm.errors import ServiceError
from mdm.models import ApiToken, AuditEvent, Membership
from mdm.permissions import memberships_of
from mdm.services import api_token_create, membership_add
from tests.conftest import PASSWORD
from tests.devices.test_device_selectors import make_device
from tests.directory.helpers import Provider

DEACTIVATE = [{"op": "Replace", "path": "active", "value": "False"}]
REACTIVATE = [{"op": "Replace", "path": "active", "value": "True"}]


@pytest.fixture
def idp(actors):
    return Provider(actors.org)


def provision(idp, email):
    from directory.models import DirectoryUser

    created = idp.create_user(email)
    return created["id"], DirectoryUser.objects.get(pk=created["id"]).user


def phone(org, user):
    return make_device(org, owner=user, container_state=ContainerState.ACTIVE)


def test_a_deactivation_wipes_the_devices_ends_sessions_and_revokes_tokens(idp, actors):
    # An existing admin account, provisioned: their console rights end with the offboarding too.
    actors.admin.email = "bob@acme-corp.com"
    actors.admin.save(update_fields=["email"])
    scim_id, user = provision(idp, "bob@acme-corp.com")
    device = phone(actors.org, user)
    elsewhere = phone(actors.other_org, user)
    token = api_token_create(membership=actors.membership(actors.admin), name="ci", actor=SYSTEM).api_token
    membership_add(organization=actors.other_org, user=user, role="admin", actor=SYSTEM)
    foreign_token = api_token_create(membership=actors.membership(user, actors.other_org), name="g").api_token
    browser = Client()
    browser.force_login(user)
    assert browser.get("/console/").status_code == 200

    response = idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    assert response.status_code == 200 and response.json()["active"] is False

    wipe = Wipe.objects.get(device=device)
    assert wipe.state == "pending" and wipe.requested_by.startswith("SCIM token ")
    assert not Wipe.objects.filter(device=elsewhere).exists()  # another organization's device
    token.refresh_from_db()
    foreign_token.refresh_from_db()
    assert token.revoked_at is not None and foreign_token.revoked_at is None
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]
    assert browser.get("/console/").status_code == 302  # signed out
    assert Membership.objects.get(organization=actors.org, user=user).role == "admin"  # the role is kept
    event = AuditEvent.objects.get(action="directory.user_deactivated")
    assert event.actor_type == "scim_token"
    assert event.details | {"user_name": "x"} == {
        "user_name": "x", "offboarding": "wipe", "devices": 1, "wipes": 1, "wipes_held": 0, "locks": 0,
        "refused": 0, "tokens_revoked": 1, "enrollment_tokens_revoked": 0, "sessions_ended": 1,
    }  # fmt: skip
    for action in ("wipe.requested", "api_token.revoked"):
        assert AuditEvent.objects.get(organization=actors.org, action=action).actor_type == "scim_token"


def test_deactivating_twice_offboards_once(idp, actors):
    scim_id, user = provision(idp, "twice@acme-corp.com")
    phone(actors.org, user)
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    idp.patch(f"/Users/{scim_id}", [{"op": "replace", "value": {"active": False}}])
    assert Wipe.objects.count() == 1
    assert AuditEvent.objects.filter(action="directory.user_deactivated").count() == 1


def test_a_provider_deactivating_many_people_at_once_has_the_wipes_held(idp, actors, settings):
    settings.MDM_MASS_WIPE_THRESHOLD = 2
    people = [provision(idp, f"leaver{n}@acme-corp.com") for n in range(4)]
    devices = [phone(actors.org, user) for _, user in people]
    for scim_id, _ in people:
        assert idp.patch(f"/Users/{scim_id}", DEACTIVATE).status_code == 200
    states = [Wipe.objects.get(device=device).state for device in devices]
    assert states == ["pending", "pending", "held", "held"]
    held = Wipe.objects.filter(state="held")
    assert not Command.objects.filter(device__in=[w.device for w in held]).exists()
    assert AuditEvent.objects.filter(action="wipe.held").count() == 2

    # Reactivation before a held wipe runs cancels it; a sent wipe cannot be taken back.
    idp.patch(f"/Users/{people[2][0]}", REACTIVATE)
    idp.patch(f"/Users/{people[0][0]}", REACTIVATE)
    assert Wipe.objects.get(device=devices[2]).state == "cancelled"
    assert Wipe.objects.get(device=devices[0]).state == "pending"
    event = AuditEvent.objects.filter(action="directory.user_reactivated").order_by("seq").first()
    assert event.details["wipes_cancelled"] == 1 and event.actor_type == "scim_token"
    cancel = AuditEvent.objects.get(action="wipe.cancelled")
    assert cancel.actor_type == "scim_token"


def test_the_lock_rule_locks_and_a_reactivation_unlocks(idp, actors):
    directory_settings_update(organization=actors.org, offboarding="lock", actor=SYSTEM)
    scim_id, user = provision(idp, "locked@acme-corp.com")
    device = phone(actors.org, user)
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    assert list(Command.objects.filter(device=device).values_list("type", flat=True)) == ["lock_corporate"]
    assert not Wipe.objects.exists()
    idp.patch(f"/Users/{scim_id}", REACTIVATE)
    assert sorted(Command.objects.filter(device=device).values_list("type", flat=True)) == [
        "lock_corporate", "unlock_corporate"]  # fmt: skip


def test_the_nothing_rule_leaves_devices_alone_but_still_ends_access(idp, actors):
    directory_settings_update(organization=actors.org, offboarding="nothing", actor=SYSTEM)
    scim_id, user = provision(idp, "stays@acme-corp.com")
    device = phone(actors.org, user)
    token = api_token_create(membership=Membership.objects.get(user=user), name="t").api_token
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    assert not Command.objects.filter(device=device).exists() and not Wipe.objects.exists()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_a_deleted_user_is_offboarded_like_a_deactivated_one(idp, actors):
    scim_id, user = provision(idp, "deleted@acme-corp.com")
    device = phone(actors.org, user)
    assert idp.delete(f"/Users/{scim_id}").status_code == 204
    assert Wipe.objects.get(device=device).state == "pending"
    event = AuditEvent.objects.get(action="directory.user_deleted")
    assert event.details["was_active"] is True and event.details["wipes"] == 1
    # The account and its devices' history stay: the audit log and the device still name them.
    device.refresh_from_db()
    assert device.owner == user


def test_deleting_an_already_deactivated_user_wipes_nothing_more(idp, actors):
    scim_id, user = provision(idp, "gone@acme-corp.com")
    phone(actors.org, user)
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    idp.delete(f"/Users/{scim_id}")
    assert Wipe.objects.count() == 1
    assert AuditEvent.objects.get(action="directory.user_deleted").details["was_active"] is False


def test_only_the_persons_active_devices_are_offboarded(idp, actors):
    scim_id, user = provision(idp, "retired@acme-corp.com")
    phone(actors.org, user)
    make_device(actors.org, owner=user, state="retired")  # not active: not touched at all
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    assert AuditEvent.objects.get(action="directory.user_deactivated").details["devices"] == 1


def test_a_deactivated_person_signing_in_again_gets_nothing_here_until_reactivated(idp, actors):
    # A linked account with its own password: ending its sessions is not enough, signing in again
    # must not reopen the organization (console, portal, API token, an enrollment token kept).
    actors.helpdesk.email = "charlie@acme-corp.com"
    actors.helpdesk.save(update_fields=["email"])
    scim_id, user = provision(idp, "charlie@acme-corp.com")
    membership_add(organization=actors.other_org, user=user, role="auditor", actor=SYSTEM)
    unused = enrollment_token_create(organization=actors.org, employee=user, actor=SYSTEM)
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)

    browser = Client()
    assert browser.login(username=user.email, password=PASSWORD)
    assert [m.organization for m in memberships_of(user, console=False)] == [actors.other_org]
    browser.post("/console/switch-organization/", {"organization": str(actors.org.pk)})
    assert "Acme" not in browser.get("/console/").content.decode()  # only the other organization
    unused.enrollment_token.refresh_from_db()
    assert unused.enrollment_token.revoked_at is not None
    with pytest.raises(ServiceError):
        enrollment_token_create(organization=actors.org, employee=user, actor=SYSTEM)
    details = AuditEvent.objects.get(action="directory.user_deactivated").details
    assert details["enrollment_tokens_revoked"] == 1

    idp.patch(f"/Users/{scim_id}", REACTIVATE)
    assert {m.organization for m in memberships_of(user)} == {actors.org, actors.other_org}
    assert Membership.objects.get(organization=actors.org, user=user).role == "helpdesk"


def test_a_reactivation_cancels_only_the_wipes_the_offboarding_held(idp, actors, settings):
    settings.MDM_MASS_WIPE_THRESHOLD = 0  # every wipe is held for a second admin
    scim_id, user = provision(idp, "lost@acme-corp.com")
    lost, other = phone(actors.org, user), phone(actors.org, user)
    from devices.wipe import corporate_wipe_request
    from mdm.actors import Actor

    by_admin = corporate_wipe_request(device=lost, reason="Reported lost", actor=Actor.member(actors.admin))
    assert by_admin.state == "held"
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    offboarding = Wipe.objects.get(device=other)
    assert offboarding.state == "held"
    idp.patch(f"/Users/{scim_id}", REACTIVATE)
    assert Wipe.objects.get(pk=offboarding.pk).state == "cancelled"
    assert Wipe.objects.get(pk=by_admin.pk).state == "held"  # the admin's wipe waits for its decision


def test_a_patch_removing_active_changes_nothing(idp, actors):
    scim_id, _ = provision(idp, "gone@acme-corp.com")
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    answer = idp.patch(f"/Users/{scim_id}", [{"op": "remove", "path": "active"}])
    assert answer.status_code == 200 and answer.json()["active"] is False
    assert not AuditEvent.objects.filter(action="directory.user_reactivated").exists()


def test_provisioning_again_after_a_deletion_undoes_the_offboarding(idp, actors, settings):
    # Entra's sequence: deactivate, delete (30 days later), provision again.
    settings.MDM_MASS_WIPE_THRESHOLD = 0  # held for a second admin
    scim_id, user = provision(idp, "back@acme-corp.com")
    device = phone(actors.org, user)
    idp.patch(f"/Users/{scim_id}", DEACTIVATE)
    assert idp.delete(f"/Users/{scim_id}").status_code == 204
    held = Wipe.objects.get(device=device)
    assert held.state == "held"
    idp.create_user("back@acme-corp.com")
    assert Wipe.objects.get(pk=held.pk).state == "cancelled"
    assert Membership.objects.get(organization=actors.org, user=user).suspended_at is None
    details = AuditEvent.objects.filter(action="directory.user_provisioned").order_by("-seq").first().details
    assert details["wipes_cancelled"] == 1
