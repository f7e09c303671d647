from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError

from bailanys.privacy.services import RotationStalled, keys_rotate


class Command(BaseCommand):
    help = "Manage encryption keys."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "rotate",
            help="Re-wrap every data key under a new master key (no downtime; "
            "run it again to finish a rotation that was cut short).",
        )

    def handle(self, *, action: str, **options):
        try:
            result = keys_rotate()
        except RotationStalled as exc:
            raise CommandError(str(exc)) from exc
        except OperationalError as exc:
            raise CommandError(
                f"the database stayed busy ({exc}); run `bailanys keys rotate` again: "
                "it carries on where this one stopped."
            ) from exc
        if result["resumed"]:
            self.stdout.write(
                f"Resumed the rotation to master key {result['current_key']} that was cut short."
            )
        self.stdout.write(
            f"Re-wrapped {result['rewrapped']} data keys under master key {result['current_key']}."
        )
        if result["retries"]:
            self.stdout.write(
                f"The database was busy {result['retries']} times; those batches were retried."
            )
        if result["dropped_keys"]:
            self.stdout.write(f"Removed old master keys: {', '.join(result['dropped_keys'])}.")
