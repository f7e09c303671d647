"""Flood limits, shared by every process through the cache.

The default cache is a database table (so limits hold across processes on
SQLite and PostgreSQL alike); with REDIS_URL set it is Redis. Counters are
fixed windows keyed by a hash of the source, so the cache never holds an
address or a contact in clear.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from bailanys.privacy.network import client_ip


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Limit":
        count, seconds = text.split("/")
        return cls(int(count), int(seconds))


def rate_limit_hit(*, scope: str, source: str, limit: Limit) -> None:
    """Count one hit for `source`; raise Throttled when over the limit."""
    now = int(time.time())
    window = now // limit.seconds
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{source}".encode()).hexdigest()[:32]
    key = f"rl:{scope}:{digest}:{window}"
    if cache.add(key, 1, timeout=limit.seconds + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=limit.seconds + 5)
            count = 1
    if count > limit.count:
        raise Throttled(retry_after=limit.seconds - now % limit.seconds or 1)


def client_address(request: HttpRequest | None) -> str:
    """The flood limits' key for where a request came from (privacy.network.client_ip)."""
    if request is None:
        return "local"
    return client_ip(request) or "unknown"


def intake_throttle(
    *, request: HttpRequest | None, contact: str = "", channel: str = "web"
) -> None:
    """Limits on new requests: per network address and per requester contact."""
    rate_limit_hit(
        scope=f"intake-ip:{channel}",
        source=client_address(request),
        limit=Limit.parse(settings.BAILANYS_INTAKE_LIMIT_PER_SOURCE),
    )
    if contact:
        rate_limit_hit(
            scope=f"intake-contact:{channel}",
            source=contact.lower(),
            limit=Limit.parse(settings.BAILANYS_INTAKE_LIMIT_PER_CONTACT),
        )
