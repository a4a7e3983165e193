"""Policy pushes: a persona change reaches every device of the persona, in batches.

A push is one `Push` row and one Celery task that walks the persona's active devices by primary
key, BATCH_SIZE at a time. Each batch is one transaction: lock the devices (one query reading only
the columns the batch needs, the active container key joined in), sign a `PolicyVersion` for each
(version = the device's last + 1; the persona's template is compiled and serialised once per push,
each device's values spliced in), queue an `apply_policy` command, retire older pending
`apply_policy` commands of those devices, and move the push's cursor. A
task run twice (a redelivered message, a worker killed half-way) resumes after the last
committed batch, so no device gets two commands or versions for one push.

One task at a time holds a push, under a lease (`Push.lease_owner`, `lease_expires_at`): the task
claims it, every batch checks, under the push's row lock, that it still holds it and renews it in
the same commit. While a batch runs, the row lock itself shows the holder is alive (claimers skip
locked rows, and PostgreSQL ends a session idle that long inside a batch). A worker that dies
stops renewing: within MDM_PUSH_LEASE_SECONDS + MDM_PUSH_RESUME_SECONDS a beat task hands the
push to a new task, and a holder that was only slow finds another owner at its next batch and
stops before writing anything.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, FilteredRelation, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices.bulk import insert_tuples
from devices.choices import AndroidPolicySync, CommandState, ContainerKeyState, DeviceState, ManagementChannel
from devices.commands.apply_policy import BatchItem, apply_policy
from devices.models import AndroidEnterprise, Device, PolicyVersion, Push
from devices.policy import POLICY_VERSION_FIELDS, PolicyTarget, PolicyTemplate
from mdm.actors import SYSTEM, Actor
from mdm.audit import audit_event_record
from mdm.celery import app as celery_app
from mdm.celery import enqueue_on_commit
from mdm.errors import ServiceError
from personas.compiler import persona_template
from personas.models import Persona
from personas.services import spec_of

logger = logging.getLogger(__name__)

BATCH_SIZE = settings.MDM_PUSH_BATCH_SIZE
# Published by name: devices.tasks wraps this module's functions, so importing it here would be a
# cycle. tests/devices/test_push.py checks that the name is a registered task.
PUSH_FANOUT_TASK = "devices.tasks.push_fanout_task"
ANDROID_SYNC_TASK = "devices.tasks.android_push_sync_task"
LIVE_STATES = (Push.State.PENDING, Push.State.RUNNING)
BATCH_DEVICE_FIELDS = ("id", "organization_id", "signing_kid", "policy_version", "channel")
KEY_ACTIVE = ContainerKeyState.ACTIVE


class PushLeaseLost(Exception):
    """The push was handed to another task: this one must stop, its next batch is not its own."""


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.MDM_PUSH_LEASE_SECONDS)


def push_start_for_persona(
    *, persona: Persona, actor: Actor | None = None, device_ids: list[str] | None = None
) -> Push:
    """Create a push of the persona's current revision and publish its task after commit.

    With `device_ids`, only those devices (just assigned to the persona) are pushed to.
    """
    with transaction.atomic():
        # Agent devices get a command each; Android devices get the persona's one policy at Google.
        targets = Device.objects.filter(persona=persona, state=DeviceState.ACTIVE, channel=ManagementChannel.AGENT)
        if device_ids is not None:
            targets = targets.filter(pk__in=device_ids)
        android = AndroidEnterprise.objects.filter(organization_id=persona.organization_id).exclude(name="").exists()
        push = Push.objects.create(
            # The task published below has a lease's time to take it before the beat sends another.
            lease_expires_at=lease_until(timezone.now()),
            organization_id=persona.organization_id,
            persona=persona,
            persona_revision=persona.revision,
            targeted=targets.count(),
            device_ids=device_ids,
            requested_by=(actor or SYSTEM).label[:254],
            android_sync=AndroidPolicySync.PENDING if android else AndroidPolicySync.NOT_NEEDED,
        )
        if device_ids is None:
            # An older push still in flight would only deliver an older revision: stop it.
            Push.objects.filter(persona=persona, state__in=LIVE_STATES).exclude(pk=push.pk).update(
                state=Push.State.SUPERSEDED, finished_at=timezone.now()
            )
        enqueue_on_commit(celery_app.signature(PUSH_FANOUT_TASK), str(push.pk))
        if android:
            enqueue_on_commit(celery_app.signature(ANDROID_SYNC_TASK), str(push.pk))
    return push


MAX_ASSIGN = 1000


def persona_assign(
    *,
    persona: Persona,
    device_ids: list,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> Push:
    """Move devices of the persona's organization to the persona, and push it to them."""
    ids = sorted({str(device_id) for device_id in device_ids})
    if not ids or len(ids) > MAX_ASSIGN:
        raise ServiceError(f"Give 1 to {MAX_ASSIGN} device ids.", field="devices")
    with transaction.atomic():
        devices = Device.objects.filter(
            organization_id=persona.organization_id, state=DeviceState.ACTIVE, pk__in=ids
        ).select_for_update()
        found = [str(pk) for pk in devices.values_list("pk", flat=True)]
        missing = sorted(set(ids) - set(found))
        if missing:
            raise ServiceError(f"No active device {missing[0]} in this organization.", field="devices")
        Device.objects.filter(pk__in=found).update(persona=persona)
        audit_event_record(
            organization=persona.organization,
            action="persona.devices_assigned",
            actor=actor,
            target=persona,
            details={"devices": len(found), "device_ids": found[:100]},
            client_ip=client_ip,
        )
        return push_start_for_persona(persona=persona, actor=actor, device_ids=found)


