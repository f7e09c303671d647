"""Writes of accounts: creation, invitations, approval, suspension, second factors."""

import secrets
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bailanys.accounts.models import INVITABLE_ROLES, AccountState, ApiToken, Invitation, Role, User
from bailanys.accounts.tokens import token_digest, token_new
from bailanys.privacy.audit import actor_label, audit_record

SEARCHABLE_SESSION_ENGINES = (
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
)

# Where an operator at the server's own console did something (the CLI).
CLI_ACTOR = "cli"


class InvitationUnknown(Exception):
    """No invitation was ever made with this token."""


class InvitationGone(Exception):
    """The invitation was used, revoked or has expired."""


def password_generate() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def user_create(*, username: str, role: str = Role.VOLUNTEER, password: str | None = None) -> User:
    """Create an approved account; without a password it can only use the API token."""
    user = User(
        username=username,
        role=role,
        is_staff=role in (Role.COORDINATOR, Role.ADMIN),
        approved_at=timezone.now(),
    )
    if role == Role.ADMIN:
        user.is_superuser = True
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user


def api_token_create(*, user: User) -> str:
    """Make a new API token and return it; it is shown this once and never again."""
    token = token_new()
    ApiToken.objects.create(user=user, digest=token_digest(token))
    return token


# --- Invitations --------------------------------------------------------------


def _require_coordinator(user: User | None) -> None:
    if user is not None and not (user.is_active and user.is_coordinator):
        raise PermissionDenied


def invitation_create(
    *, coordinator: User | None, role: str = Role.VOLUNTEER, request: HttpRequest | None = None
) -> tuple[Invitation, str]:
    """Make a single-use invitation; return it and its token (shown once, never stored).

    `coordinator` is None when an operator makes it from the command line.
    """
    _require_coordinator(coordinator)
    if role not in INVITABLE_ROLES:
        raise ValueError(f"an invitation cannot give the role {role!r}")
    token = token_new()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            digest=token_digest(token),
            role=role,
            created_by=coordinator,
            expires_at=timezone.now() + timedelta(days=settings.BAILANYS_INVITATION_DAYS),
        )
        audit_record(
            actor=actor_label(coordinator) if coordinator else CLI_ACTOR,
            action="invitation.create",
            object_type="invitation",
            object_id=invitation.pk,
            request=request,
            detail=role,
        )
    return invitation, token


def invitation_revoke(
    *, coordinator: User, invitation_id: int, request: HttpRequest | None = None
) -> bool:
    """Close an unused invitation. False if it was already used, revoked or gone."""
    _require_coordinator(coordinator)
    with transaction.atomic():
        revoked = Invitation.objects.filter(
            pk=invitation_id, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if revoked:
            audit_record(
                actor=actor_label(coordinator),
                action="invitation.revoke",
                object_type="invitation",
                object_id=invitation_id,
                request=request,
            )
    return bool(revoked)


def invitation_check(*, token: str) -> Invitation:
    """The open invitation behind a token; raises InvitationUnknown or InvitationGone."""
    from bailanys.accounts.selectors import invitation_from_token

    invitation = invitation_from_token(token=token)
    if invitation is None:
        raise InvitationUnknown
    if not invitation.is_open:
        raise InvitationGone
    return invitation


def invitation_accept(
    *, token: str, username: str, password: str, request: HttpRequest | None = None
) -> User:
    """Sign up with an invitation: the account exists but cannot log in until approved.

    The invitation is spent in the same transaction, with a compare-and-set, so
    two people racing with one link make one account.
    """
    invitation = invitation_check(token=token)
    now = timezone.now()
    with transaction.atomic():
        user = User(username=username, role=invitation.role, is_active=False)
        user.set_password(password)
        user.full_clean()
        user.save()
        spent = Invitation.objects.filter(
            pk=invitation.pk, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).update(used_at=now, used_by=user)
        if not spent:
            raise InvitationGone  # rolls the new account back too
        audit_record(
            actor=actor_label(user),
            action="invitation.accept",
            object_type="user",
            object_id=user.pk,
            request=request,
            detail=f"invitation {invitation.pk}",
        )
    return user


# --- Approval and suspension ------------------------------------------------


def _may_manage(coordinator: User | None, user: User) -> None:
    """Coordinators manage volunteers; only an admin (or the CLI) manages coordinators."""
    _require_coordinator(coordinator)
    if coordinator is None:
        return
    if coordinator.pk == user.pk:
        raise PermissionDenied
    if user.is_coordinator and coordinator.role != Role.ADMIN:
        raise PermissionDenied


def _actor(coordinator: User | None) -> str:
    return actor_label(coordinator) if coordinator is not None else CLI_ACTOR


def account_approve(
    *, coordinator: User | None, user: User, request: HttpRequest | None = None
) -> bool:
    """Let an account that joined by invitation log in. False if it was not waiting."""
    _may_manage(coordinator, user)
    with transaction.atomic():
        approved = User.objects.filter(
            pk=user.pk, is_active=False, approved_at__isnull=True, suspended_at__isnull=True
        ).update(is_active=True, approved_at=timezone.now(), approved_by=coordinator)
        if approved:
            audit_record(
                actor=_actor(coordinator),
                action="account.approve",
                object_type="user",
                object_id=user.pk,
                request=request,
            )
    user.refresh_from_db()
    return bool(approved)


def _sessions_end(user: User) -> int:
    """Delete every server-side session of `user`. Returns how many."""
    if settings.SESSION_ENGINE not in SEARCHABLE_SESSION_ENGINES:
        # Other stores cannot be searched; the middleware ends such sessions
        # on their next request instead (see AccountGuardMiddleware).
        return 0
    engine = import_module(settings.SESSION_ENGINE)
    ended = 0
    wanted = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get(SESSION_KEY)) == wanted:
            engine.SessionStore(session_key=session.session_key).delete()
            ended += 1
    return ended


