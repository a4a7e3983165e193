from mdm.permissions import memberships_of


def console(request):
    """What the console's layout needs on every page: the current organization and the others."""
    org = getattr(request, "org", None)
    if org is None or not request.path.startswith("/console/"):
        return {}
    return {"org": org, "memberships": memberships_of(request.user)}
