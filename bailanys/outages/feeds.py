"""The outside feeds: what we ask IODA, OONI and Cloudflare Radar, and what we keep of
their answers (docs/status.md). Live polls and replays go through the same `ingest`."""

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from bailanys.outages import rules
from bailanys.outages.entities import COUNTRY, REGION_CODE, entity_keys, regions_store
from bailanys.outages.models import Entity, Fetch, Reading

logger = logging.getLogger("bailanys.outages")

TIMEOUT = 15
MAX_BODY = 8 * 1024 * 1024
MAX_VALUES = 20000
OONI_TESTS = ("telegram", "signal", "whatsapp", "web_connectivity")
OONI_HOURS = 6
DATASOURCES = ("bgp", "ping-slash24")
IODA_DASHBOARD = "https://ioda.inetintel.cc.gatech.edu"
OONI_EXPLORER = "https://explorer.ooni.org/chart/mat"


class Shape(Exception):
    """An answer that is not what the feed documents."""


def interval(feed: str) -> int:
    """Seconds between polls of a feed: IODA at the poll interval, OONI hourly at most,
    Radar every 30 minutes at most."""
    poll = settings.BAILANYS_OUTAGE_POLL_SECONDS
    return {"ooni": max(poll, 3600), "radar": max(poll, 1800)}.get(feed, poll)


def feeds_enabled() -> list[str]:
    feeds = [f for f in settings.BAILANYS_OUTAGE_FEEDS if f in ("ioda", "ooni")]
    if settings.BAILANYS_RADAR_TOKEN and "radar" not in feeds:
        feeds.append("radar")
    return feeds


@dataclass(frozen=True)
class Ask:
    feed: str
    path: str
    query: dict


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _ooni_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def asks(feed: str, now: datetime, *, with_regions: bool) -> list[Ask]:
    """Every request one poll of `feed` makes."""
    if feed == "ioda":
        found = (
            []
            if not with_regions
            else [Ask("ioda", "entities/query", {"entityType": "region", "relatedTo": COUNTRY})]
        )
        span = {"from": _epoch(now - timedelta(days=7, hours=1)), "until": _epoch(now)}
        targets = [("country", ["KZ"])]
        for kind in ("region", "asn"):
            codes = [key.split("/", 1)[1] for key in entity_keys(kind)]
            if codes:
                targets.append((kind, codes))
        for kind, codes in targets:
            for datasource in DATASOURCES:
                found.append(
                    Ask(
                        "ioda",
                        f"signals/raw/{kind}/{','.join(codes)}",
                        {**span, "datasource": datasource},
                    )
                )
        recent = {"from": _epoch(now - timedelta(hours=24)), "until": _epoch(now)}
        for what in ("events", "alerts"):
            for kind in ("country", "region", "asn"):
                where = (
                    {"entityType": "country", "entityCode": "KZ"}
                    if kind == "country"
                    else {"entityType": kind, "relatedTo": COUNTRY}
                )
                extra = {"format": "ioda"} if what == "events" else {}
                found.append(Ask("ioda", f"outages/{what}", {**recent, **where, **extra}))
        return found
    if feed == "ooni":
        since = _ooni_time(now - timedelta(hours=OONI_HOURS))
        return [
            Ask(
                "ooni",
                "v1/aggregation",
                {
                    "probe_cc": "KZ",
                    "test_name": test,
                    "axis_x": "measurement_start_day",
                    "axis_y": "probe_asn",
                    "time_grain": "hour",
                    "since": since,
                    "until": _ooni_time(now),
                },
            )
            for test in OONI_TESTS
        ]
    if feed == "radar":
        return [
            Ask(
                "radar",
                "annotations/outages",
                {"location": "KZ", "dateRange": "7d", "format": "json"},
            )
        ]
    return []


def _base(feed: str) -> str:
    return {
        "ioda": settings.BAILANYS_IODA_URL,
        "ooni": settings.BAILANYS_OONI_URL,
        "radar": settings.BAILANYS_RADAR_URL,
    }[feed].rstrip("/")


