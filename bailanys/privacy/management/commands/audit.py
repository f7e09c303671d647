from django.core.management.base import BaseCommand, CommandError

from bailanys.privacy.audit import (
    audit_checkpoint_head,
    audit_checkpoint_latest,
    audit_seal,
    audit_verify,
)


class Command(BaseCommand):
    help = "Work with the audit log."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "verify",
            help="Check the sealed chain and its signed checkpoints; report the first broken "
            "link and how many entries wait to be sealed.",
        )
        sub.add_parser("seal", help="Seal what was written since the last seal (the worker does).")
        sub.add_parser(
            "checkpoint",
            help="Print the latest signed checkpoint and the public key, to publish elsewhere.",
        )

    def handle(self, *, action: str, **options):
        if action == "seal":
            sealed = audit_seal()
            while sealed and (more := audit_seal()):
                sealed += more
            self.stdout.write(f"Sealed {sealed} entries.")
            if audit_checkpoint_head():
                self.stdout.write("Signed the head of a log chained before checkpoints.")
            return
        if action == "checkpoint":
            latest = audit_checkpoint_latest()
            if latest is None:
                raise CommandError("Nothing sealed yet: no checkpoint to publish.")
            self.stdout.write(latest)
            return
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"Audit chain broken at entry {report.broken_at}: {report.reason} "
                f"({report.entries} entries before it are intact)."
            )
        self.stdout.write(f"Audit chain intact: {report.entries} entries.")
        if report.unsealed:
            self.stdout.write(
                f"{report.unsealed} entries written since the last seal are not sealed yet "
                "(the worker seals every second)."
            )
