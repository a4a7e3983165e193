"""Console pages of the event destinations: the list (state, lag, the failing banner is on every
page), creating one (the webhook secret shown once), and a destination's page with its delivery
log, lag, replays, a replay form, a test send, enabling, rotating the secret and deleting."""

from __future__ import annotations

import time
import uuid

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from events.delivery import envelope_test_send
from events.forms import DestinationCreateForm, DestinationReplayForm
from events.models import DeliveryAttempt, EventDestination, Replay
from events.selectors import destination_lag, destination_lag_one
from events.services import (
    config_public,
    event_destination_create,
    event_destination_delete,
    event_destination_replay,
    event_destination_rotate_secret,
    event_destination_update,
)
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib.http import client_ip
from mdm.permissions import Perm

MANAGE = Perm.EVENT_DESTINATIONS_MANAGE


def _destination(request, pk: uuid.UUID) -> EventDestination:
    return get_object_or_404(EventDestination.objects.filter(organization=request.org.organization), pk=pk)


def _form_errors(form, exc: ServiceError) -> None:
    mapping = {"config.url": "url", "config": "syslog_config", "from": "from_at", "to": "to_at"}
    if not exc.errors:
        form.add_error(None, exc.message)
    for path, errors in exc.errors.items():
        field = mapping.get(path, path if path in form.fields else None)
        if field is None and path.startswith("config."):
            field = "syslog_config" if "syslog_config" in form.fields else None
        if field is None and path.startswith("event_types"):
            field = "event_types" if "event_types" in form.fields else None
        for error in errors:
            form.add_error(field if field in form.fields else None, f"{path}: {error}" if field is None else error)


@console_view(MANAGE)
def destination_list(request):
    organization = request.org.organization
    form = DestinationCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = event_destination_create(
                organization=organization,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                config=form.config(),
                event_types=form.cleaned_data["event_types"],
                actor=request.org.actor,
                client_ip=client_ip(request),
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            form = DestinationCreateForm()
    rows = destination_lag(organization.pk)
    status = 400 if request.method == "POST" and created is None else 200
    return render(
        request,
        "console/events/destinations.html",
        {"rows": rows, "form": form, "created": created},
        status=status,
    )


@console_view(MANAGE)
def destination_detail(request, pk: uuid.UUID):
    destination = _destination(request, pk)
    return render(request, "console/events/destination.html", _detail_context(destination, DestinationReplayForm()))


def _detail_context(destination: EventDestination, replay_form: DestinationReplayForm) -> dict:
    return {
        "destination": destination,
        "config": config_public(destination.kind, destination.config),
        "lag": destination_lag_one(destination),
        "attempts": DeliveryAttempt.objects.filter(destination=destination).order_by("-at", "-id")[:50],
        "replays": Replay.objects.filter(destination=destination).order_by("-created_at")[:10],
        "replay_form": replay_form,
    }


@console_view(MANAGE)
@require_POST
def destination_replay(request, pk: uuid.UUID):
    destination = _destination(request, pk)
    form = DestinationReplayForm(request.POST)
    if form.is_valid():
        try:
            replay = event_destination_replay(
                destination=destination,
                from_at=form.cleaned_data["from_at"],
                to_at=form.cleaned_data["to_at"],
                actor=request.org.actor,
                client_ip=client_ip(request),
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Replay started: %(n)d events to send again.") % {"n": replay.total})
            return redirect("console:event-destination", pk=destination.pk)
    return render(request, "console/events/destination.html", _detail_context(destination, form), status=400)


@console_view(MANAGE)
@require_POST
def destination_test(request, pk: uuid.UUID):
    destination = _destination(request, pk)
    started = time.monotonic()
    error = envelope_test_send(destination=destination, actor=request.org.actor, client_ip=client_ip(request))
    if error:
        messages.error(request, _("The test event was not delivered: %(error)s") % {"error": error})
    else:
        ms = int((time.monotonic() - started) * 1000)
        messages.success(request, _("The test event was delivered (%(ms)d ms).") % {"ms": ms})
    return redirect("console:event-destination", pk=destination.pk)


@console_view(MANAGE)
@require_POST
def destination_toggle(request, pk: uuid.UUID):
    destination = _destination(request, pk)
    event_destination_update(
        destination=destination,
        changes={"enabled": not destination.enabled},
        actor=request.org.actor,
        client_ip=client_ip(request),
    )
    return redirect("console:event-destination", pk=destination.pk)


@console_view(MANAGE)
@require_POST
def destination_rotate_secret(request, pk: uuid.UUID):
    destination = _destination(request, pk)
    try:
        secret = event_destination_rotate_secret(
            destination=destination, actor=request.org.actor, client_ip=client_ip(request)
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:event-destination", pk=destination.pk)
    return render(request, "console/events/secret.html", {"destination": destination, "secret": secret})


@console_view(MANAGE)
@require_POST
def destination_delete(request, pk: uuid.UUID):
    destination = _destination(request, pk)
    if request.POST.get("confirm", "").strip() != destination.name:
        messages.error(request, _("Type the destination's name to delete it: nothing was deleted."))
        return redirect("console:event-destination", pk=destination.pk)
    event_destination_delete(destination=destination, actor=request.org.actor, client_ip=client_ip(request))
    messages.success(request, _("Destination deleted."))
    return redirect("console:event-destinations")
