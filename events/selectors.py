"""Reads about destinations: what is still to deliver, and how late it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from events.choices import DestinationState
from events.models import EventDestination
from events.services import type_filter_q
from mdm.models import OutboxEvent


@dataclass(frozen=True)
class DestinationLag:
    organization_slug: str
    destination_id: str
    name: str
    kind: str
    state: str
    enabled: bool
    pending: int  # events after the cursor that this destination will receive
    lag_seconds: float  # the age of the oldest of them; 0 when none is pending


def _lag_of(destination: EventDestination, now) -> DestinationLag:
    # Unnumbered rows (seq NULL, the sequencer has not run yet) are pending too: they come after
    # every cursor.
    pending_rows = OutboxEvent.objects.filter(organization_id=destination.organization_id).filter(
        type_filter_q(destination.event_types)
    )
    after = pending_rows.filter(seq__gt=destination.cursor) | pending_rows.filter(seq__isnull=True)
    stats = after.aggregate(n=Count("id"), oldest=Min("created_at"))
    oldest = stats["oldest"]
    return DestinationLag(
        organization_slug=destination.organization.slug,
        destination_id=str(destination.pk),
        name=destination.name,
        kind=destination.kind,
        state=destination.state,
        enabled=destination.enabled,
        pending=stats["n"] or 0,
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )


def destination_lag(organization_id: Any = None) -> list[DestinationLag]:
    """Per destination (of one organization, or all): pending events and the lag in seconds.
    One aggregate query per destination, over the (organization, seq) index."""
    now = timezone.now()
    rows = EventDestination.objects.select_related("organization").order_by("organization__slug", "name")
    if organization_id is not None:
        rows = rows.filter(organization_id=organization_id)
    return [_lag_of(destination, now) for destination in rows]


def destination_lag_one(destination: EventDestination) -> DestinationLag:
    return _lag_of(destination, timezone.now())


def failing_destinations(organization_id: Any) -> list[EventDestination]:
    return list(
        EventDestination.objects.filter(organization_id=organization_id, state=DestinationState.FAILING).order_by(
            "name"
        )
    )
