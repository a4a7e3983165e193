"""Signed policy versions: compile a device's policy from its persona, sign it as a compact JWS
(EdDSA, `typ: mdm-policy+jwt`), store it as the device's next `PolicyVersion`."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.db import transaction

from devices.keys import container_key_active
from devices.models import Device, PolicyVersion
from mdm.signing import sign_jwt
from personas.compiler import compile_policy, persona_template
from personas.services import spec_of

POLICY_TYP = "mdm-policy+jwt"


def sign_policy(document: dict, *, device_id) -> str:
    claims = {"iss": settings.MDM_ISSUER, "aud": str(device_id), "iat": int(time.time()), "policy": document}
    return sign_jwt(claims, typ=POLICY_TYP)


def build_policy_version(*, device: Device, template: dict, version: int, key) -> PolicyVersion:
    """A PolicyVersion row for `device` (not saved): compiled, validated and signed."""
    document = compile_policy(template, version=version, key_id=str(key.pk), key_version=key.version)
    jws = sign_policy(document, device_id=device.pk)
    return PolicyVersion(
        organization_id=device.organization_id,
        device=device,
        version=version,
        persona_id=template["persona"]["id"],
        persona_revision=template["persona"]["revision"],
        document=document,
        jws=jws,
        sha256=hashlib.sha256(jws.encode()).hexdigest(),
    )


@transaction.atomic
def policy_issue(*, device: Device) -> PolicyVersion | None:
    """Issue the device its next policy version from its persona's current revision.

    None when the device has no persona, or no active container key (a wiped device).
    """
    device = Device.objects.select_for_update(of=("self",)).select_related("persona").get(pk=device.pk)
    key = container_key_active(device.pk)
    if device.persona is None or key is None:
        return None
    template = persona_template(device.persona, spec_of(device.persona))
    record = build_policy_version(device=device, template=template, version=(device.policy_version or 0) + 1, key=key)
    record.save(force_insert=True)
    Device.objects.filter(pk=device.pk).update(policy_version=record.version)
    device.policy_version = record.version
    return record
