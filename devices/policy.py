"""Signed policy versions: compile each device's policy from its persona, sign it as a compact
JWS (EdDSA, `typ: mdm-policy+jwt`), and keep it as the device's next `PolicyVersion`."""

from __future__ import annotations

import hashlib
import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.keys import container_key_active
from devices.models import ContainerKey, Device, PolicyVersion
from mdm.choices import SigningKeyState
from mdm.models import SigningKey
from mdm.signing import private_key, signing_key_current
from personas.compiler import Compiler, persona_template
from personas.services import spec_of

POLICY_TYP = "mdm-policy+jwt"


def sign_policies(items: list[tuple[Device, dict]]) -> list[str]:
    """Sign (device, document) pairs, each with the key its device pins (at enrollment, or since
    its last key rollover); each key is unwrapped once for the lot.

    A device that pins no key, or a retired one, gets the active key: a device pinning a retired
    key refuses that policy, which is what "can no longer be reached" means (its pinned private
    key is destroyed, so nothing else could be signed for it).
    """
    keys = {
        key.kid: key
        for key in SigningKey.objects.filter(
            kid__in={d.signing_kid for d, _ in items}, state__in=(SigningKeyState.ACTIVE, SigningKeyState.PREVIOUS)
        )
    }
    active = signing_key_current()
    privates: dict[str, Ed25519PrivateKey] = {}
    now = int(time.time())
    signed = []
    for device, document in items:
        key = keys.get(device.signing_kid) or active
        if key.kid not in privates:
            privates[key.kid] = private_key(key)
        signed.append(
            jwt.encode(
                {"iss": settings.MDM_ISSUER, "aud": str(device.pk), "iat": now, "policy": document},
                privates[key.kid],
                algorithm="EdDSA",
                headers={"kid": key.kid, "typ": POLICY_TYP},
            )
        )
    return signed


def new_policy_versions(*, template: dict, entries: list[tuple[Device, ContainerKey]]) -> list[PolicyVersion]:
    """The next PolicyVersion of each device (unsaved), compiled from one template and signed.

    Each device's `policy_version` is moved to its new version; the caller saves both, in the
    transaction that holds the devices' row locks.
    """
    compiler = Compiler(template)
    documents = [
        (
            device,
            compiler.compile(version=(device.policy_version or 0) + 1, key_id=str(key.pk), key_version=key.version),
        )
        for device, key in entries
    ]
    signed = sign_policies(documents)
    now = timezone.now()
    versions = []
    for (device, document), jws in zip(documents, signed, strict=True):
        device.policy_version = document["version"]
        versions.append(
            PolicyVersion(
                organization_id=device.organization_id,
                device=device,
                version=document["version"],
                persona_id=template["persona"]["id"],
                persona_revision=template["persona"]["revision"],
                jws=jws,
                sha256=hashlib.sha256(jws.encode()).hexdigest(),
                created_at=now,
            )
        )
    return versions


@transaction.atomic
def policy_issue(*, device: Device) -> PolicyVersion | None:
    """Issue one device its next policy version from its persona's current revision.

    None when the device has no persona, or no active container key (a wiped device).
    """
    device = Device.objects.select_for_update(of=("self",)).select_related("persona").get(pk=device.pk)
    key = container_key_active(device.pk)
    if device.persona is None or key is None:
        return None
    template = persona_template(device.persona, spec_of(device.persona))
    (record,) = new_policy_versions(template=template, entries=[(device, key)])
    record.save(force_insert=True)
    Device.objects.filter(pk=device.pk).update(policy_version=record.version)
    return record
