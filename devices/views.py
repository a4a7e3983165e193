"""Console pages about devices: the dashboard, the registry, a device, lock and the corporate wipe."""

from __future__ import annotations

import json
import uuid

import segno
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from devices import selectors
from devices.filters import DeviceFilterForm
from devices.forms import EmployeeWipeForm, EnrollmentTokenForm, WipeConfirmForm
from devices.models import Device, EnrollmentToken, Wipe
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


def _bar_chart(rows: list[tuple[str, int]]) -> dict[str, object]:
    """Bars for a server-rendered SVG chart (no script)."""
    peak = max([count for _, count in rows] + [1])
    return {
        "bars": [
            {"label": label, "count": count, "width": round(300 * count / peak), "y": 8 + index * 28}
            for index, (label, count) in enumerate(rows)
        ],
        "height": 16 + 28 * len(rows),
    }


@console_view()
def dashboard(request) -> HttpResponse:
    org = request.org.organization
    summary = selectors.dashboard_summary(organization_id=org.pk)
    can_audit = request.org.can(Perm.AUDIT_VIEW)
    context = {
        "summary": summary,
        "chart": _bar_chart([(state.label, n) for state, n in summary.work_profiles_by_state.items()]),
        "recent_events": selectors.audit_trail(organization_id=org.pk, limit=10) if can_audit else [],
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
    return render(request, "console/devices/list.html", {"form": form, "page": page, "query": query.urlencode()})


def _device(request, pk: uuid.UUID) -> Device:
    return get_object_or_404(selectors.device_list(organization_id=request.org.organization.pk), pk=pk)


@console_view(Perm.DEVICES_VIEW)
def device_detail(request, pk: uuid.UUID) -> HttpResponse:
    device = _device(request, pk)
    context = {
        "device": device,
        "commands": selectors.device_commands(device=device)[:20],
        "wipes": selectors.device_wipes(device=device),
        "open_wipe": selectors.device_open_wipe(device=device),
        "events": (
            selectors.audit_trail(organization_id=device.organization_id, target_id=str(device.pk), limit=20)
            if request.org.can(Perm.AUDIT_VIEW)
            else None
        ),
        "can_lock": request.org.can(Perm.DEVICES_LOCK),
        "can_wipe": request.org.can(Perm.DEVICES_WIPE),
    }
    return render(request, "console/devices/detail.html", context)


@console_view(Perm.DEVICES_VIEW)
def device_wipe_status(request, pk: uuid.UUID) -> HttpResponse:
    """The wipe box of the device page, polled by htmx while a wipe is under way."""
    device = _device(request, pk)
    wipe = selectors.device_wipes(device=device).first()
    return render(request, "console/devices/_wipe_status.html", {"device": device, "wipe": wipe})


@require_POST
@console_view(Perm.DEVICES_LOCK)
def device_lock(request, pk: uuid.UUID, lock: bool) -> HttpResponse:
    device = _device(request, pk)
    try:
        corporate_lock(device=device, lock=lock, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Lock sent to the device.") if lock else _("Unlock sent to the device."))
    return redirect("console:device", pk=device.pk)


@console_view(Perm.DEVICES_WIPE)
def device_wipe(request, pk: uuid.UUID) -> HttpResponse:
    device = _device(request, pk)
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


@console_view(Perm.ENROLLMENT_TOKENS_VIEW)
def enrollment_tokens(request) -> HttpResponse:
    """List enrollment tokens; issue one (shown once, with its QR code and the instructions)."""
    org = request.org.organization
    form = EnrollmentTokenForm(
        request.POST or None, personas=list(persona_list(organization_id=org.pk, with_rules=False))
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
                issued = enrollment_token_create(
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
                payload = json.dumps(issued.qr_payload, separators=(",", ":"))
                context = {
                    "issued": issued,
                    "payload": payload,
                    "qr": mark_safe(segno.make(payload, error="m").svg_inline(scale=5, title=_("Enrollment QR code"))),  # noqa: S308 (segno's own SVG)
                }
                return render(request, "console/enrollment/issued.html", context)
    page = Paginator(selectors.enrollment_token_list(organization_id=org.pk), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    can_manage = request.org.can(Perm.ENROLLMENT_TOKENS_MANAGE)
    return render(request, "console/enrollment/list.html", {"form": form, "page": page, "can_manage": can_manage})


@require_POST
@console_view(Perm.ENROLLMENT_TOKENS_MANAGE)
def enrollment_token_revoke_view(request, pk: uuid.UUID) -> HttpResponse:
    record = get_object_or_404(EnrollmentToken.objects.filter(organization=request.org.organization), pk=pk)
    enrollment_token_revoke(enrollment_token=record, actor=request.org.actor, client_ip=client_ip(request))
    messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": record.prefix})
    return redirect("console:enrollment")


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
