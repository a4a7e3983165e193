from django.core.management.base import BaseCommand, CommandError

from mdm.keyring import UnwrapError, count_not_current, keyring, rewrap_all


class Command(BaseCommand):
    help = (
        "Re-wrap every secret at rest (signing keys, container keys, enrollment tokens) under the current KEK. "
        "Set MDM_KEK to the new key and MDM_KEK_PREVIOUS to the old one first. Safe to interrupt and run again; "
        "never needs the devices."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--limit", type=int, default=None, help="Stop after re-wrapping this many secrets.")

    def handle(self, *args, batch_size, limit, **options):
        ring = keyring()
        if not ring.previous:
            self.stdout.write("note: MDM_KEK_PREVIOUS is empty: only secrets already under MDM_KEK can be read.")
        try:
            done = rewrap_all(ring=ring, batch_size=batch_size, limit=limit)
        except UnwrapError as exc:
            raise CommandError(f"{exc} Put the old KEK in MDM_KEK_PREVIOUS and run again.") from exc
        for label, count in done.items():
            self.stdout.write(f"re-wrapped {count:>7}  {label}")
        left = count_not_current(ring)
        remaining = sum(left.values())
        if remaining:
            self.stdout.write(f"{remaining} secret(s) still under an older KEK: run again to finish.")
        else:
            self.stdout.write(
                self.style.SUCCESS("Every secret is wrapped under the current KEK; MDM_KEK_PREVIOUS can go.")
            )
