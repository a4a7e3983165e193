"""Console members: the organization switcher after an invitation, an employee's invitation to the
portal (not the console), pending invitations resent and revoked, last sign-in and role labels."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mdm.actors import SYSTEM
from mdm.models import AuditEvent, Invitation, Membership, User
from mdm.services import member_invite, membership_add

NEW_PASSWORD = "a long fresh passphrase"


def _link(message, surface: str) -> str:
    return re.search(rf"https?://[^/]+(/{surface}/invitation/\S+)", message.body).group(1)


def _set_password(client, link: str):
    page = client.get(link, follow=True)
    set_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    return client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def _invite(client, actors, email: str, role: str):
    client.force_login(actors.owner)
    response = client.post("/console/members/", {"email": email, "role": role})
    assert response.status_code == 302
    return Membership.objects.get(user__email=email, organization=actors.org)


# --- A: the organization switcher ----------------------------------------------------------------


def test_the_members_page_keeps_the_switchers_list_of_organizations(client, actors):
    membership_add(organization=actors.other_org, user=actors.owner, role="admin", actor=SYSTEM)
    _invite(client, actors, "newbie@acme.test", "helpdesk")
    response = client.get("/console/members/")
    switcher = [m.organization.name for m in response.context["memberships"]]
    assert switcher == ["Acme", "Globex"]  # the owner's organizations, not Acme's member rows
    assert "newbie@acme.test" in [m.user.email for m in response.context["pending_members"]]
    assert actors.admin.email in [m.user.email for m in response.context["member_rows"]]


# --- A: an employee's invitation is to the portal ------------------------------------------------


def test_an_employees_invitation_speaks_of_the_portal_and_links_there(client, actors):
    _invite(client, actors, "new.employee@acme.test", "employee")
    (message,) = mail.outbox
    assert "self-service portal" in message.subject and "console" not in message.subject.lower()
    assert "/console/" not in message.body
    link = _link(message, "portal")
    client.logout()
    done = _set_password(client, link)
    assert done.status_code == 302 and done.url == "/portal/"
    user = User.objects.get(email="new.employee@acme.test")
    assert user.check_password(NEW_PASSWORD)
    home = client.get("/portal/")
    assert home.status_code == 200 and home.context["user"] == user  # signed in, on the portal
    client.logout()
    assert "expired or was already used" in client.get(link, follow=True).content.decode()  # single use


def test_an_admins_invitation_still_links_to_the_console(client, actors):
    _invite(client, actors, "new.admin@acme.test", "admin")
    (message,) = mail.outbox
    assert "MDM console" in message.subject
    link = _link(message, "console")
    client.logout()
    done = _set_password(client, link)
    assert done.status_code == 302 and done.url == "/console/invitation/done/"
    assert "_auth_user_id" not in client.session  # the console's flow signs nobody in


def test_a_forged_portal_link_is_refused(client, actors):
    _invite(client, actors, "new.employee@acme.test", "employee")
    link = _link(mail.outbox[0], "portal")
    forged = re.sub(r"/[^/]+/$", "/abc-0123456789abcdef/", link)
    client.logout()
    page = client.get(forged, follow=True)
    assert "expired or was already used" in page.content.decode()
    assert not User.objects.get(email="new.employee@acme.test").has_usable_password()


def test_an_employee_opening_the_console_is_sent_to_the_portal(client, actors):
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    client.force_login(actors.employee)
    response = client.get("/console/")
    assert response.status_code == 302 and response.url == "/portal/"
    assert client.get("/console/devices/").url == "/portal/"


def test_an_employee_posting_to_the_console_is_refused(client, actors):
    membership = membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    client.force_login(actors.employee)
    response = client.post(f"/console/members/{membership.pk}/", {"role": "owner"})
    assert response.status_code == 403
    assert "self-service portal" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == "employee"


def test_someone_with_no_membership_still_sees_the_no_organization_page(client, actors):
    lonely = User.objects.create_user(email="lonely@nowhere.test", password="x" * 20)
    client.force_login(lonely)
    response = client.get("/console/")
    assert response.status_code == 403
    assert "not a member of any organization" in response.content.decode()


def test_a_console_role_in_another_organization_still_opens_the_console(client, actors):
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
    membership_add(organization=actors.other_org, user=actors.employee, role="auditor", actor=SYSTEM)
    client.force_login(actors.employee)
    assert client.get("/console/").status_code == 200


# --- B: pending invitations ------------------------------------------------------------------------


def test_pending_invitations_are_listed_apart_with_resend_and_revoke(client, actors):
    pending = _invite(client, actors, "newbie@acme.test", "helpdesk")
    html = client.get("/console/members/").content.decode().split('id="members-title"', 1)[1]
    members_part, pending_part = html.split("Pending invitations", 1)
    assert "newbie@acme.test" in pending_part and "newbie@acme.test" not in members_part
    assert f"/console/members/{pending.pk}/resend-invitation/" in pending_part
    assert f"/console/members/{pending.pk}/revoke-invitation/" in pending_part


def test_resending_sends_a_new_link_and_the_old_one_stops_working(client, actors):
    pending = _invite(client, actors, "newbie@acme.test", "helpdesk")
    old_link = _link(mail.outbox[0], "console")
    response = client.post(f"/console/members/{pending.pk}/resend-invitation/", follow=True)
    assert "the earlier link no longer works" in response.content.decode()
    assert len(mail.outbox) == 2
    new_link = _link(mail.outbox[1], "console")
    assert new_link != old_link
    event = AuditEvent.objects.get(action="member.invitation_resent")
    assert event.details == {"email": "newbie@acme.test", "role": "helpdesk"} and event.actor_label == "alice@acme.test"
    client.logout()
    assert "expired or was already used" in client.get(old_link, follow=True).content.decode()
    assert _set_password(client, new_link).status_code == 302
    assert User.objects.get(email="newbie@acme.test").check_password(NEW_PASSWORD)


def test_a_resend_is_rate_limited_with_a_clear_message(client, actors):
    pending = _invite(client, actors, "newbie@acme.test", "helpdesk")
    client.post(f"/console/members/{pending.pk}/resend-invitation/")
    again = client.post(f"/console/members/{pending.pk}/resend-invitation/", follow=True)
    assert "less than a minute ago" in again.content.decode()
    assert len(mail.outbox) == 2  # the invitation and one resend
    assert AuditEvent.objects.filter(action="member.invitation_resent").count() == 1


def test_an_employee_resend_links_to_the_portal(client, actors):
    pending = _invite(client, actors, "new.employee@acme.test", "employee")
    client.post(f"/console/members/{pending.pk}/resend-invitation/")
    assert "/portal/invitation/" in mail.outbox[-1].body and "/console/" not in mail.outbox[-1].body


def test_a_member_who_set_a_password_has_nothing_to_resend(client, actors):
    bob = Membership.objects.get(user=actors.admin, organization=actors.org)
    client.force_login(actors.owner)
    page = client.post(f"/console/members/{bob.pk}/resend-invitation/", follow=True).content.decode()
    assert "already set a password" in page
    assert not mail.outbox and not AuditEvent.objects.filter(action="member.invitation_resent").exists()


def test_revoking_a_pending_invitation_removes_the_member_and_kills_the_link(client, actors):
    pending = _invite(client, actors, "newbie@acme.test", "helpdesk")
    link = _link(mail.outbox[0], "console")
    page = client.post(f"/console/members/{pending.pk}/revoke-invitation/", follow=True).content.decode()
    assert "revoked" in page
    assert not Membership.objects.filter(pk=pending.pk).exists()
    assert AuditEvent.objects.filter(action="member.invitation_revoked", target_label="newbie@acme.test").exists()
    client.logout()
    assert "expired or was already used" in client.get(link, follow=True).content.decode()


def test_an_existing_accounts_invitation_is_resent_with_a_fresh_expiry(client, actors):
    invitation = member_invite(
        organization=actors.org, email=actors.outsider.email, role="auditor", actor=SYSTEM
    ).invitation
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(actors.owner)
    page = client.post(f"/console/members/invitations/{invitation.pk}/resend/", follow=True).content.decode()
    assert "Invitation sent again" in page
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=1)
    assert mail.outbox[-1].to == [actors.outsider.email]
    assert AuditEvent.objects.filter(action="member.invitation_resent", target_label=actors.outsider.email).exists()


@pytest.mark.parametrize("route", ["resend-invitation", "revoke-invitation"])
def test_only_owners_resend_or_revoke_and_never_another_orgs(client, actors, route):
    pending = _invite(client, actors, "newbie@acme.test", "helpdesk")
    client.force_login(actors.admin)
    assert client.post(f"/console/members/{pending.pk}/{route}/").status_code == 403
    client.force_login(actors.outsider)
    assert client.post(f"/console/members/{pending.pk}/{route}/").status_code == 404
    assert Membership.objects.filter(pk=pending.pk).exists()
    assert len(mail.outbox) == 1
    assert not AuditEvent.objects.filter(action__in=["member.invitation_resent", "member.invitation_revoked"]).exists()


def test_the_resend_route_refuses_a_get(client, actors):
    pending = _invite(client, actors, "newbie@acme.test", "helpdesk")
    assert client.get(f"/console/members/{pending.pk}/resend-invitation/").status_code == 405


# --- B: last sign-in and role labels ---------------------------------------------------------------


def test_the_last_sign_in_is_shown_in_words_and_roles_as_labels(client, actors):
    User.objects.filter(pk=actors.admin.pk).update(last_login=timezone.now() - timedelta(days=3, hours=2))
    User.objects.filter(pk=actors.helpdesk.pk).update(last_login=None)
    client.force_login(actors.auditor)  # no manage buttons: the roles are plain text
    response = client.get("/console/members/")
    html = response.content.decode()
    html = html.replace("\xa0", " ")  # timesince puts a no-break space between number and unit
    rows = {m.user.email: m.last_sign_in.replace("\xa0", " ") for m in response.context["member_rows"]}
    assert rows["bob@acme.test"] == "3 days ago"
    assert rows["charlie@acme.test"] == "never"
    assert rows["dana@acme.test"] == "just now"
    assert "3 days ago" in html and "never" in html
    assert ">Helpdesk<" in html and ">helpdesk<" not in html
