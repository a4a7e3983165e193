from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from mdm.console import lockout
from mdm.console.decorators import console_view
from mdm.permissions import SESSION_ORG_KEY, memberships_of


class LockingAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing an address locked out by repeated failures."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-ins for this address. Try again in %(minutes)s minutes."),
    }

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        if email and lockout.is_locked(email):
            raise ValidationError(
                self.error_messages["locked"], code="locked", params={"minutes": settings.MDM_LOGIN_LOCKOUT_MINUTES}
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if email:
                lockout.record_failure(email)
            raise
        lockout.clear(email)
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = LockingAuthenticationForm


class LogoutView(auth_views.LogoutView):
    pass


@require_POST
@console_view()
def switch_organization(request):
    wanted = request.POST.get("organization", "")
    if not any(str(m.organization_id) == wanted for m in memberships_of(request.user)):
        return HttpResponseBadRequest("You are not a member of that organization.")
    request.session[SESSION_ORG_KEY] = wanted
    return redirect("console:dashboard")
