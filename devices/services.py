"""Operations on enrollment tokens and devices. Each runs in one transaction and writes its
audit event."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from devices import device_state
from devices.choices import ContainerState, DeviceState, ManagementChannel, Ownership, Platform, TokenStatus
from devices.compliance import compliance_change_record, evaluate_compliance
from devices.keys import container_key_create, container_keys_destroy
from devices.models import Command, Device, EnrollmentToken, UsedAssertion
from devices.policy import policy_issue
from directory.selectors import persona_for
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.celery import app as celery_app
from mdm.celery import enqueue_on_commit
from mdm.errors import ServiceError
from mdm.keyring import keyring, register_wrapped
from mdm.lib.tokens import token_hash as hash_of
from mdm.lib.tokens import token_new
from mdm.models import Membership, Organization, SigningKey, User
from mdm.signing import public_key_pin, signing_key_current
from personas.models import Persona
from personas.services import default_persona

ENROLLMENT_TOKEN_PREFIX = "mdmet_"
MAX_TOKEN_USES = 10_000
MAX_TOKEN_LIFETIME = timedelta(days=90)
DEFAULT_TOKEN_LIFETIME = timedelta(days=7)
# Published by name: devices.tasks is above this module.
ANDROID_TOKEN_DELETE_TASK = "devices.tasks.android_enrollment_token_delete_task"


def _token_context(token_id) -> str:
    return f"enrollment-token|{token_id}"


register_wrapped("devices.EnrollmentToken", "wrapped_token", lambda row: _token_context(row.pk))


def enrollment_qr_payload(token: str, kid: str = "") -> dict:
    """What the enrollment QR code encodes (agent protocol, section 1): the pin is of the key
    the token was issued under (the active one, for a token of before this was recorded)."""
    key = SigningKey.objects.filter(kid=kid).first() if kid else None
    key = key or signing_key_current()
    return {"v": 1, "server": settings.MDM_ISSUER, "token": token, "pin": public_key_pin(bytes(key.public_key))}


def enrollment_token_check(
    *,
    organization: Organization,
    persona: Persona | None,
    ownership: str,
    uses: int,
    expires_at: datetime,
    employee: User | None,
    now: datetime,
) -> None:
    """What any enrollment token (the agent's or Google's) must be: ServiceError naming the field."""
    if ownership not in Ownership.values:
        raise ServiceError(f"Ownership must be one of: {', '.join(Ownership.values)}.", field="ownership")
    if not 1 <= uses <= MAX_TOKEN_USES:
        raise ServiceError(f"Uses must be between 1 and {MAX_TOKEN_USES}.", field="uses")
    if expires_at <= now:
        raise ServiceError("The expiry must be in the future.", field="expires_at")
    if expires_at - now > MAX_TOKEN_LIFETIME:
        raise ServiceError(f"A token may live at most {MAX_TOKEN_LIFETIME.days} days.", field="expires_at")
    if persona is not None and persona.organization_id != organization.pk:
        raise ServiceError("No such persona.", field="persona")
    if (
        employee is not None
        and not Membership.objects.filter(organization=organization, user=employee, suspended_at__isnull=True).exists()
    ):
        raise ServiceError("No such employee in this organization.", field="employee")
    if employee is not None and uses != 1:
        raise ServiceError("A token bound to one employee is for one device: uses must be 1.", field="uses")


def enrollment_details(device: Device, token: EnrollmentToken) -> dict:
    """The audit details of a device's enrollment (`device.enrolled`), whichever channel brought it."""
    return {
        "platform": device.platform,
        "model": device.model,
        "os_version": device.os_version,
        "ownership": device.ownership,
        "persona": device.persona.name if device.persona else None,
        "token_prefix": token.prefix,
        "owner": token.employee.email if token.employee else None,
    }


@dataclass(frozen=True)
class IssuedEnrollmentToken:
    enrollment_token: EnrollmentToken
    token: str  # shown once
    qr_payload: dict


