"""Android devices as Google reports them: a notification (ENROLLMENT, STATUS_REPORT) or a page of
`devices.list` (the reconciliation that repairs a missed notification) goes through
`device_report`, which is idempotent: the same report twice changes nothing, and an older one
than the device's last never overwrites it.

A device appears in the registry with platform android, channel android, its persona, ownership
and employee from our enrollment token (named in the token's `additionalData`), its compliance
from `policyCompliant`, `nonComplianceDetails` and its security posture, and its last report
time. No hardware identifier is stored: Google sends a serial number, IMEI and MAC addresses, and
the registry has no field for any of them (as for agent devices), whoever owns the phone.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devices.android import client
from devices.android.enterprise import enterprise_of
from devices.choices import CommandState, ContainerState, DeviceState, ManagementChannel, Ownership, Platform
from devices.commands.results import command_record_result
from devices.commands.wipe import wipe_corporate
from devices.compliance import compliance_change_record, evaluate_compliance
from devices.models import AndroidEnterprise, Command, Device, EnrollmentToken, PubSubMessage
from devices.services import ANDROID_TOKEN_DELETE_TASK, device_retire, enrollment_details
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.celery import app as celery_app
from mdm.celery import enqueue_on_commit
from personas.services import default_persona

logger = logging.getLogger(__name__)

GONE_STATES = {"DELETED"}
# Pub/Sub keeps an unacknowledged message 7 days by default: ids older than that cannot come back.
PUBSUB_MEMORY = timedelta(days=8)
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """Google's RFC 3339 timestamps (up to nanoseconds) as aware datetimes."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(_FRACTION.sub(r"\1", value))
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _ownership(data: dict[str, Any], token: EnrollmentToken) -> str:
    """Google's report of the phone's real state (a phone set up from a factory reset is
    company-owned whatever the token said); the token's when Google says nothing. The wipe sent
    later depends on it (devices.android.client.corporate_wipe_command)."""
    google = data.get("ownership")
    if google == client.COMPANY_OWNED:
        return Ownership.CORPORATE
    if google == client.PERSONALLY_OWNED:
        return Ownership.PERSONAL
    return token.ownership


def google_ownership(device: Device) -> str:
    """The ownership to tell Google's command layer (devices.android.commands)."""
    return client.PERSONALLY_OWNED if device.ownership == Ownership.PERSONAL else client.COMPANY_OWNED


def facts_of(data: dict[str, Any]) -> dict[str, Any]:
    """The compliance facts kept from a report (devices.compliance reads them)."""
    details = []
    for item in data.get("nonComplianceDetails") or []:
        if isinstance(item, dict):
            details.append(
                {
                    "setting": str(item.get("settingName", ""))[:100],
                    "reason": str(item.get("nonComplianceReason", ""))[:40],
                    "package": str(item.get("packageName", ""))[:255],
                }
            )
    posture = (data.get("securityPosture") or {}).get("devicePosture", "")
    return {
        "source": "android",
        "policy_compliant": data.get("policyCompliant") is True,
        "non_compliance": details[:50],
        "posture": str(posture)[:40],
    }


MAX_WORK_APPS = 500


def work_apps_of(data: dict[str, Any]) -> list[dict[str, str]] | None:
    """The work profile's apps from Google's application reports, in the agent's shape
    ({"id", "version"}); None when the report carries none (not every report does)."""
    reports = data.get("applicationReports")
    if not isinstance(reports, list):
        return None
    apps = []
    for item in reports[:MAX_WORK_APPS]:
        if isinstance(item, dict) and item.get("packageName") and item.get("state", "INSTALLED") == "INSTALLED":
            apps.append({"id": str(item["packageName"])[:255], "version": str(item.get("versionName", ""))[:32]})
    return apps


def _token_of(enterprise: AndroidEnterprise, data: dict[str, Any]) -> EnrollmentToken | None:
    tokens = EnrollmentToken.objects.filter(
        organization_id=enterprise.organization_id, channel=ManagementChannel.ANDROID
    ).select_related("persona", "employee")
    try:
        mdm_token = json.loads(data.get("enrollmentTokenData") or "{}").get("mdm_token")
    except (ValueError, AttributeError):
        mdm_token = None
    if isinstance(mdm_token, str):
        found = tokens.filter(pk=mdm_token).first() if re.fullmatch(r"[0-9a-f-]{36}", mdm_token) else None
        if found is not None:
            return found
    name = data.get("enrollmentTokenName")
    return tokens.filter(google_name=name).first() if isinstance(name, str) and name else None


