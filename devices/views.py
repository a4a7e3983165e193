"""Console pages about devices: the dashboard, the registry, a device, lock and the corporate wipe."""

from __future__ import annotations

import json

import segno
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from devices.choices import ContainerState
from devices.forms import DeviceFilterForm, EmployeeWipeForm, EnrollmentTokenForm, WipeConfirmForm
from devices.models import Command, Device, EnrollmentToken, Push, Wipe
from devices.services import enrollment_token_create, enrollment_token_revoke
from devices.wipe import corporate_lock, corporate_wipe_request, employee_wipe, wipe_approve, wipe_cancel
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib.durations import parse_duration
from mdm.lib.http import client_ip
from mdm.models import AuditEvent, User
from mdm.permissions import Perm
from personas.models import Persona

PAGE_SIZE = 50


def _bar_chart(rows: list[tuple[str, int]]) -> dict:
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
def dashboard(request):
    org = request.org.organization
    devices = Device.objects.filter(organization=org)
    active = devices.filter(state="active")
    by_state = dict(devices.values_list("state").annotate(n=Count("id")))
    by_container = dict(active.values_list("container_state").annotate(n=Count("id")))
    compliance = active.aggregate(
        yes=Count("id", filter=Q(compliant=True)),
        no=Count("id", filter=Q(compliant=False)),
        unknown=Count("id", filter=Q(compliant__isnull=True)),
        silent=Count("id", filter=Q(silent=True)),
    )
    container_rows = [(label, by_container.get(value, 0)) for value, label in ContainerState.choices]
    can_audit = request.org.can(Perm.AUDIT_VIEW)
    context = {
        "by_state": by_state,
        "compliance": compliance,
        "chart": _bar_chart(container_rows),
        "pushes_in_flight": Push.objects.filter(organization=org, state__in=["pending", "running"]).count(),
        "wipes_pending": Wipe.objects.filter(organization=org, state="pending").count(),
        "wipes_held": Wipe.objects.filter(organization=org, state="held").count(),
        "recent_events": (AuditEvent.objects.filter(organization=org).order_by("-seq")[:10] if can_audit else []),
    }
    return render(request, "console/dashboard.html", context)


@console_view(Perm.DEVICES_VIEW)
def device_list(request):
    org = request.org.organization
    personas = list(Persona.objects.filter(organization=org).only("id", "name"))
    form = DeviceFilterForm(request.GET or None, personas=personas)
    devices = Device.objects.filter(organization=org).select_related("owner", "persona")
    if form.is_bound and form.is_valid():
        devices = form.filter(devices)
    page = Paginator(devices.order_by("-enrolled_at", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/devices/list.html", {"form": form, "page": page, "query": query.urlencode()})


def _device(request, pk) -> Device:
    return get_object_or_404(
        Device.objects.filter(organization=request.org.organization).select_related("owner", "persona"), pk=pk
    )


@console_view(Perm.DEVICES_VIEW)
def device_detail(request, pk):
    device = _device(request, pk)
    context = {
        "device": device,
        "commands": Command.objects.filter(device=device).order_by("-created_at")[:20],
        "wipes": Wipe.objects.filter(device=device).select_related("command").order_by("-requested_at"),
        "open_wipe": Wipe.objects.filter(device=device, state__in=Wipe.OPEN_STATES).first(),
        "events": (
            AuditEvent.objects.filter(organization=device.organization, target_id=str(device.pk)).order_by("-seq")[:20]
            if request.org.can(Perm.AUDIT_VIEW)
            else None
        ),
        "can_lock": request.org.can(Perm.DEVICES_LOCK),
        "can_wipe": request.org.can(Perm.DEVICES_WIPE),
    }
    return render(request, "console/devices/detail.html", context)


@console_view(Perm.DEVICES_VIEW)
def device_wipe_status(request, pk):
    """The wipe box of the device page, polled by htmx while a wipe is under way."""
    device = _device(request, pk)
    wipe = Wipe.objects.filter(device=device).select_related("command").order_by("-requested_at").first()
    return render(request, "console/devices/_wipe_status.html", {"device": device, "wipe": wipe})


@require_POST
@console_view(Perm.DEVICES_LOCK)
def device_lock(request, pk, lock: bool):
    device = _device(request, pk)
    try:
        corporate_lock(device=device, lock=lock, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Lock sent to the device.") if lock else _("Unlock sent to the device."))
    return redirect("console:device", pk=device.pk)


@console_view(Perm.DEVICES_WIPE)
def device_wipe(request, pk):
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
def enrollment_tokens(request):
    """List enrollment tokens; issue one (shown once, with its QR code and the instructions)."""
    org = request.org.organization
    personas = list(Persona.objects.filter(organization=org).order_by("name"))
    form = EnrollmentTokenForm(request.POST or None, personas=personas)
    if request.method == "POST":
        request.org.require(Perm.ENROLLMENT_TOKENS_MANAGE)
        if form.is_valid():
            data = form.cleaned_data
            employee = None
            if data["employee"]:
                employee = User.objects.filter(email__iexact=data["employee"], memberships__organization=org).first()
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
    tokens = EnrollmentToken.objects.filter(organization=org).select_related("persona", "employee", "created_by")
    page = Paginator(tokens.order_by("-created_at", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    can_manage = request.org.can(Perm.ENROLLMENT_TOKENS_MANAGE)
    return render(request, "console/enrollment/list.html", {"form": form, "page": page, "can_manage": can_manage})


@require_POST
@console_view(Perm.ENROLLMENT_TOKENS_MANAGE)
def enrollment_token_revoke_view(request, pk):
    record = get_object_or_404(EnrollmentToken.objects.filter(organization=request.org.organization), pk=pk)
    enrollment_token_revoke(enrollment_token=record, actor=request.org.actor, client_ip=client_ip(request))
    messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": record.prefix})
    return redirect("console:enrollment")


@console_view(Perm.DEVICES_VIEW)
def wipes(request):
    """Every wipe of the organization; held ones first, with approve and cancel for a second admin."""
    org = request.org.organization
    rows = Wipe.objects.filter(organization=org).select_related("device", "command", "requested_by_user")
    context = {
        "held": rows.filter(state=Wipe.State.HELD).order_by("requested_at"),
        "page": Paginator(rows.exclude(state=Wipe.State.HELD).order_by("-requested_at", "id"), PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        "can_approve": request.org.can(Perm.WIPES_APPROVE),
        "can_wipe": request.org.can(Perm.DEVICES_WIPE),
    }
    return render(request, "console/wipes.html", context)


@require_POST
@console_view(Perm.WIPES_APPROVE)
def wipe_decide(request, pk, approve: bool):
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
def employee_wipe_view(request):
    """Wipe the work profile of every device of an employee who left."""
    org = request.org.organization
    form = EmployeeWipeForm(request.POST or None)
    devices = []
    if form.is_bound and form.is_valid():
        employee = User.objects.filter(email__iexact=form.cleaned_data["employee"]).first()
        devices = list(Device.objects.filter(organization=org, owner=employee, state="active")) if employee else []
        if not devices:
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
