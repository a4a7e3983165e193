"""Each device's corporate-container data keys: created at enrollment, kept only wrapped under
the KEK, handed to the device only sealed to its X25519 key (RFC 9180 HPKE), rotated on the
persona's schedule, destroyed by a wipe or an unenroll (crypto-shredding)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from django.db import transaction
from django.db.models import F, Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices.commands import registry
from devices.models import ContainerKey, Device
from devices.wakeups import wake_devices
from mdm.keyring import keyring, register_wrapped

HPKE_SUITE_NAME = "HPKE-Base/DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
ROTATE_COMMAND = "rotate_container_key"


def container_key_context(key_id, version: int) -> str:
    """The associated data binding a wrapped key to its id and version."""
    return f"container-key|{key_id}|{version}"


register_wrapped("devices.ContainerKey", "wrapped_key", lambda row: container_key_context(row.pk, row.version))


def hpke_info(device_id, key_id, version: int) -> bytes:
    return f"mdm/container-key/v1|{device_id}|{key_id}|{version}".encode()


def _new_key(device: Device, version: int) -> ContainerKey:
    key = ContainerKey(organization_id=device.organization_id, device=device, version=version)
    key.wrapped_key = keyring().wrap(os.urandom(32), context=container_key_context(key.id, version))
    key.save(force_insert=True)
    return key


def container_key_create(*, device: Device) -> ContainerKey:
    """The first key of a newly enrolled device (in the enrollment transaction)."""
    return _new_key(device, 1)


def container_key_active(device_id) -> ContainerKey | None:
    return ContainerKey.objects.filter(device_id=device_id, state=ContainerKey.State.ACTIVE).first()


@transaction.atomic
def container_key_rotate(*, device: Device, expected_key_id=None) -> ContainerKey | None:
    """A new active version; the old one retires (kept wrapped, so nothing is lost until the
    device has moved its data). The device is told with a `rotate_container_key` command, and
    gets a new policy version naming the new key.

    Re-checked under the device's lock: a device retired or being wiped meanwhile, or a key
    already rotated by someone else (`expected_key_id`), is left alone (None).
    """
    from devices.policy import policy_issue_and_notify

    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.state != "active" or device.container_state in ("wipe_pending", "wiped"):
        return None
    active = ContainerKey.objects.select_for_update().filter(device=device, state=ContainerKey.State.ACTIVE).first()
    if active is None or (expected_key_id is not None and active.pk != expected_key_id):
        return None
    now = timezone.now()
    ContainerKey.objects.filter(pk=active.pk).update(state=ContainerKey.State.RETIRED, retired_at=now)
    latest = ContainerKey.objects.filter(device=device).aggregate(v=Max("version"))["v"] or 0
    key = _new_key(device, latest + 1)
    registry.build(ROTATE_COMMAND, device=device, payload={"key_id": str(key.pk), "version": key.version}).save()
    policy_issue_and_notify(device=device)
    transaction.on_commit(lambda: wake_devices([device.pk]))
    return key


def container_keys_destroy(*, device: Device) -> int:
    """Erase every key of the device: what the container held can never be decrypted again."""
    return (
        ContainerKey.objects.filter(device=device)
        .exclude(state=ContainerKey.State.DESTROYED)
        .update(state=ContainerKey.State.DESTROYED, wrapped_key=None, destroyed_at=timezone.now())
    )


def container_key_seal(*, key: ContainerKey, device: Device) -> bytes:
    """The data key sealed to the device's X25519 key: HPKE base mode, `enc || ciphertext`."""
    data_key = keyring().unwrap(key.wrapped_key, context=container_key_context(key.pk, key.version))
    recipient = X25519PublicKey.from_public_bytes(bytes(device.encryption_public_key))
    return _SUITE.encrypt(data_key, recipient, info=hpke_info(device.pk, key.pk, key.version))


DEFAULT_ROTATION_DAYS = 90


def container_keys_rotate_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Rotate every active key older than its persona's interval (no persona: 90 days).

    The database narrows to keys older than a day (the shortest interval); the exact interval,
    which differs per persona, is compared here, portably across PostgreSQL and SQLite.
    """
    now = now or timezone.now()
    candidates = (
        ContainerKey.objects.filter(
            state=ContainerKey.State.ACTIVE, device__state="active", created_at__lte=now - timedelta(days=1)
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