def _name_of(data: dict[str, Any]) -> str:
    hardware = data.get("hardwareInfo") or {}
    brand, model = str(hardware.get("brand", "")).strip(), str(hardware.get("model", "")).strip()
    label = " ".join(part for part in (brand.title(), model) if part) or "Android"
    return f"{label} (work profile)"[:120]


def device_report(*, enterprise: AndroidEnterprise, data: dict[str, Any]) -> Device | None:
    """Record what Google reports of one device (a Device resource). None when the report names no
    device of ours and none is created (not enrolled with one of our tokens, or already gone)."""
    name = data.get("name")
    if not isinstance(name, str) or not name.startswith(f"{enterprise.name}/devices/"):
        logger.warning("Android report for a device outside %s: %r", enterprise.name, name)
        return None
    for _ in range(2):
        try:
            with transaction.atomic():
                device = Device.objects.select_for_update().filter(google_name=name).first()
                if device is None:
                    return _enroll(enterprise, name, data)
                return _update(device, data)
        except IntegrityError:
            # Two notifications of one new device at once: the other one created it; update it.
            continue
    return None


def _enroll(enterprise: AndroidEnterprise, name: str, data: dict[str, Any]) -> Device | None:
    if data.get("state") in GONE_STATES:
        return None
    token = _token_of(enterprise, data)
    if token is None:
        logger.warning("Android device %s was not enrolled with a token of this server: left out.", name)
        return None
    organization = enterprise.organization
    ownership = _ownership(data, token)
    hardware = data.get("hardwareInfo") or {}
    software = data.get("softwareInfo") or {}
    now = timezone.now()
    seen = parse_time(data.get("lastStatusReportTime")) or parse_time(data.get("enrollmentTime")) or now
    device = Device(
        organization=organization,
        owner=token.employee,
        ownership=ownership,
        platform=Platform.ANDROID,
        channel=ManagementChannel.ANDROID,
        google_name=name,
        model=str(hardware.get("model", ""))[:100],
        os_version=str(software.get("androidVersion", ""))[:32],
        persona=token.persona or default_persona(organization.pk),
        enrollment_token=token,
        container_state=ContainerState.ACTIVE,
        policy_version=_int(data.get("appliedPolicyVersion")),
        applied_policy_version=_int(data.get("appliedPolicyVersion")),
        enrolled_at=parse_time(data.get("enrollmentTime")) or now,
        last_seen_at=seen,
    )
    device.name = _name_of(data)
    device.work_apps = work_apps_of(data) or []
    device.compliance = facts_of(data)
    compliant, _ = evaluate_compliance(device=device, facts=device.compliance, os_version=device.os_version)
    device.compliant = compliant
    device.noncompliant_since = None if compliant else now
    with transaction.atomic():
        device.save(force_insert=True)
    EnrollmentToken.objects.filter(pk=token.pk).update(uses_count=Least(F("uses_count") + 1, F("uses_allowed")))
    token.refresh_from_db(fields=["uses_count", "uses_allowed"])
    if token.uses_count >= token.uses_allowed:
        EnrollmentToken.objects.filter(pk=token.pk).update(wrapped_token=None, wrapped_qr_code=None)
        if token.uses_allowed > 1 and token.google_name:
            # Google does not count a multi-use token's uses: its last use ends it there too.
            enqueue_on_commit(celery_app.signature(ANDROID_TOKEN_DELETE_TASK), token.google_name)
    audit_event_record(
        organization=organization,
        action="device.enrolled",
        actor=Actor.device(device),
        target=device,
        details=enrollment_details(device, token),
    )
    return device


