"""Remote wipe of the corporate persona, lock and unlock, mass-wipe protection, enforcement.

A wipe is one service in one transaction: the container goes `wipe_pending`, its keys are
destroyed at once (crypto-shredding: whatever the device still holds can never be decrypted
again, even before it obeys), a top-priority `wipe_corporate` command is queued, and an audit
event names who asked and why. When the device acknowledges, it is retired. Nothing personal is
addressed: no command, endpoint or field of the protocol reaches it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.audit import device_event_emit
from devices.choices import ContainerState, DeviceState, ManagementChannel
from devices.commands.lock import lock_corporate, unlock_corporate
from devices.commands.wipe import wipe_corporate
from devices.keys import container_keys_destroy
from devices.models import Command, Device, Wipe
from mdm.actors import SYSTEM, Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError
from mdm.models import Organization, User

logger = logging.getLogger(__name__)

MAX_REASON = 500


def _actor_label(actor: Actor | None) -> str:
    return (actor or SYSTEM).label[:254]


def _send(wipe: Wipe, device: Device) -> None:
    """Destroy the keys and queue the command: the irreversible part of a wipe."""
    Device.objects.filter(pk=device.pk).update(container_state=ContainerState.WIPE_PENDING)
    device.container_state = ContainerState.WIPE_PENDING
    container_keys_destroy(device=device)
    wipe.command = wipe_corporate.queue_wipe(device, wipe)
    wipe.state = Wipe.State.PENDING


def _recent_wipes(organization_id, now: datetime) -> int:
    window = timedelta(minutes=settings.MDM_MASS_WIPE_WINDOW_MINUTES)
    return (
        Wipe.objects.filter(organization_id=organization_id, requested_at__gte=now - window)
        .exclude(state=Wipe.State.CANCELLED)
        .count()
    )


def wipes_before_hold(*, organization_id, now: datetime | None = None) -> int:
    """How many more wipes the organization may request now before the mass-wipe hold keeps the
    next ones for a second admin (what a bulk wipe warns of before it starts)."""
    return max(0, settings.MDM_MASS_WIPE_THRESHOLD - _recent_wipes(organization_id, now or timezone.now()))


def corporate_wipe_request(
    *,
    device: Device,
    reason: str,
    actor: Actor | None = None,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> Wipe:
    """Wipe a device's corporate container (or hold the request past the mass-wipe threshold).

    Two admins wiping the same device at once get the same, single wipe.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why: a wipe needs a reason.", field="reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"At most {MAX_REASON} characters.", field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        # Lock order everywhere: the device, then its organization (which the audit log locks too).
        device = Device.objects.select_for_update().get(pk=device.pk)
        # One wipe decision at a time per organization: the mass-wipe count must not race.
        Organization.objects.select_for_update().only("id").get(pk=device.organization_id)
        wipe_corporate.check(device)
        existing = Wipe.objects.filter(device=device, state__in=Wipe.OPEN_STATES).first()
        if existing is not None:
            return existing
        held = _recent_wipes(device.organization_id, now) >= settings.MDM_MASS_WIPE_THRESHOLD
        wipe = Wipe(
            organization_id=device.organization_id,
            device=device,
            reason=reason,
            requested_by=_actor_label(actor),
            requested_by_user=(actor or SYSTEM).user,
            requested_at=now,
            state=Wipe.State.HELD,
        )
        if not held:
            _send(wipe, device)
        wipe.save(force_insert=True)
        audit_event_record(
            organization=device.organization,
            action="wipe.held" if held else "wipe.requested",
            actor=actor,
            target=device,
            details={"wipe_id": str(wipe.pk), "reason": reason},
            client_ip=client_ip,
            at=now,
        )
    return wipe


def wipe_approve(*, wipe: Wipe, actor: Actor, client_ip: str | None = None) -> Wipe:
    """A second admin lets a held wipe go. The one who asked for it cannot."""
    with transaction.atomic():
        wipe = Wipe.objects.select_for_update().select_related("device").get(pk=wipe.pk)
        if wipe.state != Wipe.State.HELD:
            raise ServiceError(f"This wipe is {wipe.state}, not held.", code="conflict")
        # The person counts, not the label: a member approving through their API token is still
        # the member who asked.
        if actor.is_same_person(wipe.requested_by_user_id):
            raise ServiceError(
                "A held wipe needs the approval of a second admin, not of the one who requested it.",
                code="second_admin_required",
                status=403,
            )
        device = Device.objects.select_for_update().get(pk=wipe.device_id)
        wipe_corporate.check(device)
        wipe.approved_by = _actor_label(actor)
        wipe.approved_at = timezone.now()
        _send(wipe, device)
        wipe.save()
        audit_event_record(
            organization=device.organization,
            action="wipe.approved",
            actor=actor,
            target=device,
            details={"wipe_id": str(wipe.pk), "reason": wipe.reason, "requested_by": wipe.requested_by},
            client_ip=client_ip,
        )
    return wipe


