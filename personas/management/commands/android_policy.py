"""Print the Android Management API policy a persona compiles to, and what Android does not enforce.

Reads only the database: no Google setting is needed, nothing is sent.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from mdm.models import Organization
from mdm.selectors import org_filter
from personas.selectors import persona_android_policy, persona_find


class Command(BaseCommand):
    help = (
        "Print the Android Management API Policy (JSON) a persona compiles to; "
        "the settings Android does not enforce go to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("persona", help="Persona id or name.")
        parser.add_argument("--org", required=True, help="Organization name, slug or id.")

    def handle(self, *args, persona, org, **options):
        organizations = list(Organization.objects.filter(org_filter(org))[:2])
        if not organizations:
            raise CommandError(f"No organization {org!r}.")
        if len(organizations) > 1:
            raise CommandError(f"More than one organization is named {org!r}: give its slug or id.")
        found = persona_find(organization_id=organizations[0].pk, ref=persona)
        if found is None:
            raise CommandError(f"No persona {persona!r} in {organizations[0].slug}.")
        compiled = persona_android_policy(persona=found)
        self.stdout.write(json.dumps(compiled.policy, indent=2, sort_keys=True))
        if compiled.unenforced:
            self.stderr.write(f"Not enforced on Android work profiles ({len(compiled.unenforced)}):")
            for item in compiled.unenforced:
                self.stderr.write(f"  {item.path}: {item.message}")
