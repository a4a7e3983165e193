"""Management channels: how the server reaches a device, and how the device's answers come back.

A device is managed through exactly one channel (`Device.channel`). Commands are always written
to the device's outbox (`Command` rows, in the transaction that decided them), then handed to the
device's channel, which takes them to the device its own way:

- `agent`: the agent protocol. The agent fetches its commands with a poll or a long poll
  (`devices.channels.agent`), woken by a Redis hint after the commit; its results arrive on the
  agent API.
- `android`: Android Enterprise (`devices.channels.android`): commands sent to Google's Android
  Management API by a task after commit, results arriving as notifications (or asked for).

Either way, results go through `devices.commands.results.command_record_result`. The command
layer and the services above it talk to the channel, never to a transport.
"""

from devices.channels import agent, android  # noqa: F401  (registration: every channel is known once imported)
from devices.channels.base import Channel, refusal, send

__all__ = ["Channel", "refusal", "send"]
