from django.utils.functional import SimpleLazyObject

from events.selectors import failing_destinations


def destinations_failing(request):
    """The console's banner on every page: this organization's failing destinations (queried only
    when the layout shows it, which is on console pages)."""
    org = getattr(request, "org", None)
    if org is None or not request.path.startswith("/console/"):
        return {}
    organization_id = org.organization.pk
    return {"failing_destinations": SimpleLazyObject(lambda: failing_destinations(organization_id))}
