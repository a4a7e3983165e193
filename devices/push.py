"""Policy pushes: a persona change reaches every device of the persona, in batches.

A push is one `Push` row and one Celery task that walks the persona's active devices by primary
key, BATCH_SIZE at a time. Each batch is one transaction: lock the devices, compile and sign a
`PolicyVersion` for each (version = the device's last + 1), queue an `apply_policy` command,
retire older pending `apply_policy` commands of those devices, and move the push's cursor. A
task run twice (a redelivered message, a worker killed half-way) resumes after the last
committed batch, so no device gets two commands or versions for one push.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, F
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices.choices import PENDING_COMMAND_STATES, CommandState, DeviceState
from devices.commands import registry
from devices.models import Command, ContainerKey, Device, PolicyVersion, Push
from devices.policy import new_policy_versions
from devices.wakeups import wake_devices
from mdm.celery import enqueue_on_commit
from personas.compiler import persona_template
from personas.models import Persona
from personas.services import spec_of

logger = logging.getLogger(__name__)

BATCH_SIZE = settings.MDM_PUSH_BATCH_SIZE
APPLY_POLICY = "apply_policy"


def push_start_for_persona(
    *, persona: Persona, actor: dict[str, str] | None = None, device_ids: list[str] | None = None
) -> Push:
    """Create a push of the persona's current revision and publish its task after commit.

    With `device_ids`, only those devices (just assigned to the persona) are pushed to.
    """
    from devices.tasks import push_fanout_task

    with transaction.atomic():
        targets = Device.objects.filter(persona=persona, state=DeviceState.ACTIVE)
        if device_ids is not None:
            targets = targets.filter(pk__in=device_ids)
        push = Push.objects.create(
            organization_id=persona.organization_id,
            persona=persona,
            persona_revision=persona.revision,
            targeted=targets.count(),
            device_ids=device_ids,
            requested_by=(actor or {}).get("actor_label", "system")[:254],
        )
        if device_ids is None:
            # An older push still in flight would only deliver an older revision: stop it.
            Push.objects.filter(persona=persona, state__in=[Push.State.PENDING, Push.State.RUNNING]).exclude(
                pk=push.pk
            ).update(state=Push.State.SUPERSEDED, finished_at=timezone.now())
        enqueue_on_commit(push_fanout_task, str(push.pk))
    return push


MAX_ASSIGN = 1000


def persona_assign(
    *,
    persona: Persona,
    device_ids: list,
    actor: dict[str, str] | None = None,
    client_ip: str | None = None,
) -> Push:
    """Move devices of the persona's organization to the persona, and push it to them."""
    from mdm.audit import audit_event_record
    from mdm.services import ServiceError

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


def insert_rows(model, objects: list) -> None:
    """Insert new rows in bulk: COPY on PostgreSQL (the fastest way in, by far, for a batch of
    policy documents), bulk_create elsewhere. Primary keys must be set already (UUIDs) or be
    database-generated (then the objects do not learn them)."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=BATCH_SIZE)
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objects:
            copy.write_row([f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields])


def push_run_batch(*, push_id, template: dict) -> bool:
    """Process the next batch of a push. True when there may be more to do."""
    with transaction.atomic():
        push = Push.objects.select_for_update().get(pk=push_id)
        if push.state in (Push.State.DONE, Push.State.SUPERSEDED):
            return False
        devices_qs = Device.objects.filter(persona_id=push.persona_id, state=DeviceState.ACTIVE).order_by("pk")
        if push.device_ids is not None:
            devices_qs = devices_qs.filter(pk__in=push.device_ids)
        if push.cursor is not None:
            devices_qs = devices_qs.filter(pk__gt=push.cursor)
        devices = list(devices_qs.select_for_update(of=("self",))[:BATCH_SIZE])
        now = timezone.now()
        if not devices:
            Push.objects.filter(pk=push.pk).update(state=Push.State.DONE, finished_at=now)
            return False
        keys = {
            key.device_id: key
            for key in ContainerKey.objects.filter(device__in=devices, state=ContainerKey.State.ACTIVE)
        }
        versions = new_policy_versions(
            template=template, entries=[(device, keys[device.pk]) for device in devices if device.pk in keys]
        )
        touched = [version.device for version in versions]
        commands = [
            registry.build(
                APPLY_POLICY, device=version.device, payload={"version": version.version}, push=push, now=now
            )
            for version in versions
        ]
        # Older apply_policy commands still pending would only bring an older version.
        Command.objects.filter(device__in=touched, type=APPLY_POLICY, state__in=PENDING_COMMAND_STATES).update(
            state=CommandState.EXPIRED, completed_at=now, detail="superseded by a newer policy version"
        )
        insert_rows(PolicyVersion, versions)
        # Every touched device moved to its version + 1 (their rows are locked): one plain UPDATE.
        Device.objects.filter(pk__in=[device.pk for device in touched]).update(
            policy_version=Coalesce(F("policy_version"), 0) + 1
        )
        insert_rows(Command, commands)
        Push.objects.filter(pk=push.pk).update(
            state=Push.State.RUNNING,
            cursor=devices[-1].pk,
            processed=push.processed + len(devices),
            batches=push.batches + 1,
            started_at=push.started_at or now,
            progressed_at=now,
        )
        device_ids = [device.pk for device in touched]
        transaction.on_commit(lambda: wake_devices(device_ids))
    return len(devices) == BATCH_SIZE


def push_run(push_id) -> Push:
    """Run a push to the end (the Celery task's body). Safe to call again at any point."""
    push = Push.objects.select_related("persona").get(pk=push_id)
    persona = push.persona
    if persona.revision != push.persona_revision:
        # The persona changed again: a newer push carries the newer revision.
        Push.objects.filter(pk=push.pk, state__in=[Push.State.PENDING, Push.State.RUNNING]).update(
            state=Push.State.SUPERSEDED, finished_at=timezone.now()
        )
        return Push.objects.get(pk=push_id)
    template = persona_template(persona, spec_of(persona))
    pause = settings.MDM_PUSH_BATCH_PAUSE_SECONDS
    while push_run_batch(push_id=push_id, template=template):
        if pause:
            time.sleep(pause)  # spreads a large push's load on the database
    push_run_batch(push_id=push_id, template=template)  # marks it done when nothing is left
    return Push.objects.get(pk=push_id)


def pushes_resume(*, stale_seconds: int = 300) -> int:
    """Publish the task again for pushes that stopped making progress (their task was lost).

    Safe whatever happened: a push resumes after its last committed batch, and a task for a
    push that is done or superseded does nothing.
    """
    from devices.tasks import push_fanout_task

    threshold = timezone.now() - timedelta(seconds=stale_seconds)
    stalled = list(
        Push.objects.filter(
            state__in=[Push.State.PENDING, Push.State.RUNNING], progressed_at__lte=threshold
        ).values_list("pk", flat=True)[:1000]
    )
    for push_id in stalled:
        Push.objects.filter(pk=push_id).update(progressed_at=timezone.now())
        push_fanout_task.delay(str(push_id))
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
        "requested_by": push.requested_by,
        "created_at": push.created_at,
        "started_at": push.started_at,
        "finished_at": push.finished_at,
    }
