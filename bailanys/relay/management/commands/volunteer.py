from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from bailanys.accounts.models import Role, User
from bailanys.accounts.services import (
    account_reactivate,
    api_token_create,
    invitation_create,
    password_generate,
    totp_reset,
    user_create,
)
from bailanys.relay.services import volunteer_suspend


class Command(BaseCommand):
    help = "Manage volunteer accounts."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Create an account; prints its API token last.")
        add.add_argument("name", help="Username (letters, digits and @.+-_)")
        add.add_argument("--coordinator", action="store_true", help="Give coordinator rights.")
        add.add_argument("--experienced", action="store_true", help="May take hard cases.")
        invite = sub.add_parser(
            "invite", help="Make a single-use signup link; prints it last. Needs approval after."
        )
        invite.add_argument("--experienced", action="store_true", help="May take hard cases.")
        invite.add_argument(
            "--base-url",
            default="",
            help="The address volunteers open (default: BAILANYS_PUBLIC_URL).",
        )
        reset = sub.add_parser(
            "reset-2fa", help="Remove an account's TOTP device (lost phone); it sets up a new one."
        )
        reset.add_argument("name")
        token = sub.add_parser("token", help="Issue a new API token; prints it last.")
        token.add_argument("name")
        suspend = sub.add_parser(
            "suspend", help="Lock an account out now: sessions, API tokens and held cases end."
        )
        suspend.add_argument("name")
        reactivate = sub.add_parser("reactivate", help="Let a suspended account log in again.")
        reactivate.add_argument("name")

    def handle(self, *, action: str, **options):
        if action == "add":
            self.add(**options)
        elif action == "invite":
            self.invite(**options)
        else:
            user = User.objects.filter(username=options["name"]).first()
            if user is None:
                raise CommandError(f"There is no account named {options['name']!r}.")
            getattr(self, action.replace("-", "_"))(user)

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

    def invite(self, *, experienced: bool, base_url: str, **_options):
        role = Role.EXPERIENCED if experienced else Role.VOLUNTEER
        invitation, token = invitation_create(coordinator=None, role=role)
        base = (base_url or settings.BAILANYS_PUBLIC_URL).rstrip("/")
        path = reverse("accounts:join", args=[token])
        self.stdout.write(
            f"Invitation ({invitation.get_role_display().lower()}): single use, valid for "
            f"{settings.BAILANYS_INVITATION_DAYS} days. A coordinator approves the account "
            "after signup."
        )
        if not base:
            self.stdout.write(
                "Put the address volunteers open in front of it (or set BAILANYS_PUBLIC_URL):"
            )
        self.stdout.write(base + path)

    def reset_2fa(self, user: User):
        removed = totp_reset(user=user)
        self.stdout.write(
            f"Removed {removed} two-step login device(s) of {user.username} and logged them out; "
            "they set up a new one at their next login."
        )

    def token(self, user: User):
        if not user.is_active:
            raise CommandError(f"{user.username} is not active (suspended or not approved).")
        token = api_token_create(user=user)
        self.stdout.write(f"New API token for {user.username} (the last line is the token alone):")
        self.stdout.write(token)

    def suspend(self, user: User):
        released = volunteer_suspend(coordinator=None, user=user)
        self.stdout.write(
            f"Suspended {user.username}: logged out, API tokens revoked, "
            f"{released} held case(s) back in the queue."
        )

    def reactivate(self, user: User):
        if not account_reactivate(coordinator=None, user=user):
            raise CommandError(f"{user.username} is not suspended.")
        self.stdout.write(
            f"{user.username} can log in again (issue a new API token with "
            f"`bailanys volunteer token {user.username}` if they need one)."
        )
