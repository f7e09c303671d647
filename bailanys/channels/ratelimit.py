"""Send-rate limits shared by every worker process, kept in the database.

A message passes through one or more buckets (the channel's overall limit,
one chat's limit). Each bucket remembers the earliest moment its next message
may go; taking a moment moves every bucket on by its interval, in one
transaction, so two workers never take the same moment. On PostgreSQL the
rows are locked in key order (no deadlock); SQLite serialises writers anyway.
"""

import time

from django.db import transaction

from bailanys.channels.base import ChannelBusy
from bailanys.channels.models import RateBucket


def send_slot(buckets: list[tuple[str, float]], *, max_wait: float) -> None:
    """Wait until a message may pass every (key, interval) bucket, and take that moment.

    The moment is taken only when it has come, and set from the clock at that
    instant, so a worker that is slow to wake makes the next gap longer, never
    shorter. When the moment is more than `max_wait` away, ChannelBusy says how
    long to wait before asking again.
    """
    keys = sorted({key for key, _interval in buckets})
    intervals = dict(buckets)
    for key in keys:
        RateBucket.objects.get_or_create(key=key)
    deadline = time.time() + max_wait
    while True:
        with transaction.atomic():
            rows = list(RateBucket.objects.select_for_update().filter(key__in=keys).order_by("key"))
            now = time.time()
            at = max([now, *(row.next_at for row in rows)])
            if at <= now:
                for row in rows:
                    RateBucket.objects.filter(pk=row.pk).update(next_at=now + intervals[row.key])
                return
        if at > deadline:
            raise ChannelBusy(at - now)
        time.sleep(at - now)


def hold(key: str, seconds: float) -> None:
    """Send nothing through `key` for `seconds` (a provider said "retry after")."""
    until = time.time() + seconds
    RateBucket.objects.get_or_create(key=key)
    RateBucket.objects.filter(key=key, next_at__lt=until).update(next_at=until)