@transaction.atomic
def enrollment_token_create(
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
) -> IssuedEnrollmentToken:
    now = timezone.now()
    expires_at = expires_at or now + DEFAULT_TOKEN_LIFETIME
    enrollment_token_check(
        organization=organization, persona=persona, ownership=ownership, uses=uses, expires_at=expires_at,
        employee=employee, now=now,
    )  # fmt: skip
    token = token_new(ENROLLMENT_TOKEN_PREFIX)
    record = EnrollmentToken(
        organization=organization,
        token_hash=hash_of(token),
        prefix=token[:12],
        persona=persona,
        ownership=ownership,
        employee=employee,
        note=note.strip()[:200],
        uses_allowed=uses,
        expires_at=expires_at,
        created_by=created_by,
        signing_kid=signing_key_current().kid,
    )
    record.wrapped_token = keyring().wrap(token.encode(), context=_token_context(record.id))
    record.save(force_insert=True)
    audit_event_record(
        organization=organization,
        action="enrollment_token.created",
        actor=actor,
        target=record,
        details={
            "prefix": record.prefix,
            "persona": persona.name if persona else None,
            "ownership": ownership,
            "uses_allowed": uses,
            "expires_at": expires_at.isoformat(),
            "employee": employee.email if employee else None,
            "note": record.note,
        },
        client_ip=client_ip,
    )
    return IssuedEnrollmentToken(record, token, enrollment_qr_payload(token, record.signing_kid))


@transaction.atomic
def enrollment_token_revoke(
    *, enrollment_token: EnrollmentToken, actor: Actor | None = None, client_ip: str | None = None
) -> EnrollmentToken:
    record = EnrollmentToken.objects.select_for_update().get(pk=enrollment_token.pk)
    if record.revoked_at is not None:
        return record
    record.revoked_at = timezone.now()
    record.wrapped_token = None
    record.wrapped_qr_code = None
    record.save(update_fields=["revoked_at", "wrapped_token", "wrapped_qr_code"])
    if record.channel == ManagementChannel.ANDROID and record.google_name:
        # Google's token too, so that no phone can use it (a task: retried while Google is away).
        enqueue_on_commit(celery_app.signature(ANDROID_TOKEN_DELETE_TASK), record.google_name)
    audit_event_record(
        organization=record.organization,
        action="enrollment_token.revoked",
        actor=actor,
        target=record,
        details={"prefix": record.prefix},
        client_ip=client_ip,
    )
    return record


def enrollment_token_secret(enrollment_token: EnrollmentToken) -> str | None:
    """The token itself, while it can still be used (for its QR code); None once it cannot."""
    if enrollment_token.status != TokenStatus.USABLE or enrollment_token.wrapped_token is None:
        return None
    return keyring().unwrap(enrollment_token.wrapped_token, context=_token_context(enrollment_token.pk)).decode()


@dataclass(frozen=True)
class EnrollmentRequest:
    token: str
    platform: str
    os_version: str
    model: str
    agent_version: str
    signing_key: bytes
    encryption_key: bytes


def _device_name(request: EnrollmentRequest, device_id) -> str:
    label = request.model or Platform(request.platform).label
    return f"{label} {str(device_id)[:4]}"


