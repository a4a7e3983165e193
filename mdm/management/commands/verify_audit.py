from django.core.management.base import BaseCommand, CommandError

from mdm.audit import audit_chain_verify
from mdm.models import Organization
from mdm.selectors import org_filter


class Command(BaseCommand):
    help = "Verify every organization's audit chain (or one, with --org); exits non-zero at the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Organization name, slug or id; all when omitted.")

    def handle(self, *args, org, **options):
        organizations = Organization.objects.order_by("slug")
        if org:
            organizations = organizations.filter(org_filter(org))
            if not organizations.exists():
                raise CommandError(f"No organization {org!r}.")
        broken = 0
        for organization in organizations:
            report = audit_chain_verify(organization)
            if report.ok:
                self.stdout.write(f"ok      {organization.slug}: {report.events} events")
            else:
                broken += 1
                self.stdout.write(
                    f"BROKEN  {organization.slug}: first broken link at #{report.first_broken_seq}: {report.reason}"
                )
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken.")
