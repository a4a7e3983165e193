from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mdm.actors import SYSTEM
from mdm.errors import ServiceError
from mdm.models import Membership
from mdm.selectors import org_filter
from mdm.services import api_token_create


class Command(BaseCommand):
    help = "Create an admin API token for a member of an organization and print it (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--org", required=True, help="Organization name, slug or id.")
        parser.add_argument("--name", default="command line")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after this many days.")

    def handle(self, *args, email, org, name, expires_days, **options):
        membership = (
            Membership.objects.select_related("organization", "user")
            .filter(org_filter(org, "organization__"), user__email__iexact=email)
            .first()
        )
        if membership is None:
            raise CommandError(f"{email} is not a member of an organization named {org!r}.")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            issued = api_token_create(membership=membership, name=name, expires_at=expires_at, actor=SYSTEM)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.token)
