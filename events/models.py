"""Where an organization's events go (destinations), what each delivery attempt did, and replays."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from events.choices import DestinationKind, DestinationState, ReplayState
from mdm.models import Organization


class EventDestination(models.Model):
    """A SIEM receiver of an organization's events: a signed webhook or a syslog server.

    `cursor` is the seq of the last outbox event delivered (or passed over by the type filter):
    delivery resumes right after it, in seq order. A task delivers only while it holds the lease
    (`lease_until` in the future, `lease_token` its own), so one destination has one sender at a
    time. `attempts`, `next_attempt_at` and `failing_since` describe the current run of failures.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="event_destinations")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=DestinationKind.choices)
    config = models.JSONField(default=dict)
    # The webhook signing secret (`whsec_...`), wrapped by mdm's keyring; None for syslog.
    wrapped_secret = models.BinaryField(null=True, blank=True, editable=False)
    # Event type prefixes (`audit.wipe.`, `device.`); empty: every event.
    event_types = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=16, choices=DestinationState.choices, default=DestinationState.ACTIVE)
    cursor = models.BigIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    failing_notified_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="event_destination_name_unique")]
        indexes = [models.Index(fields=["enabled", "next_attempt_at"], name="event_destination_due")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class DeliveryAttempt(models.Model):
    """One attempt to deliver a batch to a destination: the log the console shows (pruned after
    MDM_EVENTS_LOG_DAYS). `first_seq`..`last_seq` is the outbox range the batch covered."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    destination = models.ForeignKey(EventDestination, on_delete=models.CASCADE, related_name="attempts_log")
    replay = models.ForeignKey("Replay", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    events = models.PositiveIntegerField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["destination", "-at"], name="delivery_attempt_recent")]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'failed'} #{self.first_seq}-{self.last_seq}"


class Replay(models.Model):
    """Events of a time range sent again to one destination (same ids: receivers dedupe).

    Only events the destination had already passed are replayed (later ones are on their way
    anyway); `cursor` is the seq of the last one re-sent, `total` fixed when the replay is asked.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    destination = models.ForeignKey(EventDestination, on_delete=models.CASCADE, related_name="replays")
    from_at = models.DateTimeField()
    to_at = models.DateTimeField()
    upto_seq = models.BigIntegerField()
    cursor = models.BigIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=ReplayState.choices, default=ReplayState.RUNNING)
    requested_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["destination", "state", "created_at"], name="replay_running")]

    def __str__(self) -> str:
        return f"replay {self.from_at:%Y-%m-%d %H:%M}..{self.to_at:%Y-%m-%d %H:%M} ({self.state})"
