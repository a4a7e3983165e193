"""Each device's corporate-container data keys: created at enrollment, kept only wrapped under
the KEK, handed to the device only sealed to its X25519 key (RFC 9180 HPKE), rotated on the
persona's schedule, destroyed by a wipe or an unenroll (crypto-shredding)."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from django.utils import timezone

from devices.models import ContainerKey, Device
from mdm.keyring import keyring, register_wrapped

HPKE_SUITE_NAME = "HPKE-Base/DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def container_key_context(key_id, version: int) -> str:
    """The associated data binding a wrapped key to its id and version."""
    return f"container-key|{key_id}|{version}"


register_wrapped("devices.ContainerKey", "wrapped_key", lambda row: container_key_context(row.pk, row.version))


def hpke_info(device_id, key_id, version: int) -> bytes:
    return f"mdm/container-key/v1|{device_id}|{key_id}|{version}".encode()


def new_container_key(device: Device, version: int) -> ContainerKey:
    """A new active key version of the device, wrapped under the KEK (the caller retires the old)."""
    key = ContainerKey(organization_id=device.organization_id, device=device, version=version)
    key.wrapped_key = keyring().wrap(os.urandom(32), context=container_key_context(key.id, version))
    key.save(force_insert=True)
    return key


def container_key_create(*, device: Device) -> ContainerKey:
    """The first key of a newly enrolled device (in the enrollment transaction)."""
    return new_container_key(device, 1)


def container_key_active(device_id) -> ContainerKey | None:
    return ContainerKey.objects.filter(device_id=device_id, state=ContainerKey.State.ACTIVE).first()


def container_keys_destroy(*, device: Device) -> int:
    """Erase every key of the device: what the container held can never be decrypted again."""
    return (
        ContainerKey.objects.filter(device=device)
        .exclude(state=ContainerKey.State.DESTROYED)
        .update(state=ContainerKey.State.DESTROYED, wrapped_key=None, destroyed_at=timezone.now())
    )


def container_key_seal(*, key: ContainerKey, device: Device) -> bytes:
    """The data key sealed to the device's X25519 key: HPKE base mode, `enc || ciphertext`."""
    if key.wrapped_key is None:
        raise ValueError(f"Container key {key.pk} is destroyed: there is nothing to seal.")
    data_key = keyring().unwrap(key.wrapped_key, context=container_key_context(key.pk, key.version))
    if device.encryption_public_key is None:
        raise ValueError(f"Device {device.pk} has no agent key: its container is Android's, not ours.")
    recipient = X25519PublicKey.from_public_bytes(bytes(device.encryption_public_key))
    return _SUITE.encrypt(data_key, recipient, info=hpke_info(device.pk, key.pk, key.version))
