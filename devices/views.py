"""Console pages about devices: the dashboard, the registry, a device, lock and the corporate wipe,
enrollment tokens, and the organization's connection to Android Enterprise."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import segno
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from devices import dashboard as dashboard_view
from devices import device_page, selectors
from devices.android import client as android_client
from devices.android.enterprise import enterprise_connect, enterprise_disconnect, enterprise_of, enterprise_signup_start
from devices.android.tokens import IssuedAndroidToken, android_token_create
from devices.bulk_actions import bulk_action_choices
from devices.choices import DeviceState, ManagementChannel
from devices.exports import device_export_response, push_result_export_response
from devices.filters import DeviceFilterForm
from devices.forms import (
    AndroidConnectForm,
    AndroidDisconnectForm,
    EmployeeWipeForm,
    EnrollmentTokenForm,
    WipeConfirmForm,
)
from devices.models import Device, EnrollmentToken, Push, Wipe
from devices.services import enrollment_token_create, enrollment_token_revoke
from devices.wipe import corporate_lock, corporate_wipe_request, employee_wipe, wipe_approve, wipe_cancel
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib.durations import parse_duration
from mdm.lib.http import client_ip
from mdm.permissions import Perm
from mdm.selectors import SeekPaginator
from personas.selectors import persona_list

PAGE_SIZE = 50


@console_view()
def dashboard(request) -> HttpResponse:
    org = request.org.organization
    summary = selectors.dashboard_summary(organization_id=org.pk)
    can_audit = request.org.can(Perm.AUDIT_VIEW)
    context: dict[str, object] = {
        "summary": summary,
        "recent_events": dashboard_view.recent_activity(
            selectors.audit_trail(organization_id=org.pk, limit=10) if can_audit else []
        ),
        "can_audit": can_audit,
    }
    now = timezone.now()
    if not summary.has_devices:
        # Nothing to count or draw yet: the way to the first enrollment instead.
        personas, tokens = selectors.first_enrollment_progress(organization_id=org.pk, now=now)
        context["steps"] = dashboard_view.first_enrollment_steps(personas=personas, tokens=tokens)
        return render(request, "console/dashboard.html", context)
    by_os = selectors.active_devices_by_os(organization_id=org.pk)
    today = now.date()
    snapshots = selectors.compliance_snapshots(
        organization_id=org.pk, since=today - timedelta(days=dashboard_view.DAYS - 1), before=today
    )
    context |= {
        "tiles": dashboard_view.tiles(summary),
        "platforms": dashboard_view.platform_chart(by_os),
        "os_versions": dashboard_view.os_version_chart(by_os),
        "work_profiles": dashboard_view.work_profile_chart(summary),
        "compliance": dashboard_view.compliance_chart(snapshots, today, summary),
    }
    return render(request, "console/dashboard.html", context)


@console_view(Perm.DEVICES_VIEW)
def device_list(request) -> HttpResponse:
    org = request.org.organization
    form = DeviceFilterForm(request.GET or None, personas=list(persona_list(organization_id=org.pk, with_rules=False)))
    devices = selectors.device_list(organization_id=org.pk, filters=form.device_filter())
    page = SeekPaginator(devices, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "bulk_actions": bulk_action_choices(request.org)}
    return render(request, "console/devices/list.html", context)


@console_view(Perm.DEVICES_VIEW)
def device_export_view(request) -> HttpResponseBase:
    """The list as CSV, with the filters on screen; a filter in error sends back to the list,
    which shows it (an export ignoring it would hold more than the admin asked for)."""
    org = request.org.organization
    form = DeviceFilterForm(request.GET or None, personas=list(persona_list(organization_id=org.pk, with_rules=False)))
    if form.is_bound and not form.is_valid():
        messages.error(request, _("Correct the filters first: nothing was exported."))
        return redirect(f"{reverse('console:devices')}?{request.GET.urlencode()}")
    return device_export_response(request, context=request.org, filters=form.device_filter())


@console_view(Perm.PUSHES_VIEW)
def push_result_export_view(request, pk: uuid.UUID) -> HttpResponseBase:
    org = request.org.organization
    push = get_object_or_404(Push.objects.filter(organization=org), pk=pk)
    return push_result_export_response(request, context=request.org, push=push)


def _device(request, pk: uuid.UUID) -> Device:
    return get_object_or_404(selectors.device_list(organization_id=request.org.organization.pk), pk=pk)


def _detail_page(request, device: Device, *, status: int = 200, error: str = "") -> HttpResponse:
    """The device page; with `error`, the answer to an action refused in the device's state."""
    actions = device_page.device_actions(device=device)
    can_audit = request.org.can(Perm.AUDIT_VIEW)
    try:
        page = int(request.GET.get("timeline", "1"))
    except ValueError:
        page = 1
    context = {
        "device": device,
        "owner_label": device_page.owner_label(device),
        "actions": actions,
        "badges": device_page.device_badges(device=device, actions=actions),
        "policy": device_page.policy_status(device=device),
        "timeline": device_page.device_timeline(device=device, with_audit=can_audit, page=page),
        "app_problems": device_page.required_apps_missing(device=device),
        "facts": device_page.compliance_facts(device),
        "commands": [
            (device_page.command_label(command.type), command)
            for command in selectors.device_commands(device=device)[:20]
        ],
        "wipes": selectors.device_wipes(device=device),
        "open_wipe": actions.open_wipe,
        "can_lock": request.org.can(Perm.DEVICES_LOCK),
        "can_wipe": request.org.can(Perm.DEVICES_WIPE),
        "android": device.channel == ManagementChannel.ANDROID,
        "error": error,
    }
    return render(request, "console/devices/detail.html", context, status=status)


