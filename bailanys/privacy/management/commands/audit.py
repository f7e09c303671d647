from django.core.management.base import BaseCommand, CommandError

from bailanys.privacy.audit import audit_verify


class Command(BaseCommand):
    help = "Work with the audit log."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="Check the hash chain; report the first broken link.")

    def handle(self, *, action: str, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"Audit chain broken at entry {report.broken_at}: {report.reason} "
                f"({report.entries} entries before it are intact)."
            )
        self.stdout.write(f"Audit chain intact: {report.entries} entries.")