def push_claim(*, push_id) -> uuid.UUID | None:
    """Take the push for this task run: the lease token, or None when the push is over or another
    task holds it and is alive.

    A push can be taken when no task holds it (a new push, or one the beat handed over) or its
    lease has run out. A push whose row is locked is skipped, not waited for: a batch is running.
    """
    owner = uuid.uuid4()
    now = timezone.now()
    with transaction.atomic():
        claimable = (
            Push.objects.select_for_update(skip_locked=True)
            .filter(pk=push_id, state__in=LIVE_STATES)
            .filter(Q(lease_owner__isnull=True) | Q(lease_expires_at__lte=now))
        )
        if not list(claimable.values_list("pk", flat=True)):
            return None
        Push.objects.filter(pk=push_id).update(lease_owner=owner, lease_expires_at=lease_until(now))
    return owner


def push_lease_release(*, push_id, owner: uuid.UUID) -> None:
    """Give the push up (its task ends): if it is not done, the beat hands it on at its next run."""
    Push.objects.filter(pk=push_id, lease_owner=owner).update(lease_owner=None, lease_expires_at=timezone.now())


def policy_version_rows(*, policy: PolicyTemplate, targets: list[PolicyTarget]) -> list[tuple]:
    """A batch's signed PolicyVersion rows (a seam of its own: the lease tests slow it down)."""
    return policy.version_rows(targets)


def push_run_batch(*, push_id, template: dict | PolicyTemplate, owner: uuid.UUID) -> bool:
    """Process the next batch of a push held under `owner`'s lease. True when there may be more
    to do; PushLeaseLost (and nothing written) when the push was handed to another task.

    `template` is the persona's policy template, or better its PolicyTemplate, which a push
    prepares once for all its batches (it validates and serialises the template)."""
    policy = template if isinstance(template, PolicyTemplate) else PolicyTemplate(template)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The push's row lock tells claimers this batch's worker is alive. Should the worker
            # vanish without its connection closing, PostgreSQL ends the session after a lease.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                    [str(settings.MDM_PUSH_LEASE_SECONDS * 1000)],
                )
        push = Push.objects.select_for_update().get(pk=push_id)
        if push.state in (Push.State.DONE, Push.State.SUPERSEDED):
            return False
        if push.lease_owner != owner:
            raise PushLeaseLost(f"push {push_id} is now held by another task")
        devices_qs = Device.objects.filter(
            persona_id=push.persona_id, state=DeviceState.ACTIVE, channel=ManagementChannel.AGENT
        ).order_by("pk")
        if push.device_ids is not None:
            devices_qs = devices_qs.filter(pk__in=push.device_ids)
        active_key = Q(container_keys__state=KEY_ACTIVE)
        if push.cursor is not None:
            devices_qs = devices_qs.filter(pk__gt=push.cursor)
            # Implied by the join, but it lets a merge join start the keys at the cursor too,
            # instead of reading every key before it at every batch (quadratic in the push).
            active_key &= Q(container_keys__device_id__gt=push.cursor)
        # Only what the batch needs of each device, as values (no model instances), its active
        # container key joined in (a device without one, a wiped device, is passed over), and only
        # the devices' rows locked.
        rows = list(
            devices_qs.select_for_update(of=("self",))
            .annotate(active_key=FilteredRelation("container_keys", condition=active_key))
            .values_list(*BATCH_DEVICE_FIELDS, "active_key__id", "active_key__version")[:BATCH_SIZE]
        )
        now = timezone.now()
        if not rows:
            Push.objects.filter(pk=push.pk).update(state=Push.State.DONE, finished_at=now, lease_owner=None)
            return False
        targets, items = [], []
        for device_id, organization_id, signing_kid, version, channel, key_id, key_version in rows:
            if key_id is not None:
                version = (version or 0) + 1
                targets.append(PolicyTarget(organization_id, device_id, signing_kid, version, key_id, key_version))
                items.append(BatchItem(device_id, organization_id, channel, version))
        insert_tuples(PolicyVersion, POLICY_VERSION_FIELDS, policy_version_rows(policy=policy, targets=targets))
        # Every touched device moved to its version + 1 (their rows are locked): one plain UPDATE.
        Device.objects.filter(pk__in=[item.device_id for item in items]).update(
            policy_version=Coalesce(F("policy_version"), 0) + 1
        )
        # Older apply_policy commands still pending would only bring an older version: superseded.
        apply_policy.queue_batch(items, push=push, now=now)
        Push.objects.filter(pk=push.pk).update(
            state=Push.State.RUNNING,
            cursor=rows[-1][0],
            processed=push.processed + len(rows),
            batches=push.batches + 1,
            started_at=push.started_at or now,
            progressed_at=now,
            # The heartbeat, in the batch's own commit (counted from now: a batch takes time).
            lease_expires_at=lease_until(timezone.now()),
        )
    return len(rows) == BATCH_SIZE


