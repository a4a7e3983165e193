"""The employee self-service portal: enroll my own device, see what my employer can and cannot
see, remove the work persona, report a device lost. Its own URL surface (/portal/) and layout.

An employee reaches only their own devices (anything else is a 404) and no admin action at all.
"""

from __future__ import annotations

import json
import logging
import smtplib
from datetime import timedelta
from functools import wraps
from typing import cast

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.mail import send_mail
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from devices.android.enterprise import enterprise_of
from devices.android.tokens import android_token_create
from devices.choices import ContainerState, DeviceState, ManagementChannel, Ownership, Platform
from devices.compliance import evaluate_compliance
from devices.device_page import LOCK, device_actions
from devices.models import Device, EnrollmentToken, PolicyVersion, Wipe
from devices.privacy import android_privacy_summary, persona_preview, privacy_summary
from devices.services import DEVICE_NAME_MAX, device_rename, enrollment_token_create
from devices.wipe import corporate_lock, corporate_wipe_request
from directory.selectors import persona_for
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.choices import Role
from mdm.console.views import LockingAuthenticationForm
from mdm.errors import ServiceError
from mdm.lib.http import client_ip
from mdm.models import Membership
from mdm.permissions import memberships_of
from personas.services import default_persona, spec_of

logger = logging.getLogger(__name__)

ENROLL_TOKEN_LIFETIME = timedelta(minutes=30)
PORTAL_ORG_KEY = "mdm_portal_organization_id"
PORTAL_PLATFORMS: list[tuple[str, str]] = [(Platform.ANDROID, "Android"), (Platform.IOS, "iPhone or iPad")]
# An Android work profile through Google (Android Enterprise), offered once the organization is
# connected: no app of ours on the phone, Google's Android Device Policy manages the work profile.
ANDROID_WORK_PROFILE = "android_enterprise"


def _platforms(organization_id) -> list[tuple[str, str]]:
    if enterprise_of(organization_id) is None:
        return PORTAL_PLATFORMS
    return [(ANDROID_WORK_PROFILE, _("Android work profile (no app to install)")), *PORTAL_PLATFORMS]


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = LockingAuthenticationForm
    redirect_authenticated_user = True
    next_page = cast(str, reverse_lazy("portal:home"))  # a lazy URL: Django resolves it on use

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "sso": bool(settings.OIDC_RP_CLIENT_ID)}


def portal_view(view):
    """Signed in, and a member (of any role) of an organization: the employee's."""

    @login_required(login_url="portal:login")
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        memberships = memberships_of(request.user, console=False)
        if not memberships:
            return render(request, "portal/no_organization.html", status=403)
        chosen = request.session.get(PORTAL_ORG_KEY)
        request.membership = next((m for m in memberships if str(m.organization_id) == chosen), memberships[0])
        request.memberships = memberships
        return view(request, *args, **kwargs)

    return wrapped


def _actor(request) -> Actor:
    return Actor.member(request.user, via="portal")


def _my_device(request, pk) -> Device:
    return get_object_or_404(
        Device.objects.filter(owner=request.user, organization=request.membership.organization).select_related(
            "persona"
        ),
        pk=pk,
    )


@portal_view
def home(request):
    devices = Device.objects.filter(owner=request.user, organization=request.membership.organization).select_related(
        "persona"
    )
    rows = []
    for device in devices.order_by("-enrolled_at"):
        _, todo = evaluate_compliance(device=device, facts=device.compliance, os_version=device.os_version)
        rows.append({"device": device, "todo": todo, **(_portal_state(device) if device.is_active else {})})
    return render(request, "portal/home.html", {"rows": rows})


