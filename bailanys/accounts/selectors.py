from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.query import QuerySet
from django.utils import timezone

from bailanys.accounts.models import ApiToken, Invitation, User
from bailanys.accounts.tokens import token_digest


def user_from_api_token(*, token: str) -> User | None:
    """The active account a bearer token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    row = ApiToken.objects.select_related("user").filter(digest=token_digest(token)).first()
    if row is None or not row.user.is_active:
        return None
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row.user


def account_state_for_login(*, username: str, password: str) -> str | None:
    """Why a login with the right password was refused: pending or suspended.

    Only called after authentication failed, and only answers when the password
    is right, so it tells a stranger nothing about which accounts exist.
    """
    user = User.objects.filter(username=username).first()
    if user is None or user.is_active or not user.check_password(password):
        return None
    return user.state


def invitation_from_token(*, token: str) -> Invitation | None:
    """The invitation behind a link, used or not; None for a link we never made."""
    if not token or len(token) > 200:
        return None
    return Invitation.objects.filter(digest=token_digest(token)).first()


def invitations_open() -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("created_by")
        .order_by("expires_at")
    )


def accounts_for_coordinator() -> list[User]:
    """Every account, those waiting for approval first, then active, then suspended."""
    pending = Q(is_active=False, approved_at__isnull=True, suspended_at__isnull=True)
    users = (
        User.objects.annotate(
            order=Case(
                When(pending, then=Value(0)),
                When(is_active=True, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .select_related("invitation__created_by")
        .order_by("order", "username")
    )
    return list(users)
