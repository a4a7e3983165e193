"""Signed policy versions: compile each device's policy from its persona, sign it as a compact
JWS (EdDSA, `typ: mdm-policy+jwt`), and keep it as the device's next `PolicyVersion`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from hashlib import sha256
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.keys import container_key_active
from devices.models import ContainerKey, Device, PolicyVersion
from mdm.choices import SigningKeyState
from mdm.models import SigningKey
from mdm.signing import ClaimsTemplate, JwsSigner, Slot, private_key, signing_key_current
from personas.compiler import Compiler, persona_template
from personas.services import spec_of

POLICY_TYP = "mdm-policy+jwt"


class PolicyTarget(NamedTuple):
    """One device's values in its next policy version (what a push reads of a locked device)."""

    organization_id: uuid.UUID
    device_id: uuid.UUID
    signing_kid: str
    version: int
    key_id: uuid.UUID
    key_version: int


class PolicyTemplate:
    """One persona revision's policy, compiled and serialised once for every device it goes to.

    Each device's claims differ from the next device's only in `aud`, `iat`, the version and the
    container key: those are spliced into the serialised claims (mdm.signing.ClaimsTemplate), and
    each device's JWS is signed on its own, with the key its device pins.
    """

    def __init__(self, template: dict) -> None:
        self.compiler = Compiler(template)  # validates the template against the schema, once
        self.persona_id = template["persona"]["id"]
        self.persona_revision = template["persona"]["revision"]
        document = self.compiler.skeleton(
            version=Slot("version"), key_id=Slot("key_id"), key_version=Slot("key_version")
        )
        self.claims = ClaimsTemplate(
            {"iss": settings.MDM_ISSUER, "aud": Slot("aud"), "iat": Slot("iat"), "policy": document}
        )

    def sign(self, targets: Sequence[PolicyTarget]) -> list[str]:
        """Each target's signed policy (compact JWS, `typ: mdm-policy+jwt`).

        Each is signed with the key its device pins (at enrollment, or since its last key rollover),
        each key unwrapped once for the lot. A device that pins no key, or a retired one, gets the
        active key: a device pinning a retired key refuses that policy, which is what "can no
        longer be reached" means (its pinned private key is destroyed, so nothing else could be
        signed for it).
        """
        keys = {
            key.kid: key
            for key in SigningKey.objects.filter(
                kid__in={t.signing_kid for t in targets},
                state__in=(SigningKeyState.ACTIVE, SigningKeyState.PREVIOUS),
            )
        }
        active = signing_key_current()
        signers: dict[str, JwsSigner] = {}
        now = int(time.time())
        check, render = self.compiler.check, self.claims.render
        signed = []
        for target in targets:
            key = keys.get(target.signing_kid) or active
            signer = signers.get(key.kid)
            if signer is None:
                signer = signers[key.kid] = JwsSigner(private_key(key), kid=key.kid, typ=POLICY_TYP)
            check(version=target.version, key_id=target.key_id, key_version=target.key_version)
            claims = render(
                {
                    "aud": str(target.device_id),
                    "iat": now,
                    "version": target.version,
                    "key_id": str(target.key_id),
                    "key_version": target.key_version,
                }
            )
            signed.append(signer.sign(claims))
        return signed

    def version_rows(self, targets: Sequence[PolicyTarget]) -> list[tuple]:
        """The targets' new PolicyVersion rows, in POLICY_VERSION_FIELDS order (for insert_tuples)."""
        now = timezone.now()
        persona_id, revision = self.persona_id, self.persona_revision
        return [
            (
                t.organization_id,
                t.device_id,
                t.version,
                persona_id,
                revision,
                jws,
                sha256(jws.encode()).hexdigest(),
                now,
            )
            for t, jws in zip(targets, self.sign(targets), strict=True)
        ]


POLICY_VERSION_FIELDS = (
    "organization_id",
    "device_id",
    "version",
    "persona_id",
    "persona_revision",
    "jws",
    "sha256",
    "created_at",
)


def new_policy_versions(*, template: dict, entries: list[tuple[Device, ContainerKey]]) -> list[PolicyVersion]:
    """The next PolicyVersion of each device (unsaved), compiled from one template and signed.

    Each device's `policy_version` is moved to its new version; the caller saves both, in the
    transaction that holds the devices' row locks.
    """
    policy = PolicyTemplate(template)
    targets = [
        PolicyTarget(d.organization_id, d.pk, d.signing_kid, (d.policy_version or 0) + 1, key.pk, key.version)
        for d, key in entries
    ]
    now = timezone.now()
    versions = []
    for (device, _), target, jws in zip(entries, targets, policy.sign(targets), strict=True):
        device.policy_version = target.version
        versions.append(
            PolicyVersion(
                organization_id=device.organization_id,
                device=device,
                version=target.version,
                persona_id=policy.persona_id,
                persona_revision=policy.persona_revision,
                jws=jws,
                sha256=sha256(jws.encode()).hexdigest(),
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
