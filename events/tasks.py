"""Celery tasks of the events app. Thin and idempotent: a second run of either finds nothing to
do, or finds the lease taken."""

from __future__ import annotations

from celery import shared_task

from events import delivery


@shared_task
def events_dispatch_task() -> int:
    """Every few seconds (beat), and kicked after commits that wrote events: number new outbox
    rows and start a delivery run for each destination with work due."""
    ids = delivery.destinations_dispatch()
    for destination_id in ids:
        event_destination_deliver_task.apply_async(args=[destination_id], expires=300)
    return len(ids)


@shared_task
def event_destination_deliver_task(destination_id: str) -> int:
    """One destination's delivery run (under its lease: a duplicate task returns at once)."""
    report = delivery.destination_deliver(destination_id=destination_id)
    # Stopped by the run's time limit with work left, most likely: keep going.
    worked = report.leased and not report.failed and report.batches and report.delivered
    if worked and delivery.destinations_dispatch_one(destination_id):
        event_destination_deliver_task.apply_async(args=[destination_id], expires=300)
    return report.delivered


@shared_task
def events_prune_task() -> dict:
    return delivery.events_prune()
