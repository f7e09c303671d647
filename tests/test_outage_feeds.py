"""The outside feeds (IODA, OONI, Cloudflare Radar) → the state of each channel (issue 20).

Everything goes through the public surface: `bailanys outages poll|replay|show` and
`GET /api/v1/status` (and `outages_due`, which the worker's own thread calls), under
time_machine, against the local fakes of tests/fakes/outages.py (three real HTTP servers
answering from one made-up scenario). Hostile answers: test_outage_hostile.py.
"""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import time_machine

from tests.conftest import Api, run_cli
from tests.fakes.jan2022 import (
    ALMATY,
    ASTANA,
    SHYMKENT,
    january_2022,
    local,
    poll_asks,
    write_replay,
)
from tests.fakes.outage_scenario import MESSENGERS

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning, on a 5-minute step
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
KCELL, BEELINE = "asn/29355", "asn/21299"


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def poll(moment: datetime) -> str:
    with at(moment):
        return run_cli("outages", "poll")


def status(moment: datetime, past: datetime | None = None) -> dict[str, dict]:
    """{entity: {channel: {"state", "since", "confidence", "evidence"}}} as the API says at
    ``moment`` (of the timeline at ``past`` if given)."""
    query = f"?{urlencode({'at': past.isoformat()})}" if past else ""
    with at(moment):
        response = Api().get(f"/status{query}")
    assert response.status_code == 200, response.content
    return {row["entity"]: row["channels"] for row in response.json()["entities"]}


def state(grid: dict, entity: str, channel: str = "internet") -> str:
    return grid[entity][channel]["state"]


def evidence(grid: dict, entity: str, metric: str, channel: str = "internet") -> dict:
    found = [e for e in grid[entity][channel]["evidence"] if e["metric"] == metric]
    assert found, grid[entity][channel]
    return found[0]


def moment_of(text) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- Internet, from IODA's signals --------------------------------------------------------


def test_a_national_drop_turns_internet_down_for_the_country_within_two_polls(fake_outages):
    scenario = fake_outages.scenario
    drop = START + 30 * MIN
    scenario.drop("country/KZ", drop, drop + 3 * HOUR, 0.1)

    poll(drop - 5 * MIN)
    assert state(status(drop - 5 * MIN), "country/KZ") == "up"

    poll(drop + 5 * MIN)  # one step below half so far: not yet down
    assert state(status(drop + 5 * MIN), "country/KZ") == "degraded"

    poll(drop + 10 * MIN)  # two steps running
    grid = status(drop + 10 * MIN)
    country = grid["country/KZ"]["internet"]
    assert country["state"] == "down"
    assert moment_of(country["since"]) == drop + 10 * MIN
    bgp = evidence(grid, "country/KZ", "bgp")
    assert bgp["source"] == "ioda"
    assert bgp["figure"] == scenario.value("country/KZ", "bgp", (drop + 5 * MIN).timestamp())
    assert bgp["figure"] < 0.5 * bgp["baseline"]
    assert bgp["baseline"] == pytest.approx(bgp["figure"] / 0.1, rel=0.02)
    assert bgp["link"].startswith("https://") and "country/KZ" in bgp["link"]
    # Only the country dropped in this scenario: the networks and regions stay up.
    assert {state(grid, e) for e in grid if e != "country/KZ"} == {"up"}


def test_a_network_cut_for_five_days_still_reads_down_without_an_ioda_event(fake_outages):
    """The baseline is what the network usually does: five days of a shutdown in the last
    seven must not become the usual (a median would), or a network still cut reads "up"."""
    scenario = fake_outages.scenario
    cut = START - 5 * DAY
    scenario.drop("asn/21299", cut, START + DAY, 0.05)

    poll(START)
    poll(START + 5 * MIN)
    grid = status(START + 5 * MIN)
    assert state(grid, "asn/21299") == "down"
    assert state(grid, "asn/29355") == "up"


def test_an_open_ioda_event_is_enough_and_a_closed_one_is_not(fake_outages):
    scenario = fake_outages.scenario
    scenario.event(BEELINE, START - HOUR, START + 20 * MIN)

    poll(START)
    grid = status(START)
    assert state(grid, BEELINE) == "down"
    event = evidence(grid, BEELINE, "event")
    assert event["source"] == "ioda" and event["link"].startswith("https://")
    assert moment_of(event["at"]) == START - HOUR
    assert state(grid, KCELL) == "up"

    poll(START + 30 * MIN)  # ended ten minutes ago: within two polls, still open
    assert state(status(START + 30 * MIN), BEELINE) == "down"
    poll(START + 35 * MIN)
    assert state(status(START + 35 * MIN), BEELINE) == "up"


