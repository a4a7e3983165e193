"""What every management channel does, and the registry of channels (see devices.channels)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import ClassVar

from devices.models import Command


class Channel(ABC):
    name: ClassVar[str]

    @abstractmethod
    def send(self, commands: Sequence[Command]) -> None:
        """Take commands just written to the outbox to their devices, in the caller's transaction:
        whatever leaves this process must wait for the commit."""

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


def send(commands: Sequence[Command]) -> None:
    """Hand commands to each one's device's channel (one call per channel)."""
    by_channel: dict[str, list[Command]] = defaultdict(list)
    for command in commands:
        by_channel[command.device.channel].append(command)
    for name, batch in by_channel.items():
        _CHANNELS[name].send(batch)
