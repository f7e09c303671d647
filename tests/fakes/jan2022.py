"""January 2022 in Kazakhstan, as a made-up ``Scenario``, and replay files built from it.

The story (shared/research/03-outage-status-ioda-ooni-radar.md §7), in Kazakhstan's time of
the day (UTC+6): on 4 January messengers are blocked on the mobile networks from noon while
the internet still works, and the mobile networks go down at 21:00; on the afternoon of the
5th the whole country goes dark; then a few hours a day per city (Astana 10:00-13:00 and
Shymkent 15:00-17:00 on the 7th and 8th); on the 8th the fixed lines come back for three
hours under a whitelist (most websites anomalous in OONI); from 10:00 on the 10th
Kazakhtelecom and Transtelecom are back in Astana and Almaty while mobile stays down.

``replay_lines`` asks the scenario exactly what the poller would ask at each poll time
(``poll_asks``, the requests of docs issue 20), so the replay and the live fakes tell one
story. Every figure is made up.
"""

import json
from datetime import UTC, datetime, timedelta, timezone

from tests.fakes.outage_scenario import (
    ASNS,
    FIXED_ASNS,
    MESSENGERS,
    MOBILE_ASNS,
    OONI_TESTS,
    REGIONS,
    STEPS,
    Scenario,
    epoch_of,
)

KZ_TIME = timezone(timedelta(hours=6), "ALMT")
ALMATY, ASTANA, SHYMKENT, KARAGANDA, AKTOBE = (f"region/{c}" for c in range(4401, 4406))


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of January 2022 in Kazakhstan's time."""
    return datetime(2022, 1, day, hour, minute, tzinfo=KZ_TIME)


def january_2022() -> Scenario:
    s = Scenario(derive_events=True)
    mobile = [f"asn/{n}" for n in MOBILE_ASNS]
    fixed = [f"asn/{n}" for n in FIXED_ASNS]
    regions = [ALMATY, ASTANA, SHYMKENT, KARAGANDA, AKTOBE]
    end = local(14, 0)
    # 4 Jan, noon: Telegram, WhatsApp and Signal blocked on the mobile networks.
    s.block(MOBILE_ASNS, MESSENGERS, local(4, 12), end, share=1.0, confirmed=0.25)
    # 4 Jan, 21:00: the mobile networks go down; the country and its regions lose their share.
    s.level(mobile, local(4, 21), end, 0.04)
    s.level(["country/KZ", *regions], local(4, 21), local(5, 14), 0.65)
    # 5 Jan, 14:00: the whole country.
    s.level(["country/KZ", *regions, *fixed], local(5, 14), end, 0.03)
    # 7 and 8 Jan: a few hours a day per city.
    for day in (7, 8):
        s.level(ASTANA, local(day, 10), local(day, 13), 0.95)
        s.level("country/KZ", local(day, 10), local(day, 13), 0.12)
        s.level(SHYMKENT, local(day, 15), local(day, 17), 0.9)
    # 8 Jan, 10:00-13:00: fixed lines back, under a whitelist.
    s.level(fixed, local(8, 10), local(8, 13), 0.9)
    s.block(FIXED_ASNS, OONI_TESTS, local(8, 10), local(8, 13), share=0.85)
    # 10 Jan, 10:00: fixed lines back in Astana and Almaty; mobile stays down.
    s.level(fixed, local(10, 10), end, 0.9)
    s.level([ALMATY, ASTANA], local(10, 10), end, 0.85)
    s.level("country/KZ", local(10, 10), end, 0.55)
    s.annotate(
        local(4, 21),
        local(11, 18),
        description="Government-directed shutdown during protests (made up for tests)",
    )
    return s


def poll_asks(now: float, *, with_regions=True, days=7) -> list[tuple[str, str, dict]]:
    """(feed, path, query) of every request one poll of IODA, OONI and Radar makes at
    ``now`` (issue 20's contract: regions as the fake lists them, the ASNs watched). A
    replay may ask for fewer ``days`` of signals than the poller's 7, to be quick."""
    now = int(now)
    asks = []
    if with_regions:
        asks.append(("ioda", "entities/query", {"entityType": "region", "relatedTo": "country/KZ"}))
    span = {"from": now - days * 86400 - 3600, "until": now}
    targets = [("country", "KZ"), ("region", ",".join(REGIONS)), ("asn", ",".join(map(str, ASNS)))]
    for kind, codes in targets:
        for datasource in STEPS:
            query = {**span, "datasource": datasource}
            asks.append(("ioda", f"signals/raw/{kind}/{codes}", query))
    recent = {"from": now - 86400, "until": now}
    for what in ("events", "alerts"):
        for kind in ("country", "region", "asn"):
            if kind == "country":
                where = {"entityType": "country", "entityCode": "KZ"}
            else:
                where = {"entityType": kind, "relatedTo": "country/KZ"}
            extra = {"format": "ioda"} if what == "events" else {}
            asks.append(("ioda", f"outages/{what}", {**recent, **where, **extra}))
    hours = {
        "since": _ooni_time(now - 6 * 3600),
        "until": _ooni_time(now),
    }
    for test in OONI_TESTS:
        query = {
            "probe_cc": "KZ",
            "test_name": test,
            "axis_x": "measurement_start_day",
            "axis_y": "probe_asn",
            "time_grain": "hour",
            **hours,
        }
        asks.append(("ooni", "v1/aggregation", query))
    asks.append(
        ("radar", "annotations/outages", {"location": "KZ", "dateRange": "7d", "format": "json"})
    )
    return asks


def _ooni_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def replay_lines(scenario: Scenario, times, days: int = 7) -> list[dict]:
    """The replay lines of a poll at each of ``times``: what the scenario answers then."""
    lines = []
    last_day = None
    headers = {"Authorization": f"Bearer {scenario.radar_token}"}
    for moment in times:
        now = epoch_of(moment)
        day = int(now) // 86400
        for feed, path, query in poll_asks(now, with_regions=day != last_day, days=days):
            answer = scenario.answer(feed, path, query, headers, now)
            at = datetime.fromtimestamp(now, UTC).isoformat()
            if answer is None:  # nothing came back: a replay has no line for it
                continue
            status, body = answer
            if isinstance(body, bytes):
                body = body.decode(errors="replace")
            lines.append(
                {
                    "at": at,
                    "feed": feed,
                    "path": path,
                    "query": query,
                    "status": status,
                    "body": body,
                }
            )
        last_day = day
    return lines


def write_replay(path, scenario: Scenario, times, days: int = 7) -> int:
    """Write the JSON lines of ``replay_lines`` to ``path``; returns how many."""
    lines = replay_lines(scenario, times, days)
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
    return len(lines)