def test_a_critical_alert_or_an_ongoing_radar_annotation_means_degraded(fake_outages):
    scenario = fake_outages.scenario
    scenario.alert(KCELL, START - 3 * MIN)
    scenario.annotate(START - 2 * HOUR, asns=[21299], description="Kar-Tel outage (made up)")

    poll(START)
    grid = status(START)
    assert state(grid, KCELL) == "degraded"
    assert evidence(grid, KCELL, "alert")["source"] == "ioda"
    assert state(grid, BEELINE) == "degraded"
    annotation = evidence(grid, BEELINE, "annotation")
    assert annotation["source"] == "radar"
    assert annotation["link"] == scenario.annotations[0]["linkedUrl"]
    assert state(grid, "country/KZ") == "up"
    radar = fake_outages.calls("radar")
    assert radar and {c["auth"] for c in radar} == {f"Bearer {scenario.radar_token}"}


# --- Messengers, from OONI --------------------------------------------------------------


def test_ooni_anomalies_on_one_network_block_telegram_there_only(fake_outages):
    scenario = fake_outages.scenario
    scenario.block(29355, "telegram", START - 8 * HOUR, START + HOUR, share=0.75)

    poll(START)
    grid = status(START)
    assert state(grid, KCELL) == "up"  # the internet works there ...
    assert state(grid, KCELL, "telegram") == "blocked"  # ... Telegram does not
    proof = evidence(grid, KCELL, "telegram", "telegram")
    assert proof["source"] == "ooni"
    assert (proof["figure"], proof["baseline"]) == (18, 24)  # 3 of 4 an hour, for 6 hours
    assert "AS29355" in proof["link"]
    for entity, channels in grid.items():
        if entity != KCELL:
            assert channels["telegram"]["state"] in ("up", "unknown"), entity
    assert state(grid, "asn/9198", "telegram") == "up"
    assert state(grid, KCELL, "whatsapp") == "up"
    assert state(grid, "country/KZ", "telegram") == "up"  # 18 of 144 in the whole country


def test_a_network_that_is_down_has_its_messengers_down_not_blocked(fake_outages):
    scenario = fake_outages.scenario
    scenario.drop(BEELINE, START - 3 * HOUR, START + HOUR, 0.02)
    hour = START - HOUR  # a few probes still got through, all anomalous
    scenario.ooni_hour(21299, "telegram", hour, anomaly_count=5)

    poll(START)
    grid = status(START)
    assert state(grid, BEELINE) == "down"
    assert {state(grid, BEELINE, m) for m in MESSENGERS} == {"down"}


# --- Feeds that stop answering, fail or lie ---------------------------------------------


def test_a_feed_that_stops_answering_turns_its_states_unknown_after_two_intervals(fake_outages):
    poll(START)
    assert state(status(START), "country/KZ") == "up"
    fake_outages.refuse("ioda")

    assert "ioda: failed" in poll(START + 10 * MIN).splitlines()
    grid = status(START + 10 * MIN)  # IODA's readings are 10 minutes old: still good
    assert state(grid, "country/KZ") == "up"
    assert state(grid, KCELL, "telegram") == "up"

    poll(START + 11 * MIN)
    grid = status(START + 11 * MIN)
    assert {state(grid, e) for e in grid} == {"unknown"}
    # OONI still answers: the messengers rest on it while the internet is not known down.
    assert state(grid, KCELL, "telegram") == "up"

    fake_outages.reopen("ioda")
    poll(START + 15 * MIN)
    assert state(status(START + 15 * MIN), "country/KZ") == "up"


def test_ooni_silent_for_two_hours_leaves_the_messengers_unknown(fake_outages):
    scenario = fake_outages.scenario
    scenario.block(29355, MESSENGERS, START - 8 * HOUR, START + 8 * HOUR)
    poll(START)
    assert state(status(START), KCELL, "signal") == "blocked"
    fake_outages.refuse("ooni")

    poll(START + 2 * HOUR)
    assert state(status(START + 2 * HOUR), KCELL, "signal") == "blocked"
    poll(START + 2 * HOUR + 5 * MIN)
    grid = status(START + 2 * HOUR + 5 * MIN)
    assert state(grid, KCELL, "signal") == "unknown"
    assert state(grid, KCELL) == "up"  # IODA still answers


