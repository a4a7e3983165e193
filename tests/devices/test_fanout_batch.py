"""A push's batch: the devices read in one query with their active container key, the rows written as
tuples, and the same commands, versions and wake-ups as the one-device paths make."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest
from django.db import connection

from devices import push as push_module
from devices.channels import agent as agent_channel
from devices.channels import base as channel_base
from devices.commands.apply_policy import BatchItem, apply_policy
from devices.models import Command, ContainerKey, Device, PolicyVersion
from devices.push import push_run, push_start_for_persona
from personas.models import Persona
from personas.services import persona_update, spec_of


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(push_module, "BATCH_SIZE", 2)


def _change(actors):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    spec = spec_of(persona)
    spec["access"]["max_offline_days"] += 1
    persona, _ = persona_update(persona=persona, spec=spec)
    return persona


def test_a_device_without_an_active_container_key_is_passed_over_and_the_push_goes_on(
    actors, agent_factory, small_batches
):
    agents = [agent_factory() for _ in range(5)]
    wiped = Device.objects.get(pk=agents[2].identity["device_id"])
    ContainerKey.objects.filter(device=wiped).update(state="retired")
    push = push_run(push_start_for_persona(persona=_change(actors)).pk)
    assert (push.state, push.processed, push.batches) == ("done", 5, 3)
    assert Command.objects.filter(push=push).count() == 4
    wiped.refresh_from_db()
    assert wiped.policy_version == 1 and not PolicyVersion.objects.filter(device=wiped, version=2).exists()
    for agent in agents[:2] + agents[3:]:
        device = Device.objects.get(pk=agent.identity["device_id"])
        key = ContainerKey.objects.get(device=device, state="active")
        version = PolicyVersion.objects.get(device=device, version=2)
        assert device.policy_version == 2 and version.document["encryption"]["key_id"] == str(key.pk)


def test_a_device_whose_key_was_rotated_gets_its_newest_key_in_the_policy(actors, agent_factory):
    agent = agent_factory()
    device = Device.objects.get(pk=agent.identity["device_id"])
    old = ContainerKey.objects.get(device=device, state="active")
    old.state = "retired"
    old.save(update_fields=["state"])
    new = ContainerKey.objects.create(organization=actors.org, device=device, version=2, wrapped_key=b"x")
    push_run(push_start_for_persona(persona=_change(actors)).pk)
    document = PolicyVersion.objects.get(device=device, version=2).document
    assert (document["encryption"]["key_id"], document["encryption"]["key_version"]) == (str(new.pk), 2)


def test_a_batch_writes_the_command_queue_writes_and_wakes_each_device_after_the_commit(
    actors, agent_factory, monkeypatch, django_capture_on_commit_callbacks
):
    agents = [agent_factory() for _ in range(3)]
    woken: list = []
    monkeypatch.setattr(agent_channel, "wake_devices", lambda ids: woken.extend(ids))
    devices = list(Device.objects.filter(pk__in=[a.identity["device_id"] for a in agents]).order_by("pk"))
    older = apply_policy.queue(devices[0], {"version": 1})
    single = apply_policy.build(devices[1], {"version": 7})
    items = [BatchItem(d.pk, d.organization_id, d.channel, 7) for d in devices]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        made = apply_policy.queue_batch(items)
    assert woken == []  # nothing leaves the process before the commit
    for callback in callbacks:
        callback()
    assert sorted(map(str, woken)) == sorted(str(d.pk) for d in devices)
    older.refresh_from_db()
    assert (older.state, older.detail) == ("expired", apply_policy.superseded_reason)
    written = {c.device_id: c for c in Command.objects.filter(pk__in=made)}
    assert len(written) == 3
    for device, command_id in zip(devices, made, strict=True):
        row = written[device.pk]
        assert (row.pk, row.organization_id, row.push_id) == (command_id, device.organization_id, None)
        assert (row.type, row.payload, row.priority, row.state, row.attempts, row.detail) == (
            single.type,
            single.payload,
            single.priority,
            single.state,
            single.attempts,
            single.detail,
        )
        assert row.expires_at - row.created_at == single.expires_at - single.created_at


class RecordingChannel(channel_base.Channel):
    """A channel that takes whole commands (send_queued's default reads them back)."""

    name = "recording-batch"

    def __init__(self) -> None:
        self.sent: list[Command] = []

    def send(self, commands: Sequence[Command]) -> None:
        self.sent.extend(commands)

    def notify(self, device_ids: Iterable[object]) -> int:
        return len(list(device_ids))


def test_a_batch_hands_each_channel_only_its_own_devices_commands(
    actors, agent_factory, monkeypatch, django_capture_on_commit_callbacks
):
    recording = RecordingChannel()
    monkeypatch.setitem(channel_base._CHANNELS, recording.name, recording)
    woken: list = []
    monkeypatch.setattr(agent_channel, "wake_devices", lambda ids: woken.extend(ids))
    devices = [Device.objects.get(pk=agent_factory().identity["device_id"]) for _ in range(3)]
    Device.objects.filter(pk=devices[1].pk).update(channel=recording.name)
    channels = ["agent", recording.name, "agent"]
    items = [BatchItem(d.pk, d.organization_id, c, 4) for d, c in zip(devices, channels, strict=True)]
    with django_capture_on_commit_callbacks(execute=True):
        made = apply_policy.queue_batch(items)
    assert [(c.pk, c.device.pk, c.payload) for c in recording.sent] == [(made[1], devices[1].pk, {"version": 4})]
    assert sorted(map(str, woken)) == sorted([str(devices[0].pk), str(devices[2].pk)])


@pytest.mark.parametrize(
    ("model", "column"),
    [(Command, "device_id"), (PolicyVersion, "device_id"), (Device, "persona_id")],
)
def test_a_lookup_by_the_column_a_push_writes_or_walks_by_still_has_an_index_leading_with_it(db, model, column):
    # Their single-column indexes were dropped (devices 0006) for composite ones that lead with
    # the same column: the device's commands and versions, a device's or a persona's deletion.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    leading = [n for n, c in constraints.items() if (c["index"] or c["unique"]) and c["columns"][:1] == [column]]
    assert leading
    if model is Device:
        assert constraints["device_persona_walk"]["columns"] == ["persona_id", "id"]
