from __future__ import annotations

from django.utils import timezone

from devices.choices import ContainerState, DeviceState
from devices.commands.base import ALL_TYPES, CommandType, registry
from devices.models import Command, Device, Wipe
from devices.services import device_retire
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError


class WipeCorporate(CommandType):
    """Erase every corporate app, file and key (`{"wipe_id", "reason"}`); nothing personal.

    It never expires: a lost device that comes back a year later must still be wiped. It ends
    every other pending command: they would only get in the way of (or come after) the wipe.
    """

    name = "wipe_corporate"
    priority = 0
    lifetime = None
    supersedes = (ALL_TYPES,)
    superseded_reason = "superseded by a corporate wipe"

    def check(self, device: Device) -> None:
        if device.state != DeviceState.ACTIVE:
            raise ServiceError("This device is retired: there is nothing left to wipe.", code="conflict")
        self.check_channel(device)

    def queue_wipe(self, device: Device, wipe: Wipe) -> Command:
        return self.queue(device, {"wipe_id": str(wipe.pk), "reason": wipe.reason})

    def on_acknowledged(self, command: Command, device: Device) -> None:
        self._finish(command, device, acknowledged=True)

    def on_error(self, command: Command, device: Device) -> None:
        self._finish(command, device, acknowledged=False)

    def _finish(self, command: Command, device: Device, *, acknowledged: bool) -> None:
        """The wipe is done (the device is retired) or failed; audited either way."""
        device = Device.objects.select_for_update().get(pk=device.pk)  # the device first, as everywhere
        wipe = Wipe.objects.select_for_update().filter(command=command).first()
        actor = Actor.device(device)
        if wipe is not None:
            wipe.state = Wipe.State.DONE if acknowledged else Wipe.State.FAILED
            wipe.completed_at = timezone.now()
            wipe.detail = command.detail
            wipe.save(update_fields=["state", "completed_at", "detail"])
        audit_event_record(
            organization=device.organization,
            action="wipe.completed" if acknowledged else "wipe.failed",
            actor=actor,
            target=device,
            details={"wipe_id": str(wipe.pk) if wipe else None, "detail": command.detail[:500]},
        )
        if acknowledged:
            Device.objects.filter(pk=device.pk).update(container_state=ContainerState.WIPED)
            device_retire(device=device, reason="corporate wipe acknowledged", actor=actor)


wipe_corporate = registry.register(WipeCorporate())
