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
    rate_limits_hit([(scope, source, limit)])


def rate_limits_hit(hits: list[tuple[str, str, Limit]]) -> None:
    """Count one hit on each (scope, source, limit), all in one statement (one Redis round
    trip); raise Throttled, with the longest wait, when any of them is over its limit.
    Every hit is counted even when one is over: a flood goes on counting."""
    now = int(time.time())
    keys: dict[str, tuple[Limit, int]] = {}
    for scope, source, limit in hits:
        window = now // limit.seconds
        digest = hashlib.sha256(f"{settings.SECRET_KEY}:{source}".encode()).hexdigest()[:32]
        keys[f"rl:{scope}:{digest}:{window}"] = (limit, (window + 1) * limit.seconds)
    if not keys:
        return
    counting = _redis_counts if settings.REDIS_URL else _table_counts
    counts = counting({key: ends + 5 for key, (_limit, ends) in keys.items()}, now)
    waits = [
        limit.seconds - now % limit.seconds or 1
        for key, (limit, _ends) in keys.items()
        if counts[key] > limit.count
    ]
    if waits:
        raise Throttled(retry_after=max(waits))


def _redis_counts(expires: dict[str, int], now: int) -> dict[str, int]:
    """SET NX (the window's start, with its expiry) and INCR for each key: one pipeline."""
    client = cache._cache.get_client(write=True)  # Django's RedisCache: its redis client
    names = {key: cache.make_and_validate_key(key) for key in expires}
    with client.pipeline(transaction=True) as pipe:
        for key, name in names.items():
            pipe.set(name, 0, ex=max(expires[key] - now, 1), nx=True)
            pipe.incr(name)
        answers = pipe.execute()
    return {key: int(answers[2 * i + 1]) for i, key in enumerate(names)}


def _table_counts(expires: dict[str, int], _now: int) -> dict[str, int]:
    """One atomic upsert of every key: each window's count after this hit."""
    quote = connection.ops.quote_name
    table = quote(RateCounter._meta.db_table)
    key_col, count_col, expires_col = quote("key"), quote("count"), quote("expires_at")
    params: list = []
    for key, ends in expires.items():
        params += [
            key,
            connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(ends, tz=UTC)),
        ]
    rows = ", ".join(["(%s, 1, %s)"] * len(expires))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_col}, {count_col}, {expires_col}) "  # noqa: S608
            f"VALUES {rows} ON CONFLICT ({key_col}) "
            f"DO UPDATE SET {count_col} = {table}.{count_col} + 1 "
            f"RETURNING {key_col}, {count_col}",
            params,
        )
        return dict(cursor.fetchall())


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
    hits = [
        (
            f"intake-ip:{channel}",
            client_address(request),
            Limit.parse(settings.BAILANYS_INTAKE_LIMIT_PER_SOURCE),
        )
    ]
    if contact:
        hits.append(
            (
                f"intake-contact:{channel}",
                contact.lower(),
                Limit.parse(settings.BAILANYS_INTAKE_LIMIT_PER_CONTACT),
            )
        )
    rate_limits_hit(hits)
