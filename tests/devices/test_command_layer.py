"""The command layer: command types queue themselves through the device's management channel,
supersede what they replace, and handle their own results; a new type is one module plus its
registration."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from devices.channels import base as channel_base
from devices.channels.agent import commands_deliver
from devices.commands import registry
from devices.commands.apply_policy import apply_policy
from devices.commands.base import CommandType
from devices.commands.lock import lock_corporate
from devices.commands.results import command_record_result
from devices.commands.rotate_container_key import rotate_container_key
from devices.models import Command, Device, PolicyVersion
from devices.push import PUSH_FANOUT_TASK
from devices.wipe import corporate_lock, corporate_wipe_request
from mdm.celery import app as celery_app
from mdm.errors import ServiceError


class RecordingChannel(channel_base.Channel):
    """A channel that only remembers what it was handed (Android Enterprise will be another)."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[Command] = []
        self.notified: list[object] = []

    def send(self, commands: Sequence[Command]) -> None:
        self.sent.extend(commands)

    def notify(self, device_ids: Iterable[object]) -> int:
        ids = list(device_ids)
        self.notified.extend(ids)
        return len(ids)


@pytest.fixture
def recording(monkeypatch):
    channel = RecordingChannel()
    monkeypatch.setitem(channel_base._CHANNELS, channel.name, channel)
    return channel


@pytest.fixture
def published(monkeypatch):
    """Wake-ups the agent channel publishes (after commit)."""
    woken: list[object] = []
    monkeypatch.setattr("devices.channels.agent.wake_devices", lambda ids: woken.extend(ids) or len(ids))
    return woken


def test_the_services_talk_to_the_devices_channel_not_to_a_transport(
    enrolled, recording, published, django_capture_on_commit_callbacks
):
    device = enrolled.server_device
    Device.objects.filter(pk=device.pk).update(channel=recording.name)
    with django_capture_on_commit_callbacks(execute=True):
        command = corporate_lock(device=device, lock=True, reason="test")
    assert [c.pk for c in recording.sent] == [command.pk]
    assert published == []  # the agent transport was never touched
    assert Command.objects.get(pk=command.pk).state == "queued"  # still in the outbox, for its result


def test_the_agent_channel_wakes_the_device_only_after_the_commit(
    enrolled, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        corporate_lock(device=enrolled.server_device, lock=True)
    assert published == []
    for callback in callbacks:
        callback()
    assert published == [enrolled.server_device.pk]


def test_a_lock_supersedes_a_pending_unlock_and_a_wipe_supersedes_everything(enrolled, published):
    device = enrolled.server_device
    unlock = corporate_lock(device=device, lock=False)
    policy = apply_policy.queue(device, {"version": 99})
    lock = corporate_lock(device=device, lock=True)
    assert Command.objects.get(pk=unlock.pk).detail == "superseded by a newer lock or unlock"
    assert Command.objects.get(pk=policy.pk).state == "queued"  # another kind: left alone
    corporate_wipe_request(device=device, reason="lost")
    for pk in (lock.pk, policy.pk):
        ended = Command.objects.get(pk=pk)
        assert (ended.state, ended.detail) == ("expired", "superseded by a corporate wipe")
    assert list(Command.objects.filter(device=device).pending().values_list("type", flat=True)) == ["wipe_corporate"]


def test_supersede_ends_only_pending_commands(enrolled, published):
    device = enrolled.server_device
    done = lock_corporate.queue(device, {})
    command_record_result(device=device, command_id=done.pk, status="acknowledged")
    pending = apply_policy.queue(device, {"version": 7})
    assert Command.objects.filter(device=device).supersede("test") == 1
    assert Command.objects.get(pk=done.pk).state == "acknowledged"
    assert Command.objects.get(pk=pending.pk).detail == "test"


def test_a_command_checks_that_the_device_may_receive_it(enrolled, published):
    device = enrolled.server_device
    corporate_wipe_request(device=device, reason="lost")
    device.refresh_from_db()
    with pytest.raises(ServiceError, match="being wiped"):
        lock_corporate.queue(device, {})


class Ping(CommandType):
    """A command type written the way a new one is: one class, its result handler, registered."""

    name = "test_ping"
    priority = 40
    answered: list[str] = []

    def on_acknowledged(self, command: Command, device: Device) -> None:
        self.answered.append(str(command.pk))


@pytest.fixture
def ping(monkeypatch):
    kind = Ping()
    monkeypatch.setitem(registry.types, kind.name, kind)
    Ping.answered = []
    return kind


def test_a_new_command_type_is_one_class_plus_its_registration(enrolled, ping, published):
    device = enrolled.server_device
    command = ping.queue(device, {"hello": "world"})
    assert [c["type"] for c in commands_deliver(device_id=device.pk)] == ["test_ping"]
    enrolled.call("POST", f"commands/{command.pk}/result", {"status": "acknowledged"})
    assert Ping.answered == [str(command.pk)]
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Ping())


def test_the_push_task_published_by_name_exists():
    celery_app.loader.import_default_modules()
    assert PUSH_FANOUT_TASK in celery_app.tasks


def test_each_key_rotation_reaches_the_device_while_a_newer_policy_replaces_the_older(enrolled, published):
    device = enrolled.server_device
    first = rotate_container_key.rotate(device)
    second = rotate_container_key.rotate(device)
    assert first is not None and second is not None
    pending = Command.objects.filter(device=device).pending()
    rotations = [c.payload["version"] for c in pending.filter(type="rotate_container_key").order_by("created_at")]
    assert rotations == [first.version, second.version]  # a device offline across both gets both
    assert pending.filter(type="apply_policy").count() == 1  # only the newest policy version counts


def test_a_refused_policy_command_writes_no_policy_version(enrolled, published):
    device = enrolled.server_device
    Device.objects.filter(pk=device.pk).update(state="retired")
    device.refresh_from_db()
    versions = PolicyVersion.objects.filter(device=device).count()
    with pytest.raises(ServiceError, match="retired"):
        apply_policy.issue(device)
    assert PolicyVersion.objects.filter(device=device).count() == versions
