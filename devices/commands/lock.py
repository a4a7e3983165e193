from __future__ import annotations

from devices.choices import ContainerState
from devices.commands.base import CommandType, registry
from devices.models import Command, Device
from mdm.errors import ServiceError


class LockCorporate(CommandType):
    """Seal the corporate container: nothing in it opens until it is unlocked."""

    name = "lock_corporate"
    priority = 5
    # A lock and an unlock still pending cancel out: only the newest one counts.
    supersedes = ("unlock_corporate",)
    superseded_reason = "superseded by a newer lock or unlock"
    locks = True

    def check(self, device: Device) -> None:
        super().check(device)
        if device.container_state in (ContainerState.WIPE_PENDING, ContainerState.WIPED):
            raise ServiceError("This device's corporate container is being wiped.", code="conflict")

    def on_acknowledged(self, command: Command, device: Device) -> None:
        # A wipe sent meanwhile wins: only a container that is there can be locked or unlocked.
        Device.objects.filter(
            pk=device.pk, container_state__in=[ContainerState.ACTIVE, ContainerState.LOCKED, ContainerState.PENDING]
        ).update(container_state=ContainerState.LOCKED if self.locks else ContainerState.ACTIVE)


class UnlockCorporate(LockCorporate):
    """Open the corporate container again."""

    name = "unlock_corporate"
    supersedes = ("lock_corporate",)
    locks = False


lock_corporate = registry.register(LockCorporate())
unlock_corporate = registry.register(UnlockCorporate())
