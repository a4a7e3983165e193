"""Console pages: members (an owner invites, changes roles, removes, cancels pending invitations)
and API tokens; and the invitee's own page of pending invitations (accept or decline), reachable
from the console and from the portal."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.mail import EmailMultiAlternatives, send_mail
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mdm.choices import Role
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib import cache
from mdm.lib.http import client_ip
from mdm.models import ApiToken, Invitation, Membership
from mdm.permissions import CONSOLE_ROLES, SESSION_ORG_KEY, Perm
from mdm.services import (
    api_token_create,
    api_token_revoke,
    invitation_accept,
    invitation_decline,
    invitation_resend,
    invitation_revoke,
    member_invitation_cancel,
    member_invitation_pending,
    member_invitation_resend,
    member_invite,
    membership_change_role,
    pending_invitations_of,
)
from mdm.services import membership_remove as membership_remove_service
from mdm.templatetags.ui import ago

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

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """Send, letting a failure raise (Django's own only logs it), so the console can say so."""
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        EmailMultiAlternatives(subject, body, from_email, [to_email]).send()

    def get_users(self, email):
        return list(get_user_model()._default_manager.filter(email__iexact=email, is_active=True))


def send_invitation(request, user, *, role: str) -> bool:
    """E-mail a link to choose a password (Django's password-reset tokens: single use, and
    expiring after PASSWORD_RESET_TIMEOUT). The link is built on MDM_ISSUER, never on the
    request's Host header. An employee's speaks of the self-service portal and links there (the
    console is not theirs). False when the mail could not be sent."""
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
            # The stubs type this as str to str: "" is false in the template, "portal" true.
            extra_email_context={
                "organization": request.org.organization.name,
                "portal": "portal" if role == Role.EMPLOYEE else "",
            },
        )
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("The invitation to %s could not be sent: %s", user.email, exc)
        return False
    return True


class PortalInvitationView(PasswordResetConfirmView):
    """An employee's invitation link: the same one-time token check as the console's (Django's
    password-reset view), then signed in and taken to the portal, the one place that is theirs."""

    template_name = "registration/set_password.html"
    success_url = reverse_lazy("portal:home")
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is set. Enroll your devices here."))
        return response


def _invitations_url(role: str) -> str:
    """Where the invitee answers: the portal for an employee, the console for the other roles."""
    return settings.MDM_ISSUER + ("/portal/invitations/" if role == Role.EMPLOYEE else "/console/invitations/")


