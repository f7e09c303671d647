"""Send-rate limits shared by every worker process, kept in the database.

A message passes through one or more buckets (the channel's overall limit, one chat's
limit, a SIM's). Each bucket is spacing: it remembers the moment it is free again
(`next_at`), and a send of weight w (an SMS counts its parts) keeps it w intervals.
Taking a moment moves every bucket on in one transaction, so two workers never take the
same moment. On PostgreSQL the rows are locked in key order (no deadlock); SQLite
serialises writers anyway.

There is no margin: the interval is the provider's own limit (Telegram's 30 a second:
1/30 s). A send taken late (a worker slow to wake) does not push the ones behind it
later: the next moment counts from the one the send waited for, GCRA's theoretical
arrival time, not from the clock, when it was taken less than an interval late (each
late wake-up used to be added to the whole run's time, issue 22). So any second may hold
one send more than the limit at our end, never more. A chat's bucket, never waited for,
makes up nothing. A window (30 in any second) was tried
instead and dropped: sends taken apart arrived together, 41 in one second at the fake
Bot API (docs/benchmark-notes.md).
"""

import time

from django.db import transaction

from bailanys.channels.base import ChannelBusy
from bailanys.channels.models import RateBucket
from bailanys.outbox.senders import waited


def _moved_on(free_at: float, now: float, interval: float, weight: int, *, catch_up: bool) -> float:
    # From the moment this send waited for, if it took it less than an interval late;
    # after a longer pause, from now (an idle bucket saves up no sends).
    late = now - free_at
    start = free_at if catch_up and 0 <= late < interval else now
    return start + interval * weight


def send_slot(
    buckets: list[tuple[str, float]],
    *,
    max_wait: float,
    weight: int = 1,
    not_waited_for: str | None = None,
) -> None:
    """Wait until a send of `weight` may pass every (key, interval) bucket, and take it.

    The moment is taken only when it has come. When it is more than `max_wait` away, or
    the bucket `not_waited_for` is not free now (one busy chat must not hold a sender
    that could serve others), ChannelBusy says how long to wait before asking again.
    """
    intervals = dict(buckets)
    keys = sorted(intervals)
    existing = set(RateBucket.objects.filter(key__in=keys).values_list("key", flat=True))
    for key in keys:
        if key not in existing:
            RateBucket.objects.get_or_create(key=key)
    deadline = time.time() + max_wait
    while True:
        with transaction.atomic():
            rows = list(RateBucket.objects.select_for_update().filter(key__in=keys).order_by("key"))
            now = time.time()
            free = {row.key: row.next_at for row in rows}
            at = max([now, *free.values()])
            if free.get(not_waited_for, now) > now:
                deadline = now  # never waited for: back in line at once
            elif at <= now:
                for row in rows:
                    # A bucket nobody waits for (a chat) makes up nothing: its message
                    # came back from the outbox, maybe a second late, and must not let the
                    # next one go at once.
                    moved = _moved_on(
                        row.next_at,
                        now,
                        intervals[row.key],
                        weight,
                        catch_up=row.key != not_waited_for,
                    )
                    RateBucket.objects.filter(pk=row.pk).update(next_at=moved)
                return
        if at > deadline:
            raise ChannelBusy(at - now)
        time.sleep(at - now)
        waited(at - now)


def hold(key: str, seconds: float) -> None:
    """Send nothing through `key` for `seconds` (a provider said "retry after")."""
    until = time.time() + seconds
    RateBucket.objects.get_or_create(key=key)
    RateBucket.objects.filter(key=key, next_at__lt=until).update(next_at=until)