def _update(device: Device, data: dict[str, Any]) -> Device:
    if device.state != DeviceState.ACTIVE:
        return device
    if data.get("state") in GONE_STATES:
        _gone(device)
        return device
    reported = parse_time(data.get("lastStatusReportTime"))
    if reported is not None and device.last_seen_at is not None and reported <= device.last_seen_at:
        return device  # this report, or a newer one, is already recorded
    software = data.get("softwareInfo") or {}
    changes: dict[str, Any] = {
        "os_version": str(software.get("androidVersion", device.os_version))[:32],
        "compliance": facts_of(data),
        "silent": False,
    }
    if reported is not None:
        changes["last_seen_at"] = reported
        if device.container_state == ContainerState.LOCKED and _locked_before(device, reported):
            # Google's lock is the work profile's screen lock: a phone that reports after it was
            # locked has been opened again with its passcode.
            changes["container_state"] = ContainerState.ACTIVE
    apps = work_apps_of(data)
    if apps is not None:
        changes["work_apps"] = apps
    applied = _int(data.get("appliedPolicyVersion"))
    if applied is not None and applied > (device.applied_policy_version or 0):
        changes["applied_policy_version"] = applied
    compliant, reasons = evaluate_compliance(
        device=device, facts=changes["compliance"], os_version=changes["os_version"]
    )
    if compliant != device.compliant:
        changes["compliant"] = compliant
        changes["noncompliant_since"] = None if compliant else timezone.now()
    with transaction.atomic():
        Device.objects.filter(pk=device.pk).update(**changes)
        if "compliant" in changes:
            compliance_change_record(device=device, compliant=compliant, previous=device.compliant, reasons=reasons)
    for field, value in changes.items():
        setattr(device, field, value)
    return device


def _locked_before(device: Device, reported: datetime) -> bool:
    locked_at = (
        Command.objects.filter(device=device, type="lock_corporate", state=CommandState.ACKNOWLEDGED)
        .order_by("-completed_at")
        .values_list("completed_at", flat=True)
        .first()
    )
    return locked_at is not None and locked_at < reported


def _gone(device: Device) -> None:
    """Google reports the device deleted: the work profile is gone. A wipe of ours waiting for it
    is done; otherwise the employee removed the work profile on the phone."""
    wipe_command = (
        Command.objects.filter(
            device=device, type=wipe_corporate.name, state__in=[CommandState.QUEUED, CommandState.DELIVERED]
        )
        .order_by("created_at")
        .first()
    )
    if wipe_command is not None:
        command_record_result(
            device=device,
            command_id=wipe_command.pk,
            status=CommandState.ACKNOWLEDGED,
            detail="Google reports the work profile removed.",
        )
        return
    Device.objects.filter(pk=device.pk).update(container_state=ContainerState.WIPED)
    device_retire(
        device=device,
        action="device.unenrolled",
        reason="work profile removed on the device (reported by Google)",
        actor=Actor.device(device),
    )


def devices_reconcile(*, organization_id: uuid.UUID | str) -> dict[str, int]:
    """Walk `devices.list` (every page) and record each device as a notification would: a missed
    or lost notification is repaired here. Devices of ours that Google no longer lists are gone."""
    enterprise = enterprise_of(organization_id)
    if enterprise is None:
        return {"seen": 0, "created": 0, "gone": 0, "moved": 0}
    seen: set[str] = set()
    created = 0
    before = set(
        Device.objects.filter(
            organization_id=organization_id, channel=ManagementChannel.ANDROID, state=DeviceState.ACTIVE
        ).values_list("google_name", flat=True)
    )
    moved = 0
    for data in client.devices_list(enterprise=enterprise.name):
        device = device_report(enterprise=enterprise, data=data)
        if device is None:
            continue
        seen.add(str(device.google_name))
        created += device.google_name not in before
        expected = client.policy_name(enterprise.name, device.persona_id) if device.persona_id else None
        if expected and device.state == DeviceState.ACTIVE and data.get("policyName") != expected:
            # Assigned to another persona while Google did not hear of it (a push's call failed).
            client.device_set_policy(name=str(device.google_name), policy=expected)
            moved += 1
    gone = 0
    for google_name in sorted(n for n in before - seen if n):
        with transaction.atomic():
            device = (
                Device.objects.select_for_update().filter(google_name=google_name, state=DeviceState.ACTIVE).first()
            )
            if device is not None:
                _gone(device)
                gone += 1
    AndroidEnterprise.objects.filter(pk=enterprise.pk).update(
        reconciled_at=timezone.now(),
        reconcile_detail=f"{len(seen)} devices listed, {created} new, {gone} gone, {moved} moved to their persona",
    )
    return {"seen": len(seen), "created": created, "gone": gone, "moved": moved}


def pubsub_messages_forget() -> int:
    """Forget the ids of Pub/Sub messages too old to be delivered again."""
    deleted, _ = PubSubMessage.objects.filter(received_at__lt=timezone.now() - PUBSUB_MEMORY).delete()
    return deleted
