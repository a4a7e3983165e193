"""The transactional outbox: every audit event and the device events that matter are written with
their change, numbered in the order they became visible, and none is skipped or lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from devices.choices import CommandResult
from devices.commands.results import command_record_result
from devices.commands.rotate_container_key import container_key_rotate
from devices.wipe import corporate_lock
from mdm.actors import SYSTEM
from mdm.audit import audit_event_record
from mdm.models import AuditEvent, OutboxEvent
from mdm.outbox import outbox_emit, outbox_sequence
from mdm.services import api_token_create
from tests.events.helpers import deliver


def test_it_writes_every_audit_event_to_the_outbox_with_its_redacted_details(actors):
    before = OutboxEvent.objects.count()
    issued = api_token_create(membership=actors.membership(actors.owner), name="ci", actor=SYSTEM, client_ip="10.1.2.3")
    audit = AuditEvent.objects.filter(organization=actors.org, action="api_token.created").latest("seq")
    event = OutboxEvent.objects.latest("id")
    assert OutboxEvent.objects.count() == before + 1
    assert event.organization_id == actors.org.pk
    assert event.type == "audit.api_token.created"
    assert event.created_at == audit.created_at
    assert event.data == {
        "seq": audit.seq,
        "action": "api_token.created",
        "actor": {"type": "system", "id": audit.actor_id, "label": audit.actor_label},
        "target": {"type": "mdm.apitoken", "id": str(issued.api_token.pk), "label": audit.target_label},
        "details": audit.details,
        "client_ip": "10.1.2.3",
        "hash": audit.hash,
    }
    assert issued.token not in str(event.data)


def test_it_writes_nothing_when_the_change_is_rolled_back(actors):
    before = OutboxEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_event_record(organization=actors.org, action="member.added", details={"email": "x@acme.test"})
        raise RuntimeError("the change fails after its audit event")
    assert OutboxEvent.objects.count() == before


def test_it_numbers_events_in_id_order_after_the_highest_seq(actors):
    outbox_sequence()
    first = outbox_emit(organization_id=actors.org.pk, type="device.compliance_changed", data={})
    second = outbox_emit(organization_id=actors.other_org.pk, type="device.compliance_changed", data={})
    assert first.seq is None and second.seq is None
    assert outbox_sequence() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.seq == first.seq + 1
    assert outbox_sequence() == 0


@pytest.mark.django_db(transaction=True)
def test_it_does_not_skip_an_event_whose_transaction_commits_late(actors, webhook, receiver):
    """The bug an `id > cursor` reader has: an event that took its id early and committed after a
    later event was delivered would never be read. The sequencer numbers it when it is visible."""
    deliver(webhook)
    inserted, commit = threading.Event(), threading.Event()
    late: dict = {}

    def slow_transaction():
        try:
            with transaction.atomic():
                late["event"] = outbox_emit(organization_id=actors.org.pk, type="device.command_result", data={"n": 1})
                inserted.set()
                commit.wait(timeout=20)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert inserted.wait(timeout=20)
    early = outbox_emit(organization_id=actors.org.pk, type="device.command_result", data={"n": 2})
    assert early.id > late["event"].id  # the late one took its id first
    deliver(webhook)
    assert receiver.ids()[-1] == str(early.event_id)
    commit.set()
    thread.join(timeout=20)
    deliver(webhook)
    assert receiver.ids()[-1] == str(late["event"].event_id)
    late["event"].refresh_from_db()
    early.refresh_from_db()
    assert late["event"].seq > early.seq
    assert len(receiver.ids()) == len(set(receiver.ids()))


def test_a_checkin_writes_a_device_event_only_when_compliance_changes(actors, enrolled):
    device = enrolled.server_device
    enrolled.checkin()
    before = OutboxEvent.objects.filter(type="device.compliance_changed").count()
    enrolled.checkin()  # nothing changed
    assert OutboxEvent.objects.filter(type="device.compliance_changed").count() == before
    enrolled.state.update_identity(compliance={"passcode_compliant": False, "compromised": False})
    enrolled.checkin()
    event = OutboxEvent.objects.filter(type="device.compliance_changed").latest("id")
    assert event.organization_id == actors.org.pk
    assert event.data["device"] == {"id": str(device.pk), "name": device.name}
    assert event.data["compliant"] is False and event.data["previous"] is True
    assert event.data["reasons"]
    enrolled.checkin()  # still non-compliant: no new event
    assert OutboxEvent.objects.filter(type="device.compliance_changed").count() == before + 1


def test_a_command_result_writes_a_device_event(actors, enrolled):
    device = enrolled.server_device
    command = corporate_lock(device=device, lock=True, actor=SYSTEM, reason="test")
    command_record_result(device=device, command_id=command.pk, status=CommandResult.ACKNOWLEDGED)
    event = OutboxEvent.objects.filter(type="device.command_result").latest("id")
    assert event.data["command"] == {"id": str(command.pk), "type": command.type}
    assert event.data["status"] == "acknowledged"
    assert event.data["device"]["id"] == str(device.pk)
    # The same result again changes nothing, and tells nothing new.
    count = OutboxEvent.objects.filter(type="device.command_result").count()
    command_record_result(device=device, command_id=command.pk, status=CommandResult.ACKNOWLEDGED)
    assert OutboxEvent.objects.filter(type="device.command_result").count() == count


def test_a_container_key_rotation_writes_a_device_event(actors, enrolled):
    key = container_key_rotate(device=enrolled.server_device)
    assert key is not None
    event = OutboxEvent.objects.filter(type="device.container_key_rotated").latest("id")
    assert event.data["version"] == key.version and event.data["previous_version"] == key.version - 1


def test_an_enrollment_reaches_destinations_as_its_audit_event(actors, enrolled):
    assert OutboxEvent.objects.filter(
        organization=actors.org, type="audit.device.enrolled", data__target__id=str(enrolled.server_device.pk)
    ).exists()
