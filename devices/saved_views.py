"""Saved views of the console's device list: an admin's named filters, sort and columns.

The query kept is the one devices.device_list parses and writes back: a saved view holds only
whitelisted parameters, each valid, whatever was posted."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _

from devices.device_list import ListQuery
from devices.models import SavedDeviceView
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError
from mdm.models import Organization, User


def saved_view_list(*, organization: Organization, owner: User) -> QuerySet[SavedDeviceView]:
    """The views this person saved in this organization, by name."""
    return SavedDeviceView.objects.filter(organization=organization, owner=owner).order_by("name", "id")


@transaction.atomic
def saved_view_create(
    *,
    organization: Organization,
    owner: User,
    name: str,
    query: str,
    actor: Actor | None = None,
    client_ip: str | None = None,
) -> SavedDeviceView:
    """Save the list's `query` under `name` (unique among the owner's views in the organization)."""
    name = " ".join(name.split())
    if not name:
        raise ServiceError(_("Give the view a name."), field="name")
    if len(name) > SavedDeviceView.MAX_NAME:
        raise ServiceError(
            _("A view's name has at most %(n)d characters.") % {"n": SavedDeviceView.MAX_NAME}, field="name"
        )
    parsed = ListQuery.parse(QueryDict(query))
    if not parsed.valid:
        raise ServiceError(_("Correct the list's filters, sort or columns first: nothing was saved."))
    views = saved_view_list(organization=organization, owner=owner)
    if views.filter(name=name).exists():
        raise ServiceError(_("You already have a view named “%(name)s”.") % {"name": name}, field="name")
    if views.count() >= SavedDeviceView.MAX_PER_OWNER:
        raise ServiceError(
            _("You have %(n)d saved views, the most there may be: delete one first.")
            % {"n": SavedDeviceView.MAX_PER_OWNER}
        )
    canonical = parsed.canonical()
    if len(canonical) > SavedDeviceView.MAX_QUERY:  # three long text filters in a script, encoded
        raise ServiceError(_("These filters are too long to save: shorten the search texts."))
    try:
        with transaction.atomic():
            view = SavedDeviceView.objects.create(organization=organization, owner=owner, name=name, query=canonical)
    except IntegrityError:  # the same name saved at the same moment (two tabs)
        raise ServiceError(
            _("You already have a view named “%(name)s”.") % {"name": name}, field="name", code="conflict"
        ) from None
    audit_event_record(
        organization=organization,
        action="saved_device_view.created",
        actor=actor,
        target=view,
        details={"name": name, "query": canonical},
        client_ip=client_ip,
    )
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedDeviceView, actor: Actor | None = None, client_ip: str | None = None) -> None:
    audit_event_record(
        organization=view.organization,
        action="saved_device_view.deleted",
        actor=actor,
        target=view,
        details={"name": view.name},
        client_ip=client_ip,
    )
    view.delete()
