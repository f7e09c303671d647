"""Hostile feed answers through `bailanys outages replay` (issue 20): wrong types, huge
arrays, nested garbage, NaN strings, NUL. The replay never crashes, and an answer with
nothing readable in it changes no state (hypothesis; the shapes follow
tests/fakes/outage_scenario.py).
"""

import json
from datetime import datetime

import pytest
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli
from tests.fakes.jan2022 import poll_asks, write_replay
from tests.fakes.outage_scenario import MESSENGERS, Scenario
from tests.test_outage_feeds import BEELINE, HOUR, KCELL, MIN, START, status

pytestmark = pytest.mark.django_db

SPECIAL = ["NaN", "Infinity", "-1", "1e999", "null", "", "AS", "ASx", "\x00", "a\x00b", "\ud800"]
# Anything but a usable figure: no number >= 0, no "critical", no "KZ", no valid time.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(max_value=-1)
    | st.floats().filter(lambda f: not f >= 0)
    | st.sampled_from(SPECIAL)
    | st.text(max_size=6).filter(lambda t: t.strip().upper() not in ("KZ", "CRITICAL"))
)
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
series = st.fixed_dictionaries(
    {
        "entityType": st.sampled_from(["country", "region", "asn"]),
        "entityCode": st.sampled_from(["KZ", "4401", "9198", "29355"]),
        "datasource": st.sampled_from(["bgp", "ping-slash24"]),
        "from": garbage | st.just(1772400000),
        "step": garbage | st.just(300),
        "values": st.lists(garbage, min_size=1, max_size=30),
    }
)
long_series = series.map(lambda s: {**s, "values": ["NaN"] * 25000})
entity = st.fixed_dictionaries(
    {"type": st.sampled_from(["country", "asn"]), "code": st.sampled_from(["KZ", "21299"])}
)
event = st.fixed_dictionaries(
    {"entity": entity | garbage, "from": garbage, "until": garbage, "score": garbage}
)
alert = st.fixed_dictionaries(
    {"entity": entity | garbage, "time": garbage, "level": garbage, "value": garbage}
)
row = st.fixed_dictionaries(
    {
        "measurement_start_day": garbage,
        "probe_asn": garbage | st.just(29355),
        "anomaly_count": garbage | st.just(10),
        "measurement_count": garbage | st.just(10),
    }
)
annotation = st.fixed_dictionaries(
    {"locations": garbage, "asns": garbage, "startDate": garbage, "endDate": garbage}
)


def items(shape):
    """A non-empty list of unusable items (an empty list is a valid answer: "nothing")."""
    return st.lists(shape | garbage, min_size=1, max_size=5) | shape.map(lambda x: [x] * 2500)


def envelope(data):
    return st.builds(lambda d: {"type": "x", "error": None, "data": d}, data)


BODIES = {
    "signals": envelope(
        items(series)
        | st.lists(items(series), min_size=1, max_size=3)
        | long_series.map(lambda s: [[s]])
    ),
    "outages/events": envelope(items(event)),
    "outages/alerts": envelope(items(alert)),
    "v1/aggregation": st.builds(lambda r: {"v": 0, "result": r}, items(row)),
    "annotations/outages": st.builds(
        lambda a: {"success": True, "result": {"annotations": a}}, items(annotation)
    ),
}
ANYTHING = (
    garbage
    | st.text(max_size=40)
    | st.sampled_from(['{"data": [[{"values": [1, 2, NaN', "[]", "null", "{}", "1e999"])
    | st.builds(lambda d: {"error": d or "x", "data": []}, garbage)
)


@st.composite
def hostile_lines(draw, asks):
    feed, path, query = draw(st.sampled_from(asks))
    kind = "signals" if path.startswith("signals/") else path
    body = draw(BODIES.get(kind, ANYTHING) | ANYTHING)
    status = draw(st.sampled_from([200, 200, 200, 500, 502, 404, 429]))
    return {
        "at": T1.isoformat(),
        "feed": feed,
        "path": path,
        "query": query,
        "status": status,
        "body": body,
    }


T1 = START + MIN  # the readings of START are still fresh then


