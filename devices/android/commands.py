"""The outbox's commands for Android devices, sent to Google, and their operations followed.

`commands_send` takes queued commands (each under its row lock, skipping one another task holds)
and issues each to Google: a lock is LOCK; a corporate wipe is WIPE for a personally owned work
profile and RELINQUISH_OWNERSHIP for a company-owned device (client.corporate_wipe_command), so a
personal device is never factory reset. The command is then `delivered`, with Google's operation
in `channel_ref`; the operation's end (a COMMAND notification, or `operations_follow` asking
Google) is the command's result, recorded by the same `command_record_result` as an agent's.

Google is called while the command's row is locked, so two tasks never send one command twice; a
crash after Google accepted it and before the commit sends it once more on the retry, which is
harmless for a lock or a wipe (Google runs the second on a profile already locked or gone).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from devices.android import client
from devices.android.devices import google_ownership
from devices.choices import CommandResult, CommandState, DeviceState, ManagementChannel
from devices.commands.lock import lock_corporate
from devices.commands.results import command_record_result
from devices.commands.wipe import wipe_corporate
from devices.models import Command

logger = logging.getLogger(__name__)

FOLLOW_AFTER = timedelta(seconds=30)


def _google_command(command: Command) -> client.DeviceCommand:
    if command.type == lock_corporate.name:
        return client.LOCK
    if command.type == wipe_corporate.name:
        return client.corporate_wipe_command(
            ownership=google_ownership(command.device), reason=str(command.payload.get("reason", ""))
        )
    raise client.GoogleError(f"Android work profiles do not take {command.type} commands.")


def commands_send(*, command_ids: list[str]) -> dict[str, int]:
    """Send these commands (those still queued) to Google. Returns counts; raises GoogleError
    (retryable) after the others are done when Google should be asked again for some."""
    counts = {"sent": 0, "refused": 0, "later": 0}
    retry: client.GoogleError | None = None
    for command_id in command_ids:
        with transaction.atomic():
            command = (
                Command.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("device")
                .filter(pk=command_id, state=CommandState.QUEUED, device__channel=ManagementChannel.ANDROID)
                .first()
            )
            if command is None or command.device.state != DeviceState.ACTIVE or not command.device.google_name:
                continue
            try:
                operation = client.issue_command(
                    name=str(command.device.google_name),
                    ownership=google_ownership(command.device),
                    command=_google_command(command),
                )
            except client.GoogleError as exc:
                if exc.retryable:
                    counts["later"] += 1
                    retry = exc
                    continue
                command_record_result(
                    device=command.device, command_id=command.pk, status=CommandResult.ERROR, detail=str(exc)[:1000]
                )
                counts["refused"] += 1
                continue
            now = timezone.now()
            command.state = CommandState.DELIVERED
            command.delivered_at = now
            command.attempts += 1
            command.channel_ref = str(operation.get("name", ""))[:255]
            command.save(update_fields=["state", "delivered_at", "attempts", "channel_ref"])
            counts["sent"] += 1
            if operation.get("done"):
                operation_finish(command=command, operation=operation)
    if retry is not None:
        raise retry
    return counts


def operation_finish(*, command: Command, operation: dict[str, Any]) -> Command | None:
    """Google's operation for the command is done: its result becomes the command's (the same
    result twice changes nothing)."""
    if not operation.get("done"):
        return None
    error = operation.get("error")
    if error:
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        return command_record_result(
            device=command.device, command_id=command.pk, status=CommandResult.ERROR, detail=f"Google: {message}"[:1000]
        )
    return command_record_result(
        device=command.device,
        command_id=command.pk,
        status=CommandResult.ACKNOWLEDGED,
        detail="Done by Android Device Policy.",
    )


def operation_notified(*, organization_id: uuid.UUID | str, operation: dict[str, Any]) -> Command | None:
    """A COMMAND notification: the operation, as Google publishes it."""
    name = operation.get("name")
    if not isinstance(name, str) or not name:
        return None
    command = (
        Command.objects.select_related("device")
        .filter(organization_id=organization_id, channel_ref=name, device__channel=ManagementChannel.ANDROID)
        .first()
    )
    if command is None:
        logger.info("COMMAND notification for an operation of no command of ours: %s", name)
        return None
    return operation_finish(command=command, operation=operation)


def operations_follow(*, limit: int = 500) -> dict[str, int]:
    """Ask Google for the operations of delivered commands not finished after FOLLOW_AFTER (a
    COMMAND notification that never came)."""
    counts = {"asked": 0, "finished": 0}
    due = (
        Command.objects.select_related("device")
        .filter(
            state=CommandState.DELIVERED,
            device__channel=ManagementChannel.ANDROID,
            delivered_at__lte=timezone.now() - FOLLOW_AFTER,
        )
        .exclude(channel_ref="")
        .order_by("delivered_at")[:limit]
    )
    for command in due:
        counts["asked"] += 1
        try:
            operation = client.operation_get(name=command.channel_ref)
        except client.GoogleError as exc:
            if exc.status == 404 and command.type == wipe_corporate.name:
                continue  # the device went with its work profile: the next reconciliation says so
            logger.warning("Operation %s could not be read: %s", command.channel_ref, exc)
            continue
        if operation_finish(command=command, operation=operation) is not None:
            counts["finished"] += 1
    return counts
