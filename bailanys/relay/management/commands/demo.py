from django.core.management.base import BaseCommand

from bailanys.relay.demo import demo_load


class Command(BaseCommand):
    help = "Load the demo scenario (requests and volunteers) and print the logins."

    def handle(self, **options):
        created, logins = demo_load()
        self.stdout.write(f"Demo: {created} new requests.")
        for username, password in logins:
            self.stdout.write(f"  volunteer login: {username} / {password}")
