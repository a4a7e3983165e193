from django.utils.functional import SimpleLazyObject

from mdm.permissions import memberships_of
from mdm.services import pending_invitations_of


def console(request):
    """What the console's and the portal's layouts need on every page: the current organization
    and the others (console), and the signed-in person's pending invitations (both; queried only
    when a template shows them)."""
    context = {}
    if request.path.startswith(("/console/", "/portal/")) and getattr(request, "user", None) is not None:
        user = request.user
        context["pending_invitations"] = SimpleLazyObject(lambda: pending_invitations_of(user))
    org = getattr(request, "org", None)
    if org is None or not request.path.startswith("/console/"):
        return context
    return {**context, "org": org, "memberships": memberships_of(request.user)}
