"""What the public /status/ page shows (docs/status.md): the grid grouped by kind, the
timeline's lanes for a window, and when each feed last answered."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from bailanys.outages.announce import LOCAL, entity_name
from bailanys.outages.models import (
    Channel,
    Entity,
    Feed,
    Fetch,
    Sensor,
    State,
    Status,
    StatusChange,
)
from bailanys.outages.services import StatusView, grid, stale_after, timeline

DAYS = 3  # the timeline without ?day= : the last three days
MAX_LANES = 40
BAD = (State.DEGRADED, State.DOWN, State.BLOCKED)
FEEDS = ("ioda", "ooni", "radar")
FIRST_DAY = date(2020, 1, 1)


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    cells: list[StatusView]


@dataclass(frozen=True)
class Group:
    kind: str
    label: str
    rows: list[Row]


def grid_groups() -> list[Group]:
    """The grid now: the country, then its regions, then its networks."""
    rows: dict[str, list[Row]] = {kind: [] for kind in Entity.Kind.values}
    for entity, channels in grid():
        cells = [channels[channel] for channel in Channel.values]
        rows[entity.kind].append(Row(entity.key, entity_name(entity, entity.key), cells))
    return [
        Group(kind, label, rows[kind])
        for kind, label in (
            (Entity.Kind.COUNTRY, Entity.Kind.COUNTRY.label),
            (Entity.Kind.REGION, Entity.Kind.REGION.label),
            (Entity.Kind.ASN, Entity.Kind.ASN.label),
        )
        if rows[kind]
    ]


class DayError(ValueError):
    """A ?day= the page cannot show; the message says why, for the page."""


def day_window(day: str | None, now: datetime) -> tuple[datetime, datetime, date | None]:
    """(start, end, the day asked) of the timeline: one local day, or the last DAYS days."""
    if not day:
        return _recent_start(now), now, None
    try:
        chosen = date.fromisoformat(day.strip())
    except ValueError:
        raise DayError("format") from None
    if chosen > timezone.localtime(now, LOCAL).date():
        raise DayError("future")
    if chosen < FIRST_DAY:
        raise DayError("past")
    start = datetime.combine(chosen, time(0), tzinfo=LOCAL)
    return start, min(start + timedelta(days=1), now), chosen


def _recent_start(now: datetime) -> datetime:
    """The last DAYS days, or less when the history is younger (a new server, the demo):
    from the hour before its first change, so a few hours are not a sliver at the edge."""
    window = now - timedelta(days=DAYS)
    first = StatusChange.objects.filter(at__gt=window).order_by("at").values_list("at", flat=True)
    if StatusChange.objects.filter(at__lte=window).exists() or not first:
        return window
    hour = timezone.localtime(first[0], LOCAL).replace(minute=0, second=0, microsecond=0)
    return max(window, min(hour - timedelta(hours=1), now - timedelta(hours=3)))


@dataclass(frozen=True)
class Lane:
    label: str
    spans: list[tuple[datetime, datetime, str]]  # (from, to, state)


def lanes(start: datetime, end: datetime) -> list[Lane]:
    """One lane per entity and channel that was degraded, down or blocked in the window
    (the country, regions and networks in the grid's order, channels in the grid's)."""
    history = _gone_quiet(timeline(start, end), start, end)
    entities = {e.key: e for e in Entity.objects.all()}
    found = []
    for (key, channel), changes in history.items():
        if not any(state in BAD for _at, state in changes) or key not in entities:
            continue
        spans = []
        for index, (at, state) in enumerate(changes):
            until = changes[index + 1][0] if index + 1 < len(changes) else end
            if until > at:
                spans.append((at, until, state))
        entity = entities[key]
        label = f"{entity_name(entity, key)} · {Channel(channel).label}"
        found.append(
            ((entity.order, entity.name, Channel.values.index(channel)), Lane(label, spans))
        )
    found.sort(key=lambda item: item[0])
    return [lane for _order, lane in found[:MAX_LANES]]


def _gone_quiet(history: dict, start: datetime, end: datetime) -> dict:
    """Each state nobody evaluated for long enough ends where the grid stops trusting it
    (it shows `unknown` then): a stopped worker writes no change, yet its last word is
    no longer known."""
    stale_for = stale_after()
    for status in Status.objects.exclude(state=State.UNKNOWN):
        # Its last change came no later than its last evaluation, so before `quiet`.
        quiet, key = status.evaluated_at + stale_for, (status.entity, status.channel)
        if key not in history or quiet >= end:
            continue
        if quiet <= start:
            history[key] = [(start, State.UNKNOWN)]
        else:
            history[key].append((quiet, State.UNKNOWN))
    return history


@dataclass(frozen=True)
class FeedLine:
    name: str
    last_ok: datetime | None
    failures: int


def feeds_answered() -> list[FeedLine]:
    """When each outside feed last answered (a live poll or a replayed answer)."""
    backoff = {f.name: f for f in Feed.objects.all()}
    found = []
    for name in FEEDS:
        fetch = Fetch.objects.filter(feed=name, ok=True).only("at").first()
        feed = backoff.get(name)
        moments = [m for m in (fetch and fetch.at, feed and feed.last_ok_at) if m]
        if fetch is None and feed is None:
            continue
        found.append(
            FeedLine(name, max(moments) if moments else None, feed.failures if feed else 0)
        )
    return found


def sensors_heard() -> list[tuple[str, datetime]]:
    """When our own sensors last saw something: an SMS report, a call, a gateway's
    heartbeat, a Telegram requester. Only kinds and times: the rows hold nothing else."""
    found = []
    for kind in Sensor.Kind:
        last = Sensor.objects.filter(kind=kind).order_by("-at").values_list("at", flat=True)
        if moment := last.first():
            found.append((kind.label, moment))
    return found
