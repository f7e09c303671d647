import hashlib
import secrets

TOKEN_PREFIX = "bly_"  # noqa: S105 (a prefix, not a secret)


def token_new() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()