def show(moment: datetime) -> str:
    with at(moment):
        return run_cli("outages", "show")


def feed_line(shown: str, feed: str) -> str:
    lines = shown.split("\nfeeds:\n", 1)[1].splitlines()
    return next(line for line in lines if line.startswith(f"{feed} "))


def utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


@pytest.mark.parametrize(
    ("feed", "mode", "note"),
    [
        ("ioda", "500", "HTTP 500"),
        ("ioda", "error", "IODA error: Datasource unavailable"),
        ("ioda", "malformed", "malformed answer"),
        ("ioda", "drop", "no answer"),
        ("ooni", "error", "HTTP 503: Datasource unavailable"),
        ("radar", "error", "Radar answered without a result"),
    ],
)
def test_a_failing_feed_is_recorded_and_survived(fake_outages, feed, mode, note):
    scenario = fake_outages.scenario
    scenario.block(29355, "telegram", START - 8 * HOUR, START + HOUR)
    scenario.drop(BEELINE, START - HOUR, START + HOUR, 0.02)
    scenario.annotate(START - HOUR, asns=[48503])
    scenario.fail(feed, mode)

    out = poll(START)  # the command ends normally
    assert f"{feed}: failed" in out.splitlines()
    assert f"{feed}: 1 failure(s) in a row" in out.splitlines()
    grid = status(START)
    answered = {"ioda", "ooni", "radar"} - {feed}
    assert {f"{name}: answered" for name in answered} <= set(out.splitlines())
    if "ioda" in answered:  # the others still update
        assert state(grid, BEELINE) == "down"
    if "ooni" in answered:
        assert state(grid, KCELL, "telegram") == "blocked"
    if "radar" in answered:
        assert state(grid, "asn/48503") == "degraded"  # an ongoing annotation

    shown = show(START + MIN)
    assert feed_line(shown, feed).endswith(
        f"1 failure(s) in a row, next try {utc(START + timedelta(seconds=30))}"
    )
    failures = shown.split("failed fetches (latest first):\n", 1)[1].splitlines()
    assert failures and all(line.startswith(f"{utc(START)} {feed} ") for line in failures)
    assert note in failures[0]
    for name in answered:
        assert feed_line(shown, name).startswith(f"{name:6} last answer {utc(START)}, 0 failure")


def test_a_failing_feed_backs_off_and_comes_back(fake_outages):
    fake_outages.scenario.fail("ioda", "500")
    waits = []
    moment = START
    for _ in range(5):
        poll(moment)
        line = feed_line(show(moment), "ioda")
        next_try = datetime.strptime(line.rsplit("next try ", 1)[1], "%Y-%m-%d %H:%M:%S UTC")
        waits.append(int((next_try.replace(tzinfo=UTC) - moment).total_seconds()))
        moment += MIN
    assert waits == [30, 60, 120, 240, 300]  # doubling, capped at the poll interval

    fake_outages.scenario.heal()
    poll(moment)
    line = feed_line(show(moment), "ioda")
    assert line == (
        f"ioda   last answer {utc(moment)}, 0 failure(s) in a row, "
        f"next try {utc(moment + timedelta(seconds=300))}"
    )
    assert state(status(moment), "country/KZ") == "up"


