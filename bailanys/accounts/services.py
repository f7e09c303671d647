import secrets

from django.db import transaction

from bailanys.accounts.models import ApiToken, Role, User
from bailanys.accounts.tokens import token_digest, token_new


def password_generate() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def user_create(*, username: str, role: str = Role.VOLUNTEER, password: str | None = None) -> User:
    """Create an account; without a password it can only use the API token."""
    user = User(username=username, role=role, is_staff=role in (Role.COORDINATOR, Role.ADMIN))
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
