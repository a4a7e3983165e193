from django.core.management.base import BaseCommand

from devices.commands.rotate_container_key import container_keys_rotate_due


class Command(BaseCommand):
    help = "Rotate every container key older than its persona's rotation interval (the beat task does this hourly)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="Rotate at most this many keys.")

    def handle(self, *args, limit, **options):
        rotated = container_keys_rotate_due(limit=limit)
        self.stdout.write(f"rotated {rotated} container key(s)")
