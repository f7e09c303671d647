from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from bailanys.accounts.models import Role, User
from bailanys.accounts.services import api_token_create, password_generate, user_create


class Command(BaseCommand):
    help = "Manage volunteer accounts."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Create an account; prints its API token last.")
        add.add_argument("name", help="Username (letters, digits and @.+-_)")
        add.add_argument("--coordinator", action="store_true", help="Give coordinator rights.")
        add.add_argument("--experienced", action="store_true", help="May take hard cases.")

    def handle(self, *, action: str, **options):
        if action == "add":
            self.add(**options)

    def add(self, *, name: str, coordinator: bool, experienced: bool, **_options):
        if User.objects.filter(username=name).exists():
            raise CommandError(f"An account named {name!r} already exists.")
        role = (
            Role.COORDINATOR if coordinator else Role.EXPERIENCED if experienced else Role.VOLUNTEER
        )
        password = password_generate()
        try:
            user = user_create(username=name, role=role, password=password)
        except ValidationError as exc:
            reasons = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(f"Cannot create {name!r}: {reasons}") from None
        token = api_token_create(user=user)
        self.stdout.write(f"Created {user.get_role_display().lower()} {user.username}.")
        self.stdout.write(f"Password for the web console: {password}")
        self.stdout.write("API token (shown once; the last line is the token alone):")
        self.stdout.write(token)
