import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mdm.models import AuditEvent, Membership, Organization, User


def test_bootstrap_creates_an_organization_and_its_owner_and_prints_a_password(db, capsys):
    call_command("bootstrap", "--org", "Initech", "--email", "Peter@Initech.test")
    out = capsys.readouterr().out
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))
    user = User.objects.get(email="peter@initech.test")
    assert user.check_password(password)
    membership = Membership.objects.get(user=user)
    assert membership.role == "owner" and membership.organization.name == "Initech"
    actions = list(AuditEvent.objects.filter(organization=membership.organization).values_list("action", flat=True))
    assert sorted(actions) == ["member.added", "organization.created", "persona.created"]


def test_bootstrap_is_idempotent_and_never_resets_a_password(db, capsys):
    call_command("bootstrap", "--org", "Initech", "--email", "peter@initech.test", "--password", "first password 1")
    capsys.readouterr()
    call_command("bootstrap", "--org", "Initech", "--email", "peter@initech.test")
    out = capsys.readouterr().out
    assert "exists" in out and "password" not in out
    assert Organization.objects.filter(name="Initech").count() == 1
    assert User.objects.get(email="peter@initech.test").check_password("first password 1")
    assert AuditEvent.objects.count() == 3  # organization, its default persona, its owner: once


def test_bootstrap_refuses_a_bad_email(db):
    with pytest.raises(CommandError, match="not an e-mail"):
        call_command("bootstrap", "--org", "Initech", "--email", "peter")
    assert not Organization.objects.exists()


def test_create_api_token_refuses_a_non_member(actors):
    with pytest.raises(CommandError, match="not a member"):
        call_command("create_api_token", "--email", "erin@acme.test", "--org", "Acme")