def account_suspend(
    *,
    coordinator: User | None,
    user: User,
    request: HttpRequest | None = None,
    then: Callable[[User], str] | None = None,
) -> bool:
    """Lock an account out now: no login, no session, no API token. False if it was already.

    Its API tokens are deleted (a suspended volunteer's phone may be in other hands;
    reactivating does not bring them back). `then(user)` runs in the same transaction
    once the account is locked, and what it returns goes into the audit line: the relay
    gives back the cases the account held (relay.services.volunteer_suspend).
    """
    _may_manage(coordinator, user)
    with transaction.atomic():
        suspended = User.objects.filter(pk=user.pk, suspended_at__isnull=True).update(
            is_active=False, suspended_at=timezone.now(), suspended_by=coordinator
        )
        if suspended:
            ApiToken.objects.filter(user=user).delete()
            _sessions_end(user)
            audit_record(
                actor=_actor(coordinator),
                action="account.suspend",
                object_type="user",
                object_id=user.pk,
                request=request,
                detail=then(user) if then else "",
            )
    user.refresh_from_db()
    return bool(suspended)


def account_reactivate(
    *, coordinator: User | None, user: User, request: HttpRequest | None = None
) -> bool:
    """Let a suspended account log in again (with a new API token if it needs one)."""
    _may_manage(coordinator, user)
    if user.state != AccountState.SUSPENDED:
        return False
    now = timezone.now()
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=False).update(
            is_active=True, suspended_at=None, suspended_by=None
        )
        # Rejecting a newcomer is a suspension; taking them back approves them.
        User.objects.filter(pk=user.pk, approved_at__isnull=True).update(
            approved_at=now, approved_by=coordinator
        )
        if changed:
            audit_record(
                actor=_actor(coordinator),
                action="account.reactivate",
                object_type="user",
                object_id=user.pk,
                request=request,
            )
    user.refresh_from_db()
    return bool(changed)


# --- Two-factor (TOTP) --------------------------------------------------------


def totp_device_start(*, user: User) -> TOTPDevice:
    """The unconfirmed TOTP device a coordinator is setting up, made if there is none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Bailanys", confirmed=False)
    return device


def totp_device_confirm(
    *, user: User, token: str, request: HttpRequest | None = None
) -> TOTPDevice | None:
    """Confirm the device being set up with a code from the app; None if the code is wrong."""
    from django_otp import verify_token

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None or verify_token(user, device.persistent_id, token) is None:
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_record(
            actor=actor_label(user),
            action="2fa.confirm",
            object_type="user",
            object_id=user.pk,
            request=request,
        )
    device.refresh_from_db()
    return device


def totp_reset(*, user: User) -> int:
    """Remove every TOTP device of an account (lost phone). From the CLI only.

    The next login asks the person to set up a new one. Returns how many were removed.
    """
    with transaction.atomic():
        removed, _detail = TOTPDevice.objects.filter(user=user).delete()
        audit_record(
            actor=CLI_ACTOR,
            action="2fa.reset",
            object_type="user",
            object_id=user.pk,
            detail=f"removed {removed} device(s)",
        )
    _sessions_end(user)
    return removed
