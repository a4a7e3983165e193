"""The agent channel (agent protocol, section 6): the outbox is read by the agent itself.

The agent fetches its pending commands with a poll or a long poll; a wake-up published on Redis
after the commit ends a waiting long poll at once. A wake-up is only a hint: the commands are in
the database, so one lost with Redis is found at the next poll, check-in or by the beat's
`commands_rewake`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from devices.channels.base import Channel, Queued, register
from devices.choices import ManagementChannel
from devices.models import Command
from devices.wakeups import wake_devices
from mdm.lib.compiled import CompiledQuery

MAX_COMMANDS_PER_POLL = 50


class AgentChannel(Channel):
    name = ManagementChannel.AGENT

    def send(self, commands: Sequence[Command]) -> None:
        self.notify(command.device_id for command in commands)

    def send_queued(self, queued: Sequence[Queued]) -> None:
        self.notify(q.device_id for q in queued)  # the agent reads its commands itself: ids are enough

    def notify(self, device_ids: Iterable[object]) -> int:
        ids = list(dict.fromkeys(device_ids))
        transaction.on_commit(lambda: wake_devices(ids))
        return len(ids)


register(AgentChannel())


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def serialize_command(command: Command) -> dict:
    return {
        "id": str(command.pk),
        "type": command.type,
        "issued_at": _rfc3339(command.created_at),
        "expires_at": _rfc3339(command.expires_at) if command.expires_at else None,
        "payload": command.payload,
    }


def _pending(device_id, now) -> QuerySet[Command]:
    return (
        Command.objects.filter(device_id=device_id)
        .pending()
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("priority", "created_at", "id")[:MAX_COMMANDS_PER_POLL]
    )


# Every poll runs it: compiled once per process.
_pending_query = CompiledQuery(_pending, device_id=uuid.UUID(int=0), now=datetime(2000, 1, 1, tzinfo=UTC))


def commands_deliver(*, device_id: uuid.UUID | str) -> list[dict]:
    """The device's pending commands, highest priority and oldest first; the queued ones become
    delivered. Two polls racing both answer the commands, but the conditional UPDATE records one
    delivery, with one delivery time."""
    now = timezone.now()
    pending = list(_pending_query.run(device_id=device_id, now=now))
    queued = [command.pk for command in pending if command.state == Command.State.QUEUED]
    if queued:
        Command.objects.filter(pk__in=queued, state=Command.State.QUEUED).update(
            state=Command.State.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
        )
    return [serialize_command(command) for command in pending]


def devices_with_queued_commands(device_ids: Sequence[uuid.UUID | str]) -> list[uuid.UUID]:
    """Which of these devices have a command queued (one indexed query, for the long polls of a
    whole process)."""
    return list(
        Command.objects.filter(device_id__in=device_ids, state=Command.State.QUEUED)
        .order_by()
        .values_list("device_id", flat=True)
        .distinct()
    )


def commands_rewake(*, older_than_seconds: int = 60, limit: int = 10_000, now: datetime | None = None) -> int:
    """Publish wake-ups again for agents whose commands sit queued (a wake-up lost with Redis)."""
    now = now or timezone.now()
    device_ids = (
        Command.objects.filter(
            state=Command.State.QUEUED,
            created_at__lte=now - timedelta(seconds=older_than_seconds),
            device__channel=ManagementChannel.AGENT,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("device_id", flat=True)
        .distinct()[:limit]
    )
    return wake_devices(device_ids)
