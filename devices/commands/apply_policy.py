from devices.commands.base import CommandType, registry
from devices.models import Device


@registry.register
class ApplyPolicy(CommandType):
    """Fetch and apply the policy version in the payload (`{"version"}`)."""

    name = "apply_policy"
    priority = 50

    def on_acknowledged(self, command, device) -> None:
        version = command.payload.get("version")
        if isinstance(version, int) and (device.applied_policy_version or 0) < version:
            Device.objects.filter(pk=device.pk).update(applied_policy_version=version)