def device_enroll(*, request: EnrollmentRequest, client_ip: str | None = None) -> Device:
    """Enroll a device with an enrollment token (agent protocol, section 1).

    The token's use is counted by one conditional UPDATE: of two agents racing for its last
    use, exactly one gets the row, the other is told the token is used up.
    """
    token_hash = hash_of(request.token) if request.token.startswith(ENROLLMENT_TOKEN_PREFIX) else None
    with transaction.atomic():
        record = (
            EnrollmentToken.objects.select_related("organization", "persona", "employee")
            .filter(token_hash=token_hash, channel=ManagementChannel.AGENT)
            .first()
            if token_hash
            else None
        )
        if record is None or record.revoked_at is not None:
            raise ServiceError("The enrollment token is not valid.", code="enrollment_token_invalid", status=403)
        now = timezone.now()
        claimed = EnrollmentToken.objects.filter(
            pk=record.pk, revoked_at__isnull=True, expires_at__gt=now, uses_count__lt=F("uses_allowed")
        ).update(uses_count=F("uses_count") + 1)
        if not claimed:
            record.refresh_from_db(fields=["uses_count", "expires_at"])
            if record.expires_at <= now:
                raise ServiceError("The enrollment token has expired.", code="enrollment_token_expired", status=410)
            raise ServiceError("The enrollment token is used up.", code="enrollment_token_used", status=410)
        # Used up (by us or by a racing enrollment): the wrapped copy kept for its QR code goes now.
        EnrollmentToken.objects.filter(pk=record.pk, uses_count__gte=F("uses_allowed")).update(wrapped_token=None)
        device = Device(
            organization=record.organization,
            owner=record.employee,
            ownership=record.ownership,
            platform=request.platform,
            model=request.model,
            os_version=request.os_version,
            agent_version=request.agent_version,
            signing_public_key=request.signing_key,
            encryption_public_key=request.encryption_key,
            # A token naming no persona: the employee's provisioned groups decide, else the default.
            persona=record.persona
            or persona_for(organization_id=record.organization_id, user_id=record.employee_id)
            or default_persona(record.organization_id),
            enrollment_token=record,
            enrolled_at=now,
            signing_kid=record.signing_kid or signing_key_current().kid,
        )
        device.name = _device_name(request, device.id)
        try:
            with transaction.atomic():
                device.save(force_insert=True)
        except IntegrityError as exc:
            raise ServiceError(
                "This signing key is already enrolled; generate new keys.", code="key_in_use", status=409
            ) from exc
        container_key_create(device=device)
        policy_issue(device=device)
        audit_event_record(
            organization=record.organization,
            action="device.enrolled",
            actor=Actor.device(device),
            target=device,
            details=enrollment_details(device, record),
            client_ip=client_ip,
        )
    return device


