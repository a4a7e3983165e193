from django.core.management.base import BaseCommand
from django.db import transaction

from mdm.audit import SYSTEM_ACTOR, audit_event_record
from mdm.models import Organization
from mdm.signing import signing_key_rotate


class Command(BaseCommand):
    help = "Activate a new server signing key; the old public key stays published for verification."

    def handle(self, *args, **options):
        with transaction.atomic():
            old, new = signing_key_rotate()
            # The keys serve every organization, so each one's log records the rotation.
            for organization in Organization.objects.all():
                audit_event_record(
                    organization=organization,
                    action="signing_key.rotated",
                    actor=SYSTEM_ACTOR,
                    target_type="signing_key",
                    target_id=new.kid,
                    details={"old_kid": old.kid if old else None, "new_kid": new.kid},
                )
        self.stdout.write(f"active key: {new.kid}")
        if old:
            self.stdout.write(f"retired key (still published): {old.kid}")