class Unreachable(Exception):
    """The feed did not answer at all (refused, timed out, no route)."""


def fetch(ask: Ask) -> tuple[int, str]:
    """(HTTP status, body) of one request; raises Unreachable when nothing came back."""
    url = f"{_base(ask.feed)}/{ask.path}?{urllib.parse.urlencode(ask.query, safe=',/')}"
    if not url.startswith(("http://", "https://")):
        raise Unreachable("not an http(s) URL")
    headers = {"Accept": "application/json", "User-Agent": "bailanys-status"}
    if ask.feed == "radar":
        headers["Authorization"] = f"Bearer {settings.BAILANYS_RADAR_TOKEN}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310  scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, response.read(MAX_BODY).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(64 * 1024).decode("utf-8", "replace")
    except (OSError, ValueError) as error:  # refused, timed out, DNS, a bad URL
        raise Unreachable(type(error).__name__) from error


def record(
    feed: str,
    path: str,
    at: datetime,
    *,
    ok: bool,
    status,
    note: str = "",
    ms: int = 0,
    replayed: bool = False,
) -> Fetch:
    path, note = _printable(path, 200), _printable(note, 200)
    if not ok:
        logger.warning("feed %s %s failed: %s", feed, path[:60], note[:100])
    return Fetch.objects.create(
        feed=feed,
        path=path,
        at=at,
        ok=ok,
        status=status,
        note=note,
        ms=ms,
        replayed=replayed,
    )


def ingest(
    feed: str,
    path: str,
    query: dict,
    status,
    body,
    at: datetime,
    *,
    replayed: bool = False,
    ms: int = 0,
) -> bool:
    """Keep what one answer says (a live fetch or a replayed line); record the fetch.
    Returns whether the answer was usable. Never raises on a bad answer."""
    clean_path = str(path)[:200]
    if status != 200:
        note = f"HTTP {status}"
        if isinstance(body, str) and body.strip().startswith("{"):
            try:
                message = json.loads(body).get("msg") or json.loads(body).get("error")
                note += f": {str(message)[:120]}"
            except (ValueError, AttributeError):
                pass
        record(feed, clean_path, at, ok=False, status=status, note=note, ms=ms, replayed=replayed)
        return False
    try:
        answer = json.loads(body) if isinstance(body, str | bytes) else body
        if not isinstance(answer, dict):
            raise Shape("not a JSON object")
        with transaction.atomic():
            _ingest(feed, clean_path, query if isinstance(query, dict) else {}, answer, at)
    except (ValueError, Shape, TypeError, KeyError, AttributeError, OverflowError) as error:
        if isinstance(error, Shape):
            note = str(error)[:150]
        elif isinstance(error, ValueError):
            note = "malformed answer"
        else:
            note = f"unexpected {type(error).__name__}"
        record(feed, clean_path, at, ok=False, status=status, note=note, ms=ms, replayed=replayed)
        return False
    record(feed, clean_path, at, ok=True, status=status, ms=ms, replayed=replayed)
    return True


def _printable(text, limit: int) -> str:
    """A feed's text as we may keep it: no NUL (PostgreSQL refuses it in text and JSON)
    nor any other control character."""
    return "".join(ch for ch in str(text)[: limit * 2] if ch.isprintable())[:limit]


def _keep(source: str, entity: str, metric: str, at: datetime, data: dict) -> None:
    data = {k: _printable(v, 300) if isinstance(v, str) else v for k, v in data.items()}
    Reading.objects.update_or_create(
        source=source, entity=entity, metric=metric, defaults={"at": at, "data": data}
    )


def _list(value, what: str) -> list:
    if not isinstance(value, list):
        raise Shape(f"{what} is not a list")
    return value


