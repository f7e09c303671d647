"""The demo's shutdown (`bailanys up --demo`, docs/status.md): made-up feed answers in
the feeds' own shapes, replayed through the same reading as live polls, ending now.

An hour ago the internet was cut in the Almaty region; for two hours Telegram has been
blocked on Beeline (OONI anomalies while its internet works); Tele2's internet is down to
two thirds of its usual; SMS to Kcell numbers fail (our own delivery reports). Each demo
beat adds the answers of the current moment, so nothing turns `unknown` for staleness.
In demo mode the worker polls no live feed (`up --demo` empties BAILANYS_OUTAGE_FEEDS).
"""

import math
from datetime import datetime, timedelta

from django.utils import timezone

from bailanys.outages.entities import COUNTRY
from bailanys.outages.feeds import OONI_TESTS
from bailanys.outages.models import Sensor, StatusChange
from bailanys.outages.services import replay, sensor_record

STEP = 300  # IODA's bgp step
HISTORY = timedelta(hours=26)  # a series holds yesterday's same hour: the baseline
PAST = timedelta(hours=3)  # the demo's timeline starts this long before now
BEAT = timedelta(minutes=15)  # the replayed past, one moment every quarter hour
REGIONS = [
    ("9001", "Almaty"),
    ("9002", "Astana"),
    ("9003", "Shymkent"),
    ("9004", "Karaganda Oblast"),
    ("9005", "Aktobe Oblast"),
    ("9006", "Atyrau Oblast"),
]
CUT_REGION = "9001"
CUT_AGO = timedelta(hours=1)
BLOCKED_ASN = 21299  # Beeline: Telegram blocked
BLOCKED_AGO = timedelta(hours=2)
SLOW_ASN = 48503  # Tele2/Altel: internet at two thirds
SMS_FAILING = "Kcell/Activ"
ASNS = [9198, 21299, 29355, 48503, 35104, 41798]
USUAL = {"country": 90000, "region": 9000, "asn": 12000}


def _envelope(data, kind: str) -> dict:
    return {
        "type": kind,
        "metadata": {"demo": True},
        "requestParameters": {},
        "error": None,
        "perf": None,
        "data": data,
        "copyright": "Made-up demo data",
    }


def _level(kind: str, code: str, t: int, now: datetime, datasource: str) -> float:
    """The made-up signal of one entity at epoch `t`: a daily wave, and the outages."""
    usual = USUAL[kind] * (1 + 0.15 * math.sin(2 * math.pi * (t % 86400) / 86400))
    if datasource == "ping-slash24":
        usual *= 0.4
    moment = datetime.fromtimestamp(t, tz=now.tzinfo)
    if kind == "region" and code == CUT_REGION and moment >= now - CUT_AGO:
        return round(usual * 0.08)
    if kind == "asn" and code == str(SLOW_ASN) and moment >= now - PAST:
        return round(usual * 0.66)
    if kind == "country" and moment >= now - CUT_AGO:
        return round(usual * 0.9)  # one region of many: the country dips, no more
    return round(usual)


def _series(kind: str, codes: list[str], names: dict, at: datetime, now: datetime, ds: str):
    start = int((at - HISTORY).timestamp()) // STEP * STEP
    count = (int(at.timestamp()) - start) // STEP + 1
    return [
        [
            {
                "entityType": kind,
                "entityCode": code,
                "entityName": names.get(code, code),
                "datasource": ds,
                "from": start,
                "until": start + count * STEP,
                "step": STEP,
                "nativeStep": STEP,
                "values": [_level(kind, code, start + i * STEP, now, ds) for i in range(count)],
            }
        ]
        for code in codes
    ]


def _ooni(test: str, at: datetime, now: datetime) -> dict:
    rows = []
    for hours_back in range(6):
        hour = (at - timedelta(hours=hours_back)).replace(minute=0, second=0, microsecond=0)
        for asn in ASNS:
            blocked = test == "telegram" and asn == BLOCKED_ASN and hour >= now - BLOCKED_AGO
            rows.append(
                {
                    "measurement_start_day": hour.strftime("%Y-%m-%dT%H:00:00Z"),
                    "probe_asn": asn,
                    # During a block more probes test it (people run OONI Probe to see).
                    "anomaly_count": 11 if blocked else 0,
                    "confirmed_count": 1 if blocked else 0,
                    "failure_count": 0,
                    "measurement_count": 12 if blocked else 4,
                    "ok_count": 0 if blocked else 4,
                }
            )
    return {"v": 0, "dimension_count": 2, "db_stats": {}, "result": rows}


