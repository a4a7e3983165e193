from django.core.management.base import BaseCommand, CommandError

from directory.services import scim_token_create
from mdm.actors import SYSTEM
from mdm.errors import ServiceError
from mdm.models import Organization
from mdm.selectors import org_filter


class Command(BaseCommand):
    help = "Create a SCIM token for an organization's identity provider and print it (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization name, slug or id.")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, org, name, **options):
        organization = Organization.objects.filter(org_filter(org)).first()
        if organization is None:
            raise CommandError(f"No organization named {org!r}.")
        try:
            issued = scim_token_create(organization=organization, name=name, actor=SYSTEM)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.token)