@portal_view
def enroll(request):
    """Pick the platform, get a personal, single-use enrollment token with its QR code."""
    organization = request.membership.organization
    platforms = _platforms(organization.pk)
    # The persona the employee's provisioned groups give them (SCIM), else the organization's default.
    persona = persona_for(organization_id=organization.pk, user_id=request.user.pk) or default_persona(organization.pk)
    if request.method != "POST":
        return render(request, "portal/enroll.html", _enroll_page(platforms, persona))
    platform = request.POST.get("platform")
    if platform not in dict(platforms):
        refused = _enroll_page(platforms, persona, error=_("Pick your device's platform."))
        return render(request, "portal/enroll.html", refused)
    if platform == ANDROID_WORK_PROFILE:
        return _enroll_android(request, persona)
    issued = enrollment_token_create(
        organization=organization,
        persona=persona,
        ownership=Ownership.PERSONAL,
        uses=1,
        expires_at=timezone.now() + ENROLL_TOKEN_LIFETIME,
        employee=request.user,
        note=f"self-service ({platform})",
        created_by=request.user,
        actor=_actor(request),
        client_ip=client_ip(request),
    )
    payload = json.dumps(issued.qr_payload, separators=(",", ":"))
    context = {
        "token": issued.enrollment_token,
        "payload": payload,
        "platform": dict(PORTAL_PLATFORMS)[platform],
        "qr": mark_safe(segno.make(payload, error="m").svg_inline(scale=5, title=_("Enrollment QR code"))),  # noqa: S308
    }
    return render(request, "portal/enroll_code.html", context)


def _enroll_page(platforms, persona, **extra) -> dict:
    """The enrollment page: the platforms, and the persona that will apply with what it means (in
    the privacy page's words), shown before any code is made."""
    preview = persona_preview(spec_of(persona)) if persona is not None else None
    return {"platforms": platforms, "persona": persona, "preview": preview, **extra}


def _enroll_android(request, persona):
    """Google's enrollment token for the employee's own phone: its QR code and its link."""
    try:
        google = android_token_create(
            organization=request.membership.organization,
            persona=persona,
            ownership=Ownership.PERSONAL,
            uses=1,
            expires_at=timezone.now() + ENROLL_TOKEN_LIFETIME,
            employee=request.user,
            note="self-service (Android work profile)",
            created_by=request.user,
            actor=_actor(request),
            client_ip=client_ip(request),
        )
    except ServiceError as exc:
        context = _enroll_page(_platforms(request.membership.organization.pk), persona, error=exc.message)
        return render(request, "portal/enroll.html", context, status=exc.status)
    context = {
        "token": google.enrollment_token,
        "link": google.link,
        "qr": mark_safe(segno.make(google.qr_code, error="m").svg_inline(scale=4, title=_("Enrollment QR code"))),  # noqa: S308
    }
    return render(request, "portal/enroll_android.html", context)


@portal_view
def enroll_status(request, pk):
    """Polled by the enrollment page: has the device enrolled with this token yet?"""
    token = get_object_or_404(EnrollmentToken.objects.filter(employee=request.user), pk=pk)
    device = Device.objects.filter(enrollment_token=token, owner=request.user).first()
    return render(request, "portal/_enroll_status.html", {"token": token, "device": device})


def _policy_of(device: Device) -> dict | None:
    record = PolicyVersion.objects.filter(device=device).order_by("-version").first()
    return record.document if record else None


def _privacy_of(device: Device) -> dict:
    if device.channel == ManagementChannel.ANDROID and device.persona is not None:
        return android_privacy_summary(spec_of(device.persona))
    return privacy_summary(_policy_of(device))


def _device_page(request, device: Device, **extra) -> dict:
    compliant, todo = evaluate_compliance(device=device, facts=device.compliance, os_version=device.os_version)
    context = {
        "device": device,
        "compliant": compliant,
        "todo": todo,
        "privacy": _privacy_of(device),
        "name_max": DEVICE_NAME_MAX,
        **_portal_state(device),
        **extra,
    }
    context["open_wipe"] = context["actions"].open_wipe
    return context


@portal_view
def device_detail(request, pk):
    device = _my_device(request, pk)
    return render(request, "portal/device.html", _device_page(request, device))


