"""The shutdown's state, for the rest of the relay (docs/status.md).

The worker polls the feeds (`outages_due`); our own traffic reports what it saw
(`sensor_record`, `sms_report`, `call_recorded`); the relay asks what works
(`state_of`, `operator_failing`, `mobile_data_down`, `region_cut_since`); pages and the
API read the grid (`grid`).
"""

import functools
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from bailanys import phones
from bailanys.outages import feeds
from bailanys.outages.entities import (
    COUNTRY,
    carrier_entities,
    entities_ensure,
    region_of_city,
)
from bailanys.outages.evaluate import SENSED, evaluate
from bailanys.outages.models import (
    Channel,
    Entity,
    Feed,
    Fetch,
    Reading,
    Sensor,
    State,
    Status,
    StatusChange,
)

logger = logging.getLogger("bailanys.outages")

FAILING = (State.DEGRADED, State.DOWN)
REGIONS_EVERY = timedelta(days=1)
FIRST_RETRY_SECONDS = 30
KEPT = timedelta(days=14)  # fetches and sensor rows; the timeline is kept for good


@dataclass(frozen=True)
class StatusView:
    entity: str
    channel: str
    state: str
    since: datetime | None
    confidence: int = 0
    evidence: list = field(default_factory=list)


UNKNOWN = "unknown"


def stale_after() -> timedelta:
    """How long a state stands without being evaluated again (two polls and a minute)."""
    return timedelta(seconds=2 * feeds.interval("ioda") + 60)


def _view(status: Status, now: datetime) -> StatusView:
    """A state nobody evaluated for two poll intervals is unknown: the worker is gone."""
    if now - status.evaluated_at > stale_after() and status.state != UNKNOWN:
        return StatusView(status.entity, status.channel, UNKNOWN, status.evaluated_at)
    return StatusView(
        status.entity,
        status.channel,
        status.state,
        status.since,
        status.confidence,
        status.evidence,
    )


def state_of(entity: str, channel: str, *, now: datetime | None = None) -> StatusView:
    status = Status.objects.filter(entity=entity, channel=channel).first()
    if status is None:
        return StatusView(entity, channel, UNKNOWN, None)
    return _view(status, now or timezone.now())


def operator_failing(carrier: str) -> dict[str, StatusView]:
    """{"sms"|"voice": its state} for the channels failing (degraded or down) on the
    mobile operator a number belongs to (phonenumbers' carrier name)."""
    failing = {}
    now = timezone.now()
    for entity in carrier_entities(carrier):
        for status in Status.objects.filter(entity=entity.key, channel__in=list(SENSED)):
            view = _view(status, now)
            if view.state in FAILING and view.channel not in failing:
                failing[view.channel] = view
    return failing


def sms_failing_for(e164: str) -> StatusView | None:
    """The SMS state when SMS to this number's operator are failing now, else None."""
    return operator_failing(phones.operator(e164)).get(Channel.SMS)


def mobile_data_down() -> StatusView | None:
    """Mobile internet is down everywhere we can tell: the whole country, or every mobile
    network we watch. Then a proxy cannot help anyone."""
    now = timezone.now()
    country = state_of(COUNTRY, Channel.INTERNET, now=now)
    if country.state == State.DOWN:
        return country
    mobile = list(Entity.objects.filter(kind=Entity.Kind.ASN, mobile=True))
    views = [state_of(e.key, Channel.INTERNET, now=now) for e in mobile]
    if views and all(v.state == State.DOWN for v in views):
        return max(views, key=lambda v: v.since or now)
    return None


def region_cut_since(city: str) -> StatusView | None:
    """When the internet of the recipient's region is down: since when (else None)."""
    region = region_of_city(city)
    if region is None:
        return None
    view = state_of(region.key, Channel.INTERNET)
    return view if view.state == State.DOWN else None


# Worse first: what a summary says when its entities disagree.
_WORSE = {State.DOWN: 4, State.BLOCKED: 3, State.DEGRADED: 2, State.UP: 1}
MESSENGER_CHANNELS = (Channel.TELEGRAM, Channel.WHATSAPP, Channel.SIGNAL)


