"""The end of a command's life: the device's result (whichever channel brought it), or expiry."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from devices.audit import device_event_emit
from devices.choices import CommandResult
from devices.commands.base import registry
from devices.models import Command, Device
from mdm.errors import ServiceError

RESULT_STATES = set(CommandResult)
TERMINAL = {Command.State.ACKNOWLEDGED, Command.State.ERROR, Command.State.EXPIRED}


@transaction.atomic
def command_record_result(*, device: Device, command_id: uuid.UUID | str, status: str, detail: str = "") -> Command:
    """Record a device's result. The same result twice is fine; a different terminal result is
    a 409; `not_now` puts the command back in the queue. Another device's command is a 404.
    The command's type then does what its result means (in this transaction)."""
    if status not in RESULT_STATES:
        raise ServiceError(f"status must be one of: {', '.join(sorted(RESULT_STATES))}.", field="status")
    command = Command.objects.select_for_update().filter(pk=command_id, device_id=device.pk).first()
    if command is None:
        raise ServiceError("No such command.", code="not_found", status=404)
    if command.state in TERMINAL:
        if command.state == status:
            return command
        raise ServiceError(
            f"This command already ended as {command.state}.", code="conflict", status=409, field="status"
        )
    command.detail = detail
    if status == CommandResult.NOT_NOW:
        command.state = Command.State.QUEUED
        command.save(update_fields=["state", "detail"])
        return command
    command.state = status
    command.completed_at = timezone.now()
    command.save(update_fields=["state", "detail", "completed_at"])
    kind = registry[command.type]
    if status == CommandResult.ACKNOWLEDGED:
        kind.on_acknowledged(command, device)
    else:
        kind.on_error(command, device)
    device_event_emit(
        device=device,
        what="command_result",
        command={"id": str(command.pk), "type": command.type},
        status=status,
        detail=detail[:500],
    )
    return command


def commands_expire(*, now: datetime | None = None) -> int:
    """Pending commands past their expiry become `expired` (the device will not see them again)."""
    now = now or timezone.now()
    return Command.objects.filter(expires_at__lte=now).supersede("expired before the device acknowledged it", now=now)