def _ingest(feed: str, path: str, query: dict, answer: dict, at: datetime) -> None:
    if feed == "ioda":
        if answer.get("error"):
            raise Shape(f"IODA error: {str(answer['error'])[:100]}")
        data = _list(answer.get("data"), "data")
        if path == "entities/query":
            return _ioda_regions(data)
        if path.startswith("signals/raw/"):
            return _ioda_signals(data, at)
        if path in ("outages/events", "outages/alerts"):
            return _ioda_outages(path.rsplit("/", 1)[1], query, data, at)
    elif feed == "ooni" and path == "v1/aggregation":
        return _ooni(query, _list(answer.get("result"), "result"), at)
    elif feed == "radar" and path == "annotations/outages":
        result = answer.get("result")
        if answer.get("success") is False or not isinstance(result, dict):
            raise Shape("Radar answered without a result")
        return _radar(_list(result.get("annotations"), "annotations"), at)
    raise Shape(f"no reader for {feed} {path[:40]}")


def _ioda_regions(data: list) -> None:
    found = []
    for item in data[:500]:
        if not isinstance(item, dict):
            continue
        code, name = str(item.get("code", "")), item.get("name")
        if item.get("type", "region") != "region" or not isinstance(name, str):
            continue
        name = "".join(ch for ch in name if ch.isprintable()).strip()[:80]
        if name and REGION_CODE.match(code):
            found.append((code, name))
    if not found:
        raise Shape("no regions listed")
    regions_store(found)


def _flat(data: list) -> list[dict]:
    """IODA nests series in lists (one per entity); accept them flat too."""
    out: list[dict] = []
    for item in data[:500]:
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, list):
            out.extend(i for i in item[:50] if isinstance(i, dict))
    return out


def _link(entity: str) -> str:
    return f"{IODA_DASHBOARD}/{entity}"


def _ioda_signals(data: list, at: datetime) -> None:
    known = set(Entity.objects.values_list("key", flat=True))
    for series in _flat(data):
        key = f"{series.get('entityType')}/{series.get('entityCode')}"
        datasource = series.get("datasource")
        start, step, values = series.get("from"), series.get("step"), series.get("values")
        if key not in known or datasource not in DATASOURCES:
            continue
        if not isinstance(start, int) or not isinstance(step, int) or isinstance(step, bool):
            continue
        if not isinstance(values, list) or not 0 < step <= 86400 or len(values) > MAX_VALUES:
            continue
        verdict = rules.signal_verdict(start, step, values)
        if verdict is None:
            continue
        _keep("ioda", key, datasource, at, {**verdict, "link": _link(key)})


def _covered(query: dict) -> list[str]:
    kind = query.get("entityType")
    if kind == "country":
        return [COUNTRY] if query.get("entityCode") == "KZ" else []
    if kind in ("region", "asn") and query.get("relatedTo") == COUNTRY:
        return entity_keys(kind)
    return []


def _ioda_outages(what: str, query: dict, data: list, at: datetime) -> None:
    now = int(at.timestamp())
    fresh = 2 * interval("ioda")
    found: dict[str, dict] = {}
    readable = 0
    for item in data[:2000]:
        if not isinstance(item, dict) or not isinstance(item.get("entity"), dict):
            continue
        key = f"{item['entity'].get('type')}/{item['entity'].get('code')}"
        if what == "events":
            start, until = item.get("from"), item.get("until")
            if not _epoch_ok(start) or (until is not None and not _epoch_ok(until)):
                continue
            readable += 1
            if start <= now and (until is None or until >= now - fresh):
                found[key] = {"open": True, "from": start, "score": rules.number(item.get("score"))}
        else:
            when = item.get("time")
            if not _epoch_ok(when) or not isinstance(item.get("level"), str):
                continue
            readable += 1
            if item["level"] == "critical" and when >= now - fresh:
                found[key] = {
                    "critical": True,
                    "time": when,
                    "datasource": str(item.get("datasource", ""))[:20],
                    "value": rules.number(item.get("value")),
                    "baseline": rules.number(item.get("historyValue")),
                }
    if data and not readable:  # garbage is no news: an empty list is
        raise Shape(f"no readable {what[:-1]} among {len(data)}")
    metric = "event" if what == "events" else "alert"
    for key in _covered(query):
        data_ = found.get(key) or ({"open": False} if metric == "event" else {"critical": False})
        _keep("ioda", key, metric, at, {**data_, "link": _link(key)})