@console_view(Perm.DEVICES_VIEW)
def device_detail(request, pk: uuid.UUID) -> HttpResponse:
    return _detail_page(request, _device(request, pk))


@console_view(Perm.DEVICES_VIEW)
def device_wipe_status(request, pk: uuid.UUID) -> HttpResponse:
    """The wipe box of the device page, polled by htmx while a wipe is under way."""
    device = _device(request, pk)
    wipe = selectors.device_wipes(device=device).first()
    return render(request, "console/devices/_wipe_status.html", {"device": device, "wipe": wipe})


@require_POST
@console_view(Perm.DEVICES_LOCK)
def device_lock(request, pk: uuid.UUID, lock: bool) -> HttpResponse:
    """Lock or unlock, when it makes sense: a lock of a locked work profile, an unlock of one that
    is not locked, either while a wipe is open, are refused (409, the page says why). The admin
    API's lock stays as it is (it re-sends)."""
    device = _device(request, pk)
    refusal = device_page.device_actions(device=device).refusal(lock=lock)
    if refusal:
        return _detail_page(request, device, status=409, error=refusal)
    try:
        corporate_lock(device=device, lock=lock, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        return _detail_page(request, device, status=exc.status, error=exc.message)
    messages.success(request, _("Lock sent to the device.") if lock else _("Unlock sent to the device."))
    return redirect("console:device", pk=device.pk)


@console_view(Perm.DEVICES_WIPE)
def device_wipe(request, pk: uuid.UUID) -> HttpResponse:
    device = _device(request, pk)
    refusal = device_page.device_actions(device=device).wipe_refusal
    if refusal:
        return _detail_page(request, device, status=409, error=refusal)
    form = WipeConfirmForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        try:
            wipe = corporate_wipe_request(
                device=device,
                reason=form.cleaned_data["reason"],
                actor=request.org.actor,
                client_ip=client_ip(request),
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            if wipe.state == Wipe.State.HELD:
                messages.warning(request, _("Many wipes were requested lately: this one waits for a second admin."))
            else:
                messages.success(request, _("Corporate wipe sent. The work profile's keys are already destroyed."))
            return redirect("console:device", pk=device.pk)
    return render(request, "console/devices/wipe.html", {"device": device, "form": form})


def _qr(contents: str, title: str):
    return mark_safe(segno.make(contents, error="m").svg_inline(scale=5, title=title))  # noqa: S308 (segno's own SVG)


@console_view(Perm.ENROLLMENT_TOKENS_VIEW)
def enrollment_tokens(request) -> HttpResponse:
    """List enrollment tokens; issue one (shown once, with its QR code and the instructions): for
    our agent, or, once the organization is connected, Google's for an Android work profile."""
    org = request.org.organization
    android = enterprise_of(org.pk) is not None
    form = EnrollmentTokenForm(
        request.POST or None, personas=list(persona_list(organization_id=org.pk, with_rules=False)), android=android
    )
    if request.method == "POST":
        request.org.require(Perm.ENROLLMENT_TOKENS_MANAGE)
        if form.is_valid():
            data = form.cleaned_data
            employee = None
            if data["employee"]:
                employee = selectors.organization_member_by_email(organization_id=org.pk, email=data["employee"])
                if employee is None:
                    form.add_error("employee", _("No such member of this organization."))
            if not form.errors:
                create = (
                    android_token_create if data["channel"] == ManagementChannel.ANDROID else enrollment_token_create
                )
                try:
                    issued = create(
                        organization=org,
                        persona=data["persona"],
                        ownership=data["ownership"],
                        uses=data["uses"],
                        expires_at=timezone.now() + parse_duration(data["expires"]),
                        employee=employee,
                        note=data["note"],
                        created_by=request.user,
                        actor=request.org.actor,
                        client_ip=client_ip(request),
                    )
                except ServiceError as exc:  # Google refused, or is away: nothing was issued
                    form.add_error(None, exc.message)
                else:
                    if isinstance(issued, IssuedAndroidToken):
                        context = {"issued": issued, "qr": _qr(issued.qr_code, _("Android enrollment QR code"))}
                        return render(request, "console/enrollment/issued_android.html", context)
                    payload = json.dumps(issued.qr_payload, separators=(",", ":"))
                    context = {"issued": issued, "payload": payload, "qr": _qr(payload, _("Enrollment QR code"))}
                    return render(request, "console/enrollment/issued.html", context)
    page = Paginator(selectors.enrollment_token_list(organization_id=org.pk), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    can_manage = request.org.can(Perm.ENROLLMENT_TOKENS_MANAGE)
    context = {"form": form, "page": page, "can_manage": can_manage, "android": android}
    return render(request, "console/enrollment/list.html", context)


@require_POST
@console_view(Perm.ENROLLMENT_TOKENS_MANAGE)
def enrollment_token_revoke_view(request, pk: uuid.UUID) -> HttpResponse:
    record = get_object_or_404(EnrollmentToken.objects.filter(organization=request.org.organization), pk=pk)
    enrollment_token_revoke(enrollment_token=record, actor=request.org.actor, client_ip=client_ip(request))
    messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": record.prefix})
    return redirect("console:enrollment")


def _android_page(
    request,
    *,
    connect_form: AndroidConnectForm | None = None,
    disconnect_form: AndroidDisconnectForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    org = request.org.organization
    enterprise = enterprise_of(org.pk)
    context = {
        "missing": android_client.missing_settings(),
        "enterprise": enterprise,
        "devices": (
            Device.objects.filter(organization=org, channel=ManagementChannel.ANDROID, state=DeviceState.ACTIVE).count()
            if enterprise is not None
            else 0
        ),
        "can_manage": request.org.can(Perm.ANDROID_ENTERPRISE_MANAGE),
        "connect_form": connect_form or AndroidConnectForm(),
        "disconnect_form": disconnect_form or AndroidDisconnectForm(),
        "error": error,
    }
    return render(request, "console/android.html", context, status=status)


@console_view()
def android_enterprise(request) -> HttpResponse:
    """The organization's Android Enterprise: what the bridge still needs, connecting, or the
    enterprise with its devices and disconnecting (the owner's)."""
    return _android_page(request)


@require_POST
@console_view(Perm.ANDROID_ENTERPRISE_MANAGE)
def android_connect(request) -> HttpResponse:
    """Start the signup: the owner goes to Google, which sends them back to the callback."""
    form = AndroidConnectForm(request.POST)
    if not form.is_valid():
        return _android_page(request, connect_form=form, status=400)
    try:
        url = enterprise_signup_start(
            organization=request.org.organization,
            callback_url=settings.MDM_ISSUER.rstrip("/") + reverse("console:android-callback"),
            admin_email=form.cleaned_data["admin_email"],
            actor=request.org.actor,
            client_ip=client_ip(request),
        )
    except ServiceError as exc:
        return _android_page(request, connect_form=form, error=exc.message, status=exc.status)
    return redirect(url)


@console_view(Perm.ANDROID_ENTERPRISE_MANAGE)
def android_callback(request) -> HttpResponse:
    """Where Google sends the owner back after the signup (a GET: Google's redirect), with the
    signup's `state` and the `enterpriseToken`; the enterprise is created then."""
    try:
        enterprise = enterprise_connect(
            organization=request.org.organization,
            state=request.GET.get("state", ""),
            enterprise_token=request.GET.get("enterpriseToken", ""),
            actor=request.org.actor,
            client_ip=client_ip(request),
        )
    except ServiceError as exc:
        return _android_page(request, error=exc.message, status=exc.status)
    messages.success(request, _("Connected to Android Enterprise as %(name)s.") % {"name": enterprise.name})
    return redirect("console:android")


@require_POST
@console_view(Perm.ANDROID_ENTERPRISE_MANAGE)
def android_disconnect(request) -> HttpResponse:
    form = AndroidDisconnectForm(request.POST)
    if not form.is_valid():
        return _android_page(request, disconnect_form=form, status=400)
    try:
        retired = enterprise_disconnect(
            organization=request.org.organization,
            confirm=form.cleaned_data["confirm"],
            actor=request.org.actor,
            client_ip=client_ip(request),
        )
    except ServiceError as exc:
        if exc.field == "confirm":
            form.add_error("confirm", exc.message)
            return _android_page(request, disconnect_form=form, status=exc.status)
        return _android_page(request, disconnect_form=form, error=exc.message, status=exc.status)
    messages.success(
        request, _("Disconnected from Android Enterprise: %(n)s Android device(s) retired.") % {"n": retired}
    )
    return redirect("console:android")


@console_view(Perm.DEVICES_VIEW)
def wipes(request) -> HttpResponse:
    """Every wipe of the organization; held ones first, with approve and cancel for a second admin."""
    org = request.org.organization
    context = {
        "held": selectors.wipes_held(organization_id=org.pk),
        "page": Paginator(selectors.wipes_not_held(organization_id=org.pk), PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        "can_approve": request.org.can(Perm.WIPES_APPROVE),
        "can_wipe": request.org.can(Perm.DEVICES_WIPE),
    }
    return render(request, "console/wipes.html", context)


@require_POST
@console_view(Perm.WIPES_APPROVE)
def wipe_decide(request, pk: uuid.UUID, approve: bool) -> HttpResponse:
    wipe = get_object_or_404(Wipe.objects.filter(organization=request.org.organization), pk=pk)
    try:
        if approve:
            wipe_approve(wipe=wipe, actor=request.org.actor, client_ip=client_ip(request))
            messages.success(request, _("Wipe approved and sent."))
        else:
            wipe_cancel(wipe=wipe, actor=request.org.actor, client_ip=client_ip(request))
            messages.success(request, _("Wipe cancelled."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("console:wipes")


@console_view(Perm.DEVICES_WIPE)
def employee_wipe_view(request) -> HttpResponse:
    """Wipe the work profile of every device of an employee who left."""
    org = request.org.organization
    form = EmployeeWipeForm(request.POST or None)
    devices: list[Device] = []
    if form.is_bound and form.is_valid():
        devices = selectors.active_devices_of_employee(organization_id=org.pk, email=form.cleaned_data["employee"])
        employee = devices[0].owner if devices else None
        if employee is None:
            form.add_error("employee", _("This person has no active device here."))
        elif form.cleaned_data["confirm"] != str(len(devices)):
            form.add_error("confirm", _("Type the number of devices shown to confirm."))
        else:
            try:
                made = employee_wipe(
                    organization=org,
                    employee=employee,
                    reason=form.cleaned_data["reason"],
                    actor=request.org.actor,
                    client_ip=client_ip(request),
                )
            except ServiceError as exc:  # a device retired meanwhile; the wipes before it stand
                messages.error(request, exc.message)
            else:
                messages.success(request, _("%(n)s wipe(s) requested.") % {"n": len(made)})
            return redirect("console:wipes")
    return render(request, "console/employee_wipe.html", {"form": form, "devices": devices})
