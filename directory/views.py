"""The console's Identity provider page: the SCIM base URL and tokens, the offboarding rule (the
owner's), the provisioned groups and their personas (admins who may change personas), and the
provisioned people (read)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from directory.forms import GroupMappingForm, OffboardingForm, ScimTokenForm
from directory.models import DirectoryGroup, DirectoryUser, ScimToken
from directory.scim.resources import base_url
from directory.selectors import offboarding_of
from directory.services import directory_group_map, directory_settings_update, scim_token_create, scim_token_revoke
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib.http import client_ip
from mdm.permissions import Perm

USERS_SHOWN = 500


def _page(request, *, token_form=None, issued=None, status=200):
    org = request.org.organization
    can_manage = request.org.can(Perm.DIRECTORY_MANAGE)
    can_map = request.org.can(Perm.PERSONAS_CHANGE)
    groups = DirectoryGroup.objects.filter(organization=org).select_related("persona").order_by("display_name", "id")
    users = (
        DirectoryUser.objects.filter(organization=org, deleted_at__isnull=True)
        .select_related("user")
        .order_by("user_name")[:USERS_SHOWN]
    )
    context = {
        "base_url": base_url(),
        "can_manage": can_manage,
        "can_map": can_map,
        "tokens": ScimToken.objects.filter(organization=org).order_by("-created_at") if can_manage else [],
        "token_form": token_form or ScimTokenForm(),
        "issued": issued,
        "offboarding_form": OffboardingForm(initial={"offboarding": offboarding_of(org.pk)}),
        "groups": [
            {
                "group": group,
                "form": GroupMappingForm(
                    organization=org,
                    initial={"persona": group.persona_id, "priority": group.priority},
                    prefix=str(group.pk),
                ),
                "members": group.memberships.count(),
            }
            for group in groups
        ],
        "users": users,
        "users_shown": USERS_SHOWN,
    }
    return render(request, "console/identity_provider.html", context, status=status)


@console_view(Perm.ORG_VIEW)
def identity_provider(request):
    return _page(request)


@require_POST
@console_view(Perm.DIRECTORY_MANAGE)
def scim_token_create_view(request):
    form = ScimTokenForm(request.POST)
    if not form.is_valid():
        return _page(request, token_form=form, status=400)
    issued = scim_token_create(
        organization=request.org.organization,
        name=form.cleaned_data["name"],
        created_by=request.user,
        actor=request.org.actor,
        client_ip=client_ip(request),
    )
    return _page(request, issued=issued)


@require_POST
@console_view(Perm.DIRECTORY_MANAGE)
def scim_token_revoke_view(request, pk):
    token = get_object_or_404(ScimToken, organization=request.org.organization, pk=pk)
    scim_token_revoke(scim_token=token, actor=request.org.actor, client_ip=client_ip(request))
    messages.success(request, _("SCIM token revoked: the identity provider can no longer use it."))
    return redirect("console:identity-provider")


@require_POST
@console_view(Perm.DIRECTORY_MANAGE)
def offboarding_view(request):
    form = OffboardingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Pick what offboarding does."))
        return redirect("console:identity-provider")
    directory_settings_update(
        organization=request.org.organization,
        offboarding=form.cleaned_data["offboarding"],
        actor=request.org.actor,
        client_ip=client_ip(request),
    )
    messages.success(request, _("Offboarding rule saved."))
    return redirect("console:identity-provider")


@require_POST
@console_view(Perm.PERSONAS_CHANGE)
def group_map_view(request, pk):
    group = get_object_or_404(DirectoryGroup, organization=request.org.organization, pk=pk)
    form = GroupMappingForm(request.POST, organization=request.org.organization, prefix=str(group.pk))
    if not form.is_valid():
        messages.error(request, _("Pick a persona of this organization and a priority from 0 to 1000."))
        return redirect("console:identity-provider")
    try:
        directory_group_map(
            group=group,
            persona=form.cleaned_data["persona"],
            priority=form.cleaned_data["priority"],
            actor=request.org.actor,
            client_ip=client_ip(request),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:identity-provider")
    messages.success(request, _("Group mapping saved: its members' devices follow."))
    return redirect("console:identity-provider")