@dataclass(frozen=True)
class Summary:
    """What works for one person: their operator's network, their region, the country.
    Each channel is the worst known state among those; "messengers" is the worst of the
    three. `region` is the region's name, "" for the whole country."""

    operator: str
    region: str
    internet: StatusView
    messengers: StatusView
    sms: StatusView
    voice: StatusView

    @property
    def known(self) -> bool:
        views = (self.internet, self.messengers, self.sms, self.voice)
        return any(v.state != UNKNOWN for v in views)


def _worst(views: list[StatusView], entity: str, channel: str) -> StatusView:
    known = [v for v in views if v.state in _WORSE]
    if not known:
        return StatusView(entity, channel, UNKNOWN, None)
    return max(known, key=lambda v: (_WORSE[v.state], -(v.since or timezone.now()).timestamp()))


def summary_for(*, carrier: str = "", city: str = "") -> Summary:
    """The state of each channel for a number on `carrier` in `city` (either may be "")."""
    now = timezone.now()
    region = region_of_city(city) if city else None
    networks = carrier_entities(carrier)
    keys = [e.key for e in networks]
    keys += [region.key] if region else []
    keys.append(COUNTRY)

    def worst(channels) -> StatusView:
        views = [state_of(k, c, now=now) for k in keys for c in channels]
        return _worst(views, keys[0], channels[0])

    return Summary(
        operator=carrier,
        region=region.name if region else "",
        internet=worst([Channel.INTERNET]),
        messengers=worst(list(MESSENGER_CHANNELS)),
        sms=worst([Channel.SMS]),
        voice=worst([Channel.VOICE]),
    )


# --- Our own sensors ------------------------------------------------------------------


def _never_raises(func):
    """A sensor reading is a side note of a delivery report, a call's outcome or a
    heartbeat, which must be kept whatever happens here: its own savepoint, so the
    caller's transaction goes on, and a logged error instead of an exception."""

    @functools.wraps(func)
    def quiet(*args, **kwargs):
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except Exception:
            logger.exception("outage sensor %s failed; the caller goes on", func.__name__)
            return None

    return quiet


@_never_raises
def sensor_record(
    kind: str, operator: str, result: str, *, region: str = "", at: datetime | None = None
) -> None:
    """One thing our traffic saw; SMS and calls re-evaluate that operator at once, so the
    bridge and the console act on it before the next poll.

    The reading is written in the caller's transaction; the evaluation runs after it
    commits, in a transaction of its own. Evaluating takes the state rows' locks, and
    inside a call outcome's transaction it held them with the case row: every claim
    waited behind the outcomes writing the same operator's state (issue 22)."""
    at = at or timezone.now()
    Sensor.objects.create(
        kind=kind, operator=operator[:40], region=region[:40], result=result, at=at
    )
    channel = {Sensor.Kind.SMS: Channel.SMS, Sensor.Kind.VOICE: Channel.VOICE}.get(kind)
    if channel is not None:
        transaction.on_commit(lambda: _reevaluate(at, operator, region, channel))


@_never_raises
def _reevaluate(at: datetime, operator: str, region: str, channel: str) -> None:
    if not Entity.objects.filter(key=COUNTRY).exists():
        entities_ensure()  # no poll yet (feeds off, or a fresh start): the operators exist
    entities = [*carrier_entities(operator), *Entity.objects.filter(key__in=[COUNTRY, region])]
    evaluate(at, entities=entities, channels=[channel])


@_never_raises
def sms_report(*, outbox_id: int, state: str) -> None:
    """A gateway's final word on an SMS: counted for the operator of the number it went to
    (the number itself is not kept)."""
    from bailanys.outbox.models import OutboxMessage

    if state not in ("delivered", "failed"):
        return
    message = OutboxMessage.objects.filter(pk=outbox_id, channel="sms").first()
    if message is None:
        return
    carrier = phones.operator(message.address) if message.address.startswith("+") else ""
    if carrier:
        result = Sensor.Result.OK if state == "delivered" else Sensor.Result.FAIL
        sensor_record(Sensor.Kind.SMS, carrier, result)


# A call's outcome → what it says of the network: switched off (not reachable) failed,
# no answer rang (the network carried it), the others went through.
CALL_RESULT = {"switched_off": Sensor.Result.FAIL, "no_answer": Sensor.Result.RANG}


