from django.core.management.base import BaseCommand

from bailanys.relay.demo import demo_load, login_lines


class Command(BaseCommand):
    help = "Load the demo scenario (requests and volunteers) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--new-passwords",
            action="store_true",
            help="Give the demo volunteers new passwords (by default a restart keeps them).",
        )

    def handle(self, *, new_passwords: bool, **options):
        created, logins = demo_load(new_passwords=new_passwords)
        self.stdout.write(f"Demo: {created} new requests.")
        for line in login_lines(logins):
            self.stdout.write(line)
