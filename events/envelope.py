"""The one shape an event leaves the server in, whatever the destination.

A webhook's body is `Envelope.as_json()` (Standard Webhooks' `type`, `timestamp`, `data`, plus
the event's `id` and its organization); a syslog message carries the same JSON, or its CEF
rendering. `id` never changes for an event (retries and replays send it again), so a receiver
drops duplicates by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Envelope:
    id: str
    # `audit.<action>` for an audit event (`audit.device.enrolled`), `device.<what>` for a device
    # event that is not audited (`device.compliance_changed`, `device.command_result`).
    type: str
    timestamp: datetime
    organization_id: str
    organization_slug: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": self.timestamp.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "organization": {"id": self.organization_id, "slug": self.organization_slug},
            "data": self.data,
        }
