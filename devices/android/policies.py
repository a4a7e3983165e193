"""Each persona's policy at Google (`enterprises/E/policies/<persona id>`), and its pushes.

Google applies one policy to every device that names it, so a persona revision reaches its
Android devices with a single `policies.patch`: the push's own task (`push_android_sync`) does it
after the revision commits, and Google answers with the policy's new `version`. Every Android
device of the persona then owes that version (`Device.policy_version`); the devices report the
one they applied (`appliedPolicyVersion`), which is how the push's progress counts them.

A patch sends the whole compiled policy, so sending it twice is harmless. 429 and 5xx are retried
by the task with backoff; Google's refusal (a 4xx) is shown on the push and stops there.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q

from devices.android import client
from devices.android.enterprise import enterprise_of
from devices.choices import AndroidPolicySync, DeviceState, ManagementChannel
from devices.models import Device, Push
from personas.android import compile_android_policy
from personas.models import Persona
from personas.services import spec_of

logger = logging.getLogger(__name__)


def android_devices(persona_id: uuid.UUID | str) -> Any:
    return Device.objects.filter(persona_id=persona_id, channel=ManagementChannel.ANDROID, state=DeviceState.ACTIVE)


def persona_policy_send(*, enterprise: str, persona: Persona) -> int:
    """Compile the persona and patch its policy at Google; the version Google gave it. Every
    Android device of the persona owes that version from now on. GoogleError when refused."""
    compiled = compile_android_policy(spec_of(persona))
    answer = client.policy_patch(enterprise=enterprise, persona_id=persona.pk, policy=compiled.policy)
    version = int(answer.get("version") or 0)
    android_devices(persona.pk).filter(Q(policy_version__isnull=True) | Q(policy_version__lt=version)).update(
        policy_version=version
    )
    return version


def push_android_sync(*, push_id: uuid.UUID | str) -> str:
    """The Android part of a push: patch the persona's policy at Google once (and, for a push to
    devices just assigned to the persona, point those devices at it). Returns the push's
    android_sync state; raises GoogleError when Google should be asked again later."""
    push = Push.objects.select_related("persona", "organization").get(pk=push_id)
    if push.android_sync in (AndroidPolicySync.SENT, AndroidPolicySync.FAILED, AndroidPolicySync.NOT_NEEDED):
        return push.android_sync
    enterprise = enterprise_of(push.organization_id)
    if enterprise is None:
        Push.objects.filter(pk=push.pk).update(android_sync=AndroidPolicySync.NOT_NEEDED)
        return AndroidPolicySync.NOT_NEEDED
    persona = push.persona
    try:
        version = persona_policy_send(enterprise=enterprise.name, persona=persona)
        if push.device_ids is not None:
            name = client.policy_name(enterprise.name, persona.pk)
            for google_name in (
                android_devices(persona.pk).filter(pk__in=push.device_ids).values_list("google_name", flat=True)
            ):
                client.device_set_policy(name=str(google_name), policy=name)
    except client.GoogleError as exc:
        if exc.retryable:
            Push.objects.filter(pk=push.pk).update(android_detail=str(exc)[:1000])
            raise
        logger.warning("Google refused the policy of persona %s: %s", persona.pk, exc)
        Push.objects.filter(pk=push.pk).update(android_sync=AndroidPolicySync.FAILED, android_detail=str(exc)[:1000])
        return AndroidPolicySync.FAILED
    with transaction.atomic():
        Push.objects.filter(pk=push.pk).update(
            android_sync=AndroidPolicySync.SENT, android_policy_version=version, android_detail=""
        )
    return AndroidPolicySync.SENT


def organization_policies_send(*, organization_id: uuid.UUID | str) -> int:
    """Send every persona of the organization to Google (just connected); how many were sent."""
    enterprise = enterprise_of(organization_id)
    if enterprise is None:
        return 0
    sent = 0
    for persona in Persona.objects.filter(organization_id=organization_id).order_by("pk"):
        persona_policy_send(enterprise=enterprise.name, persona=persona)
        sent += 1
    return sent
