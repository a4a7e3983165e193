"""Delivering each destination's events: in seq order, at least once, with backoff, never dropped.

A run holds the destination's lease (a conditional UPDATE: one sender per destination), reads a
batch after the cursor, delivers it, then moves the cursor and logs the attempt in one
transaction. A worker killed between the delivery and that commit leaves the cursor where it was:
the batch is sent again (receivers dedupe by the event id). A failure leaves the cursor too and
sets the next attempt after an exponential backoff with jitter; a destination failing for
MDM_EVENTS_FAILING_AFTER_SECONDS is marked failing and its owners are e-mailed once. Its events
wait for it. Once live events are caught up, the run goes on with the destination's replays.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from events.choices import DestinationState, ReplayState
from events.envelope import Envelope
from events.models import DeliveryAttempt, EventDestination, Replay
from events.services import destination_secret, replay_events
from events.transports import Transport, TransportError, kind_get
from mdm.audit import audit_event_record
from mdm.choices import Role
from mdm.models import Membership, OutboxEvent
from mdm.outbox import outbox_sequence

logger = logging.getLogger(__name__)


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Wait before attempt `attempts + 1`: base * 2^(attempts-1), capped, with full jitter over
    its upper half (so destinations that failed together do not retry together)."""
    base = settings.MDM_EVENTS_BACKOFF_BASE_SECONDS
    cap = settings.MDM_EVENTS_BACKOFF_MAX_SECONDS
    wait = min(cap, base * (2 ** max(0, min(attempts - 1, 30))))
    return wait / 2 + (rng or random).random() * wait / 2


def envelope_of(event: OutboxEvent, slug: str) -> Envelope:
    return Envelope(
        id=str(event.event_id),
        type=event.type,
        timestamp=event.created_at,
        organization_id=str(event.organization_id),
        organization_slug=slug,
        data=event.data,
    )


def _matches(event_type: str, prefixes: Sequence[str]) -> bool:
    return not prefixes or event_type.startswith(tuple(prefixes))


@dataclass
class RunReport:
    delivered: int = 0
    batches: int = 0
    failed: bool = False
    leased: bool = True


def _lease(destination_id, token: uuid.UUID, now: datetime) -> bool:
    until = now + timedelta(seconds=settings.MDM_EVENTS_LEASE_SECONDS)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_token=token)
    return bool(EventDestination.objects.filter(free, pk=destination_id).update(lease_until=until, lease_token=token))


def _release(destination_id, token: uuid.UUID) -> None:
    EventDestination.objects.filter(pk=destination_id, lease_token=token).update(lease_until=None, lease_token=None)


def destination_deliver(*, destination_id, now: datetime | None = None) -> RunReport:
    """One run for one destination: batches until caught up, a failure, or MDM_EVENTS_RUN_SECONDS."""
    token = uuid.uuid4()
    report = RunReport()
    if not _lease(destination_id, token, now or timezone.now()):
        report.leased = False
        return report
    try:
        deadline = time.monotonic() + settings.MDM_EVENTS_RUN_SECONDS
        while time.monotonic() < deadline:
            destination = EventDestination.objects.select_related("organization").filter(pk=destination_id).first()
            if destination is None or not destination.enabled or destination.lease_token != token:
                break
            moment = timezone.now()
            if destination.next_attempt_at is not None and destination.next_attempt_at > moment:
                break
            if not _lease(destination_id, token, moment):
                break
            outcome = _live_batch(destination, token)
            if outcome is None:
                outcome = _replay_batch(destination, token)
            if outcome is None:
                break  # caught up
            report.batches += 1
            report.delivered += outcome[0]
            if not outcome[1]:
                report.failed = True
                break
    finally:
        _release(destination_id, token)
    return report


