"""Whether a device complies, and what its owner can do about it, from the facts its agent
reports and its persona's access settings."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Count, Q
from django.utils import timezone

from devices.audit import device_event_emit
from devices.choices import DeviceState, Platform
from devices.models import ComplianceChange, ComplianceSnapshot
from mdm.models import Organization


def _version(value: str) -> tuple[int, ...]:
    parts = []
    for part in (value or "").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


# Google's non-compliance reasons (NonComplianceDetail.nonComplianceReason), in plain words.
ANDROID_REASONS = {
    "API_LEVEL": "needs a newer Android version",
    "MANAGEMENT_MODE": "is not supported in this device's management mode",
    "USER_ACTION": "needs you to act on the device",
    "INVALID_VALUE": "has a value this device cannot apply",
    "APP_NOT_INSTALLED": "needs an app that is not installed",
    "UNSUPPORTED": "is not supported by this device",
    "APP_INSTALLED": "needs an app removed",
    "PENDING": "is still being applied",
    "APP_INCOMPATIBLE": "needs an app that is incompatible with this device",
    "APP_NOT_UPDATED": "needs an app updated",
    "DEVICE_INCOMPATIBLE": "is not compatible with this device",
    "PROJECT_NOT_PERMITTED": "is not permitted for this organization's Google project",
}


def _android_reasons(device, facts: dict, os_version: str) -> list[str]:
    """What Google reports a work profile does not comply with (facts from devices.android)."""
    persona = device.persona
    reasons = []
    for detail in facts.get("non_compliance", []):
        setting, package = detail.get("setting", ""), detail.get("package", "")
        if detail.get("reason") == "USER_ACTION" and setting == "passwordPolicies":
            length = persona.passcode_min_length if persona else 4
            reasons.append(f"Set a passcode of at least {length} characters for your work profile.")
        elif detail.get("reason") == "APP_NOT_INSTALLED" and package:
            reasons.append(f"Install {package}: your work profile requires it.")
        else:
            what = f"{setting} ({package})" if package else setting or "A work profile setting"
            reasons.append(f"{what} {ANDROID_REASONS.get(detail.get('reason', ''), 'is not applied')}.")
    if facts.get("policy_compliant") is False and not reasons:
        reasons.append("Your work profile does not apply its policy yet; keep the device online.")
    if facts.get("posture") == "POTENTIALLY_COMPROMISED" and (persona is None or persona.block_compromised):
        reasons.append("This device appears rooted or modified: work apps stay blocked on it.")
    minimum = (persona.min_os_version if persona else {}).get(Platform.ANDROID)
    if minimum and _version(os_version) < _version(minimum):
        reasons.append(f"Update to Android {minimum} to regain access to work apps.")
    return reasons


def evaluate_compliance(*, device, facts: dict, os_version: str) -> tuple[bool | None, list[str]]:
    """(compliant, what to do about each problem, in plain words). None when nothing was reported."""
    if not facts:
        return None, []
    if facts.get("source") == "android":
        reasons = _android_reasons(device, facts, os_version)
        return not reasons, reasons
    persona = device.persona
    reasons = []
    if facts.get("passcode_compliant") is not True:
        length = persona.passcode_min_length if persona else 4
        reasons.append(f"Set a passcode of at least {length} characters for your work profile.")
    if facts.get("compromised") is not False and (persona is None or persona.block_compromised):
        reasons.append("This device appears rooted or jailbroken: work apps stay blocked on it.")
    minimum = (persona.min_os_version if persona else {}).get(device.platform)
    if minimum and _version(os_version) < _version(minimum):
        name = Platform(device.platform).label if device.platform in Platform.values else device.platform
        reasons.append(f"Update to {name} {minimum} to regain access to work apps.")
    return not reasons, reasons


def compliance_change_record(
    *, device, compliant: bool | None, previous: bool | None, reasons: list[str], at: datetime | None = None
) -> None:
    """Record that a device's compliance changed, in the caller's transaction (which writes the
    device row): the SIEM event `device.compliance_changed` and the row the device page's timeline
    reads. Two INSERTs, and only when compliance actually changed."""
    device_event_emit(device=device, what="compliance_changed", compliant=compliant, previous=previous, reasons=reasons)
    ComplianceChange.objects.create(
        organization_id=device.organization_id,
        device_id=device.pk,
        compliant=compliant,
        previous=previous,
        reasons=[str(reason)[:500] for reason in reasons[:20]],
        created_at=at or timezone.now(),
    )


# Organizations whose snapshots one INSERT writes.
SNAPSHOT_BATCH = 500


def compliance_snapshots_take(*, day: date | None = None, now: datetime | None = None) -> int:
    """Today's (UTC) compliance snapshot of every organization, an organization without devices
    included (its zeros are its history too): active devices, compliant, not compliant, not
    reported yet. Idempotent: taken again the same day, it updates that day's rows. One query
    counts every organization's devices, one upsert per SNAPSHOT_BATCH organizations writes them.
    Returns the number of organizations snapshotted."""
    now = now or timezone.now()
    day = day or now.date()
    active = Q(devices__state=DeviceState.ACTIVE)
    counts = (
        Organization.objects.annotate(
            n_devices=Count("devices", filter=active),
            n_compliant=Count("devices", filter=active & Q(devices__compliant=True)),
            n_not_compliant=Count("devices", filter=active & Q(devices__compliant=False)),
            n_unknown=Count("devices", filter=active & Q(devices__compliant__isnull=True)),
        )
        .values_list("pk", "n_devices", "n_compliant", "n_not_compliant", "n_unknown")
        .order_by("pk")
    )
    snapshots = [
        ComplianceSnapshot(
            organization_id=pk,
            day=day,
            devices=total,
            compliant=compliant,
            not_compliant=not_compliant,
            unknown=unknown,
            taken_at=now,
        )
        for pk, total, compliant, not_compliant, unknown in counts
    ]
    ComplianceSnapshot.objects.bulk_create(
        snapshots,
        batch_size=SNAPSHOT_BATCH,
        update_conflicts=True,
        unique_fields=["organization", "day"],
        update_fields=["devices", "compliant", "not_compliant", "unknown", "taken_at"],
    )
    return len(snapshots)
