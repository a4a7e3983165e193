"""The device list's bulk actions: the selection (checkboxes of the list, posted by its bar) goes to
a confirmation page listing the devices and what will be skipped; that page's POST, with
`confirm`, acts (devices.bulk_actions) and goes back to the list with the summary."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from devices import bulk_actions, selectors
from devices.bulk_actions import BULK_ACTIONS, LOCK, MAX_DEVICES, PERSONA, UNLOCK, WIPE, BulkResult
from devices.forms import BulkPersonaForm, BulkWipeConfirmForm
from devices.models import Device
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib.http import client_ip
from mdm.permissions import Perm
from personas.selectors import persona_list

# How many device names a summary message lists for each reason a device was skipped.
NAMES_SHOWN = 10


def _back(request) -> str:
    """The list as it was (its filters and page), from the bar's `back`: only ever the list."""
    query = QueryDict(request.POST.get("back", "")[:2000]).urlencode()
    return reverse("console:devices") + (f"?{query}" if query else "")


def _refuse(request, message: str, status: int = 400) -> HttpResponse:
    context = {"error": message, "back": _back(request), "back_query": request.POST.get("back", "")[:2000]}
    return render(request, "console/devices/bulk_confirm.html", context, status=status)


def _selection(request) -> list[Device] | str:
    """The selected devices of the organization, in the list's order; or what is wrong with the
    selection. A device id outside the organization is a 404, as everywhere."""
    raw = request.POST.getlist("device")
    if not raw:
        return _("Select at least one device first: nothing was done.")
    if len(set(raw)) > MAX_DEVICES:
        return _("At most %(n)s devices at a time: select fewer (nothing was done).") % {"n": MAX_DEVICES}
    try:
        ids = {uuid.UUID(value) for value in raw}
    except ValueError:
        return _("The selection holds something that is not a device: nothing was done.")
    devices = list(selectors.device_list(organization_id=request.org.organization.pk).filter(pk__in=ids))
    if len(devices) != len(ids):
        raise Http404("No such device.")
    return devices


@require_POST
@console_view(Perm.DEVICES_VIEW)
def device_bulk(request) -> HttpResponse:
    """Confirm (without `confirm`) or do (with it) a bulk action on the selected devices."""
    action = BULK_ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        return _refuse(request, _("Choose one of the actions offered: nothing was done."))
    request.org.require(action.perm)
    devices = _selection(request)
    if isinstance(devices, str):
        return _refuse(request, devices)
    org = request.org.organization
    form: BulkPersonaForm | BulkWipeConfirmForm | None = None
    if action.name == PERSONA:
        personas = persona_list(organization_id=org.pk, with_rules=False)
        form = BulkPersonaForm(request.POST if "confirm" in request.POST else None, personas=list(personas))
    elif action.name == WIPE:
        form = BulkWipeConfirmForm(request.POST if "confirm" in request.POST else None, devices=devices)
    if "confirm" not in request.POST or (form is not None and not form.is_valid()):
        status = 400 if form is not None and form.is_bound else 200  # a confirmation in error
        return _confirm_page(request, action.name, devices, form, status=status)
    try:
        result = _act(request, action.name, devices, form)
    except ServiceError as exc:
        if form is None:
            return _refuse(request, exc.message, status=exc.status)
        form.add_error(None, exc.message)
        return _confirm_page(request, action.name, devices, form, status=exc.status)
    _report(request, result, form)
    return redirect(_back(request))


def _act(request, action: str, devices: list[Device], form) -> BulkResult:
    common = {
        "organization": request.org.organization,
        "devices": devices,
        "actor": request.org.actor,
        "client_ip": client_ip(request),
    }
    if action in (LOCK, UNLOCK):
        return bulk_actions.devices_bulk_lock(lock=action == LOCK, **common)
    if action == WIPE:
        return bulk_actions.devices_bulk_wipe(reason=form.cleaned_data["reason"], **common)
    return bulk_actions.devices_bulk_persona_assign(persona=form.cleaned_data["persona"], **common)


def _confirm_page(request, action: str, devices: list[Device], form, *, status: int) -> HttpResponse:
    refusals = bulk_actions.bulk_refusals(action=action, devices=devices)
    rows = [(device, refusals.get(device.pk)) for device in devices]
    acting = len(devices) - len(refusals)
    context = {
        "action": BULK_ACTIONS[action],
        "rows": rows,
        "count": len(devices),
        "acting": acting,
        "skipping": len(refusals),
        "form": form,
        "held": (
            bulk_actions.wipes_held_if_sent(organization_id=request.org.organization.pk, count=acting)
            if action == WIPE
            else 0
        ),
        "back": _back(request),
        "back_query": request.POST.get("back", "")[:2000],
    }
    return render(request, "console/devices/bulk_confirm.html", context, status=status)


def _done_words(result: BulkResult, form) -> str:
    n = len(result.done)
    if result.action == LOCK:
        return ngettext("Lock sent to %(n)s device", "Lock sent to %(n)s devices", n) % {"n": n}
    if result.action == UNLOCK:
        return ngettext("Unlock sent to %(n)s device", "Unlock sent to %(n)s devices", n) % {"n": n}
    if result.action == PERSONA:
        persona = form.cleaned_data["persona"].name
        return ngettext(
            "%(n)s device moved to the persona %(persona)s", "%(n)s devices moved to the persona %(persona)s", n
        ) % {"n": n, "persona": persona}
    words = ngettext("Corporate wipe requested for %(n)s device", "Corporate wipe requested for %(n)s devices", n) % {
        "n": n
    }
    if result.held:
        words += ngettext(
            " (%(h)s waits for a second admin's approval: many wipes were requested lately)",
            " (%(h)s wait for a second admin's approval: many wipes were requested lately)",
            len(result.held),
        ) % {"h": len(result.held)}
    return words


def _report(request, result: BulkResult, form) -> None:
    """One message: what was done and, grouped by why, what was skipped."""
    text = _done_words(result, form)
    if result.skipped:
        groups = []
        for reason, devices in result.skipped_by_reason():
            names = ", ".join(device.name for device in devices[:NAMES_SHOWN])
            more = len(devices) - NAMES_SHOWN
            if more > 0:
                names += " " + _("and %(n)s more") % {"n": more}
            groups.append(f"{reason} ({names})")
        skipped = ngettext("%(n)s skipped", "%(n)s skipped", len(result.skipped)) % {"n": len(result.skipped)}
        text = f"{text}; {skipped}: {' '.join(groups)}"
    else:
        text += "."
    if result.done and not result.held:
        messages.success(request, text)
    else:
        messages.warning(request, text)
