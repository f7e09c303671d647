from django.core.management.base import BaseCommand

from bailanys.privacy.services import keys_rotate


class Command(BaseCommand):
    help = "Manage encryption keys."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "rotate", help="Re-wrap every data key under a new master key (no downtime)."
        )

    def handle(self, *, action: str, **options):
        result = keys_rotate()
        self.stdout.write(
            f"Re-wrapped {result['rewrapped']} data keys under master key {result['current_key']}."
        )
        if result["dropped_keys"]:
            self.stdout.write(f"Removed old master keys: {', '.join(result['dropped_keys'])}.")
