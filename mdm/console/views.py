from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.db.models import Count
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mdm.console.decorators import console_view
from mdm.models import AuditEvent
from mdm.permissions import SESSION_ORG_KEY, Perm, memberships_of


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@console_view()
def dashboard(request):
    org = request.org
    context = {
        "members_by_role": (org.organization.memberships.values("role").annotate(count=Count("id")).order_by("role")),
        "recent_events": (
            AuditEvent.objects.filter(organization=org.organization).order_by("-seq")[:10]
            if org.can(Perm.AUDIT_VIEW)
            else []
        ),
    }
    return render(request, "console/dashboard.html", context)


@require_POST
@console_view()
def switch_organization(request):
    wanted = request.POST.get("organization", "")
    if not any(str(m.organization_id) == wanted for m in memberships_of(request.user)):
        return HttpResponseBadRequest("You are not a member of that organization.")
    request.session[SESSION_ORG_KEY] = wanted
    return redirect("console:dashboard")
