from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from django.utils import timezone

from devices.bulk import insert_tuples
from devices.channels.base import Queued, send_queued
from devices.commands.base import CommandType, registry
from devices.models import Command, Device, PolicyVersion, Push
from devices.policy import policy_issue

# A command row in the model's own field order (for insert_tuples).
_COMMAND_FIELDS = tuple(f.attname for f in Command._meta.concrete_fields)
_AT = {name: i for i, name in enumerate(_COMMAND_FIELDS)}


class BatchItem(NamedTuple):
    """What a push's batch knows of a device it queues a policy version for (read as values)."""

    device_id: uuid.UUID
    organization_id: uuid.UUID
    channel: str
    version: int


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
        self, items: Sequence[BatchItem], *, push: Push | None = None, now: datetime | None = None
    ) -> list[uuid.UUID]:
        """One command per new policy version, for a push's batch, the devices locked and chosen by
        the caller: what queue_many does, with no model instance on the way (a Device and a Command
        per device cost more than writing them): the rows go to COPY as tuples, and each channel
        gets its commands' ids. Returns the new commands' ids, in the items' order."""
        now = now or timezone.now()
        self.supersede_pending([item.device_id for item in items], now=now)
        # Every field at its default (a field added to the model too), then this batch's values.
        template = [f.get_default() for f in Command._meta.concrete_fields]
        template[_AT["type"]], template[_AT["priority"]], template[_AT["created_at"]] = self.name, self.priority, now
        template[_AT["expires_at"]] = now + self.lifetime if self.lifetime else None
        template[_AT["push_id"]] = push.pk if push is not None else None
        at_id, at_org, at_device, at_payload = _AT["id"], _AT["organization_id"], _AT["device_id"], _AT["payload"]
        rows, ids = [], []
        by_channel: dict[str, list[Queued]] = defaultdict(list)
        for item in items:
            row = template.copy()
            row[at_id] = command_id = uuid.uuid4()
            row[at_org], row[at_device] = item.organization_id, item.device_id
            row[at_payload] = {"version": item.version}
            rows.append(row)
            ids.append(command_id)
            by_channel[item.channel].append(Queued(command_id, item.device_id))
        insert_tuples(Command, _COMMAND_FIELDS, rows)
        send_queued(by_channel)
        return ids

    def on_acknowledged(self, command: Command, device: Device) -> None:
        version = command.payload.get("version")
        if isinstance(version, int) and (device.applied_policy_version or 0) < version:
            Device.objects.filter(pk=device.pk).update(applied_policy_version=version)


apply_policy = registry.register(ApplyPolicy())
