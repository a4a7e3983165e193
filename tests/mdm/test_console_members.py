"""Console: members (invite, change role, remove) and API tokens."""

import re

from django.core import mail

from mdm.models import ApiToken, AuditEvent, Membership, User


def test_an_owner_invites_a_new_member_who_sets_a_password_once(client, actors):
    client.force_login(actors.owner)
    response = client.post("/console/members/", {"email": "newbie@acme.test", "role": "helpdesk"})
    assert response.status_code == 302
    assert Membership.objects.get(user__email="newbie@acme.test").role == "helpdesk"
    (message,) = mail.outbox
    assert "Acme" in message.subject and message.to == ["newbie@acme.test"]
    link = re.search(r"https?://[^/]+(/console/invitation/\S+)", message.body).group(1)
    client.logout()
    page = client.get(link, follow=True)
    set_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    done = client.post(
        set_url, {"new_password1": "a long fresh passphrase", "new_password2": "a long fresh passphrase"}
    )
    assert done.status_code == 302
    assert User.objects.get(email="newbie@acme.test").check_password("a long fresh passphrase")
    assert "expired or was already used" in client.get(link, follow=True).content.decode()  # single use
    assert AuditEvent.objects.filter(action="member.added", target_label="newbie@acme.test").exists()


def test_roles_change_and_the_last_owner_stays(client, actors):
    client.force_login(actors.owner)
    bob = Membership.objects.get(user=actors.admin, organization=actors.org)
    client.post(f"/console/members/{bob.pk}/", {"role": "auditor"})
    bob.refresh_from_db()
    assert bob.role == "auditor"
    owner = Membership.objects.get(user=actors.owner, organization=actors.org)
    page = client.post(f"/console/members/{owner.pk}/", {"role": "admin"}, follow=True).content.decode()
    assert "at least one owner" in page
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_removing_a_member_revokes_their_tokens(client, actors):
    token = actors.token(actors.admin)
    client.force_login(actors.owner)
    bob = Membership.objects.get(user=actors.admin, organization=actors.org)
    client.post(f"/console/members/{bob.pk}/", {"remove": "1"})
    assert not Membership.objects.filter(pk=bob.pk).exists()
    assert ApiToken.objects.get(prefix=token[:12]).revoked_at is not None


def test_only_owners_manage_members(client, actors):
    client.force_login(actors.admin)
    page = client.get("/console/members/").content.decode()
    assert "alice@acme.test" in page and "Invite" not in page
    assert client.post("/console/members/", {"email": "x@acme.test", "role": "owner"}).status_code == 403
    owner = Membership.objects.get(user=actors.owner, organization=actors.org)
    assert client.post(f"/console/members/{owner.pk}/", {"role": "auditor"}).status_code == 403
    client.force_login(actors.outsider)
    assert client.post(f"/console/members/{owner.pk}/", {"remove": "1"}).status_code == 404
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_api_tokens_are_shown_once_and_revocable(client, actors):
    client.force_login(actors.admin)
    html = client.post("/console/api-tokens/", {"name": "backup script", "expires_days": "30"}).content.decode()
    token = re.search(r'id="new-token" readonly value="(mdmat_[^"]+)"', html).group(1)
    assert token not in client.get("/console/api-tokens/").content.decode()
    record = ApiToken.objects.get(name="backup script")
    client.post(f"/console/api-tokens/{record.pk}/revoke/")
    record.refresh_from_db()
    assert record.revoked_at is not None
    client.force_login(actors.helpdesk)
    assert client.get("/console/api-tokens/").status_code == 403
