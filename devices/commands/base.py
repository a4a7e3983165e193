"""What every command type does for itself (after Zentral's `contrib/mdm/commands/base.py`).

A command type knows its priority and lifetime, builds its payload, checks that a device may
receive it, queues itself for a device inside the caller's transaction (superseding the pending
commands it replaces, and handing itself to the device's management channel, which reaches the
device after the commit), and handles its result. Domain services call the command types;
command types call the services below them (policy, keys, device services), never the reverse.

A new command type is one new module in this package plus its registration
(`registry.register(...)` there, and its import in `devices/commands/__init__.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar

from django.utils import timezone

from devices import channels
from devices.bulk import insert_rows
from devices.choices import DeviceState
from devices.models import Command, Device, Push
from mdm.errors import ServiceError

ALL_TYPES = "*"


class CommandType:
    name: ClassVar[str] = ""
    priority: ClassVar[int] = 50  # lower runs first; a wipe is 0
    lifetime: ClassVar[timedelta | None] = timedelta(days=30)
    # The pending commands a new one of this type ends: its own type's (unless supersedes_own is
    # off: each one matters, as a key rotation's does), more types, or ALL_TYPES; and what the
    # ended ones say.
    supersedes_own: ClassVar[bool] = True
    supersedes: ClassVar[tuple[str, ...]] = ()
    superseded_reason: ClassVar[str] = "superseded by a newer command"

    def check(self, device: Device) -> None:
        """Raise ServiceError when the device may not receive this command now (the caller holds
        the device's row lock)."""
        if device.state != DeviceState.ACTIVE:
            raise ServiceError("This device is retired.", code="conflict")
        self.check_channel(device)

    def check_channel(self, device: Device) -> None:
        """Refuse a command the device's management channel cannot carry."""
        refused = channels.refusal(device.channel, self.name)
        if refused:
            raise ServiceError(refused, code="conflict")

    def on_acknowledged(self, command: Command, device: Device) -> None:
        """The device did it. Runs in the transaction that records the result."""

    def on_error(self, command: Command, device: Device) -> None:
        """The device could not do it. Runs in the transaction that records the result."""

    # Queueing ----------------------------------------------------------------------------------

    def build(self, device: Device, payload: dict, *, push: Push | None = None, now: datetime | None = None) -> Command:
        """An unsaved command of this type for `device`."""
        now = now or timezone.now()
        return Command(
            organization_id=device.organization_id,
            device=device,
            type=self.name,
            payload=payload,
            priority=self.priority,
            created_at=now,
            expires_at=now + self.lifetime if self.lifetime else None,
            push=push,
        )

    def supersede_pending(self, device_ids: Iterable[object], *, now: datetime | None = None) -> int:
        """End the pending commands of the devices that a new command of this type replaces."""
        pending = Command.objects.filter(device_id__in=list(device_ids))
        if ALL_TYPES not in self.supersedes:
            types = (self.name, *self.supersedes) if self.supersedes_own else self.supersedes
            if not types:
                return 0
            pending = pending.filter(type__in=types)
        return pending.supersede(self.superseded_reason, now=now)

    def queue(self, device: Device, payload: dict, *, now: datetime | None = None) -> Command:
        """Check, supersede, write and hand over one command, in the caller's transaction (which
        should hold the device's row lock)."""
        self.check(device)
        now = now or timezone.now()
        self.supersede_pending([device.pk], now=now)
        command = self.build(device, payload, now=now)
        command.save(force_insert=True)
        channels.send([command])
        return command

    def queue_many(
        self, items: Sequence[tuple[Device, dict]], *, push: Push | None = None, now: datetime | None = None
    ) -> list[Command]:
        """The same for many devices at once (a push's batch): one UPDATE, one COPY, one hand-over
        per channel. The caller has locked the devices and chosen them (active ones)."""
        now = now or timezone.now()
        self.supersede_pending([device.pk for device, _ in items], now=now)
        commands = [self.build(device, payload, push=push, now=now) for device, payload in items]
        insert_rows(Command, commands)
        channels.send(commands)
        return commands


T = TypeVar("T", bound=CommandType)


class Registry:
    def __init__(self) -> None:
        self.types: dict[str, CommandType] = {}

    def register(self, command_type: T) -> T:
        if not command_type.name or command_type.name in self.types:
            raise ValueError(f"Command type {command_type.name!r} is unnamed or registered twice.")
        self.types[command_type.name] = command_type
        return command_type

    def __getitem__(self, name: str) -> CommandType:
        return self.types[name]


registry = Registry()