def send_pending_invitation(invitation: Invitation) -> bool:
    """E-mail an existing account that it is invited (a link to accept or decline, built on
    MDM_ISSUER). False when the mail could not be sent: the invitee still sees it on sign-in."""
    context = {
        "organization": invitation.organization.name,
        "role": invitation.get_role_display(),
        "email": invitation.user.email,
        "url": _invitations_url(invitation.role),
        "expires_at": invitation.expires_at,
    }
    subject = "".join(render_to_string("registration/invitation_pending_subject.txt", context).splitlines())
    body = render_to_string("registration/invitation_pending_email.txt", context)
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[invitation.user.email])
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("The invitation to %s could not be sent: %s", invitation.user.email, exc)
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
                result = member_invite(
                    organization=org,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                    actor=request.org.actor,
                    client_ip=client_ip(request),
                )
            except ServiceError as exc:
                form.add_error("email", exc.message)
            else:
                email = result.user.email
                if result.invitation is not None:
                    # An existing account: nothing changes until its owner accepts.
                    if send_pending_invitation(result.invitation):
                        messages.success(
                            request,
                            _("%(email)s has an account: invitation sent, pending acceptance.") % {"email": email},
                        )
                    else:
                        messages.error(
                            request,
                            _("Invitation recorded, but the e-mail could not be sent; %(email)s sees it on sign-in.")
                            % {"email": email},
                        )
                elif send_invitation(request, result.user, role=form.cleaned_data["role"]):
                    messages.success(request, _("Invitation sent to %(email)s.") % {"email": email})
                else:
                    messages.error(request, _("Added, but the invitation e-mail could not be sent; try again later."))
                return redirect("console:members")
    rows = list(Membership.objects.filter(organization=org).select_related("user").order_by("user__email"))
    now = timezone.now()
    for row in rows:
        row.last_sign_in = _last_sign_in(row.user.last_login, now)  # type: ignore[attr-defined]
    invitations = Invitation.objects.filter(organization=org).select_related("user", "invited_by")
    context = {
        "form": form,
        # Not `memberships`: the layout's organization switcher reads that name (context processor).
        "member_rows": [row for row in rows if not member_invitation_pending(row)],
        "pending_members": [row for row in rows if member_invitation_pending(row)],
        "invitations": invitations.order_by("user__email"),
        "now": now,
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


def _last_sign_in(at, now) -> str:
    """ "3 days ago", "never": the largest unit only, which is what a glance at the list needs."""
    return ago(at, now) if at is not None else _("never")


# One resend a minute per invitation: each e-mails the invitee, and a double click must not.
RESEND_INTERVAL_SECONDS = 60


def _resend_allowed(request, key: str) -> bool:
    if cache.incr_in_window(f"invitation-resend:{key}", timeout=RESEND_INTERVAL_SECONDS) in (None, 1):
        return True
    messages.error(request, _("This invitation was sent less than a minute ago: wait a minute before resending it."))
    return False


@require_POST
@console_view(Perm.MEMBERS_MANAGE)
def member_pending_resend(request, pk):
    """A new account's invitation again: a new one-time link, the earlier ones stop working."""
    membership = get_object_or_404(
        Membership.objects.filter(organization=request.org.organization).select_related("user"), pk=pk
    )
    if not _resend_allowed(request, f"member:{membership.pk}"):
        return redirect("console:members")
    try:
        member_invitation_resend(membership=membership, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:members")
    if send_invitation(request, membership.user, role=membership.role):
        messages.success(
            request,
            _("A new invitation was sent to %(email)s; the earlier link no longer works.")
            % {"email": membership.user.email},
        )
    else:
        messages.error(request, _("The earlier link no longer works, but the new e-mail could not be sent; try again."))
    return redirect("console:members")


@require_POST
@console_view(Perm.MEMBERS_MANAGE)
def member_pending_cancel(request, pk):
    """Cancel a new account's invitation: the membership goes and the link stops working."""
    membership = get_object_or_404(
        Membership.objects.filter(organization=request.org.organization).select_related("user"), pk=pk
    )
    try:
        member_invitation_cancel(membership=membership, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation of %(email)s revoked.") % {"email": membership.user.email})
    return redirect("console:members")


@require_POST
@console_view(Perm.MEMBERS_MANAGE)
def member_invitation_resend_view(request, pk):
    """An existing account's pending invitation again, with a fresh expiry."""
    invitation = get_object_or_404(
        Invitation.objects.filter(organization=request.org.organization).select_related("user", "organization"), pk=pk
    )
    if not _resend_allowed(request, f"invitation:{invitation.pk}"):
        return redirect("console:members")
    try:
        invitation = invitation_resend(invitation=invitation, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:members")
    if send_pending_invitation(invitation):
        messages.success(request, _("Invitation sent again to %(email)s.") % {"email": invitation.user.email})
    else:
        messages.error(request, _("The invitation's expiry is renewed, but the e-mail could not be sent; try again."))
    return redirect("console:members")


@require_POST
@console_view(Perm.MEMBERS_MANAGE)
def member_invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation.objects.filter(organization=request.org.organization), pk=pk)
    try:
        invitation_revoke(invitation=invitation, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation cancelled."))
    return redirect("console:members")


def _my_invitations(request, surface: str):
    """The signed-in person's pending invitations, whichever door they came through."""
    context = {"invitations": pending_invitations_of(request.user), "surface": surface}
    return render(request, "registration/invitations.html", context)


def _my_invitation_decide(request, pk, surface: str):
    invitation = get_object_or_404(Invitation.objects.filter(user=request.user), pk=pk)
    organization = invitation.organization.name
    try:
        if request.POST.get("decision") == "accept":
            membership = invitation_accept(invitation=invitation, user=request.user, client_ip=client_ip(request))
        elif request.POST.get("decision") == "decline":
            invitation_decline(invitation=invitation, user=request.user, client_ip=client_ip(request))
            messages.success(request, _("You declined the invitation to %(org)s.") % {"org": organization})
            return redirect(f"{surface}:invitations")
        else:
            messages.error(request, _("Accept or decline the invitation."))
            return redirect(f"{surface}:invitations")
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(f"{surface}:invitations")
    messages.success(request, _("You joined %(org)s.") % {"org": organization})
    if membership.role in CONSOLE_ROLES:
        request.session[SESSION_ORG_KEY] = str(membership.organization_id)
        return redirect("console:dashboard")
    return redirect("portal:home")


@login_required(login_url="console:login")
def console_invitations(request):
    return _my_invitations(request, "console")


@require_POST
@login_required(login_url="console:login")
def console_invitation_decide(request, pk):
    return _my_invitation_decide(request, pk, "console")


@login_required(login_url="portal:login")
def portal_invitations(request):
    return _my_invitations(request, "portal")


@require_POST
@login_required(login_url="portal:login")
def portal_invitation_decide(request, pk):
    return _my_invitation_decide(request, pk, "portal")


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
