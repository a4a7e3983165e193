from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from devices.commands.base import CommandType, registry
from devices.models import Command, Device, PolicyVersion, Push
from devices.policy import policy_issue


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

    def queue_versions(
        self, versions: Sequence[PolicyVersion], *, push: Push | None = None, now: datetime | None = None
    ) -> list[Command]:
        """One command per new policy version (a push's batch, its devices locked by the caller)."""
        return self.queue_many([(v.device, {"version": v.version}) for v in versions], push=push, now=now)

    def on_acknowledged(self, command: Command, device: Device) -> None:
        version = command.payload.get("version")
        if isinstance(version, int) and (device.applied_policy_version or 0) < version:
            Device.objects.filter(pk=device.pk).update(applied_policy_version=version)


apply_policy = registry.register(ApplyPolicy())
