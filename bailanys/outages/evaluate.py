"""Readings and sensors → the state of each channel on each entity (docs/status.md)."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from bailanys.outages import rules
from bailanys.outages.announce import announce
from bailanys.outages.entities import COUNTRY
from bailanys.outages.feeds import interval
from bailanys.outages.models import Channel, Entity, Reading, Sensor, State, Status, StatusChange

MESSENGERS = (Channel.TELEGRAM, Channel.WHATSAPP, Channel.SIGNAL)
SENSED = {Channel.SMS: Sensor.Kind.SMS, Channel.VOICE: Sensor.Kind.VOICE}


def _iso(epoch) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def _evidence(source, metric, *, figure=None, baseline=None, at=None, link="", note=""):
    return {
        "source": source,
        "metric": metric,
        "figure": figure,
        "baseline": baseline,
        "at": at,
        "link": link or None,
        "note": note or None,
    }


def _fresh(now: datetime) -> dict[tuple[str, str], dict[str, Reading]]:
    """Readings young enough to count, by (source, entity) then metric."""
    found: dict[tuple[str, str], dict[str, Reading]] = defaultdict(dict)
    oldest = now - timedelta(seconds=2 * max(interval(f) for f in ("ioda", "ooni", "radar")))
    for reading in Reading.objects.filter(at__gte=oldest, at__lte=now):
        if reading.at >= now - timedelta(seconds=2 * interval(reading.source)):
            found[(reading.source, reading.entity)][reading.metric] = reading
    return found


def _internet(entity: str, fresh) -> rules.Verdict:
    ioda, evidence = fresh.get(("ioda", entity), {}), []
    states = []
    for datasource in ("bgp", "ping-slash24"):
        reading = ioda.get(datasource)
        if reading is None or reading.data.get("state") not in ("up", "degraded", "down"):
            continue
        data = reading.data
        states.append(data["state"])
        evidence.append(
            _evidence(
                "ioda",
                datasource,
                figure=data.get("value"),
                baseline=data.get("baseline"),
                at=_iso(data.get("at")),
                link=data.get("link"),
                note=f"{round(100 * (data.get('ratio') or 0))}% of the usual",
            )
        )
    event, alert = ioda.get("event"), ioda.get("alert")
    if event is not None and event.data.get("open"):
        states.append("down")
        evidence.append(
            _evidence(
                "ioda",
                "event",
                figure=event.data.get("score"),
                at=_iso(event.data.get("from")),
                link=event.data.get("link"),
                note="IODA outage event open",
            )
        )
    if alert is not None and alert.data.get("critical"):
        states.append("degraded")
        evidence.append(
            _evidence(
                "ioda",
                "alert",
                figure=alert.data.get("value"),
                baseline=alert.data.get("baseline"),
                at=_iso(alert.data.get("time")),
                link=alert.data.get("link"),
                note="IODA critical alert",
            )
        )
    radar = fresh.get(("radar", entity), {}).get("radar")
    if radar is not None and radar.data.get("ongoing"):
        states.append("degraded")
        evidence.append(
            _evidence(
                "radar",
                "annotation",
                at=radar.data.get("start") or None,
                link=radar.data.get("link"),
                note=radar.data.get("description"),
            )
        )
    if not states:
        return rules.Verdict("unknown", 0, evidence)
    agreeing = len(states)
    if "down" in states:
        return rules.Verdict("down", min(95, 40 + 20 * states.count("down")), evidence)
    web = fresh.get(("ooni", entity), {}).get("web_connectivity")
    if web is not None:
        measured, anomalies = web.data.get("measurements", 0), web.data.get("anomalies", 0)
        state, _c = rules.ooni_verdict(measured, anomalies)
        if state == "blocked":
            states.append("degraded")
            evidence.append(
                _evidence(
                    "ooni",
                    "web_connectivity",
                    figure=web.data.get("anomalies"),
                    baseline=web.data.get("measurements"),
                    at=web.at.isoformat(),
                    link=web.data.get("link"),
                    note="most websites blocked",
                )
            )
    if "degraded" in states:
        return rules.Verdict("degraded", min(90, 30 + 20 * agreeing), evidence)
    return rules.Verdict("up", min(90, 30 + 20 * agreeing), evidence)


def _messenger(entity: Entity, channel: str, internet: rules.Verdict, fresh) -> rules.Verdict:
    if internet.state == "down":
        return rules.Verdict("down", internet.confidence, list(internet.evidence))
    if entity.kind == Entity.Kind.REGION:
        return rules.Verdict("unknown", 0, [])
    reading = fresh.get(("ooni", entity.key), {}).get(channel)
    if reading is None:
        return rules.Verdict("unknown", 0, [])
    measured, anomalies = reading.data.get("measurements", 0), reading.data.get("anomalies", 0)
    state, confidence = rules.ooni_verdict(measured, anomalies)
    note = f"{anomalies} of {measured} OONI measurements anomalous (6 h)"
    return rules.Verdict(
        state,
        confidence,
        [
            _evidence(
                "ooni",
                channel,
                figure=anomalies,
                baseline=measured,
                at=reading.at.isoformat(),
                link=reading.data.get("link"),
                note=note,
            )
        ],
    )


def sensor_counts(now: datetime) -> dict[tuple[str, str, str], list[int]]:
    """(kind, "carrier:<name>" | "region:<key>" | "all", …) → [total, failed] in the window."""
    since = now - timedelta(minutes=settings.BAILANYS_OUTAGE_SENSOR_MINUTES)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        Sensor.objects.filter(
            at__gte=since, at__lte=now, kind__in=(Sensor.Kind.SMS, Sensor.Kind.VOICE)
        )
        .values("kind", "operator", "region", "result")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        failed = row["n"] if row["result"] == Sensor.Result.FAIL else 0
        for where in ("all", f"carrier:{row['operator']}", f"region:{row['region']}"):
            total = counts[(row["kind"], where)]
            total[0] += row["n"]
            total[1] += failed
    return counts


def sensed(entity: Entity, channel: str, counts) -> rules.Verdict:
    """SMS and calls, from our own reports only (IODA and OONI know nothing of them)."""
    if entity.key == COUNTRY:
        where = "all"
    elif entity.kind == Entity.Kind.REGION:
        where = f"region:{entity.key}"
    elif entity.carrier:
        where = f"carrier:{entity.carrier}"
    else:
        return rules.Verdict("unknown", 0, [])
    if channel == Channel.SMS and entity.kind == Entity.Kind.REGION:
        return rules.Verdict("unknown", 0, [])  # a delivery report names no region
    total, failed = counts.get((SENSED[channel], where), [0, 0])
    state, confidence = rules.sensor_verdict(total, failed)
    minutes = settings.BAILANYS_OUTAGE_SENSOR_MINUTES
    what = "SMS delivery reports" if channel == Channel.SMS else "calls"
    return rules.Verdict(
        state,
        confidence,
        [
            _evidence(
                "bailanys",
                channel,
                figure=failed,
                baseline=total,
                note=f"{failed} of {total} {what} failed ({minutes} min)",
            )
        ]
        if total
        else [],
    )


def verdicts(now: datetime, entities=None, channels=None) -> dict[tuple[str, str], rules.Verdict]:
    """The rules' word on each (entity, channel); `channels` limits the work to those."""
    wanted = set(channels or Channel.values)
    online = wanted - set(SENSED)
    fresh = _fresh(now) if online else {}
    counts = sensor_counts(now) if wanted & set(SENSED) else {}
    found = {}
    for entity in entities if entities is not None else Entity.objects.all():
        if online:
            internet = _internet(entity.key, fresh)
            if Channel.INTERNET in wanted:
                found[(entity.key, Channel.INTERNET)] = internet
            for channel in MESSENGERS:
                if channel in wanted:
                    found[(entity.key, channel)] = _messenger(entity, channel, internet, fresh)
        for channel in SENSED:
            if channel in wanted:
                found[(entity.key, channel)] = sensed(entity, channel, counts)
    return found


