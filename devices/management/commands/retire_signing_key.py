from django.core.management.base import BaseCommand, CommandError

from devices.signing_keys import signing_key_pins, signing_key_retire
from mdm.errors import ServiceError
from mdm.models import SigningKey


class Command(BaseCommand):
    help = (
        "Retire a previous server signing key for good: its private key is destroyed and it is unpublished. "
        "Devices still pinning it can no longer be reached; that needs --force. Without a kid, list the keys "
        "and how many devices pin each."
    )

    def add_arguments(self, parser):
        parser.add_argument("kid", nargs="?", help="The key to retire (see the list without arguments).")
        # A kid is base64url and may start with "-", which a positional argument cannot: --kid=<kid>.
        parser.add_argument("--kid", dest="kid_option", metavar="KID", help="The key to retire, as an option.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Retire it even though enrolled devices still pin it: they can no longer be reached.",
        )

    def handle(self, *args, kid, kid_option, force, **options):
        kid = kid_option or kid
        if not kid:
            pins = signing_key_pins()
            for key in SigningKey.objects.order_by("-created_at"):
                self.stdout.write(f"{key.kid}  {key.state:<8}  {pins.get(key.kid, 0)} device(s) pin it")
            return
        try:
            retirement = signing_key_retire(kid=kid, force=force)
        except ServiceError as exc:
            hint = " Use --force to retire it anyway." if exc.code == "signing_key_pinned" else ""
            raise CommandError(exc.message + hint) from exc
        self.stdout.write(f"retired key: {kid} (private key destroyed, unpublished)")
        if retirement.devices_pinning:
            self.stdout.write(f"{retirement.devices_pinning} device(s) still pinned it and can no longer be reached")