def states_now(moment: datetime) -> dict[tuple[str, str], str]:
    return {(e, c): v["state"] for e, row in status(moment).items() for c, v in row.items()}


def test_hostile_answers_never_crash_the_replay_nor_change_a_state(tmp_path):
    scenario = Scenario()
    scenario.event("country/KZ", START - 2 * HOUR)  # down: an open event
    scenario.block(29355, MESSENGERS, START - 8 * HOUR, START + HOUR)  # Kcell: blocked
    scenario.alert(BEELINE, START - 2 * MIN)  # Beeline: degraded
    scenario.annotate(START - 3 * HOUR, asns=[48503])  # Tele2: degraded
    scenario.block(41798, "web_connectivity", START - 8 * HOUR, START + HOUR)  # whitelist
    base = tmp_path / "base.jsonl"
    write_replay(base, scenario, [START], days=2)
    run_cli("outages", "replay", str(base))
    before = states_now(T1)
    assert before[("country/KZ", "internet")] == "down"
    assert before[(KCELL, "telegram")] == "blocked"
    assert before[(BEELINE, "internet")] == before[("asn/48503", "internet")] == "degraded"
    assert before[("asn/41798", "internet")] == "degraded"
    hostile = tmp_path / "hostile.jsonl"
    asks = poll_asks(T1.timestamp(), days=2)

    def line(path, body, **query):
        feed, path, asked = next(a for a in asks if a[1] == path and query.items() <= a[2].items())
        return {"at": T1.isoformat(), "feed": feed, "path": path, "query": asked, "body": body}

    @given(line=hostile_lines(asks))
    # Found by this test: lists of nothing readable were read as "no news" (no events, no
    # measurements, no annotation), and reopened or closed what the last answer said.
    @example(line=line("v1/aggregation", {"result": [{"probe_asn": None}]}, test_name="signal"))
    @example(line=line("outages/events", {"data": [{"from": -5}]}, entityType="country"))
    @example(line=line("annotations/outages", {"success": True, "result": {"annotations": [1]}}))
    # PostgreSQL refuses NUL in text and JSON: a feed's error text must not crash the replay.
    @example(line=line("outages/alerts", {"error": "bad\x00", "data": []}, entityType="asn"))
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def replay_one(line):
        hostile.write_text(json.dumps(line) + "\n")
        saved = transaction.savepoint()
        try:
            out = run_cli("outages", "replay", str(hostile))
            assert out.strip() == "replayed 1 answer(s), 0 state change(s)"
        finally:
            transaction.savepoint_rollback(saved)

    replay_one()


lines = st.fixed_dictionaries(
    {
        "at": garbage | st.just(T1.isoformat()),
        "feed": garbage | st.sampled_from(["ioda", "ooni", "radar"]),
        "path": garbage | st.sampled_from(["signals/raw/country/KZ", "v1/aggregation"]),
        "query": garbage,
        "status": garbage | st.just(200),
        "body": garbage,
    }
)


def test_a_line_that_is_not_a_feed_answer_is_refused_with_its_number(tmp_path):
    path = tmp_path / "lines.jsonl"

    @given(raw=lines.map(json.dumps) | garbage.map(json.dumps) | st.text(max_size=80))
    @example(raw=json.dumps({"at": T1.isoformat(), "feed": "ioda", "path": "x", "status": -1}))
    @example(raw=json.dumps({"at": T1.isoformat(), "feed": "ooni", "path": "x", "status": 1e30}))
    @example(raw=json.dumps({"at": T1.isoformat(), "feed": "radar", "path": "x", "status": 10**30}))
    @example(raw=json.dumps({"at": T1.isoformat(), "feed": "ioda", "path": "\x00", "status": 500}))
    @settings(max_examples=40, deadline=None)
    def replay_one(raw):
        path.write_text("\n" + " ".join(raw.splitlines()) + "\n")  # the answer is on line 2
        saved = transaction.savepoint()
        try:
            out = run_cli("outages", "replay", str(path))
        except CommandError as error:
            assert str(error) == "1 line(s) refused; the others were replayed"
        else:
            assert out.startswith("replayed ")
        finally:
            transaction.savepoint_rollback(saved)

    replay_one()