def test_the_worker_asks_a_failing_feed_again_only_when_its_back_off_is_over(fake_outages):
    from bailanys.outages.services import outages_due  # what the worker's thread calls

    fake_outages.scenario.fail("ooni", "500")
    rounds = []  # how many times each call of the worker asked OONI (4 tests a round)
    for seconds in (0, 10, 29, 31, 60, 90, 92):
        before = len(fake_outages.calls("ooni"))
        with at(START + timedelta(seconds=seconds)):
            outages_due()
        rounds.append((len(fake_outages.calls("ooni")) - before) // 4)
    assert rounds == [1, 0, 0, 1, 0, 0, 1]  # failed at 0: again after 30 s, then after 60
    # IODA answered at once: it is not asked again before its interval (bgp, ping-slash24).
    assert len(fake_outages.calls("ioda", "signals/raw/country/KZ")) == 2


def test_states_nobody_evaluates_any_more_read_unknown(fake_outages):
    poll(START)
    assert state(status(START + 10 * MIN), "country/KZ") == "up"
    later = status(START + HOUR)  # the worker is gone: nothing was evaluated since
    assert {state(later, e) for e in later} == {"unknown"}


# --- The replay file says what the poller asks ------------------------------------------


def test_the_replay_builder_asks_what_the_poller_asks(fake_outages):
    poll(START)

    def shape(feed, path, query):
        head, _, codes = path.rpartition("/")
        if head.startswith("signals/raw/"):  # the order of the codes does not matter
            path = f"{head}/{','.join(sorted(codes.split(',')))}"
        return feed, path, json.dumps(sorted(query.items()))

    asked = {shape(c["feed"], c["path"], c["query"]) for c in fake_outages.calls()}
    built = poll_asks(START.timestamp())
    expected = {shape(f, p, {k: str(v) for k, v in q.items()}) for f, p, q in built}
    assert asked == expected


# --- January 2022, replayed -------------------------------------------------------------


@pytest.fixture(scope="module")
def january_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "january-2022.jsonl"
    write_replay(path, january_2022(), [when for when, _grid in JANUARY])
    return path


# At each moment (Kazakhstan's time): {entity: {channel: state}} for the cells the story
# decides. Regions: 4401 Almaty, 4402 Astana, 4403 Shymkent.
JANUARY = [
    (  # 4 Jan evening: messengers blocked on the mobile networks, the internet up
        local(4, 18),
        {
            "country/KZ": {"internet": "up", "telegram": "blocked"},
            ASTANA: {"internet": "up"},
            BEELINE: {"internet": "up", "telegram": "blocked", "whatsapp": "blocked"},
            KCELL: {"internet": "up", "signal": "blocked"},
            "asn/9198": {"internet": "up", "telegram": "up"},
        },
    ),
    (  # 4 Jan, night: mobile networks down, fixed lines up
        local(4, 23, 30),
        {
            "country/KZ": {"internet": "degraded"},
            ALMATY: {"internet": "degraded"},
            BEELINE: {"internet": "down", "telegram": "down"},
            "asn/48503": {"internet": "down"},
            "asn/9198": {"internet": "up", "telegram": "up"},
        },
    ),
    (  # 5 Jan, evening: the whole country
        local(5, 18),
        {
            "country/KZ": {"internet": "down", "telegram": "down"},
            ALMATY: {"internet": "down", "telegram": "down"},
            ASTANA: {"internet": "down"},
            "asn/9198": {"internet": "down", "whatsapp": "down"},
            "asn/41798": {"internet": "down"},
        },
    ),
    (  # 7 Jan, 11:00: Astana has its window, Shymkent and Almaty do not
        local(7, 11),
        {
            "country/KZ": {"internet": "down"},
            ASTANA: {"internet": "up", "telegram": "unknown"},
            SHYMKENT: {"internet": "down"},
            ALMATY: {"internet": "down"},
            "asn/9198": {"internet": "down"},
        },
    ),
    (  # 8 Jan, noon: fixed lines back for three hours, under a whitelist
        local(8, 12),
        {
            "country/KZ": {"internet": "down"},
            ASTANA: {"internet": "up"},
            "asn/9198": {"internet": "degraded", "telegram": "blocked"},
            "asn/41798": {"internet": "degraded", "signal": "blocked"},
            KCELL: {"internet": "down"},
        },
    ),
    (  # 10 Jan, afternoon: Kazakhtelecom back in Astana and Almaty, mobile still down
        local(10, 15),
        {
            "country/KZ": {"internet": "degraded"},
            ASTANA: {"internet": "up"},
            ALMATY: {"internet": "up"},
            SHYMKENT: {"internet": "down"},
            "asn/9198": {"internet": "up", "telegram": "up"},
            BEELINE: {"internet": "down", "telegram": "down"},
            KCELL: {"internet": "down"},
        },
    ),
]


def test_the_replay_of_january_2022_yields_the_expected_grid(january_file):
    out = run_cli("outages", "replay", str(january_file))
    assert out.startswith(f"replayed {len(january_file.read_text().splitlines())} answer(s)")

    for when, expected in JANUARY:
        grid = status(local(12, 0), past=when)
        seen = {e: {c: grid[e][c]["state"] for c in channels} for e, channels in expected.items()}
        assert seen == expected, when
    # The same timeline as text: on the evening of the 5th every row's internet is DOWN.
    shown = run_cli("outages", "show", "--at", local(5, 18).isoformat()).splitlines()
    assert shown[0].split()[0] == "internet"
    assert [row.split()[-6] for row in shown[1:]] == ["DOWN"] * len(grid)