@_never_raises
def call_recorded(*, phone: str, city: str, outcome: str) -> None:
    """A volunteer's call ended: counted by the operator and region of the number."""
    carrier = phones.operator(phone) if phone else ""
    region = region_of_city(city)
    if not carrier and region is None:
        return
    sensor_record(
        Sensor.Kind.VOICE,
        carrier,
        CALL_RESULT.get(outcome, Sensor.Result.OK),
        region=region.key if region else "",
    )


@_never_raises
def heard(kind: str) -> None:
    """A gateway's heartbeat or a Telegram contact: shown as evidence, not a state."""
    Sensor.objects.create(kind=kind, result=Sensor.Result.OK, at=timezone.now())


# --- Polling --------------------------------------------------------------------------


def _regions_due(now: datetime) -> bool:
    last = Fetch.objects.filter(feed="ioda", path="entities/query", ok=True).first()
    return last is None or now - last.at >= REGIONS_EVERY


def _poll_feed(name: str, now: datetime) -> bool:
    with_regions = name == "ioda" and (
        not Entity.objects.filter(kind=Entity.Kind.REGION).exists() or _regions_due(now)
    )
    try:
        ok = feeds.poll(name, now, with_regions=with_regions)
    except Exception:  # a feed must never stop the worker
        logger.exception("polling %s failed", name)
        ok = False
    feed, _new = Feed.objects.get_or_create(name=name)
    feed.last_try_at = now
    if ok:
        feed.failures, feed.last_ok_at = 0, now
        feed.next_at = now + timedelta(seconds=feeds.interval(name))
    else:
        feed.failures += 1
        wait = min(FIRST_RETRY_SECONDS * 2 ** min(feed.failures - 1, 16), feeds.interval(name))
        feed.next_at = now + timedelta(seconds=wait)
    feed.save()
    return ok


EVALUATE_EVERY = timedelta(seconds=60)  # states turn unknown on time even with no poll
_evaluated_at: datetime | None = None  # this process's last evaluation (the poller thread)


def outages_due(now: datetime | None = None) -> dict[str, bool]:
    """Poll each enabled feed whose time has come (back-off after failures), then
    evaluate. {feed: answered} for the feeds polled. Never raises; with nothing due and a
    recent evaluation, one query."""
    global _evaluated_at
    now = now or timezone.now()
    polled: dict[str, bool] = {}
    try:
        due = {f.name: f.next_at for f in Feed.objects.all()}
        names = [n for n in feeds.feeds_enabled() if due.get(n) is None or due[n] <= now]
        last = _evaluated_at
        if not names and last is not None and last <= now < last + EVALUATE_EVERY:
            return polled
        if names:
            entities_ensure()
        for name in names:
            polled[name] = _poll_feed(name, now)
        evaluate(now)
        _evaluated_at = now
    except Exception:
        logger.exception("outage state update failed; it runs again shortly")
    return polled


def outages_poll(now: datetime | None = None) -> dict[str, bool]:
    """Poll every enabled feed now, whatever its schedule (the `outages poll` command)."""
    now = now or timezone.now()
    Feed.objects.update(next_at=None)
    return outages_due(now)


# --- Replay ---------------------------------------------------------------------------


class ReplayError(ValueError):
    """A replay line that cannot be read: (line number, reason)."""


def _moment(value) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def replay_read(lines) -> tuple[list[dict], list[str]]:
    """The usable lines of a recorded timeline, in time order, and one error per bad line."""
    found, errors = [], []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            if not isinstance(line, dict):
                raise ValueError("not a JSON object")
            if line.get("feed") not in ("ioda", "ooni", "radar"):
                raise ValueError("feed must be ioda, ooni or radar")
            if not isinstance(line.get("path"), str) or not line["path"]:
                raise ValueError("no path")
            line["at"] = _moment(line.get("at"))
            if not isinstance(line.get("query", {}), dict):
                raise ValueError("query must be an object")
            status = line.get("status", 200)
            if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
                raise ValueError("status must be an HTTP status (100-599)")
            found.append(line)
        except (ValueError, TypeError, OverflowError) as error:
            errors.append(f"line {number}: {str(error)[:100]}")
    found.sort(key=lambda line: line["at"])
    return found, errors


