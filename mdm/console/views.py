from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from mdm.audit import AUDIT_ACTIONS, audit_action_label, audit_chain_verify_record, audit_details_display
from mdm.celery import enqueue_on_commit
from mdm.console import lockout
from mdm.console.decorators import console_view
from mdm.exports import audit_export_response
from mdm.lib import cache
from mdm.models import AuditEvent
from mdm.permissions import SESSION_ORG_KEY, Perm, memberships_of
from mdm.selectors import SeekPaginator
from mdm.tasks import audit_chain_verify_task


class LockingAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing an address locked out by repeated failures."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-ins for this address. Try again in %(minutes)s minutes."),
    }

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username") or ""
        if email and not lockout.attempt(email):
            raise ValidationError(
                self.error_messages["locked"], code="locked", params={"minutes": settings.MDM_LOGIN_LOCKOUT_MINUTES}
            )
        cleaned = super().clean()
        lockout.clear(email)
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = LockingAuthenticationForm

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if not settings.PRODUCTION:  # a development server says where `make run` put the demo sign-in
            path = settings.VAR_DIR / "demo-credentials.txt"
            if path.exists():
                shown = path.relative_to(settings.BASE_DIR) if path.is_relative_to(settings.BASE_DIR) else path
                context["demo_credentials_file"] = str(shown)
        return context


class LogoutView(auth_views.LogoutView):
    pass


@require_POST
@console_view()
def switch_organization(request) -> HttpResponse:
    wanted = request.POST.get("organization", "")
    if not any(str(m.organization_id) == wanted for m in memberships_of(request.user)):
        return HttpResponseBadRequest("You are not a member of that organization.")
    request.session[SESSION_ORG_KEY] = wanted
    return redirect("console:dashboard")


def _audit_action_choices() -> list[tuple[str, str | Promise]]:
    # A callable: the apps register their actions when they are ready, after this module is imported.
    return [("", _("Any")), *[(a, audit_action_label(a)) for a in sorted(AUDIT_ACTIONS)]]


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Who"), required=False, max_length=100)
    action = forms.ChoiceField(label=_("What"), required=False, choices=_audit_action_choices)
    target = forms.CharField(label=_("Target (name or id)"), required=False, max_length=100)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To (inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_label__icontains=data["actor"])
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("target"):
            events = events.filter(Q(target_label__icontains=data["target"]) | Q(target_id=data["target"]))
        # Days as ranges of instants (in the current time zone, as `__date` would take them): a
        # date computed from each row's created_at can use no index.
        if data.get("since"):
            events = events.filter(created_at__gte=_start_of(data["since"]))
        if data.get("until"):
            events = events.filter(created_at__lt=_start_of(data["until"] + timedelta(days=1)))
        return events


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@console_view(Perm.AUDIT_VIEW)
def audit_export_view(request) -> HttpResponseBase:
    """The log as CSV, with the filters on screen (in error: back to the log, which shows them)."""
    org = request.org.organization
    form = AuditFilterForm(request.GET or None)
    events: QuerySet[AuditEvent] = AuditEvent.objects.filter(organization=org)
    if form.is_bound:
        if not form.is_valid():
            messages.error(request, _("Correct the filters first: nothing was exported."))
            return redirect(f"{reverse('console:audit')}?{request.GET.urlencode()}")
        events = form.filter(events)
    filters = {name: value for name, value in (form.cleaned_data if form.is_bound else {}).items() if value}
    return audit_export_response(request, context=request.org, events=events, filters=filters)


@console_view(Perm.AUDIT_VIEW)
def audit_log(request) -> HttpResponse:
    org = request.org.organization
    if request.method == "POST":
        return _audit_verify(request, org)
    form = AuditFilterForm(request.GET or None)
    events: QuerySet[AuditEvent] = AuditEvent.objects.filter(organization=org)
    if form.is_bound and form.is_valid():
        events = form.filter(events)
    page = SeekPaginator(events.order_by("-seq"), 100, key="seq").get_page(request.GET.get("page"))
    last_check = AuditEvent.objects.filter(organization=org, action="audit.chain_verified").order_by("-seq").first()
    query = request.GET.copy()
    query.pop("page", None)
    rows = [{"event": event, "action": audit_action_label(event.action),
             "details": audit_details_display(event.details)} for event in page]  # fmt: skip
    context = {"form": form, "page": page, "rows": rows, "last_check": last_check, "query": query.urlencode()}
    return render(request, "console/audit.html", context)


# A chain up to this long is verified while the admin waits (a few seconds at most), and the page
# they come back to shows the result; a longer one is verified by the worker.
AUDIT_VERIFY_IN_REQUEST_MAX = 100_000


def _audit_verify(request, org) -> HttpResponse:
    # At most one on-demand verification per organization every 5 minutes: each walks the chain.
    if cache.incr_in_window(f"audit-verify:{org.pk}", timeout=300) not in (None, 1):
        messages.info(request, _("The chain was verified less than 5 minutes ago: its result is below."))
        return redirect("console:audit")
    if org.audit_seq > AUDIT_VERIFY_IN_REQUEST_MAX:
        enqueue_on_commit(audit_chain_verify_task, str(org.pk))
        messages.success(request, _("Verification started: the log is long, its result appears here in a few minutes."))
        return redirect("console:audit")
    report = audit_chain_verify_record(org, actor=request.org.actor)
    if report.ok:
        messages.success(request, _("Chain verified: %(n)d events intact.") % {"n": report.events})
    else:
        messages.error(request, _("Chain broken at event #%(seq)s: %(reason)s.")
                       % {"seq": report.first_broken_seq, "reason": report.reason})  # fmt: skip
    return redirect("console:audit")