def _epoch_ok(value) -> bool:
    """A time in seconds since 1970 as IODA gives them: a positive whole number."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _asn_number(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if isinstance(value, str) and value.upper().startswith("AS") and value[2:].isdigit():
        return int(value[2:]) or None
    return None


def _hour(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(row: dict, name: str) -> int:
    value = row.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _ooni(query: dict, result: list, at: datetime) -> None:
    test = query.get("test_name")
    if test not in OONI_TESTS:
        raise Shape("an aggregation for a test we do not ask for")
    since = at - timedelta(hours=OONI_HOURS)
    totals: dict[str, list[int]] = {}
    readable = 0
    for row in result[:20000]:
        if not isinstance(row, dict):
            continue
        asn, hour = _asn_number(row.get("probe_asn")), _hour(row.get("measurement_start_day"))
        if asn is None or hour is None:
            continue
        readable += 1
        if not since <= hour <= at:
            continue
        counts = [
            _count(row, "measurement_count"),
            _count(row, "anomaly_count") + _count(row, "confirmed_count"),
        ]
        for key in (f"asn/{asn}", COUNTRY):
            total = totals.setdefault(key, [0, 0])
            total[0] += counts[0]
            total[1] += min(counts[1], counts[0])
    if result and not readable:  # garbage is no news: an empty result is
        raise Shape(f"no readable row among {len(result)}")
    link = f"{OONI_EXPLORER}?probe_cc=KZ&test_name={test}&axis_x=measurement_start_day"
    for key in [COUNTRY, *entity_keys("asn")]:
        measured, anomalies = totals.get(key, [0, 0])
        _keep(
            "ooni",
            key,
            test,
            at,
            {
                "measurements": measured,
                "anomalies": anomalies,
                "link": link
                + (f"&probe_asn=AS{key.split('/')[1]}" if key.startswith("asn/") else ""),
            },
        )


def _radar(annotations: list, at: datetime) -> None:
    ongoing: dict[str, dict] = {}
    asns = {key.split("/")[1] for key in entity_keys("asn")}
    readable = 0
    for note in annotations[:500]:
        if not isinstance(note, dict) or _hour(note.get("startDate")) is None:
            continue
        locations = note.get("locations")
        if not isinstance(locations, list):
            continue
        readable += 1
        if note.get("endDate") or "KZ" not in locations:
            continue
        what = {
            "ongoing": True,
            "start": str(note.get("startDate", ""))[:30],
            "description": str(note.get("description") or "")[:200],
            "link": str(note.get("linkedUrl") or "")[:300],
        }
        numbers = [str(a) for a in note.get("asns") or [] if str(a) in asns]
        for key in [f"asn/{n}" for n in numbers] or [COUNTRY]:
            ongoing[key] = what
    if annotations and not readable:  # garbage is no news: no annotation is
        raise Shape(f"no readable annotation among {len(annotations)}")
    for key in [COUNTRY, *entity_keys("asn")]:
        _keep("radar", key, "radar", at, ongoing.get(key) or {"ongoing": False})


def poll(feed: str, now: datetime, *, with_regions: bool) -> bool:
    """Ask a feed everything once; True when every request was answered and usable. A
    feed that does not answer at all is not asked again in this poll."""
    ok = True
    pending = asks(feed, now, with_regions=with_regions)
    while pending:
        ask = pending.pop(0)
        started = time.monotonic()
        try:
            status, body = fetch(ask)
        except Unreachable as error:
            record(
                feed,
                ask.path,
                now,
                ok=False,
                status=None,
                note=f"no answer ({error})",
                ms=int((time.monotonic() - started) * 1000),
            )
            return False
        ms = int((time.monotonic() - started) * 1000)
        ok = ingest(feed, ask.path, ask.query, status, body, now, ms=ms) and ok
        if ask.path == "entities/query":  # the regions just listed are asked about at once
            pending = asks(feed, now, with_regions=False)
    return ok
