"""Flood limits, shared by every process.

Counters are fixed windows keyed by a keyed hash of the source, so nothing holds an
address or a contact in clear. With REDIS_URL set they live in Redis (INCR is atomic,
EXPIRE ends the window). Otherwise they live in the privacy_ratecounter table and each
hit is one atomic upsert that returns the new count, on SQLite and PostgreSQL alike, so
that concurrent requests cannot both slip under the limit and no counter is culled
inside its window. An IPv6 client is counted by its /64: one home or phone has a whole
/64 to pick addresses from.
"""

import hashlib
import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from bailanys.privacy.models import RateCounter
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
    if settings.REDIS_URL:
        count = _redis_count(key, limit.seconds + 5)
    else:
        count = _table_count(key, expires=(window + 1) * limit.seconds + 5)
    if count > limit.count:
        raise Throttled(retry_after=limit.seconds - now % limit.seconds or 1)


def _redis_count(key: str, timeout: int) -> int:
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def _table_count(key: str, *, expires: int) -> int:
    """One atomic upsert: the window's count after this hit."""
    quote = connection.ops.quote_name
    table = quote(RateCounter._meta.db_table)
    key_col, count_col, expires_col = quote("key"), quote("count"), quote("expires_at")
    expires_at = connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(expires, tz=UTC))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_col}, {count_col}, {expires_col}) "  # noqa: S608
            f"VALUES (%s, 1, %s) ON CONFLICT ({key_col}) "
            f"DO UPDATE SET {count_col} = {table}.{count_col} + 1 RETURNING {count_col}",
            [key, expires_at],
        )
        return cursor.fetchone()[0]


def rate_counters_expire() -> int:
    """Drop the windows that ended (the worker's hourly sweep; never on a request's path)."""
    deleted, _per_model = RateCounter.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


def rate_counters_clear() -> None:
    """Forget every count (the wipe: counters are keyed by hashes of addresses)."""
    RateCounter.objects.all().delete()


def client_address(request: HttpRequest | None) -> str:
    """The flood limits' key for where a request came from (privacy.network.client_ip):
    the address, or for IPv6 its /64."""
    if request is None:
        return "local"
    address = client_ip(request)
    if address is None:
        return "unknown"
    if ipaddress.ip_address(address).version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


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
