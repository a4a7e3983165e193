from __future__ import annotations

from events.delivery import RunReport, destination_deliver
from events.models import EventDestination
from mdm.outbox import outbox_sequence


def deliver(destination: EventDestination, *, ignore_backoff: bool = True) -> RunReport:
    """What the beat and the delivery task do, in-process: number the new events, run once."""
    outbox_sequence()
    if ignore_backoff:
        EventDestination.objects.filter(pk=destination.pk).update(next_attempt_at=None)
    return destination_deliver(destination_id=destination.pk)


def fresh(destination: EventDestination) -> EventDestination:
    return EventDestination.objects.get(pk=destination.pk)
