"""Handing commands to agents and recording their results (agent protocol, section 6)."""

from __future__ import annotations

from datetime import UTC

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from devices.choices import PENDING_COMMAND_STATES, CommandState
from devices.commands import registry
from devices.models import Command, Device
from mdm.errors import ServiceError

MAX_COMMANDS_PER_POLL = 50
RESULT_STATES = {"acknowledged", "error", "not_now"}
TERMINAL = {CommandState.ACKNOWLEDGED, CommandState.ERROR, CommandState.EXPIRED}


def serialize_command(command: Command) -> dict:
    return {
        "id": str(command.pk),
        "type": command.type,
        "issued_at": _rfc3339(command.created_at),
        "expires_at": _rfc3339(command.expires_at) if command.expires_at else None,
        "payload": command.payload,
    }


def _rfc3339(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def commands_deliver(*, device_id) -> list[dict]:
    """The device's pending commands, highest priority and oldest first; the queued ones become
    delivered. Two polls racing both answer the commands, but the conditional UPDATE records one
    delivery, with one delivery time."""
    now = timezone.now()
    pending = list(
        Command.objects.filter(device_id=device_id, state__in=PENDING_COMMAND_STATES)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("priority", "created_at", "id")[:MAX_COMMANDS_PER_POLL]
    )
    queued = [command.pk for command in pending if command.state == CommandState.QUEUED]
    if queued:
        Command.objects.filter(pk__in=queued, state=CommandState.QUEUED).update(
            state=CommandState.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
        )
    return [serialize_command(command) for command in pending]


@transaction.atomic
def command_record_result(*, device: Device, command_id, status: str, detail: str = "") -> Command:
    """Record an agent's result. The same result twice is fine; a different terminal result is
    a 409; `not_now` puts the command back in the queue. Another device's command is a 404."""
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
    now = timezone.now()
    if status == "not_now":
        command.state = CommandState.QUEUED
        command.detail = detail
        command.save(update_fields=["state", "detail"])
        return command
    command.state = status
    command.detail = detail
    command.completed_at = now
    command.save(update_fields=["state", "detail", "completed_at"])
    kind = registry[command.type]
    if status == CommandState.ACKNOWLEDGED:
        kind.on_acknowledged(command, device)
    else:
        kind.on_error(command, device)
    return command


def commands_expire(*, now=None) -> int:
    """Pending commands past their expiry become `expired` (the agent will not see them again)."""
    now = now or timezone.now()
    return Command.objects.filter(state__in=PENDING_COMMAND_STATES, expires_at__lte=now).update(
        state=CommandState.EXPIRED, completed_at=now, detail="expired before the device acknowledged it"
    )


def commands_rewake(*, older_than_seconds: int = 60, limit: int = 10_000, now=None) -> int:
    """Publish wake-ups again for devices whose commands sit queued (a wake-up lost with Redis)."""
    from datetime import timedelta

    from devices.wakeups import wake_devices

    now = now or timezone.now()
    device_ids = (
        Command.objects.filter(state=CommandState.QUEUED, created_at__lte=now - timedelta(seconds=older_than_seconds))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("device_id", flat=True)
        .distinct()[:limit]
    )
    return wake_devices(device_ids)
