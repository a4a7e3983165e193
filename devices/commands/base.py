"""What every command type says about itself: its priority and lifetime, whether a device may
receive it, and what its result does on the server."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from devices.models import Command, Device


class CommandType:
    name: str = ""
    priority: int = 50  # lower runs first; a wipe is 0
    lifetime: timedelta | None = timedelta(days=30)

    def on_acknowledged(self, command: Command, device: Device) -> None:
        """The agent did it. Runs in the transaction that records the result."""

    def on_error(self, command: Command, device: Device) -> None:
        """The agent could not do it. Runs in the transaction that records the result."""


class Registry:
    def __init__(self):
        self.types: dict[str, CommandType] = {}

    def register(self, command_type: type[CommandType]) -> type[CommandType]:
        instance = command_type()
        if not instance.name or instance.name in self.types:
            raise ValueError(f"Command type {instance.name!r} is unnamed or registered twice.")
        self.types[instance.name] = instance
        return command_type

    def __getitem__(self, name: str) -> CommandType:
        return self.types[name]

    def build(self, name: str, *, device: Device, payload: dict, push=None, now: datetime | None = None) -> Command:
        """An unsaved command of type `name` for `device` (the caller saves or bulk-inserts it)."""
        kind = self.types[name]
        now = now or timezone.now()
        return Command(
            organization_id=device.organization_id,
            device=device,
            type=name,
            payload=payload,
            priority=kind.priority,
            created_at=now,
            expires_at=now + kind.lifetime if kind.lifetime else None,
            push=push,
        )


registry = Registry()
