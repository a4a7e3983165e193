"""Android Enterprise rows for the console, API and portal tests, written with the ORM: the flows
that reach Google are the end-to-end tests' (against the stand-in of Google's API)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

from django.utils import timezone

from devices.choices import ContainerState, ManagementChannel, Ownership, Platform
from devices.models import AndroidEnterprise, Device, EnrollmentToken
from devices.services import _token_context
from mdm.keyring import keyring
from mdm.models import Organization, User
from personas.models import Persona

ENTERPRISE = "enterprises/LCtest"


def connect(organization: Organization, name: str = ENTERPRISE) -> AndroidEnterprise:
    """The organization, as if its owner had finished the signup at Google."""
    return AndroidEnterprise.objects.create(
        organization=organization,
        name=name,
        display_name=organization.name,
        connected_at=timezone.now(),
        connected_by="alice@acme.test",
    )


def android_device(
    organization: Organization,
    *,
    persona: Persona | None = None,
    owner: User | None = None,
    ownership: str = Ownership.PERSONAL,
    applied_policy_version: int | None = None,
) -> Device:
    """A device as Google reports it: no agent keys, Google's name for it."""
    key = uuid.uuid4().hex[:12]
    return Device.objects.create(
        organization=organization,
        name=f"Pixel 8 {key[:4]}",
        owner=owner,
        ownership=ownership,
        platform=Platform.ANDROID,
        channel=ManagementChannel.ANDROID,
        model="Pixel 8",
        os_version="15",
        persona=persona or Persona.objects.get(organization=organization, is_default=True),
        google_name=f"{ENTERPRISE}/devices/{key}",
        signing_public_key=None,
        encryption_public_key=None,
        container_state=ContainerState.ACTIVE,
        applied_policy_version=applied_policy_version,
    )


def android_token(organization: Organization, *, employee: User | None = None, uses: int = 1) -> EnrollmentToken:
    """An Android token as devices.android.tokens records Google's answer: Google's value and QR
    code wrapped while usable."""
    value = "GOOGLE" + uuid.uuid4().hex.upper()
    record = EnrollmentToken(
        organization=organization,
        persona=Persona.objects.get(organization=organization, is_default=True),
        employee=employee,
        uses_allowed=uses,
        expires_at=timezone.now() + timedelta(days=1),
        channel=ManagementChannel.ANDROID,
        google_name=f"{ENTERPRISE}/enrollmentTokens/{value[:10]}",
        token_hash=hashlib.sha256(value.encode()).hexdigest(),
        prefix=value[:8],
    )
    qr_code = json.dumps(
        {
            "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE": {
                "com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN": value
            }
        }
    )
    record.wrapped_token = keyring().wrap(value.encode(), context=_token_context(record.pk))
    record.wrapped_qr_code = keyring().wrap(qr_code.encode(), context=_token_context(record.pk) + "|qr")
    record.save(force_insert=True)
    return record