@transaction.atomic
def device_retire(
    *,
    device: Device,
    action: str = "device.retired",
    reason: str = "",
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> Device:
    """Retire a device: its credentials stop working at once (the state cache is dropped on
    commit) and its container keys are destroyed. Retiring a retired device changes nothing."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.state == DeviceState.RETIRED:
        return device
    device.state = DeviceState.RETIRED
    device.retired_at = timezone.now()
    device.save(update_fields=["state", "retired_at"])
    # The agent API refuses a retired device at once, not when its cached state expires.
    device_state.publish(device)
    container_keys_destroy(device=device)
    # Nothing more will be delivered to it: its pending commands end here, with the reason.
    Command.objects.filter(device=device).supersede(f"device retired: {reason}", now=device.retired_at)
    audit_event_record(
        organization=device.organization,
        action=action,
        actor=actor,
        target=device,
        details={"reason": reason},
        client_ip=client_ip,
    )
    return device


def device_unenroll(*, device: Device, client_ip: str | None = None) -> Device:
    """The employee removed the work persona on the device (agent protocol, section 7)."""
    return device_retire(
        device=device,
        action="device.unenrolled",
        reason="removed on the device",
        actor=Actor.device(device),
        client_ip=client_ip,
    )


DEVICE_NAME_MAX = 64


def device_rename(*, device: Device, name: str, actor: Actor | None = None, client_ip: str | None = None) -> Device:
    """Give a device the name its owner knows it by ("Erin's work phone"): 1 to 64 characters,
    spaces around it dropped, no control characters. Renaming to the same name changes nothing."""
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ServiceError(_("Give the device a name."), code="invalid", field="name")
    if len(name) > DEVICE_NAME_MAX:
        raise ServiceError(
            _("The name is %(n)d characters long: at most %(max)d.") % {"n": len(name), "max": DEVICE_NAME_MAX},
            code="invalid",
            field="name",
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ServiceError(_("The name cannot hold control characters."), code="invalid", field="name")
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        if device.name == name:
            return device
        old, device.name = device.name, name
        device.save(update_fields=["name"])
        audit_event_record(
            organization=device.organization,
            action="device.renamed",
            actor=actor,
            target=device,
            details={"old_name": old, "new_name": name},
            client_ip=client_ip,
        )
    return device


@dataclass(frozen=True)
class CheckinReport:
    applied_policy_version: int | None
    container_state: str
    os_version: str
    agent_version: str
    compliance: dict
    work_apps: list


def device_checkin(*, device: Device, report: CheckinReport) -> Device:
    """Record a check-in (agent protocol, section 3) without a write storm.

    Only what changed is written; a check-in that changes nothing refreshes `last_seen_at` at
    most once a minute. `device` must be fresh (the view loads it in the same request).
    """
    now = timezone.now()
    changes: dict = {}
    reported = {
        "applied_policy_version": report.applied_policy_version,
        "os_version": report.os_version,
        "agent_version": report.agent_version,
        "compliance": report.compliance,
        "work_apps": report.work_apps,
    }
    for field, value in reported.items():
        if getattr(device, field) != value:
            changes[field] = value
    # The server alone leaves wipe_pending (when the wipe is acknowledged), so a stale report of
    # "active" cannot cancel a wipe in flight.
    if device.container_state != ContainerState.WIPE_PENDING and device.container_state != report.container_state:
        changes["container_state"] = report.container_state
    compliant, reasons = evaluate_compliance(device=device, facts=report.compliance, os_version=report.os_version)
    if compliant != device.compliant:
        changes["compliant"] = compliant
        changes["noncompliant_since"] = None if compliant else now
    stale = device.last_seen_at is None or (now - device.last_seen_at).total_seconds() >= (
        settings.MDM_LAST_SEEN_WRITE_SECONDS
    )
    if device.silent:
        changes["silent"] = False
    if changes or stale:
        changes["last_seen_at"] = now
        _write_checkin(device, changes, reasons=reasons)
    return device


def _write_checkin(device: Device, changes: dict, *, reasons: list[str]) -> None:
    """Write a check-in's changes. The device row was read without a lock, so the two facts a
    concurrent request may have moved are written conditionally: a wipe committed meanwhile is
    never overwritten, and the applied policy version never goes back."""
    container_state = changes.pop("container_state", None)
    applied = changes.pop("applied_policy_version", None)
    with transaction.atomic():
        rows = Device.objects.filter(pk=device.pk)
        rows.update(**changes)
        if "compliant" in changes:
            # The one extra write of a check-in, and only when compliance actually changed.
            compliance_change_record(
                device=device, compliant=changes["compliant"], previous=device.compliant, reasons=reasons,
                at=changes["last_seen_at"],
            )  # fmt: skip
        if applied is not None:
            rows.update(applied_policy_version=Greatest(Coalesce(F("applied_policy_version"), 0), applied))
        if container_state is not None:
            moved = rows.exclude(container_state=ContainerState.WIPE_PENDING).update(container_state=container_state)
            if moved and container_state == ContainerState.WIPED:
                # No wipe of ours was pending: the agent wiped its container by itself, its
                # offline timer having run out.
                audit_event_record(
                    organization=device.organization,
                    action="device.wiped_by_agent",
                    actor=Actor.device(device),
                    target=device,
                    details={"previous_state": device.container_state},
                )


def used_assertions_purge(*, now: datetime | None = None) -> int:
    deleted, _ = UsedAssertion.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def enrollment_tokens_forget_expired(*, now: datetime | None = None) -> int:
    return EnrollmentToken.objects.filter(expires_at__lte=now or timezone.now(), wrapped_token__isnull=False).update(
        wrapped_token=None, wrapped_qr_code=None
    )


def devices_mark_silent(*, now: datetime | None = None) -> int:
    """Flag active devices that have not checked in for MDM_SILENT_AFTER_HOURS."""
    threshold = (now or timezone.now()) - timedelta(hours=settings.MDM_SILENT_AFTER_HOURS)
    return Device.objects.filter(state=DeviceState.ACTIVE, silent=False, last_seen_at__lt=threshold).update(silent=True)
