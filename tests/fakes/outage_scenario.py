"""The made-up truth behind the outage feeds' fakes (``tests/fakes/outages.py``).

A ``Scenario`` holds the made-up truth a test controls: for each entity ("country/KZ",
"region/<code>", "asn/<n>") and datasource a normal level with a daily curve, and the spans
where it falls to a fraction of normal; IODA events and alerts; OONI measurements per (ASN,
test, hour); Radar annotations; and failures per feed. ``Scenario.answer(feed, path, query,
headers, now)`` is the one function that answers: the three HTTP servers (``OutageFakes``)
call it for each request, and the replay builder (``tests/fakes/jan2022.py``) calls it at
each poll time, so a fake and a replay file tell the same story.

Series are computed from the request's from/until at the datasource's step (bgp 300 s,
ping-slash24 600 s), so a poll at any time gets a consistent series. IODA and OONI answer
"as of" the request's ``until``; Radar, which has no ``until``, as of ``now`` (the server
passes ``time.time()``, which time_machine moves). The shapes follow
shared/research/03-outage-status-ioda-ooni-radar.md; every figure is made up.
Standard library only.
"""

import functools
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

FEEDS = ("ioda", "ooni", "radar")
STEPS = {"bgp": 300, "ping-slash24": 600}
MESSENGERS = ("telegram", "signal", "whatsapp")
OONI_TESTS = (*MESSENGERS, "web_connectivity")
# Made-up regions: real city names (bailanys.parsing.cities.city_named knows them), made-up codes.
REGIONS = {
    "4401": "Almaty",
    "4402": "Astana",
    "4403": "Shymkent",
    "4404": "Karaganda",
    "4405": "Aktobe",
}
ASNS = {
    9198: "JSC Kazakhtelecom",
    21299: "Kar-Tel LLC",
    29355: "Kcell JSC",
    48503: "Mobile Telecom-Service LLP",
    35104: "Jusan Mobile JSC",
    41798: "JSC Transtelecom",
}
MOBILE_ASNS = (21299, 29355, 48503, 35104)
FIXED_ASNS = (9198, 41798)
# Visible /24s at the daily mean (made up); ping-slash24 sees 40 % of them.
NORMAL = {"country": 40000, "region": 6000, "asn": 3000}
RADAR_TOKEN = "radar-test-token"
FAILURE_MODES = ("500", "error", "malformed", "drop", "hang")
DAY = 86400


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_of(value: str | float | datetime) -> float:
    """An epoch from a number, an aware datetime or an ISO text (naive text is UTC)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def entity_parts(key: str) -> tuple[str, str]:
    kind, _, code = key.partition("/")
    return kind, code


@dataclass
class Span:
    """``fraction`` of normal (None: no data) for ``entities`` and ``datasources`` from
    ``start`` to ``end``."""

    entities: frozenset[str]
    datasources: frozenset[str]
    start: float
    end: float
    fraction: float | None


@dataclass
class OoniSpan:
    asns: frozenset[int]
    tests: frozenset[str]
    start: float
    end: float
    share: float  # of measurements that are anomalies
    confirmed: float  # of those anomalies that are confirmed


@dataclass
class Scenario:
    """The made-up state of Kazakhstan's networks that the fakes serve.

    Later ``level`` spans override earlier ones where they overlap, so a window of a few hours
    inside a blackout is one more span. With ``derive_events``, IODA reports an event for each
    stretch where an entity's bgp level is below half (as IODA's detector would).
    """

    regions: dict[str, str] = field(default_factory=lambda: dict(REGIONS))
    asns: dict[int, str] = field(default_factory=lambda: dict(ASNS))
    normal: dict[str, float] = field(default_factory=dict)  # entity key -> visible /24s
    spans: list[Span] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    derive_events: bool = False
    # OONI measurements per ASN per hour while the ASN's internet is up (probes cannot report
    # from a network that is down: a shutdown shows as a gap, not as anomalies).
    ooni_per_hour: dict[str, int] = field(
        default_factory=lambda: {"telegram": 4, "signal": 3, "whatsapp": 3, "web_connectivity": 8}
    )
    ooni_spans: list[OoniSpan] = field(default_factory=list)
    ooni_counts: dict[tuple[int, str, int], dict] = field(default_factory=dict)
    annotations: list[dict] = field(default_factory=list)
    radar_token: str = RADAR_TOKEN
    failures: dict[str, list[dict]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- What a test sets ---------------------------------------------------------------

    def entities(self) -> list[str]:
        return [
            "country/KZ",
            *(f"region/{code}" for code in self.regions),
            *(f"asn/{n}" for n in self.asns),
        ]

    def level(self, entities, start, end, fraction: float | None, datasources=STEPS) -> None:
        """From ``start`` to ``end`` (epochs, datetimes or ISO), ``entities`` (a key or a list)
        run at ``fraction`` of their normal level; None means no data at all."""
        keys = [entities] if isinstance(entities, str) else list(entities)
        unknown = set(keys) - set(self.entities())
        assert not unknown, f"no such entity: {unknown}"
        span = Span(
            frozenset(keys), frozenset(datasources), epoch_of(start), epoch_of(end), fraction
        )
        self.spans.append(span)

    drop = level

    def event(self, entity: str, start, end=None, score: float = 1e6, datasource="bgp") -> None:
        """An IODA outage event for ``entity`` from ``start`` (to ``end``; None: ongoing)."""
        self.events.append(
            {
                "entity": entity,
                "from": epoch_of(start),
                "until": None if end is None else epoch_of(end),
                "score": score,
                "datasource": datasource,
            }
        )

    def alert(self, entity: str, at, level: str = "critical", datasource: str = "bgp") -> None:
        at = epoch_of(at)
        normal = self.value(entity, datasource, at, curve_only=True) or 0
        self.alerts.append(
            {
                "entity": entity,
                "time": at,
                "level": level,
                "datasource": datasource,
                "value": self.value(entity, datasource, at) or 0,
                "historyValue": normal,
            }
        )

    def block(self, asns, tests, start, end, share: float = 1.0, confirmed: float = 0.0) -> None:
        """OONI: from ``start`` to ``end``, ``share`` of the ``tests`` measured on ``asns`` are
        anomalies (``confirmed`` of them confirmed, i.e. a blockpage was seen)."""
        asns = [asns] if isinstance(asns, int) else asns
        tests = [tests] if isinstance(tests, str) else tests
        self.ooni_spans.append(
            OoniSpan(
                frozenset(asns),
                frozenset(tests),
                epoch_of(start),
                epoch_of(end),
                share,
                confirmed,
            )
        )

    def ooni_hour(self, asn: int, test: str, hour, **counts) -> None:
        """The exact OONI counts for one (ASN, test, hour); the other counters are 0 and
        ``measurement_count`` is their sum unless given."""
        keys = ("anomaly_count", "confirmed_count", "failure_count", "ok_count")
        row = {k: counts.get(k, 0) for k in keys}
        row["measurement_count"] = counts.get("measurement_count", sum(row.values()))
        start = int(epoch_of(hour)) // 3600 * 3600
        self.ooni_counts[(asn, test, start)] = row

    def annotate(self, start, end=None, asns=(), description="Internet shutdown", **extra):
        """A Cloudflare Radar outage annotation for KZ (``end`` None: ongoing)."""
        number = len(self.annotations) + 1
        self.annotations.append(
            {
                "id": f"{number:04d}-fake",
                "asns": list(asns),
                "locations": ["KZ"],
                "start": epoch_of(start),
                "end": None if end is None else epoch_of(end),
                "description": description,
                "linkedUrl": f"https://radar.example.test/annotations/{number}",
                "outage": {"outageCause": "GOVERNMENT_DIRECTED", "outageType": "NATIONWIDE"},
                **extra,
            }
        )

    def fail(self, feed: str, mode: str, count: int | None = None, path: str = "") -> None:
        """The next ``count`` requests to ``feed`` (all of them if None) whose path starts with
        ``path`` fail: "500" (HTTP 500), "error" (the feed's error answer: an IODA envelope
        with ``error`` set on 200, OONI's 400 ``{"msg"}``, Radar's ``"success": false``),
        "malformed" (200, not JSON), "drop" (the connection closes without an answer) or
        "hang" (no answer for 3 s, then dropped)."""
        assert feed in FEEDS and mode in FAILURE_MODES, (feed, mode)
        with self._lock:
            self.failures.setdefault(feed, []).append(
                {"mode": mode, "count": math.inf if count is None else count, "path": path}
            )

    def heal(self, feed: str | None = None) -> None:
        """No more injected failures (for ``feed``, or all feeds)."""
        with self._lock:
            for name in [feed] if feed else FEEDS:
                self.failures.pop(name, None)

    # --- The truth ----------------------------------------------------------------------

    def normal_level(self, entity: str) -> float:
        return self.normal.get(entity, NORMAL[entity_parts(entity)[0]])

    def fraction(self, entity: str, datasource: str, t: float) -> float | None:
        for span in reversed(self.spans):
            if (
                entity in span.entities
                and datasource in span.datasources
                and span.start <= t < span.end
            ):
                return span.fraction
        return 1.0

    def value(self, entity: str, datasource: str, t: float, curve_only=False) -> int | None:
        """The figure a datasource shows for ``entity`` in the step starting at ``t``."""
        return self.values(entity, datasource, [t], curve_only)[0]

    def values(self, entity: str, datasource: str, times, curve_only=False) -> list[int | None]:
        """``value`` at each of ``times``: the daily curve (an evening peak, a night trough in
        Kazakhstan's time) with a small fixed wobble, times the fraction of normal then."""
        spans = [
            s
            for s in reversed(self.spans)
            if not curve_only and entity in s.entities and datasource in s.datasources
        ]
        level = self.normal_level(entity) * (1.0 if datasource == "bgp" else 0.4)
        found = []
        for t in times:
            fraction = 1.0
            for span in spans:
                if span.start <= t < span.end:
                    fraction = span.fraction
                    break
            found.append(None if fraction is None else round(level * _curve(int(t)) * fraction))
        return found

    def derived_events(self) -> list[dict]:
        """One event per stretch of an entity's bgp level below half (between span edges)."""
        edges = sorted({e for s in self.spans for e in (s.start, s.end)})
        events = []
        for entity in self.entities():
            start = None
            for edge in edges:
                low = (self.fraction(entity, "bgp", edge) or 0) < 0.5
                if low and start is None:
                    start = edge
                elif not low and start is not None:
                    events.append({"entity": entity, "from": start, "until": edge})
                    start = None
            if start is not None:
                events.append({"entity": entity, "from": start, "until": None})
        return [{"score": 1e6, "datasource": "bgp", **e} for e in events]

    def ooni_row(self, asn: int, test: str, hour: int) -> dict | None:
        """OONI's counters for (``asn``, ``test``) in the hour starting at ``hour``."""
        if (asn, test, hour) in self.ooni_counts:
            return dict(self.ooni_counts[(asn, test, hour)])
        total = self.ooni_per_hour.get(test, 0)
        if not total or (self.fraction(f"asn/{asn}", "bgp", hour) or 0) < 0.5:
            return None
        share, confirmed = 0.0, 0.0
        for span in reversed(self.ooni_spans):
            if asn in span.asns and test in span.tests and span.start <= hour < span.end:
                share, confirmed = span.share, span.confirmed
                break
        bad = round(total * share)
        sure = round(bad * confirmed)
        return {
            "anomaly_count": bad - sure,
            "confirmed_count": sure,
            "failure_count": 0,
            "measurement_count": total,
            "ok_count": total - bad,
        }

    # --- The answers --------------------------------------------------------------------

    def answer(self, feed: str, path: str, query: dict, headers=None, now: float | None = None):
        """``(status, body)`` for one request; body is JSON, ``bytes`` (sent as is) or None
        (no answer: the connection is dropped). ``path`` has no leading slash."""
        now = time.time() if now is None else now
        path = path.strip("/")
        failure = self._take_failure(feed, path)
        if failure:
            return _failed(feed, failure["mode"], path, query)
        try:
            if feed == "ioda":
                return self._ioda(path, query, now)
            if feed == "ooni":
                return self._ooni(path, query)
            return self._radar(path, query, headers or {}, now)
        except BadRequest as error:
            return _failed(feed, "bad", path, query, str(error))

    def _take_failure(self, feed: str, path: str) -> dict | None:
        with self._lock:
            for rule in self.failures.get(feed, []):
                if path.startswith(rule["path"].strip("/")):
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.failures[feed].remove(rule)
                    return rule
        return None

    def _entity(self, key: str) -> dict:
        kind, code = entity_parts(key)
        if kind == "country":
            name = "Kazakhstan"
        elif kind == "region":
            name = self.regions.get(code, code)
        else:
            name = self.asns.get(int(code), f"AS{code}") if code.isdigit() else code
        return {"type": kind, "code": code, "name": name, "attrs": {"fqid": f"fake.{kind}.{code}"}}

    def _selected(self, query: dict) -> list[str]:
        """The entities an outages query names (entityType with entityCode or relatedTo)."""
        kind = query.get("entityType")
        if not kind:
            return self.entities()
        codes = query.get("entityCode")
        keys = [k for k in self.entities() if entity_parts(k)[0] == kind]
        if codes:
            wanted = {f"{kind}/{c.strip()}" for c in codes.split(",")}
            keys = [k for k in keys if k in wanted]
        elif query.get("relatedTo") not in (None, "country/KZ"):
            keys = []
        return keys

    def _ioda(self, path: str, query: dict, now: float):
        parts = path.split("/")
        if path == "entities/query":
            keys = self._selected(query)
            return 200, self._envelope("entities", query, [self._entity(k) for k in keys], now)
        start, until = _window(query, now)
        if parts[:2] == ["signals", "raw"] and len(parts) == 4:
            kind, codes = parts[2], unquote(parts[3])
            if kind not in NORMAL:
                raise BadRequest(f"Invalid entity type: {kind}")
            wanted = query.get("datasource")
            if wanted and wanted not in STEPS:
                raise BadRequest(f"Invalid datasource: {wanted}")
            datasources = [wanted] if wanted else list(STEPS)
            data = [
                [self._series(f"{kind}/{code}", ds, start, until) for ds in datasources]
                for code in codes.split(",")
            ]
            return 200, self._envelope("signals", query, data, now)
        if path == "outages/events":
            return 200, self._envelope(
                "outages.events", query, self._events(query, start, until), now
            )
        if path == "outages/alerts":
            return 200, self._envelope(
                "outages.alerts", query, self._alerts(query, start, until), now
            )
        return 404, self._envelope("error", query, None, now, f"No route for /{path}")

    def _series(self, key: str, datasource: str, start: float, until: float) -> dict:
        step = STEPS[datasource]
        first = int(start) // step * step
        known = key in self.entities()
        times = range(first, int(until), step)
        values = self.values(key, datasource, times) if known else [None] * len(times)
        entity = self._entity(key)
        return {
            "entityType": entity["type"],
            "entityCode": entity["code"],
            "entityName": entity["name"],
            "entityFqid": entity["attrs"]["fqid"],
            "datasource": datasource,
            "subtype": "",
            "from": first,
            "until": first + step * len(values),
            "step": step,
            "nativeStep": step,
            "values": values,
        }

    def _events(self, query: dict, start: float, until: float) -> list[dict]:
        keys = set(self._selected(query))
        found = []
        for event in self.events + (self.derived_events() if self.derive_events else []):
            end = event["until"]
            if event["entity"] not in keys or event["from"] > until:
                continue
            if end is not None and end < start:
                continue
            found.append(
                {
                    "entity": self._entity(event["entity"]),
                    "from": int(event["from"]),
                    "until": None if end is None or end > until else int(end),
                    "score": event["score"],
                    "datasource": event["datasource"],
                    "method": "median",
                }
            )
        return found

    def _alerts(self, query: dict, start: float, until: float) -> list[dict]:
        keys = set(self._selected(query))
        return [
            {
                "datasource": a["datasource"],
                "entity": self._entity(a["entity"]),
                "time": int(a["time"]),
                "level": a["level"],
                "condition": "< 0.8" if a["level"] != "normal" else ">= 0.8",
                "value": a["value"],
                "historyValue": a["historyValue"],
                "method": "median",
            }
            for a in self.alerts
            if a["entity"] in keys and start <= a["time"] <= until
        ]

    def _envelope(self, kind: str, query: dict, data, now: float, error=None) -> dict:
        return {
            "type": kind,
            "metadata": {"requestTime": iso(now), "responseTime": iso(now)},
            "requestParameters": dict(query),
            "error": error,
            "perf": None,
            "data": data,
            "copyright": "Made-up figures for Bailanys' tests.",
        }

    def _ooni(self, path: str, query: dict):
        if path != "v1/aggregation":
            return 404, {"msg": "not found"}
        since, until = _ooni_time(query.get("since")), _ooni_time(query.get("until"))
        if since is None or until is None or since >= until:
            raise BadRequest("Invalid since/until")
        if query.get("time_grain") == "hour" and until - since > 7 * DAY:
            raise BadRequest("Choose time_grain between day, week, month, year, auto")
        tests = [t for t in (query.get("test_name") or "").split(",") if t]
        by_asn = query.get("axis_y") == "probe_asn"
        ccs = (query.get("probe_cc") or "KZ").split(",")
        rows = []
        hour = int(since) // 3600 * 3600
        while "KZ" in ccs and hour < until:
            total: dict[int, dict] = {}
            for asn in self.asns:
                for test in tests or OONI_TESTS:
                    row = self.ooni_row(asn, test, hour)
                    if row:
                        into = total.setdefault(asn if by_asn else 0, dict.fromkeys(row, 0))
                        for k, v in row.items():
                            into[k] += v
            for asn, counts in sorted(total.items()):
                if counts["measurement_count"]:
                    bucket = {"measurement_start_day": iso(hour)}
                    rows.append({**bucket, **({"probe_asn": asn} if by_asn else {}), **counts})
            hour += 3600
        stats = {"row_count": len(rows), "bytes": 0, "total_row_count": len(rows)}
        body = {"v": 0, "dimension_count": 2 if by_asn else 1, "db_stats": stats, "result": rows}
        return 200, body

    def _radar(self, path: str, query: dict, headers, now: float):
        if headers.get("Authorization") != f"Bearer {self.radar_token}":
            return 400, _radar_error(10000, "Authentication error")
        if path != "annotations/outages":
            return 404, _radar_error(7000, "No route for that URI")
        days = int((query.get("dateRange") or "7d").rstrip("d") or 7)
        location = query.get("location")
        found = []
        for a in self.annotations:
            if a["start"] > now or (a["end"] is not None and a["end"] < now - days * DAY):
                continue
            if location and location not in a["locations"]:
                continue
            shown = {k: v for k, v in a.items() if k not in ("start", "end")}
            shown["startDate"] = iso(a["start"])
            if a["end"] is not None and a["end"] <= now:
                shown["endDate"] = iso(a["end"])
            shown["asnsDetails"] = [
                {"asn": str(n), "name": self.asns.get(n, f"AS{n}"), "locations": {"code": "KZ"}}
                for n in a["asns"]
            ]
            shown["dataSource"] = "ALL"
            shown["eventType"] = "OUTAGE"
            found.append(shown)
        return 200, {"success": True, "errors": [], "result": {"annotations": found}}


@functools.lru_cache(maxsize=4096)
def _day_curve(second_of_day: int) -> float:
    local_hour = ((second_of_day + 6 * 3600) % DAY) / 3600
    return 1 + 0.08 * math.sin((local_hour - 9) / 24 * 2 * math.pi)


def _curve(t: int) -> float:
    wobble = ((t // 60 * 2654435761) % 1000) / 1000 * 0.01 - 0.005
    return _day_curve(t % DAY) + wobble


class BadRequest(ValueError):
    pass


def _window(query: dict, now: float) -> tuple[float, float]:
    try:
        start = float(query.get("from", now - DAY))
        until = float(query.get("until", now))
    except ValueError as error:
        raise BadRequest("from and until must be epochs") from error
    if start >= until:
        raise BadRequest("from must be before until")
    return start, until


def _ooni_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return epoch_of(value)
    except ValueError:
        return None


def _radar_error(code: int, message: str) -> dict:
    return {"success": False, "errors": [{"code": code, "message": message}], "result": None}


def _failed(feed: str, mode: str, path: str, query: dict, text: str = ""):
    """A failure as each feed shows it."""
    if mode in ("drop", "hang"):
        if mode == "hang":
            time.sleep(3)
        return None
    if mode == "malformed":
        return 200, b'{"type": "signals", "data": [[{"values": [1, 2, NaN, '
    text = text or ("Internal Server Error" if mode == "500" else "Datasource unavailable")
    status = 500 if mode == "500" else 400 if mode == "bad" else 200
    if feed == "ioda":
        body = {"type": "error", "metadata": {}, "requestParameters": dict(query)}
        return status, {**body, "error": text, "perf": None, "data": None, "copyright": ""}
    if feed == "ooni":
        return (status if status != 200 else 503), {"msg": text}
    return status, _radar_error(10001 if status == 500 else 10002, text)
