"""What every management channel does, and the registry of channels (see devices.channels)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import ClassVar, NamedTuple

from devices.models import Command


class Queued(NamedTuple):
    """A command just written to the outbox, as a batch hands it over: its id and its device's."""

    command_id: uuid.UUID
    device_id: uuid.UUID


class Channel(ABC):
    name: ClassVar[str]

    def refuses(self, command_type: str) -> str | None:
        """Why this channel cannot carry a command of this type (None: it can)."""
        return None

    @abstractmethod
    def send(self, commands: Sequence[Command]) -> None:
        """Take commands just written to the outbox to their devices, in the caller's transaction:
        whatever leaves this process must wait for the commit."""

    def send_queued(self, queued: Sequence[Queued]) -> None:
        """The same for a batch given by ids (a push's: building a model instance per command cost
        more than writing it). A channel that needs no more than the ids takes them as they are;
        by default the commands are read back and sent."""
        self.send(list(Command.objects.filter(pk__in=[q.command_id for q in queued]).select_related("device")))

    @abstractmethod
    def notify(self, device_ids: Iterable[object]) -> int:
        """Tell devices that they have work waiting (a hint: the work is in the outbox). Returns
        how many were told."""


_CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    if channel.name in _CHANNELS:
        raise ValueError(f"Channel {channel.name!r} is registered twice.")
    _CHANNELS[channel.name] = channel
    return channel


def refusal(channel: str, command_type: str) -> str | None:
    """Why the channel `channel` cannot carry a command of this type (None: it can)."""
    return _CHANNELS[channel].refuses(command_type)


def send(commands: Sequence[Command]) -> None:
    """Hand commands to each one's device's channel (one call per channel)."""
    by_channel: dict[str, list[Command]] = defaultdict(list)
    for command in commands:
        by_channel[command.device.channel].append(command)
    for name, batch in by_channel.items():
        _CHANNELS[name].send(batch)


def send_queued(by_channel: dict[str, list[Queued]]) -> None:
    """Hand a batch's commands, grouped by their devices' channel names, to those channels."""
    for name, queued in by_channel.items():
        if queued:
            _CHANNELS[name].send_queued(queued)
