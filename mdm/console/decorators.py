"""The console's door: signed in, a member of the organization, and holding the permission."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from mdm.permissions import Perm, context_for_request, memberships_of


def console_view(perm: Perm = Perm.ORG_VIEW):
    """Decorate a console view; it finds the OrgContext in `request.org`."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            context = context_for_request(request)
            if context is None:
                if memberships_of(request.user, console=False):
                    # An employee only: the self-service portal is theirs, the console is not.
                    if request.method in ("GET", "HEAD"):
                        return redirect("portal:home")
                    raise PermissionDenied(
                        "The console is for your organization's IT staff; your devices are in the self-service portal."
                    )
                return render(request, "console/no_membership.html", status=403)
            if not context.can(perm):
                raise PermissionDenied(f"Your role ({context.role}) does not allow this.")
            request.org = context
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