def wipe_cancel(*, wipe: Wipe, actor: Actor, client_ip: str | None = None) -> Wipe:
    """Cancel a held wipe. (A sent wipe cannot be taken back: its keys are already gone.)"""
    with transaction.atomic():
        wipe = Wipe.objects.select_for_update().select_related("device").get(pk=wipe.pk)
        if wipe.state != Wipe.State.HELD:
            raise ServiceError(f"Only a held wipe can be cancelled; this one is {wipe.state}.", code="conflict")
        wipe.state = Wipe.State.CANCELLED
        wipe.cancelled_by = _actor_label(actor)
        wipe.cancelled_at = timezone.now()
        wipe.save(update_fields=["state", "cancelled_by", "cancelled_at"])
        audit_event_record(
            organization=wipe.device.organization,
            action="wipe.cancelled",
            actor=actor,
            target=wipe.device,
            details={"wipe_id": str(wipe.pk), "reason": wipe.reason, "requested_by": wipe.requested_by},
            client_ip=client_ip,
        )
    return wipe


def corporate_lock(
    *,
    device: Device,
    lock: bool,
    actor: Actor | None = None,
    client_ip: str | None = None,
    reason: str = "",
) -> Command:
    """Queue a lock (or unlock) of the corporate container."""
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        command = (lock_corporate if lock else unlock_corporate).queue(device, {})
        audit_event_record(
            organization=device.organization,
            action="device.lock_requested" if lock else "device.unlock_requested",
            actor=actor,
            target=device,
            details={"command_id": str(command.pk), "reason": reason},
            client_ip=client_ip,
        )
    return command


def employee_wipe(
    *,
    organization: Organization,
    employee: User,
    reason: str,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> list[Wipe]:
    """Wipe every active device of an employee (they left): each its own tracked wipe."""
    devices = Device.objects.filter(organization=organization, owner=employee, state=DeviceState.ACTIVE)
    return [
        corporate_wipe_request(device=device, reason=reason, actor=actor, client_ip=client_ip)
        for device in devices.order_by("enrolled_at")
    ]


def enforcement_apply(*, now: datetime | None = None) -> dict[str, int]:
    """Apply each persona's enforcement rules: lock the container of a device non-compliant for
    N days, wipe it after M days; and wipe an Android work profile offline for longer than the
    persona allows. Each action is audited and visible on the device."""
    now = now or timezone.now()
    counts = {"locked": 0, "wiped": 0, "offline": 0}
    candidates = (
        Device.objects.filter(state=DeviceState.ACTIVE, compliant=False, noncompliant_since__isnull=False)
        .exclude(container_state__in=[ContainerState.WIPE_PENDING, ContainerState.WIPED])
        .select_related("persona")
    )
    actor = Actor.system("enforcement rules")
    counts["offline"] = _enforce_offline(now, actor)
    for device in candidates.iterator(chunk_size=500):
        persona = device.persona
        if persona is None:
            continue
        try:
            _enforce(device, persona, now, actor, counts)
        except ServiceError as exc:  # retired or wiped since the query: the next device
            logger.info("enforcement skipped %s: %s", device.pk, exc.message)
    return counts


def _enforce_offline(now: datetime, actor: Actor) -> int:
    """The persona's offline rule for Android work profiles, which have no offline timer of their
    own (an agent wipes its container by itself): a device Google has not heard from for the
    persona's max_offline_days gets a corporate wipe, which Google runs as soon as the phone is
    online again. Through the same wipe service: the mass-wipe hold applies."""
    wiped = 0
    stale = (
        Device.objects.filter(
            state=DeviceState.ACTIVE,
            channel=ManagementChannel.ANDROID,
            persona__isnull=False,
            last_seen_at__isnull=False,
        )
        .exclude(container_state__in=[ContainerState.WIPE_PENDING, ContainerState.WIPED])
        .select_related("persona")
    )
    for device in stale.iterator(chunk_size=500):
        persona, seen = device.persona, device.last_seen_at
        if persona is None or seen is None or now - seen < timedelta(days=persona.max_offline_days):
            continue
        days = persona.max_offline_days
        if Wipe.objects.filter(device=device, state__in=Wipe.OPEN_STATES).exists():
            continue
        try:
            with transaction.atomic():
                corporate_wipe_request(
                    device=device,
                    reason=f"Offline for more than {days} days (persona {persona.name}).",
                    actor=actor,
                    now=now,
                )
                device_event_emit(
                    device=device, what="offline_timer_fired", max_offline_days=days, last_seen_at=seen.isoformat()
                )
            wiped += 1
        except ServiceError as exc:
            logger.info("offline rule skipped %s: %s", device.pk, exc.message)
    return wiped


def _enforce(device: Device, persona, now: datetime, actor: Actor, counts: dict[str, int]) -> None:
    """One device: wipe past M days, else lock past N days (each at most once)."""
    if device.noncompliant_since is None:  # compliant again since the query
        return
    days = (now - device.noncompliant_since).total_seconds() / 86400
    if persona.wipe_after_days is not None and days >= persona.wipe_after_days:
        if not Wipe.objects.filter(device=device, state__in=Wipe.OPEN_STATES).exists():
            corporate_wipe_request(
                device=device,
                reason=f"Non-compliant for {persona.wipe_after_days} days (persona {persona.name}).",
                actor=actor,
                now=now,
            )
            counts["wiped"] += 1
    elif persona.block_after_days is not None and days >= persona.block_after_days:
        pending_lock = Command.objects.filter(device=device, type=lock_corporate.name).pending().exists()
        if device.container_state != ContainerState.LOCKED and not pending_lock:
            corporate_lock(
                device=device,
                lock=True,
                actor=actor,
                reason=f"Non-compliant for {persona.block_after_days} days (persona {persona.name}).",
            )
            counts["locked"] += 1
