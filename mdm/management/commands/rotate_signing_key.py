from django.core.management.base import BaseCommand

from mdm.signing import signing_key_rotate


class Command(BaseCommand):
    help = (
        "Activate a new server signing key. The old one becomes `previous`: still published, still signing for "
        "the devices that pin it, and offering each of them a rollover to the new key (agent protocol v1.1)."
    )

    def handle(self, *args, **options):
        # One transaction, with an audit event in every organization's log.
        old, new = signing_key_rotate()
        self.stdout.write(f"active key: {new.kid}")
        if old:
            self.stdout.write(f"previous key (still published, rolling devices over): {old.kid}")
            self.stdout.write(f"retire it once no device pins it: python manage.py retire_signing_key --kid={old.kid}")
