from django.utils import timezone

from bailanys.accounts.models import ApiToken, User
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
