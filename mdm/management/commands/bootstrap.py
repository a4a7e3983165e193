from django.core.management.base import BaseCommand, CommandError

from mdm.errors import ServiceError
from mdm.services import bootstrap


class Command(BaseCommand):
    help = "Create an organization and its owner (idempotent). Prints a generated password when none is given."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization name.")
        parser.add_argument("--email", required=True, help="The owner's e-mail address (their login).")
        parser.add_argument("--password", help="The owner's password; generated and printed when omitted.")

    def handle(self, *args, org, email, password, **options):
        try:
            result = bootstrap(org_name=org, email=email, password=password)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        o, u = result.organization, result.user
        self.stdout.write(f"organization: {o.name} ({o.id}) {'created' if result.created_organization else 'exists'}")
        self.stdout.write(f"owner: {u.email} {'created' if result.created_user else 'exists'}")
        if not result.created_membership:
            self.stdout.write("membership: exists")
        if result.password:
            self.stdout.write(f"password: {result.password}")
