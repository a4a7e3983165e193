"""Android enrollment tokens: Google's (`enrollmentTokens.create`), kept as our EnrollmentToken.

The phone enrolls with Google's token (its QR code at setup, or the enrollment link), so the
secret is Google's value: it is stored hashed and, while usable, wrapped under the KEK with
Google's QR code, exactly as an agent token is. `additionalData` names our token, so that the
device Google reports back is matched to it (persona, ownership, employee). Revoking deletes
Google's token (devices.services.enrollment_token_revoke, through a task).

Both ownerships ask for PERSONAL_USAGE_ALLOWED: this server manages the work side of a phone and
always leaves a personal side. A phone set up from the Settings app (or the Play Store) becomes
a personally owned work profile; one set up from a factory reset with the QR code becomes a
company-owned device with a work profile. The ownership that counts afterwards is the one Google
reports for the device (devices.android.devices), because it is the phone's real state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from django.db import transaction
from django.utils import timezone

from devices.android import client
from devices.android.enterprise import enterprise_of, google_service_error
from devices.android.policies import persona_policy_send
from devices.choices import ManagementChannel, Ownership, TokenStatus
from devices.models import EnrollmentToken
from devices.services import DEFAULT_TOKEN_LIFETIME, _token_context, enrollment_token_check
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError
from mdm.keyring import keyring, register_wrapped
from mdm.models import Organization, User
from personas.models import Persona
from personas.services import default_persona

ENROLL_LINK = "https://enterprise.google.com/android/enroll?et="

register_wrapped("devices.EnrollmentToken", "wrapped_qr_code", lambda row: _token_context(row.pk) + "|qr")


@dataclass(frozen=True)
class IssuedAndroidToken:
    enrollment_token: EnrollmentToken
    value: str  # Google's token: shown while usable
    qr_code: str  # Google's QR code contents (JSON text)
    link: str


def enroll_link(value: str) -> str:
    return ENROLL_LINK + quote(value, safe="")


def android_token_create(
    *,
    organization: Organization,
    persona: Persona | None = None,
    ownership: str = Ownership.PERSONAL,
    uses: int = 1,
    expires_at: datetime | None = None,
    employee: User | None = None,
    note: str = "",
    created_by: User | None = None,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> IssuedAndroidToken:
    """Create the token at Google, then record it; if the record cannot be written, Google's token
    is deleted again so that no token lives at Google that this server does not know."""
    now = timezone.now()
    expires_at = expires_at or now + DEFAULT_TOKEN_LIFETIME
    enrollment_token_check(
        organization=organization, persona=persona, ownership=ownership, uses=uses, expires_at=expires_at,
        employee=employee, now=now,
    )  # fmt: skip
    enterprise = enterprise_of(organization.pk)
    if enterprise is None:
        raise ServiceError(
            "Connect this organization to Android Enterprise first (Settings > Android Enterprise).",
            code="android_not_connected",
            status=409,
        )
    persona = persona or default_persona(organization.pk)
    if persona is None:
        raise ServiceError("Create a persona first: an Android token enrolls into one.", field="persona")
    record = EnrollmentToken(
        organization=organization,
        persona=persona,
        ownership=ownership,
        employee=employee,
        note=note.strip()[:200],
        uses_allowed=uses,
        expires_at=expires_at,
        created_by=created_by,
        channel=ManagementChannel.ANDROID,
    )
    seconds = max(60, int((expires_at - now).total_seconds()))
    body = {
        "policyName": client.policy_name(enterprise.name, persona.pk),
        "duration": f"{seconds}s",
        "oneTimeOnly": uses == 1,
        "allowPersonalUsage": "PERSONAL_USAGE_ALLOWED",
        "additionalData": json.dumps({"mdm_token": str(record.pk)}),
    }
    try:
        # The persona's policy must exist at Google before a token can name it (idempotent).
        persona_policy_send(enterprise=enterprise.name, persona=persona)
        created = client.enrollment_token_create(enterprise=enterprise.name, body=body)
    except client.GoogleError as exc:
        raise google_service_error(exc) from exc
    value, qr_code = str(created["value"]), str(created.get("qrCode", ""))
    try:
        with transaction.atomic():
            record.google_name = created["name"]
            record.token_hash = hashlib.sha256(value.encode()).hexdigest()
            record.prefix = value[:8]
            record.wrapped_token = keyring().wrap(value.encode(), context=_token_context(record.pk))
            record.wrapped_qr_code = keyring().wrap(qr_code.encode(), context=_token_context(record.pk) + "|qr")
            record.save(force_insert=True)
            audit_event_record(
                organization=organization,
                action="enrollment_token.created",
                actor=actor,
                target=record,
                details={
                    "prefix": record.prefix,
                    "persona": persona.name,
                    "ownership": ownership,
                    "uses_allowed": uses,
                    "expires_at": expires_at.isoformat(),
                    "employee": employee.email if employee else None,
                    "note": record.note,
                    "channel": record.channel,
                },
                client_ip=client_ip,
            )
    except Exception:
        with contextlib.suppress(client.GoogleError):  # if Google is away, it expires there on its own
            client.enrollment_token_delete(name=created["name"])
        raise
    return IssuedAndroidToken(record, value, qr_code, enroll_link(value))


def android_token_secret(record: EnrollmentToken) -> IssuedAndroidToken | None:
    """Google's value and QR code, while the token can still be used; None once it cannot."""
    if record.channel != ManagementChannel.ANDROID or record.status != TokenStatus.USABLE:
        return None
    if record.wrapped_token is None or record.wrapped_qr_code is None:
        return None
    ring = keyring()
    value = ring.unwrap(bytes(record.wrapped_token), context=_token_context(record.pk)).decode()
    qr_code = ring.unwrap(bytes(record.wrapped_qr_code), context=_token_context(record.pk) + "|qr").decode()
    return IssuedAndroidToken(record, value, qr_code, enroll_link(value))