def _chunk_size() -> int:
    """Envelopes per transport call: each call may take up to the timeout per envelope, and the
    lease is renewed between calls, so a chunk must fit in half a lease."""
    timeout = max(settings.MDM_EVENTS_WEBHOOK_TIMEOUT_SECONDS, 0.001)
    return max(1, int(settings.MDM_EVENTS_LEASE_SECONDS // (2 * timeout)))


def _send(destination: EventDestination, envelopes: list[Envelope], token: uuid.UUID | None = None) -> tuple[int, str]:
    """Deliver in order, renewing the lease as it goes; (how many were delivered, the error or "")."""
    if not envelopes:
        return 0, ""
    kind = kind_get(destination.kind)
    if kind is None:
        return 0, f"The {destination.kind} transport is not available on this server."
    delivered = 0
    size = _chunk_size()
    renewed = time.monotonic()
    transport: Transport | None = None
    try:
        transport = kind.build(destination.config, destination_secret(destination) if kind.has_secret else None)
        for start in range(0, len(envelopes), size):
            if token is not None and time.monotonic() - renewed > settings.MDM_EVENTS_LEASE_SECONDS / 4:
                if not _lease(destination.pk, token, timezone.now()):
                    return delivered, "The delivery lost its lease (it ran too long); another run resends."
                renewed = time.monotonic()
            chunk = envelopes[start : start + size]
            try:
                transport.deliver(chunk)
            except TransportError as exc:
                return delivered + min(max(exc.delivered, 0), len(chunk)), exc.message
            delivered += len(chunk)
    except TransportError as exc:  # from building the transport
        return delivered, exc.message
    except Exception as exc:  # a transport's bug must not stop the others: logged, retried with backoff
        logger.exception("The %s transport failed on %s", destination.kind, destination.pk)
        return delivered, f"{type(exc).__name__}: {exc}"[:1000]
    finally:
        close = getattr(transport, "close", None)
        if callable(close):
            close()
    return delivered, ""


def envelope_test_send(*, destination: EventDestination, actor, client_ip: str | None = None) -> str:
    """Send one `destination.test` event now, outside the outbox (it is not an event of the
    organization's); the error, or "" when delivered. Audited either way."""
    envelope = Envelope(
        id=str(uuid.uuid4()),
        type="destination.test",
        timestamp=timezone.now(),
        organization_id=str(destination.organization_id),
        organization_slug=destination.organization.slug,
        data={"destination": {"id": str(destination.pk), "name": destination.name}},
    )
    _, error = _send(destination, [envelope])
    audit_event_record(
        organization=destination.organization,
        action="event_destination.test_sent",
        actor=actor,
        target=destination,
        details={"name": destination.name, "ok": not error, "error": error[:500]},
        client_ip=client_ip,
    )
    return error


def _seq(event: OutboxEvent) -> int:
    if event.seq is None:  # never: batches are read by seq > cursor
        raise ValueError(f"Outbox event {event.pk} has no seq.")
    return event.seq


def _live_batch(destination: EventDestination, token: uuid.UUID) -> tuple[int, bool] | None:
    """The next batch after the cursor: None when there is none."""
    events = list(
        OutboxEvent.objects.filter(organization_id=destination.organization_id, seq__gt=destination.cursor).order_by(
            "seq"
        )[: settings.MDM_EVENTS_BATCH_SIZE]
    )
    if not events:
        return None
    wanted = [e for e in events if _matches(e.type, destination.event_types)]
    slug = destination.organization.slug
    started = time.monotonic()
    delivered, error = _send(destination, [envelope_of(e, slug) for e in wanted], token)
    duration_ms = int((time.monotonic() - started) * 1000)
    if error:
        delivered = min(delivered, len(wanted) - 1)
        # The cursor moves past what was delivered (and the filtered-out events before the failure).
        failed_seq = _seq(wanted[delivered])
        passed = [e for e in events if _seq(e) < failed_seq]
        cursor = _seq(passed[-1]) if passed else destination.cursor
    else:
        passed = events
        cursor = _seq(events[-1])
    with transaction.atomic():
        owned = _log_attempt(destination, token, events, delivered, error, duration_ms)
        if owned is None:
            return (0, False)  # the lease was lost (this run took too long): the new holder resends
        owned.cursor = max(owned.cursor, cursor)
        _outcome(owned, error)
    return (delivered, not error)


def _replay_batch(destination: EventDestination, token: uuid.UUID) -> tuple[int, bool] | None:
    replay = Replay.objects.filter(destination=destination, state=ReplayState.RUNNING).order_by("created_at").first()
    if replay is None:
        return None
    events = list(
        replay_events(destination, replay.from_at, replay.to_at, after=replay.cursor, upto=replay.upto_seq).order_by(
            "seq"
        )[: settings.MDM_EVENTS_BATCH_SIZE]
    )
    if not events:
        Replay.objects.filter(pk=replay.pk).update(state=ReplayState.DONE, finished_at=timezone.now())
        return (0, True)
    slug = destination.organization.slug
    started = time.monotonic()
    delivered, error = _send(destination, [envelope_of(e, slug) for e in events], token)
    duration_ms = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        owned = _log_attempt(destination, token, events, delivered, error, duration_ms, replay=replay)
        if owned is None:
            return (0, False)
        if delivered:
            Replay.objects.filter(pk=replay.pk).update(cursor=_seq(events[delivered - 1]), sent=F("sent") + delivered)
        _outcome(owned, error)
    return (delivered, not error)


def _log_attempt(
    destination: EventDestination,
    token: uuid.UUID,
    events: list[OutboxEvent],
    delivered: int,
    error: str,
    duration_ms: int,
    replay: Replay | None = None,
) -> EventDestination | None:
    """In the caller's transaction: the destination row, locked, if this run still holds its
    lease (None: it lost it), with the attempt written to the delivery log."""
    owned = EventDestination.objects.select_for_update().filter(pk=destination.pk, lease_token=token).first()
    if owned is None:
        return None
    DeliveryAttempt.objects.create(
        organization_id=destination.organization_id,
        destination_id=destination.pk,
        replay=replay,
        first_seq=_seq(events[0]),
        last_seq=_seq(events[-1]),
        events=delivered,
        ok=not error,
        error=error[:2000],
        duration_ms=duration_ms,
    )
    return owned


def _outcome(destination: EventDestination, error: str) -> None:
    """Record success or failure on the (locked) destination row, and what follows from it."""
    now = timezone.now()
    fields = ["cursor", "attempts", "next_attempt_at", "last_error", "state", "failing_since", "failing_notified_at"]
    if not error:
        recovered = destination.state == DestinationState.FAILING
        destination.attempts = 0
        destination.next_attempt_at = None
        destination.last_error = ""
        destination.state = DestinationState.ACTIVE
        destination.failing_since = None
        destination.failing_notified_at = None
        destination.last_success_at = now
        destination.save(update_fields=[*fields, "last_success_at"])
        if recovered:
            audit_event_record(
                organization=destination.organization,
                action="event_destination.recovered",
                target=destination,
                details={"name": destination.name},
            )
        return
    destination.attempts += 1
    destination.next_attempt_at = now + timedelta(seconds=backoff_seconds(destination.attempts))
    destination.last_error = error[:2000]
    if destination.failing_since is None:
        destination.failing_since = now
    failing_for = (now - destination.failing_since).total_seconds()
    newly_failing = (
        destination.state == DestinationState.ACTIVE and failing_for >= settings.MDM_EVENTS_FAILING_AFTER_SECONDS
    )
    if newly_failing:
        destination.state = DestinationState.FAILING
        destination.failing_notified_at = now
    destination.save(update_fields=fields)
    if newly_failing:
        audit_event_record(
            organization=destination.organization,
            action="event_destination.failing",
            target=destination,
            details={
                "name": destination.name,
                "failing_since": destination.failing_since.isoformat(),
                "last_error": destination.last_error[:500],
            },
        )
        destination_id = destination.pk
        transaction.on_commit(lambda: _notify_owners(destination_id), robust=True)


def _notify_owners(destination_id) -> None:
    destination = EventDestination.objects.select_related("organization").filter(pk=destination_id).first()
    if destination is None:
        return
    owners = list(
        Membership.objects.filter(
            organization_id=destination.organization_id,
            role=Role.OWNER,
            user__is_active=True,
            suspended_at__isnull=True,
        ).values_list("user__email", flat=True)
    )
    if not owners:
        return
    since = destination.failing_since.isoformat(timespec="seconds") if destination.failing_since else "?"
    url = f"{settings.MDM_ISSUER}/console/event-destinations/{destination.pk}/"
    send_mail(
        subject=f"[MDM] Event destination {destination.name!r} is failing",
        message=(
            f"The event destination {destination.name!r} of {destination.organization.name} has failed every "
            f"delivery since {since}.\n\nLast error: {destination.last_error}\n\n"
            "Its events are kept and will be delivered, in order, as soon as it answers again.\n"
            f"Delivery log: {url}\n"
        ),
        from_email=None,
        recipient_list=owners,
        fail_silently=False,
    )


def destinations_dispatch(*, now: datetime | None = None) -> list[str]:
    """Number new outbox rows, then the ids of destinations with work that is due (not leased,
    not waiting for a backoff, with events after their cursor or a running replay)."""
    outbox_sequence()
    now = now or timezone.now()
    due = (
        EventDestination.objects.filter(enabled=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .only("id", "organization_id", "cursor")
    )
    return [str(d.pk) for d in due if _has_work(d)]


def _has_work(destination: EventDestination) -> bool:
    if OutboxEvent.objects.filter(organization_id=destination.organization_id, seq__gt=destination.cursor).exists():
        return True
    return Replay.objects.filter(destination_id=destination.pk, state=ReplayState.RUNNING).exists()


def destinations_dispatch_one(destination_id) -> bool:
    """Whether this destination still has work due now (after a run that stopped on time)."""
    now = timezone.now()
    destination = (
        EventDestination.objects.filter(pk=destination_id, enabled=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .first()
    )
    return destination is not None and _has_work(destination)


def events_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delivery-log rows older than MDM_EVENTS_LOG_DAYS; outbox events older than
    MDM_EVENTS_RETENTION_DAYS that every destination of their organization has passed."""
    now = now or timezone.now()
    log, _ = DeliveryAttempt.objects.filter(at__lt=now - timedelta(days=settings.MDM_EVENTS_LOG_DAYS)).delete()
    old = now - timedelta(days=settings.MDM_EVENTS_RETENTION_DAYS)
    pruned = 0
    org_ids = OutboxEvent.objects.filter(created_at__lt=old).values_list("organization_id", flat=True).distinct()
    for org_id in list(org_ids):
        cursors = list(EventDestination.objects.filter(organization_id=org_id).values_list("cursor", flat=True))
        rows = OutboxEvent.objects.filter(organization_id=org_id, created_at__lt=old, seq__isnull=False)
        if cursors:
            rows = rows.filter(seq__lte=min(cursors))
        deleted, _ = rows.delete()
        pruned += deleted
    return {"log": log, "events": pruned}
