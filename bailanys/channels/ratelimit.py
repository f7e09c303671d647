"""Send-rate limits shared by every worker process, kept in the database.

A limit is a bucket: at most `capacity` sends in any `window` seconds. A bucket of
capacity 1 is spacing instead: each send keeps it `window` seconds for each unit of its
weight (a SIM at 200 parts a minute: 0.3 s a part, so a phone is never handed a minute's
SMS at once; Telegram's 30 a second: 1/30 s). Every limit in use is spacing: a window
of 30 a second let sends taken apart arrive together (41 in one second at the fake
Bot API under load, docs/benchmark-notes.md). Each bucket keeps the
sends still in it, and a message passes every bucket it needs in one transaction, so two
workers never take the same room. On PostgreSQL the rows are locked in key order (no
deadlock); SQLite serialises writers anyway.

There is no rate margin: the limit is the provider's own. A send taken late (a worker
slow to wake) does not push the ones behind it later: spacing runs from the slot it
waited for, not from the clock (each late wake-up was added to the whole run's time,
issue 22). A window is lengthened by JITTER, a fixed time, so that two sends whose trips
through the network differ by less than that still keep the limit at the provider's end.
"""

import time

from django.db import transaction

from bailanys.channels.base import ChannelBusy
from bailanys.channels.models import RateBucket
from bailanys.outbox.senders import waited

# Seconds added to every window of capacity > 1: the spread of network delays the limit
# tolerates at the provider's end (on Telegram's one-second window, 1 % of its rate).
JITTER = 0.01


def limit(key: str, capacity: int, window: float) -> tuple[str, int, float]:
    """A bucket: at most `capacity` sends through `key` in any `window` seconds (with
    capacity 1: each unit of a send's weight keeps the bucket `window` seconds)."""
    return key, max(1, int(capacity)), float(window)


def _leaves_at(row: RateBucket, now: float, capacity: int, window: float, weight: int) -> float:
    if capacity > 1:
        return now + window + JITTER
    # Spacing, from the slot this send waited for (GCRA's theoretical arrival time), not
    # from the clock: a send taken a little late does not make every later one late.
    # After a pause longer than one interval the bucket starts again from now.
    slot = max((leaves for leaves, _w in (row.recent or [])), default=0.0)
    start = slot if 0 <= now - slot < window else now
    return start + window * weight


def _opens_at(row: RateBucket, capacity: int, weight: int, now: float) -> float:
    """The first moment a send of `weight` fits in the row (a provider's hold included)."""
    inside = [(leaves, w) for leaves, w in (row.recent or []) if leaves > now]
    # A send heavier than the whole bucket (a long SMS) waits for it to be empty.
    excess = sum(w for _leaves, w in inside) + min(weight, capacity) - capacity
    at = row.next_at
    for leaves, w in sorted(inside):
        if excess <= 0:
            break
        excess -= w
        at = max(at, leaves)
    return at


def send_slot(
    buckets: list[tuple[str, int, float]],
    *,
    max_wait: float,
    weight: int = 1,
    not_waited_for: str | None = None,
) -> None:
    """Wait until `weight` sends fit in every (key, capacity, window) bucket, and take them.

    The room is taken only when it has come, at the clock's moment then. When it is more
    than `max_wait` away, or the bucket `not_waited_for` has no room now (one busy chat
    must not hold a sender that could serve others), ChannelBusy says how long to wait
    before asking again.
    """
    limits = {key: (capacity, window) for key, capacity, window in buckets}
    keys = sorted(limits)
    existing = set(RateBucket.objects.filter(key__in=keys).values_list("key", flat=True))
    for key in keys:
        if key not in existing:
            RateBucket.objects.get_or_create(key=key)
    deadline = time.time() + max_wait
    while True:
        with transaction.atomic():
            rows = list(RateBucket.objects.select_for_update().filter(key__in=keys).order_by("key"))
            now = time.time()
            opens = {row.key: _opens_at(row, limits[row.key][0], weight, now) for row in rows}
            at = max([now, *opens.values()])
            if opens.get(not_waited_for, now) > now:
                deadline = now  # never waited for: back in line at once
            elif at <= now:
                for row in rows:
                    kept = [[left, w] for left, w in (row.recent or []) if left > now]
                    leaves = _leaves_at(row, now, *limits[row.key], weight)
                    RateBucket.objects.filter(pk=row.pk).update(recent=[*kept, [leaves, weight]])
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