def demo_lines(at: datetime, now: datetime, *, regions: bool = False) -> list[dict]:
    """What the feeds would have answered at `at` (replay lines), the outage as of `now`."""
    names = dict(REGIONS)
    lines = []
    if regions:
        data = [{"code": c, "name": n, "type": "region", "attrs": {}} for c, n in REGIONS]
        lines.append(
            {"feed": "ioda", "path": "entities/query", "body": _envelope(data, "entities")}
        )
    targets = [
        ("country", ["KZ"]),
        ("region", [c for c, _n in REGIONS]),
        ("asn", [str(n) for n in ASNS]),
    ]
    for kind, codes in targets:
        for ds in ("bgp", "ping-slash24"):
            body = _envelope(_series(kind, codes, names, at, now, ds), "signals")
            lines.append(
                {"feed": "ioda", "path": f"signals/raw/{kind}/{','.join(codes)}", "body": body}
            )
    cut = int((now - CUT_AGO).timestamp())
    event = {
        "entity": {"type": "region", "code": CUT_REGION, "name": names[CUT_REGION]},
        "from": cut,
        "until": None,
        "score": 4200.0,
        "datasource": "bgp",
        "method": "demo",
    }
    for kind in ("country", "region", "asn"):
        query = (
            {"entityType": "country", "entityCode": "KZ"}
            if kind == "country"
            else {"entityType": kind, "relatedTo": COUNTRY}
        )
        events = [event] if kind == "region" and at >= now - CUT_AGO else []
        for what, data in (("events", events), ("alerts", [])):
            lines.append(
                {
                    "feed": "ioda",
                    "path": f"outages/{what}",
                    "query": query,
                    "body": _envelope(data, what),
                }
            )
    for test in OONI_TESTS:
        lines.append(
            {
                "feed": "ooni",
                "path": "v1/aggregation",
                "query": {"probe_cc": "KZ", "test_name": test},
                "body": _ooni(test, at, now),
            }
        )
    for line in lines:
        line["at"] = at
        line["status"] = 200
        line.setdefault("query", {})
    return lines


def _sms_reports(now: datetime) -> None:
    """SMS to the failing operator keep failing; the others go through (our own sensors)."""
    last = Sensor.objects.filter(kind=Sensor.Kind.SMS, operator=SMS_FAILING).order_by("-at").first()
    if last is not None and now - last.at < timedelta(minutes=5):
        return
    for minutes, result in ((40, "fail"), (30, "fail"), (20, "ok"), (10, "fail"), (1, "fail")):
        at = now - timedelta(minutes=minutes)
        if last is None or at > last.at:
            sensor_record(Sensor.Kind.SMS, SMS_FAILING, result, at=at)
    for minutes in (35, 25, 15, 5):
        at = now - timedelta(minutes=minutes)
        if last is None or at > last.at:
            sensor_record(Sensor.Kind.SMS, "Beeline", "ok", at=at)


def demo_outages_load(now: datetime | None = None) -> int:
    """Replay the demo's last hours (after what the timeline already holds); returns the
    state changes made."""
    now = now or timezone.now()
    last = StatusChange.objects.order_by("-at").values_list("at", flat=True).first()
    start = now - PAST
    if last is not None and last > start:
        start = last + timedelta(seconds=1)
    moments = []
    at = start
    while at < now:
        moments.append(at)
        at += BEAT
    moments.append(now)
    lines = []
    for index, moment in enumerate(moments):
        lines.extend(demo_lines(moment, now, regions=index == 0))
    changes = replay(lines)
    _sms_reports(now)
    return changes


def demo_outages_beat(now: datetime | None = None) -> int:
    """One demo beat: the feeds' answers of this moment, and our own SMS reports."""
    now = now or timezone.now()
    changes = replay(demo_lines(now, now))
    _sms_reports(now)
    return changes
