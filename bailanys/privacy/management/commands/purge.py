from django.core.management.base import BaseCommand

from bailanys.privacy.services import retention_purge


class Command(BaseCommand):
    help = "Delete cases past their retention limits now (workers also do this hourly)."

    def handle(self, **options):
        result = retention_purge()
        self.stdout.write(f"Purged {result['cases']} cases and {result['requests']} requests.")