def push_run(push_id) -> Push:
    """Run a push to the end (the Celery task's body). Safe to call again at any point, and
    from several workers at once: one holds the push, the others return at once."""
    owner = push_claim(push_id=push_id)
    if owner is None:
        logger.info("Push %s is done or held by another task: nothing to do here.", push_id)
        return Push.objects.get(pk=push_id)
    try:
        _push_run_held(push_id, owner)
    except PushLeaseLost:
        logger.warning("Push %s was handed to another task (this one was too slow): stopping.", push_id)
    finally:
        try:
            push_lease_release(push_id=push_id, owner=owner)
        except DatabaseError as exc:  # the lease then runs out by itself
            logger.warning("Could not release push %s: %s", push_id, exc)
    return Push.objects.get(pk=push_id)


def _push_run_held(push_id, owner: uuid.UUID) -> None:
    push = Push.objects.select_related("persona").get(pk=push_id)
    persona = push.persona
    if persona.revision != push.persona_revision:
        # The persona changed again: a newer push carries the newer revision.
        Push.objects.filter(pk=push.pk, state__in=LIVE_STATES).update(
            state=Push.State.SUPERSEDED, finished_at=timezone.now()
        )
        return
    policy = PolicyTemplate(persona_template(persona, spec_of(persona)))
    pause = settings.MDM_PUSH_BATCH_PAUSE_SECONDS
    while push_run_batch(push_id=push_id, template=policy, owner=owner):
        if pause:
            time.sleep(pause)  # spreads a large push's load on the database
    push_run_batch(push_id=push_id, template=policy, owner=owner)  # marks it done when nothing is left


def pushes_resume() -> int:
    """Hand every push whose lease has run out (its task was lost: a worker killed, a broker
    outage) to a new task. Returns how many.

    The hand-over is claimed under `skip_locked`: two runs of this never both hand out one push,
    and a push whose batch is running (its row is locked: the worker is alive) is left alone. The
    push gets a new lease with no owner, so the task published takes it, a copy of that task finds
    it held, and a slow old holder finds another owner at its next batch and stops.
    """
    now = timezone.now()
    with transaction.atomic():
        stalled = list(
            Push.objects.select_for_update(skip_locked=True)
            .filter(state__in=LIVE_STATES, lease_expires_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)[:1000]
        )
        Push.objects.filter(pk__in=stalled).update(lease_owner=None, lease_expires_at=lease_until(now))
        for push_id in stalled:
            enqueue_on_commit(celery_app.signature(PUSH_FANOUT_TASK), str(push_id))
    if stalled:
        logger.info("Resumed %d stalled push(es).", len(stalled))
    return len(stalled)


def push_progress(push: Push) -> dict:
    """targeted / queued / delivered / acknowledged / failed, from the push's commands."""
    counts = dict(push.commands.values_list("state").annotate(n=Count("id")))
    return {
        "id": str(push.pk),
        "persona": {"id": str(push.persona_id), "revision": push.persona_revision},
        "state": push.state,
        "targeted": push.targeted,
        "processed": push.processed,
        "queued": counts.get(CommandState.QUEUED, 0),
        "delivered": counts.get(CommandState.DELIVERED, 0),
        "acknowledged": counts.get(CommandState.ACKNOWLEDGED, 0),
        "failed": counts.get(CommandState.ERROR, 0),
        "expired": counts.get(CommandState.EXPIRED, 0),
        "android": _android_progress(push),
        "requested_by": push.requested_by,
        "created_at": push.created_at,
        "started_at": push.started_at,
        "finished_at": push.finished_at,
    }


def _android_progress(push: Push) -> dict:
    """The Android part: where the persona's policy stands at Google, and how many of the push's
    Android devices report the version Google gave it."""
    devices = Device.objects.filter(
        persona_id=push.persona_id, state=DeviceState.ACTIVE, channel=ManagementChannel.ANDROID
    )
    if push.device_ids is not None:
        devices = devices.filter(pk__in=push.device_ids)
    version = push.android_policy_version
    return {
        "sync": push.android_sync,
        "policy_version": version,
        "detail": push.android_detail,
        "targeted": devices.count(),
        "applied": devices.filter(applied_policy_version__gte=version).count() if version else 0,
    }