@require_POST
@portal_view
def rename_device(request, pk):
    """The employee names their own device as they know it; the console shows the same name."""
    device = _my_device(request, pk)
    typed = request.POST.get("name", "")
    try:
        device = device_rename(device=device, name=typed, actor=_actor(request), client_ip=client_ip(request))
    except ServiceError as exc:
        context = _device_page(request, device, rename_error=exc.message, rename_value=typed)
        return render(request, "portal/device.html", context, status=400)
    messages.success(request, _("Renamed to “%(name)s”.") % {"name": device.name})
    return redirect("portal:device", pk=device.pk)


@portal_view
def remove_work_persona(request, pk):
    device = _my_device(request, pk)
    if request.method == "POST" and device.state == DeviceState.ACTIVE:
        try:
            wipe = corporate_wipe_request(
                device=device,
                reason="Removed by its owner in the self-service portal.",
                actor=_actor(request),
                client_ip=client_ip(request),
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            if wipe.state == Wipe.State.HELD:
                messages.warning(request, _("Your request waits for an administrator's confirmation."))
            else:
                messages.success(request, _("The work profile is being removed. Your personal data stays."))
        return redirect("portal:device", pk=device.pk)
    return render(request, "portal/remove.html", {"device": device})


def _portal_state(device: Device) -> dict:
    """What the device page says of the work profile and offers now: the lock on its way or done
    (at once, before the device has answered), and whether reporting it lost still makes sense."""
    actions = device_actions(device=device)
    lock_pending = actions.pending_lock is not None and actions.pending_lock.type == LOCK
    locked = device.container_state == ContainerState.LOCKED and actions.pending_lock is None
    return {"actions": actions, "lock_pending": lock_pending, "locked": locked, "can_report_lost": actions.can_lock}


@portal_view
def report_lost(request, pk):
    """GET: what reporting the device lost does, and a button to confirm. POST: lock the work
    profile, tell the organization's admins, back to the device page (which shows the lock)."""
    device = _my_device(request, pk)
    state = _portal_state(device)
    if request.method != "POST":
        return render(request, "portal/lost.html", {"device": device, **state})
    if not state["can_report_lost"]:
        messages.info(request, state["actions"].lock_refusal)
        return redirect("portal:device", pk=device.pk)
    try:
        corporate_lock(device=device, lock=True, actor=_actor(request), client_ip=client_ip(request),
                       reason="reported lost by its owner")  # fmt: skip
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("portal:device", pk=device.pk)
    audit_event_record(
        organization=device.organization,
        action="device.reported_lost",
        actor=_actor(request),
        target=device,
        details={"reason": "reported lost in the self-service portal"},
        client_ip=client_ip(request),
    )
    admins = Membership.objects.filter(organization=device.organization, role__in=[Role.OWNER, Role.ADMIN])
    recipients = sorted({m.user.email for m in admins.select_related("user")})
    if recipients:
        _notify(
            recipients,
            subject=_("Device reported lost: %(name)s") % {"name": device.name},
            message=_(
                "%(email)s reported %(name)s lost. Its work profile is being locked.\n"
                "Decide in the console whether to wipe it: %(url)s"
            )
            % {
                "email": request.user.email,
                "name": device.name,
                "url": f"{settings.MDM_ISSUER}/console/devices/{device.pk}/",
            },
        )
    messages.success(request, _("Your work profile is being locked, and your IT team has been told."))
    return redirect("portal:device", pk=device.pk)


def _notify(recipients: list[str], subject: str, message: str) -> None:
    """E-mail the admins; the lock and the audit event stand even if the mail server is down."""
    try:
        send_mail(subject=subject, message=message, from_email=None, recipient_list=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Could not e-mail the admins about a lost device: %s", exc)


@require_POST
@portal_view
def switch_organization(request):
    """For someone employed by several organizations: which one's work profile they manage."""
    wanted = request.POST.get("organization", "")
    if any(str(m.organization_id) == wanted for m in request.memberships):
        request.session[PORTAL_ORG_KEY] = wanted
    return redirect("portal:home")
