"""The transactional outbox: every event bound for the organizations' SIEM destinations.

`outbox_emit` writes one row in the caller's transaction (one INSERT, nothing else): the event
exists exactly when the change it tells of committed. Delivery is the events app's business; it
learns of new rows from a debounced kick after commit and from its beat task.

Ordering without gaps. Rows get their `seq` from `outbox_sequence`, which runs under one lock
(a PostgreSQL advisory lock held until its transaction ends) and numbers the rows it can see, in
`id` order, after the highest seq given so far. A transaction still open is invisible to it and
gets a higher seq once it commits, so seq order is the order in which events became visible, and
a reader that advances a cursor over seq never skips an event (an `id > cursor` reader would skip
the event of a transaction that took its id early and committed late).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max

from mdm.celery import app as celery_app
from mdm.models import OutboxEvent

logger = logging.getLogger(__name__)

DISPATCH_TASK = "events.tasks.events_dispatch_task"
_KICK_KEY = "events:dispatch-kick"
# Any constant: the one advisory lock the sequencer takes (it spells "outbox" in ASCII).
_SEQUENCER_LOCK = 0x6F7574626F78


def outbox_emit(*, organization_id: Any, type: str, data: dict[str, Any], at: datetime | None = None) -> OutboxEvent:
    """Write one event in the caller's transaction. `type` is `audit.<action>` or `device.<what>`."""
    event = OutboxEvent(organization_id=organization_id, type=type, data=data)
    if at is not None:
        event.created_at = at
    event.save(force_insert=True)
    if settings.MDM_EVENTS_KICK:
        transaction.on_commit(_kick, robust=True)
    return event


def _kick() -> None:
    """Ask for a dispatch soon, at most once a second whatever the rate of events (the beat
    dispatches every few seconds anyway: a lost kick only delays)."""
    if cache.add(_KICK_KEY, 1, timeout=1):
        celery_app.send_task(DISPATCH_TASK, expires=30)


def outbox_sequence(*, batch_size: int = 1000) -> int:
    """Give the next seq numbers to visible rows that have none, in id order; return how many."""
    numbered = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEQUENCER_LOCK])
            # SQLite (the embedded default) has one writer at a time; the unique seq is the backstop.
            rows = list(OutboxEvent.objects.filter(seq__isnull=True).order_by("id").only("id")[:batch_size])
            if not rows:
                return numbered
            last = OutboxEvent.objects.aggregate(m=Max("seq"))["m"] or 0
            for offset, row in enumerate(rows, start=1):
                row.seq = last + offset
            OutboxEvent.objects.bulk_update(rows, ["seq"])
            numbered += len(rows)
        if len(rows) < batch_size:
            return numbered


def outbox_head() -> int:
    """The highest seq given so far (a new destination starts after it)."""
    return OutboxEvent.objects.aggregate(m=Max("seq"))["m"] or 0
