"""Connecting an organization to Google (one Android enterprise per organization), and back.

The signup is Google's flow for a customer-managed enterprise: `signupUrls.create` with our
callback, the owner signs up at Google, Google sends them back to the callback with an enterprise
token, and `enterprises.create` makes the enterprise (publishing its device notifications to the
configured Pub/Sub topic). The callback carries a random `state` bound to the signup the owner
started, so that nobody else's enterprise token can be attached to the organization.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone

from devices.android import client
from devices.choices import DeviceState, ManagementChannel
from devices.models import AndroidEnterprise, Device, EnrollmentToken
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.celery import app as celery_app
from mdm.celery import enqueue_on_commit
from mdm.errors import ServiceError
from mdm.models import Organization

SIGNUP_LIFETIME = timedelta(hours=1)
POLICIES_SYNC_TASK = "devices.tasks.android_policies_sync_task"


def enterprise_of(organization_id: uuid.UUID | str) -> AndroidEnterprise | None:
    """The organization's connected enterprise, or None."""
    return AndroidEnterprise.objects.filter(organization_id=organization_id).exclude(name="").first()


def google_service_error(exc: client.GoogleError) -> ServiceError:
    """What a person is told when Google could not do it: off, busy (try again), or refused."""
    if isinstance(exc, client.NotConfigured):
        return ServiceError(exc.message, code="android_not_configured", status=409)
    if exc.retryable:
        return ServiceError(
            f"Google is not answering now; try again in a minute. ({exc})", code="google_unavailable", status=503
        )
    return ServiceError(str(exc), code="google_refused", status=502)


def enterprise_signup_start(
    *, organization: Organization, callback_url: str, admin_email: str = "", actor: Actor, client_ip: str | None = None
) -> str:
    """Start connecting the organization: the URL at Google where its owner signs up. The callback
    gets `state` appended; `enterprise_connect` needs it back."""
    if enterprise_of(organization.pk) is not None:
        raise ServiceError("This organization is already connected to Android Enterprise.", code="conflict")
    state = secrets.token_urlsafe(24)
    separator = "&" if "?" in callback_url else "?"
    try:
        signup = client.signup_url_create(
            callback_url=f"{callback_url}{separator}{urlencode({'state': state})}", admin_email=admin_email
        )
    except client.GoogleError as exc:
        raise google_service_error(exc) from exc
    with transaction.atomic():
        AndroidEnterprise.objects.update_or_create(
            organization=organization,
            defaults={
                "signup_url_name": signup["name"],
                "signup_state": state,
                "signup_started_at": timezone.now(),
            },
        )
        audit_event_record(
            organization=organization,
            action="android.signup_started",
            actor=actor,
            target_type="android_enterprise",
            target_label=organization.name,
            details={"signup_url_name": signup["name"]},
            client_ip=client_ip,
        )
    return str(signup["url"])


def enterprise_connect(
    *, organization: Organization, state: str, enterprise_token: str, actor: Actor, client_ip: str | None = None
) -> AndroidEnterprise:
    """Finish the signup: create the enterprise at Google and remember its name. Every persona's
    policy is then sent to Google (a task), so that enrollment tokens can name them."""
    record = AndroidEnterprise.objects.filter(organization=organization).first()
    if record is not None and record.connected:
        raise ServiceError("This organization is already connected to Android Enterprise.", code="conflict")
    if (
        record is None
        or not record.signup_state
        or not secrets.compare_digest(record.signup_state, state or "")
        or record.signup_started_at is None
        or timezone.now() - record.signup_started_at > SIGNUP_LIFETIME
    ):
        raise ServiceError(
            "This signup is unknown or has expired: start connecting again from the console.",
            code="android_signup_invalid",
            field="state",
        )
    if not enterprise_token or len(enterprise_token) > 1000:
        raise ServiceError("Google sent no enterprise token back.", field="enterpriseToken")
    try:
        created = client.enterprise_create(
            signup_url_name=record.signup_url_name, enterprise_token=enterprise_token, display_name=organization.name
        )
    except client.GoogleError as exc:
        raise google_service_error(exc) from exc
    with transaction.atomic():
        record = AndroidEnterprise.objects.select_for_update().get(pk=record.pk)
        record.name = created["name"]
        record.display_name = created.get("enterpriseDisplayName", "")[:200]
        record.signup_state = ""
        record.connected_at = timezone.now()
        record.connected_by = actor.label[:254]
        record.save(update_fields=["name", "display_name", "signup_state", "connected_at", "connected_by"])
        audit_event_record(
            organization=organization,
            action="android.connected",
            actor=actor,
            target=record,
            target_label=record.name,
            details={"enterprise": record.name},
            client_ip=client_ip,
        )
        enqueue_on_commit(celery_app.signature(POLICIES_SYNC_TASK), str(organization.pk))
    return record


def enterprise_disconnect(
    *, organization: Organization, confirm: str, actor: Actor, client_ip: str | None = None
) -> int:
    """Delete the enterprise at Google and forget it. `confirm` must be the organization's name,
    typed. Refused while Android devices are still active: Google deleting an enterprise erases
    its devices, and on a company-owned phone that is a factory reset, personal profile included;
    they are wiped first (the corporate wipe, which keeps personal data). Returns how many Android
    devices (all retired already) the enterprise had."""
    record = enterprise_of(organization.pk)
    if record is None:
        raise ServiceError("This organization is not connected to Android Enterprise.", code="conflict")
    if confirm.strip() != organization.name:
        raise ServiceError("Type the organization's name to confirm.", field="confirm")
    android = Device.objects.filter(organization=organization, channel=ManagementChannel.ANDROID)
    active = android.filter(state=DeviceState.ACTIVE).count()
    if active:
        raise ServiceError(
            f"{active} Android device{'s are' if active != 1 else ' is'} still managed: wipe "
            f"{'them' if active != 1 else 'it'} first (a corporate wipe keeps personal data; deleting the "
            "enterprise at Google would reset company-owned phones).",
            code="conflict",
        )
    try:
        client.enterprise_delete(name=record.name)
    except client.GoogleError as exc:
        if exc.status != 404:  # already gone at Google: finish here
            raise google_service_error(exc) from exc
    with transaction.atomic():
        EnrollmentToken.objects.filter(
            organization=organization, channel=ManagementChannel.ANDROID, revoked_at__isnull=True
        ).update(revoked_at=timezone.now(), wrapped_token=None, wrapped_qr_code=None)
        audit_event_record(
            organization=organization,
            action="android.disconnected",
            actor=actor,
            target_type="android_enterprise",
            target_label=record.name,
            details={"enterprise": record.name, "devices": android.count()},
            client_ip=client_ip,
        )
        record.delete()
    return android.count()
