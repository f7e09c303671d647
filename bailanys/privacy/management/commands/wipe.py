from django.core.management.base import BaseCommand, CommandError

from bailanys.privacy.services import wipe


class Command(BaseCommand):
    help = "Emergency wipe: destroy the keys and every personal row. Cannot be undone."

    def add_arguments(self, parser):
        parser.add_argument("--confirm", action="store_true", help="Really do it.")

    def handle(self, *, confirm: bool, **options):
        if not confirm:
            raise CommandError("This destroys all personal data for good. Run with --confirm.")
        result = wipe()
        for label, n in sorted(result["deleted"].items()):
            self.stdout.write(f"Deleted {n} {label} rows.")
        for name in result["key_files_destroyed"]:
            self.stdout.write(f"Destroyed key file {name} (overwritten, then removed).")
        for name in result["keys_in_environment"]:
            self.stdout.write(
                f"WARNING: {name} is set in the environment; destroy that key where it is kept."
            )
        self.stdout.write("Wipe complete. New keys are made at the next start.")