@transaction.atomic
def evaluate(now: datetime, *, entities=None, channels=None, replayed: bool = False) -> list:
    """Write each channel's state; a change is appended to the timeline. Returns the
    StatusChange rows made."""
    found = verdicts(now, entities, channels)
    keys = {entity for entity, _channel in found}
    rows = Status.objects.select_for_update()
    if entities is not None:
        rows = rows.filter(entity__in=keys)
    current = {(s.entity, s.channel): s for s in rows}
    changes = []
    for (entity, channel), verdict in found.items():
        status = current.get((entity, channel))
        if status is not None and status.state == verdict.state:
            Status.objects.filter(pk=status.pk).update(
                confidence=verdict.confidence, evidence=verdict.evidence, evaluated_at=now
            )
            continue
        changes.append(
            StatusChange(
                entity=entity,
                channel=channel,
                state=verdict.state,
                at=now,
                confidence=verdict.confidence,
                evidence=verdict.evidence,
                replayed=replayed,
            )
        )
        Status.objects.update_or_create(
            entity=entity,
            channel=channel,
            defaults={
                "state": verdict.state,
                "since": now,
                "confidence": verdict.confidence,
                "evidence": verdict.evidence,
                "evaluated_at": now,
            },
        )
    announce(changes, now, replayed=replayed)  # before they are written: it reads the past
    StatusChange.objects.bulk_create(changes)
    return changes


STATES = State.values