def replay(lines: list[dict], *, shift_to_now: bool = False) -> int:
    """Feed recorded answers through the same reading as live polls, evaluating after each
    moment. Returns how many state changes it made."""
    if not lines:
        return 0
    shift = timezone.now() - lines[-1]["at"] if shift_to_now else timedelta(0)
    entities_ensure()
    changes = 0
    for index, line in enumerate(lines):
        at = line["at"] + shift
        query = _shifted(line.get("query") or {}, shift)
        feeds.ingest(
            line["feed"],
            line["path"],
            query,
            line.get("status", 200),
            line.get("body"),
            at,
            replayed=True,
        )
        last = index + 1 == len(lines) or lines[index + 1]["at"] != line["at"]
        if last:
            changes += len(evaluate(at, replayed=True))
    return changes


def _shifted(query: dict, shift: timedelta) -> dict:
    """The query with its from/until moved with the timeline (they say what was asked)."""
    seconds = int(shift.total_seconds())
    if not seconds:
        return query
    moved = dict(query)
    for name in ("from", "until"):
        if isinstance(moved.get(name), int):
            moved[name] += seconds
    return moved


# --- Reading the grid -----------------------------------------------------------------


def grid(at: datetime | None = None) -> list[tuple[Entity, dict[str, StatusView]]]:
    """Every entity with the state of each channel: now, or as the timeline had it at `at`."""
    now = timezone.now()
    rows = []
    entities = list(Entity.objects.all())
    if at is None:
        current: dict[tuple[str, str], Status] = {
            (s.entity, s.channel): s for s in Status.objects.all()
        }
        for entity in entities:
            channels = {}
            for channel in Channel.values:
                status = current.get((entity.key, channel))
                channels[channel] = (
                    _view(status, now) if status else StatusView(entity.key, channel, UNKNOWN, None)
                )
            rows.append((entity, channels))
        return rows
    past = _last_changes(StatusChange.objects.filter(at__lte=at))
    for entity in entities:
        channels = {}
        for channel in Channel.values:
            change = past.get((entity.key, channel))
            channels[channel] = (
                StatusView(
                    entity.key, channel, change.state, change.at, change.confidence, change.evidence
                )
                if change
                else StatusView(entity.key, channel, UNKNOWN, None)
            )
        rows.append((entity, channels))
    return rows


def _last_changes(changes) -> dict[tuple[str, str], StatusChange]:
    """The last of `changes` for each (entity, channel): two indexed queries, not a read of
    the whole history (it is kept for good, and the page asking is public)."""
    lasts = changes.values("entity", "channel").annotate(last=Max("at"))
    found: dict[tuple[str, str], StatusChange] = {}
    moments = {(row["entity"], row["channel"], row["last"]) for row in lasts}
    if not moments:
        return found
    rows = changes.filter(at__in={m[2] for m in moments}).order_by("at", "pk")
    for change in rows:
        if (change.entity, change.channel, change.at) in moments:
            found[(change.entity, change.channel)] = change
    return found


def timeline(start: datetime, end: datetime) -> dict[tuple[str, str], list[tuple[datetime, str]]]:
    """For each (entity, channel): [(from, state)] covering start..end, from the history."""
    spans: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    before = _last_changes(StatusChange.objects.filter(at__lt=start))
    for key, change in before.items():
        spans[key] = [(start, change.state)]
    for change in StatusChange.objects.filter(at__gte=start, at__lte=end).order_by("at", "pk"):
        spans.setdefault((change.entity, change.channel), []).append((change.at, change.state))
    return spans


def fetches_recent(limit: int = 20, *, failed: bool = False) -> list[Fetch]:
    """The latest fetches, newest first (only those that failed, with `failed`)."""
    fetches = Fetch.objects.filter(ok=False) if failed else Fetch.objects.all()
    return list(fetches[:limit])


def feeds_overview() -> list[Feed]:
    return list(Feed.objects.order_by("name"))


# --- Keeping ---------------------------------------------------------------------------


def outages_purge(now, closed_before, hard_before) -> dict[str, int]:
    cut = now - KEPT
    fetches, _ = Fetch.objects.filter(at__lt=cut).delete()
    sensors, _ = Sensor.objects.filter(at__lt=cut).delete()
    return {"outage fetches": fetches, "outage sensor rows": sensors}


@transaction.atomic
def outages_clear() -> None:
    """Forget every reading, state and fetch (after a rehearsal); entities stay."""
    for model in (Reading, Sensor, Status, StatusChange, Fetch, Feed):
        model.objects.all().delete()
