from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices.audit import device_event_emit
from devices.choices import ContainerState, DeviceState
from devices.commands.apply_policy import apply_policy
from devices.commands.base import CommandType, registry
from devices.keys import new_container_key
from devices.models import ContainerKey, Device
from mdm.errors import ServiceError

DEFAULT_ROTATION_DAYS = 90


class RotateContainerKey(CommandType):
    """Fetch the new container key (`{"key_id", "version"}`) and re-encrypt the container."""

    name = "rotate_container_key"
    priority = 20
    # Each rotation names its own key version: a device offline across two gets both, in order.
    supersedes_own = False

    def check(self, device: Device) -> None:
        super().check(device)
        if device.container_state in (ContainerState.WIPE_PENDING, ContainerState.WIPED):
            raise ServiceError("This device's corporate container is being wiped.", code="conflict")

    @transaction.atomic
    def rotate(self, device: Device, *, expected_key_id: object = None) -> ContainerKey | None:
        """A new active key version; the old one retires (kept wrapped, so nothing is lost until
        the device has moved its data). The device is told with this command and gets a new
        policy version naming the new key.

        Re-checked under the device's lock: a device retired or being wiped meanwhile, or a key
        already rotated by someone else (`expected_key_id`), is left alone (None).
        """
        device = Device.objects.select_for_update().get(pk=device.pk)
        try:
            self.check(device)
        except ServiceError:
            return None
        active = ContainerKey.objects.select_for_update().filter(device=device, state=ContainerKey.State.ACTIVE).first()
        if active is None or (expected_key_id is not None and active.pk != expected_key_id):
            return None
        ContainerKey.objects.filter(pk=active.pk).update(state=ContainerKey.State.RETIRED, retired_at=timezone.now())
        latest = ContainerKey.objects.filter(device=device).aggregate(v=Max("version"))["v"] or 0
        key = new_container_key(device, latest + 1)
        self.queue(device, {"key_id": str(key.pk), "version": key.version})
        apply_policy.issue(device)
        device_event_emit(
            device=device, what="container_key_rotated", key_id=str(key.pk), version=key.version,
            previous_version=active.version,
        )  # fmt: skip
        return key


rotate_container_key = registry.register(RotateContainerKey())


def container_key_rotate(*, device: Device, expected_key_id: object = None) -> ContainerKey | None:
    """Rotate the device's container key now (see RotateContainerKey.rotate)."""
    return rotate_container_key.rotate(device, expected_key_id=expected_key_id)


def container_keys_rotate_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Rotate every active key older than its persona's interval (no persona: 90 days).

    The database narrows to keys older than a day (the shortest interval); the exact interval,
    which differs per persona, is compared here, portably across PostgreSQL and SQLite.
    """
    now = now or timezone.now()
    candidates = (
        ContainerKey.objects.filter(
            state=ContainerKey.State.ACTIVE, device__state=DeviceState.ACTIVE, created_at__lte=now - timedelta(days=1)
        )
        .annotate(interval=Coalesce(F("device__persona__key_rotation_days"), DEFAULT_ROTATION_DAYS))
        .select_related("device")
        .order_by("created_at")
    )
    rotated = 0
    for key in candidates.iterator(chunk_size=500):
        if key.created_at > now - timedelta(days=key.interval):
            continue
        if container_key_rotate(device=key.device, expected_key_id=key.pk) is not None:
            rotated += 1
        if limit is not None and rotated >= limit:
            break
    return rotated
