from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from devices import channels
from devices.bulk import insert_tuples
from devices.commands.base import CommandType, registry
from devices.models import Command, Device, PolicyVersion, Push
from devices.policy import policy_issue

# A command row in the model's own field order (Command(*row) takes it positionally).
_COMMAND_FIELDS = tuple(f.attname for f in Command._meta.concrete_fields)
_AT = {name: i for i, name in enumerate(_COMMAND_FIELDS)}
_DEVICE_FIELD = Command._meta.get_field("device")


class ApplyPolicy(CommandType):
    """Fetch and apply the policy version in the payload (`{"version"}`)."""

    name = "apply_policy"
    priority = 50
    superseded_reason = "superseded by a newer policy version"

    def issue(self, device: Device) -> PolicyVersion | None:
        """Issue the device its next policy version and queue this command for it (in the caller's
        transaction). None when there is nothing to issue (no persona, no active container key)."""
        self.check(device)  # before the version is written: a refusal leaves nothing behind
        record = policy_issue(device=device)
        if record is not None:
            self.queue(device, {"version": record.version})
        return record

    def queue_batch(
        self, items: Sequence[tuple[Device, int]], *, push: Push | None = None, now: datetime | None = None
    ) -> list[Command]:
        """One command per new policy version, for a push's batch of (device, version), the devices
        locked and chosen by the caller: what queue_many does, with the rows written to COPY as
        tuples and the commands handed to the channels built positionally (the model's keyword
        path cost more than writing them)."""
        now = now or timezone.now()
        self.supersede_pending([device.pk for device, _ in items], now=now)
        # Every field at its default (a field added to the model too), then this batch's values.
        template = [f.get_default() for f in Command._meta.concrete_fields]
        template[_AT["type"]], template[_AT["priority"]], template[_AT["created_at"]] = self.name, self.priority, now
        template[_AT["expires_at"]] = now + self.lifetime if self.lifetime else None
        template[_AT["push_id"]] = push.pk if push is not None else None
        at_id, at_org, at_device, at_payload = _AT["id"], _AT["organization_id"], _AT["device_id"], _AT["payload"]
        rows = []
        for device, version in items:
            row = template.copy()
            row[at_id], row[at_org], row[at_device] = uuid.uuid4(), device.organization_id, device.pk
            row[at_payload] = {"version": version}
            rows.append(row)
        insert_tuples(Command, _COMMAND_FIELDS, rows)
        commands = []
        for (device, _), row in zip(items, rows, strict=True):
            command = Command(*row)  # type: ignore[misc]  # the fields in order: _COMMAND_FIELDS
            _DEVICE_FIELD.set_cached_value(command, device)  # the channels read command.device
            commands.append(command)
        channels.send(commands)
        return commands

    def on_acknowledged(self, command: Command, device: Device) -> None:
        version = command.payload.get("version")
        if isinstance(version, int) and (device.applied_policy_version or 0) < version:
            Device.objects.filter(pk=device.pk).update(applied_policy_version=version)


apply_policy = registry.register(ApplyPolicy())
