"""Accounts: existing accounts join an organization only by accepting an invitation; single sign-on
binds an account to its provider identity (iss, sub); an organization never loses its last owner,
even to two owners demoting or removing each other at the same moment."""

from __future__ import annotations

import contextlib
import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from mdm import services
from mdm.actors import SYSTEM
from mdm.choices import Role
from mdm.models import AuditEvent, ExternalIdentity, Invitation, Membership
from mdm.services import (
    ServiceError,
    external_identity_verify,
    invitation_accept,
    member_invite,
    membership_add,
    membership_change_role,
    membership_remove,
)
from tests.conftest import make_user

ISSUER = "https://idp.acme.test"


def invite(actors, user, role="helpdesk"):
    return member_invite(organization=actors.org, email=user.email, role=role, actor=SYSTEM).invitation


# --- Pending invitations -------------------------------------------------------------------------


def test_adding_an_existing_account_makes_a_pending_invitation_not_a_membership(client, actors, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    client.force_login(actors.owner)
    page = client.post("/console/members/", {"email": "OSCAR@globex.test", "role": "admin"}, follow=True)
    assert "pending acceptance" in page.content.decode()
    assert not Membership.objects.filter(organization=actors.org, user=actors.outsider).exists()
    invitation = Invitation.objects.get(organization=actors.org, user=actors.outsider)
    assert invitation.role == "admin" and invitation.invited_by == actors.owner
    assert abs((invitation.expires_at - timezone.now()) - timedelta(hours=1)) < timedelta(minutes=1)
    (message,) = mail.outbox
    assert message.to == ["oscar@globex.test"] and "Acme" in message.subject
    assert re.search(r"https?://[^/]+/console/invitations/", message.body)
    event = AuditEvent.objects.get(organization=actors.org, action="member.invited")
    assert event.details == {"email": "oscar@globex.test", "role": "admin", "expires_at": event.details["expires_at"]}
    assert not AuditEvent.objects.filter(
        organization=actors.org, action="member.added", target_label="oscar@globex.test"
    )


def test_an_employee_invitation_links_to_the_portal(client, actors):
    client.force_login(actors.owner)
    client.post("/console/members/", {"email": actors.employee.email, "role": "employee"})
    (message,) = mail.outbox
    assert re.search(r"https?://[^/]+/portal/invitations/", message.body)


def test_an_invitation_stands_when_its_e_mail_cannot_be_sent(client, actors, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr("mdm.console.members.send_mail", refuse)
    client.force_login(actors.owner)
    page = client.post("/console/members/", {"email": actors.outsider.email, "role": "auditor"}, follow=True)
    assert "could not be sent" in page.content.decode()
    assert Invitation.objects.filter(organization=actors.org, user=actors.outsider).exists()
    assert AuditEvent.objects.filter(organization=actors.org, action="member.invited").exists()


def test_a_new_address_still_becomes_a_member_who_sets_a_password(client, actors):
    client.force_login(actors.owner)
    client.post("/console/members/", {"email": "newbie@acme.test", "role": "auditor"})
    assert Membership.objects.get(user__email="newbie@acme.test", organization=actors.org).role == "auditor"
    assert not Invitation.objects.exists()
    assert "/console/invitation/" in mail.outbox[0].body


def test_the_members_page_shows_pending_and_expired_invitations(client, actors):
    invite(actors, actors.outsider, role="auditor")
    expired = invite(actors, actors.employee, role="employee")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(actors.auditor)  # any member sees them; only owners get the buttons
    html = client.get("/console/members/").content.decode()
    assert "Pending invitations" in html and "oscar@globex.test" in html and "erin@acme.test" in html
    assert "expired" in html and "/cancel/" not in html  # the Revoke buttons
    client.force_login(actors.owner)
    assert f"/console/members/invitations/{expired.pk}/cancel/" in client.get("/console/members/").content.decode()


def test_inviting_a_member_again_is_refused_and_changes_nothing(client, actors):
    client.force_login(actors.owner)
    page = client.post("/console/members/", {"email": actors.admin.email, "role": "owner"}).content.decode()
    assert "already a member" in page
    assert Membership.objects.get(organization=actors.org, user=actors.admin).role == "admin"
    assert not Invitation.objects.exists() and not mail.outbox


def test_inviting_again_renews_the_pending_invitation(actors):
    first = invite(actors, actors.outsider, role="auditor")
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    again = invite(actors, actors.outsider, role="admin")
    assert Invitation.objects.filter(organization=actors.org, user=actors.outsider).count() == 1
    assert again.role == "admin" and not again.is_expired()
    assert AuditEvent.objects.filter(organization=actors.org, action="member.invited").count() == 2


def test_the_invitee_sees_pending_invitations_on_sign_in(client, actors):
    invite(actors, actors.outsider, role="auditor")
    client.force_login(actors.outsider)
    assert "1 pending invitation" in client.get("/console/").content.decode()
    membership_add(organization=actors.other_org, user=actors.employee, role="employee", actor=SYSTEM)
    invite(actors, actors.employee, role="employee")
    client.force_login(actors.employee)
    assert "1 pending invitation" in client.get("/portal/").content.decode()
    page = client.get("/portal/invitations/").content.decode()
    assert "Acme" in page and "Accept" in page and "Decline" in page


def test_an_account_with_no_organization_sees_its_invitations_instead_of_a_dead_end(client, actors):
    invite(actors, actors.employee, role="helpdesk")
    client.force_login(actors.employee)
    response = client.get("/console/")
    assert response.status_code == 403 and "/console/invitations/" in response.content.decode()
    assert "1 pending invitation" in client.get("/portal/").content.decode()


def test_accepting_creates_the_membership_with_the_invited_role(client, actors):
    invitation = invite(actors, actors.outsider, role="auditor")
    client.force_login(actors.outsider)
    response = client.post(f"/console/invitations/{invitation.pk}/", {"decision": "accept"})
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert Membership.objects.get(organization=actors.org, user=actors.outsider).role == "auditor"
    assert not Invitation.objects.exists()
    actions = list(
        AuditEvent.objects.filter(organization=actors.org).order_by("-seq").values_list("action", "actor_label")[:2]
    )
    assert actions == [("member.added", "oscar@globex.test"), ("member.invitation_accepted", "oscar@globex.test")]
    # The console now opens in the organization just joined.
    assert "Acme" in client.get("/console/").content.decode()


def test_declining_removes_the_invitation_and_adds_nothing(client, actors):
    invitation = invite(actors, actors.employee, role="employee")
    client.force_login(actors.employee)
    page = client.post(f"/portal/invitations/{invitation.pk}/", {"decision": "decline"}, follow=True).content.decode()
    assert "You declined" in page
    assert not Invitation.objects.exists()
    assert not Membership.objects.filter(user=actors.employee).exists()
    event = AuditEvent.objects.get(organization=actors.org, action="member.invitation_declined")
    assert event.actor_label == "erin@acme.test" and event.details == {"email": "erin@acme.test", "role": "employee"}


def test_an_expired_invitation_cannot_be_accepted(client, actors):
    invitation = invite(actors, actors.outsider, role="admin")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(actors.outsider)
    assert "no pending invitation" in client.get("/console/invitations/").content.decode()
    page = client.post(f"/console/invitations/{invitation.pk}/", {"decision": "accept"}, follow=True).content.decode()
    assert "has expired" in page
    assert not Membership.objects.filter(organization=actors.org, user=actors.outsider).exists()
    assert not AuditEvent.objects.filter(action="member.invitation_accepted").exists()


def test_only_the_invitee_can_answer_an_invitation(client, actors):
    invitation = invite(actors, actors.outsider, role="owner")
    assert client.post(f"/console/invitations/{invitation.pk}/", {"decision": "accept"}).status_code == 302
    assert client.get("/portal/invitations/")["Location"].startswith("/portal/login/")
    client.force_login(actors.admin)  # a member of the inviting organization, but not the invitee
    for url in (f"/console/invitations/{invitation.pk}/", f"/portal/invitations/{invitation.pk}/"):
        assert client.post(url, {"decision": "accept"}).status_code == 404
    with pytest.raises(ServiceError):
        invitation_accept(invitation=invitation, user=actors.admin)
    assert Invitation.objects.filter(pk=invitation.pk).exists()
    assert not Membership.objects.filter(organization=actors.org, user=actors.outsider).exists()
    assert Membership.objects.get(organization=actors.org, user=actors.admin).role == "admin"


def test_an_owner_cancels_a_pending_invitation(client, actors):
    invitation = invite(actors, actors.outsider, role="admin")
    client.force_login(actors.admin)
    assert client.post(f"/console/members/invitations/{invitation.pk}/cancel/").status_code == 403
    client.force_login(actors.outsider)  # owner of another organization
    assert client.post(f"/console/members/invitations/{invitation.pk}/cancel/").status_code == 404
    assert Invitation.objects.filter(pk=invitation.pk).exists()
    client.force_login(actors.owner)
    assert client.post(f"/console/members/invitations/{invitation.pk}/cancel/").status_code == 302
    assert not Invitation.objects.exists()
    assert AuditEvent.objects.get(action="member.invitation_revoked").actor_label == "alice@acme.test"


# --- Single sign-on binding (the service; end to end in tests/e2e/test_portal_sso.py) --------------


def test_the_first_sso_sign_in_binds_the_account_and_audits_it_in_each_organization(actors):
    membership_add(organization=actors.other_org, user=actors.admin, role="auditor", actor=SYSTEM)
    binding = external_identity_verify(user=actors.admin, issuer=ISSUER, subject="bob-1")
    assert (binding.user, binding.issuer, binding.subject) == (actors.admin, ISSUER, "bob-1")
    events = AuditEvent.objects.filter(action="account.sso_bound")
    assert {e.organization_id for e in events} == {actors.org.pk, actors.other_org.pk}
    assert events[0].details == {"email": "bob@acme.test", "issuer": ISSUER, "subject": "bob-1"}
    assert external_identity_verify(user=actors.admin, issuer=ISSUER, subject="bob-1") == binding
    assert events.count() == 2  # a later sign-in changes nothing


def test_sso_refuses_another_subject_for_a_bound_account(actors):
    external_identity_verify(user=actors.admin, issuer=ISSUER, subject="bob-1")
    with pytest.raises(ServiceError) as refused:
        external_identity_verify(user=actors.admin, issuer=ISSUER, subject="someone-else")
    assert refused.value.code == "sso_subject_mismatch"
    assert list(ExternalIdentity.objects.values_list("subject", flat=True)) == ["bob-1"]


def test_sso_refuses_another_issuer_for_a_bound_account(actors):
    external_identity_verify(user=actors.admin, issuer=ISSUER, subject="bob-1")
    with pytest.raises(ServiceError) as refused:
        external_identity_verify(user=actors.admin, issuer="https://other-idp.test", subject="bob-1")
    assert refused.value.code == "sso_issuer_mismatch"
    assert ExternalIdentity.objects.count() == 1


def test_sso_refuses_a_subject_bound_to_another_account(actors):
    external_identity_verify(user=actors.admin, issuer=ISSUER, subject="bob-1")
    with pytest.raises(ServiceError) as refused:
        external_identity_verify(user=actors.helpdesk, issuer=ISSUER, subject="bob-1")
    assert refused.value.code == "sso_subject_taken"
    assert not ExternalIdentity.objects.filter(user=actors.helpdesk).exists()


def test_an_account_in_no_organization_is_not_bound_until_it_is(actors):
    assert external_identity_verify(user=actors.employee, issuer=ISSUER, subject="erin-1") is None
    assert not ExternalIdentity.objects.exists()
    invite(actors, actors.employee, role="employee")  # an invitation is enough to record it
    assert external_identity_verify(user=actors.employee, issuer=ISSUER, subject="erin-1") is not None
    assert AuditEvent.objects.get(action="account.sso_bound").organization_id == actors.org.pk


# --- The last owner, under concurrency ------------------------------------------------------------


def _concurrently(monkeypatch, *calls) -> list[str]:
    """Run the calls in two threads (two database connections) at the same moment. Each pauses
    right after its check, before writing its audit event, until the other arrives there too or
    2 s pass: without locking both would pass their checks before either commits."""
    rendezvous = threading.Barrier(len(calls), timeout=2)
    start = threading.Barrier(len(calls))
    record = services.audit_event_record

    def paused_record(**kwargs):
        if kwargs["action"] in ("member.role_changed", "member.removed"):
            # Alone after 2 s: the other one is blocked on a lock, so carry on.
            with contextlib.suppress(threading.BrokenBarrierError):
                rendezvous.wait()
        return record(**kwargs)

    monkeypatch.setattr(services, "audit_event_record", paused_record)
    outcomes = [""] * len(calls)

    def run(index):
        try:
            start.wait()
            calls[index]()
            outcomes[index] = "done"
        except ServiceError as exc:
            outcomes[index] = exc.message
        except Exception as exc:  # reported by the assertion
            outcomes[index] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _act(kind, membership):
    if kind == "demote":
        return lambda: membership_change_role(membership=membership, role=Role.ADMIN, actor=SYSTEM)
    return lambda: membership_remove(membership=membership, actor=SYSTEM)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("first", "second"), [("demote", "demote"), ("remove", "remove"), ("demote", "remove")])
def test_two_owners_demoting_or_removing_each_other_at_once_leave_an_owner(actors, monkeypatch, first, second):
    olivia = make_user("olivia@acme.test")
    membership_add(organization=actors.org, user=olivia, role=Role.OWNER, actor=SYSTEM)
    alice = Membership.objects.get(organization=actors.org, user=actors.owner)
    theirs = Membership.objects.get(organization=actors.org, user=olivia)
    outcomes = _concurrently(monkeypatch, _act(first, theirs), _act(second, alice))
    assert sorted(outcomes) == ["An organization keeps at least one owner.", "done"], outcomes
    assert Membership.objects.filter(organization=actors.org, role=Role.OWNER).count() == 1
    changes = AuditEvent.objects.filter(organization=actors.org, action__in=["member.role_changed", "member.removed"])
    assert changes.count() == 1
