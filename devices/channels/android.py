"""The Android Enterprise channel: Google's Android Device Policy app is the device's agent.

A command written to the outbox is sent to Google (`issueCommand`) by a task after the commit
(devices.android.commands); Google's long-running operation that follows it becomes the
command's result, from a COMMAND notification or, if that is missed, from the beat task that asks
Google for the operation. A persona's policy does not travel as a command at all: Google holds one
policy per persona (devices.android.policies).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from devices.channels.base import Channel, register
from devices.choices import ManagementChannel
from devices.models import Command
from mdm.celery import app as celery_app
from mdm.celery import enqueue_on_commit

# Published by name: the task (devices.tasks) is above the channels.
SEND_TASK = "devices.tasks.android_commands_send_task"
# What Google can do for us; anything else is refused before it is queued. (Google's LOCK is the
# screen lock of the work profile, which its user opens with its passcode: there is no remote
# unlock, and the lock lasts until the phone next reports, devices.android.devices.)
SUPPORTED = {"lock_corporate", "wipe_corporate"}
REFUSALS = {
    "unlock_corporate": "Android has no remote unlock: the employee opens the work profile with its passcode.",
}


class AndroidChannel(Channel):
    name = ManagementChannel.ANDROID

    def refuses(self, command_type: str) -> str | None:
        if command_type in REFUSALS:
            return REFUSALS[command_type]
        if command_type not in SUPPORTED:
            return f"Android work profiles managed through Google do not take {command_type} commands."
        return None

    def send(self, commands: Sequence[Command]) -> None:
        ids = [str(command.pk) for command in commands]
        if ids:
            enqueue_on_commit(celery_app.signature(SEND_TASK), ids)

    def notify(self, device_ids: Iterable[object]) -> int:
        ids = list(dict.fromkeys(device_ids))
        pending = Command.objects.filter(device_id__in=[str(i) for i in ids], state=Command.State.QUEUED).values_list(
            "pk", flat=True
        )
        self.send(list(Command.objects.filter(pk__in=list(pending))))
        return len(ids)


register(AndroidChannel())
