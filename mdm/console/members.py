"""Console pages: members (an owner invites, changes roles, removes) and API tokens."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mdm.choices import Role
from mdm.console.decorators import console_view
from mdm.lib.http import client_ip
from mdm.models import ApiToken, Membership
from mdm.permissions import Perm
from mdm.services import ServiceError, api_token_create, api_token_revoke, member_invite, membership_change_role
from mdm.services import membership_remove as membership_remove_service

logger = logging.getLogger(__name__)


class InviteForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail"))
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices, initial=Role.HELPDESK)


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    expires_days = forms.IntegerField(label=gettext_lazy("Expires after (days, empty: never)"), required=False,
                                      min_value=1, max_value=3650)  # fmt: skip


class InvitationForm(PasswordResetForm):
    """Django's password-reset mail, sent to a new account too (it has no usable password yet)."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        """Send, letting a failure raise (Django's own only logs it), so the console can say so."""
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        EmailMultiAlternatives(subject, body, from_email, [to_email]).send()

    def get_users(self, email):
        return list(get_user_model()._default_manager.filter(email__iexact=email, is_active=True))


def send_invitation(request, user) -> bool:
    """E-mail a link to choose a password (Django's password-reset tokens: single use, and
    expiring after PASSWORD_RESET_TIMEOUT). The link is built on MDM_ISSUER, never on the
    request's Host header. False when the mail could not be sent."""
    form = InvitationForm(data={"email": user.email})
    if not form.is_valid():
        return False
    issuer = urlsplit(settings.MDM_ISSUER)
    try:
        form.save(
            request=request,
            domain_override=issuer.netloc,
            use_https=issuer.scheme == "https",
            subject_template_name="registration/invitation_subject.txt",
            email_template_name="registration/invitation_email.txt",
            extra_email_context={"organization": request.org.organization.name},
        )
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("The invitation to %s could not be sent: %s", user.email, exc)
        return False
    return True


@console_view(Perm.ORG_VIEW)
def members(request):
    org = request.org.organization
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        request.org.require(Perm.MEMBERS_MANAGE)
        if form.is_valid():
            try:
                membership, created = member_invite(
                    organization=org,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=request.org.actor,
                    client_ip=client_ip(request),
                )
            except ServiceError as exc:
                form.add_error("email", exc.message)
            else:
                if created or not membership.user.has_usable_password():
                    if send_invitation(request, membership.user):
                        messages.success(request, _("Invitation sent to %(email)s.") % {"email": membership.user.email})
                    else:
                        messages.error(
                            request, _("Added, but the invitation e-mail could not be sent; try again later.")
                        )
                else:
                    messages.success(request, _("%(email)s added.") % {"email": membership.user.email})
                return redirect("console:members")
    rows = Membership.objects.filter(organization=org).select_related("user").order_by("user__email")
    context = {
        "form": form,
        "memberships": rows,
        "roles": Role.choices,
        "can_manage": request.org.can(Perm.MEMBERS_MANAGE),
    }
    return render(request, "console/members.html", context)


@require_POST
@console_view(Perm.MEMBERS_MANAGE)
def member_change(request, pk):
    membership = get_object_or_404(Membership.objects.filter(organization=request.org.organization), pk=pk)
    try:
        if request.POST.get("remove"):
            membership_remove_service(membership=membership, actor=request.org.actor, client_ip=client_ip(request))
            messages.success(request, _("Member removed; their API tokens are revoked."))
        else:
            membership_change_role(
                membership=membership, role=request.POST.get("role", ""), actor=request.org.actor,
                client_ip=client_ip(request),
            )  # fmt: skip
            messages.success(request, _("Role changed."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("console:members")


@console_view(Perm.API_TOKENS_MANAGE)
def api_tokens(request):
    org = request.org.organization
    form = ApiTokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_days"]
        issued = api_token_create(
            membership=request.org.membership,
            name=form.cleaned_data["name"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            created_by=request.user,
            actor=request.org.actor,
            client_ip=client_ip(request),
        )
        form = ApiTokenForm()
    tokens = ApiToken.objects.filter(organization=org).select_related("user").order_by("-created_at")
    if request.org.role != Role.OWNER:
        tokens = tokens.filter(user=request.user)
    return render(request, "console/api_tokens.html", {"form": form, "tokens": tokens, "issued": issued})


@require_POST
@console_view(Perm.API_TOKENS_MANAGE)
def api_token_revoke_view(request, pk):
    tokens = ApiToken.objects.filter(organization=request.org.organization)
    if request.org.role != Role.OWNER:
        tokens = tokens.filter(user=request.user)
    token = get_object_or_404(tokens, pk=pk)
    api_token_revoke(api_token=token, actor=request.org.actor, client_ip=client_ip(request))
    messages.success(request, _("Token revoked."))
    return redirect("console:api-tokens")
