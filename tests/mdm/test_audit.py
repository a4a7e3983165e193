import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, transaction

from mdm.audit import REDACTED, audit_chain_verify, audit_event_record
from mdm.models import AuditEvent


def _fill(org, n=5):
    for i in range(n):
        audit_event_record(
            organization=org, action="member.added", details={"email": f"u{i}@acme.test", "role": "admin"}
        )


def test_it_chains_events_per_organization(actors):
    _fill(actors.org)
    events = list(AuditEvent.objects.filter(organization=actors.org).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    actors.org.refresh_from_db()
    assert actors.org.audit_head_hash == events[-1].hash
    # The other organization has its own chain, starting at 1.
    assert AuditEvent.objects.filter(organization=actors.other_org).order_by("seq").first().seq == 1
    assert audit_chain_verify(actors.org).ok
    assert audit_chain_verify(actors.other_org).ok


def test_it_redacts_detail_keys_the_action_does_not_declare(actors):
    event = audit_event_record(
        organization=actors.org,
        action="api_token.created",
        details={"name": "ci", "token": "mdmat_secret", "password": "hunter2"},
    )
    assert event.details == {"name": "ci", "token": REDACTED, "password": REDACTED}


def test_it_refuses_an_undeclared_action(actors):
    with pytest.raises(ValueError, match="Unknown audit action"):
        audit_event_record(organization=actors.org, action="something.new")


def test_it_refuses_changes_through_the_orm(actors):
    event = AuditEvent.objects.filter(organization=actors.org).first()
    event.action = "changed"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_the_database_refuses_update_and_delete(actors, raw_sql):
    event = AuditEvent.objects.filter(organization=actors.org).first()
    with pytest.raises(DatabaseError), transaction.atomic():
        raw_sql("UPDATE mdm_auditevent SET action = 'x' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        raw_sql("DELETE FROM mdm_auditevent WHERE id = %s", [event.pk])


def _tamper(raw_sql, sql, params):
    """What someone able to bypass the trigger (a database superuser) could do."""
    raw_sql("SET CONSTRAINTS ALL IMMEDIATE")  # settle the test transaction's deferred FK checks first
    raw_sql("ALTER TABLE mdm_auditevent DISABLE TRIGGER mdm_auditevent_append_only")
    raw_sql(sql, params)
    raw_sql("ALTER TABLE mdm_auditevent ENABLE TRIGGER mdm_auditevent_append_only")


def _verify(capsys, org):
    with pytest.raises(CommandError):
        call_command("verify_audit", "--org", org.slug)
    return capsys.readouterr().out


def test_verify_audit_reports_a_changed_row(actors, raw_sql, capsys):
    _fill(actors.org)
    target = AuditEvent.objects.get(organization=actors.org, seq=4)
    _tamper(raw_sql, 'UPDATE mdm_auditevent SET details = \'{"role": "owner"}\' WHERE id = %s', [target.pk])
    out = _verify(capsys, actors.org)
    assert "first broken link at #4" in out
    assert "changed" in out
    # Another organization's chain is untouched and still verifies.
    call_command("verify_audit", "--org", actors.other_org.slug)
    assert "ok" in capsys.readouterr().out


def test_verify_audit_reports_a_deleted_row(actors, raw_sql, capsys):
    _fill(actors.org)
    target = AuditEvent.objects.get(organization=actors.org, seq=3)
    _tamper(raw_sql, "DELETE FROM mdm_auditevent WHERE id = %s", [target.pk])
    assert "first broken link at #3" in _verify(capsys, actors.org)


def test_verify_audit_reports_a_deleted_last_row(actors, raw_sql, capsys):
    _fill(actors.org)
    last = AuditEvent.objects.filter(organization=actors.org).order_by("-seq").first()
    _tamper(raw_sql, "DELETE FROM mdm_auditevent WHERE id = %s", [last.pk])
    assert f"first broken link at #{last.seq}" in _verify(capsys, actors.org)


def test_verify_audit_reports_a_rehashed_forgery(actors, raw_sql, capsys):
    """Rewriting a row and its own hash still breaks the link to the next event."""
    from mdm.audit import event_hash

    _fill(actors.org)
    target = AuditEvent.objects.get(organization=actors.org, seq=2)
    target.actor_label = "someone else"
    forged = event_hash(target)
    _tamper(
        raw_sql,
        "UPDATE mdm_auditevent SET actor_label = 'someone else', hash = %s WHERE id = %s",
        [forged, target.pk],
    )
    assert "first broken link at #3" in _verify(capsys, actors.org)


def test_verify_audit_passes_on_an_intact_log(actors, capsys):
    _fill(actors.org)
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "ok      acme" in out and "ok      globex" in out
