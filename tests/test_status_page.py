"""The public /status/ page (issue 20, item 4): the grid now with each cell's state and
since when (Almaty time), the timeline drawn as SVG for the last days or any past day, a
bad ?day= refused in the page, the sources and when they last answered.

The states come from recorded feed answers replayed with `bailanys outages replay` (the
lines written here in IODA's documented shapes); the page is read as anyone reads it.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import translation
from django.utils.formats import date_format

from tests.conftest import run_cli

pytestmark = pytest.mark.django_db

ALMATY = ZoneInfo("Asia/Almaty")
STEP = 300
USUAL = 1000
REGIONS = [("1507", "Almaty"), ("1508", "Astana")]


def envelope(data) -> dict:
    return {"type": "signals", "metadata": {}, "requestParameters": {}, "error": None,
            "perf": None, "data": data, "copyright": "test"}  # fmt: skip


def series(kind: str, code: str, at: datetime, *, low_from: datetime | None) -> dict:
    """26 hours of one IODA bgp series ending at `at`, at a third of usual after `low_from`."""
    start = int((at - timedelta(hours=26)).timestamp()) // STEP * STEP
    count = (int(at.timestamp()) - start) // STEP + 1
    values = []
    for i in range(count):
        t = datetime.fromtimestamp(start + i * STEP, tz=UTC)
        values.append(USUAL // 3 if low_from is not None and t >= low_from else USUAL)
    return {"entityType": kind, "entityCode": code, "entityName": code, "datasource": "bgp",
            "from": start, "until": start + count * STEP, "step": STEP, "nativeStep": STEP,
            "values": values}  # fmt: skip


def moment_lines(at: datetime, *, cut: dict[str, datetime]) -> list[dict]:
    """What IODA answered at `at`: the country's and the regions' bgp series; `cut` maps an
    entity key to when its signal fell."""
    regions = [[series("region", c, at, low_from=cut.get(f"region/{c}"))] for c, _n in REGIONS]
    country = [[series("country", "KZ", at, low_from=cut.get("country/KZ"))]]
    return [
        {"at": at.isoformat(), "feed": "ioda", "path": "signals/raw/country/KZ",
         "query": {"datasource": "bgp"}, "status": 200, "body": envelope(country)},
        {"at": at.isoformat(), "feed": "ioda",
         "path": "signals/raw/region/" + ",".join(c for c, _n in REGIONS),
         "query": {"datasource": "bgp"}, "status": 200, "body": envelope(regions)},
    ]  # fmt: skip


def regions_line(at: datetime) -> dict:
    data = [{"code": c, "name": n, "type": "region", "attrs": {}} for c, n in REGIONS]
    return {"at": at.isoformat(), "feed": "ioda", "path": "entities/query",
            "query": {"entityType": "region", "relatedTo": "country/KZ"}, "status": 200,
            "body": envelope(data)}  # fmt: skip


def replayed(tmp_path, lines: list[dict]) -> str:
    path = tmp_path / "timeline.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    return run_cli("outages", "replay", str(path))


def almaty_cut(tmp_path, now: datetime) -> datetime:
    """Almaty's internet falls 40 minutes before `now`; returns when it was found down."""
    fell = now - timedelta(minutes=40)
    lines = [regions_line(now - timedelta(hours=1))]
    found_down = None
    for minutes in (60, 45, 30, 15, 0):
        at = now - timedelta(minutes=minutes)
        lines += moment_lines(at, cut={"region/1507": fell})
        if found_down is None and at - fell >= timedelta(minutes=5):
            found_down = at
    replayed(tmp_path, lines)
    return found_down


def row(page: str, entity: str) -> str:
    found = re.search(rf'<tr data-entity="{re.escape(entity)}">(.*?)</tr>', page, re.S)
    assert found, f"no row for {entity}"
    return found.group(1)


def cell(page: str, entity: str, channel: str) -> str:
    found = re.search(rf'data-channel="{channel}"[^>]*>(.*?)</td>', row(page, entity), re.S)
    assert found, f"no {channel} cell for {entity}"
    return re.sub(r"<[^>]+>", " ", found.group(1))


def since_text(at: datetime) -> str:
    with translation.override("en"):
        return date_format(at.astimezone(ALMATY), "j M H:i")


def test_the_grid_shows_each_state_since_when_in_almaty_time_to_anyone(tmp_path):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    found_down = almaty_cut(tmp_path, now)

    response = Client().get("/status/", headers={"accept-language": "en"})
    assert response.status_code == 200
    page = response.content.decode()
    almaty = cell(page, "region/1507", "internet")
    assert "Down" in almaty
    assert f"since {since_text(found_down)}" in almaty
    assert "Works" in cell(page, "region/1508", "internet")
    assert "Works" in cell(page, "country/KZ", "internet")
    # Where nothing tells: unknown, in words, not a colour alone.
    assert "Unknown" in cell(page, "country/KZ", "sms")
    # Rows: the country, then regions, then networks; columns: the six channels.
    assert page.index('data-entity="country/KZ"') < page.index('data-entity="region/1507"')
    assert page.index('data-entity="region/1508"') < page.index('data-entity="asn/9198"')
    assert re.findall(r'data-channel="(\w+)"', row(page, "asn/21299")) == [
        "internet", "telegram", "whatsapp", "signal", "sms", "voice"
    ]  # fmt: skip
    # The API says the same, since the same moment.
    api = Client().get("/api/v1/status").json()
    region = next(e for e in api["entities"] if e["entity"] == "region/1507")
    assert region["channels"]["internet"]["state"] == "down"
    assert datetime.fromisoformat(region["channels"]["internet"]["since"]) == found_down


def test_the_timeline_draws_what_went_down_and_its_sources_say_when_they_answered(tmp_path):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    almaty_cut(tmp_path, now)

    page = Client().get("/status/", headers={"accept-language": "en"}).content.decode()
    svg = re.search(r'<svg class="chart timeline".*?</svg>', page, re.S)
    assert svg, "no timeline"
    lanes = re.findall(r'<text class="lane"[^>]*>([^<]*)</text>', svg.group(0))
    assert lanes == ["Almaty · Internet", "Almaty · Telegram", "Almaty · WhatsApp",
                     "Almaty · Signal"]  # fmt: skip
    assert re.search(r'<g class="st-down"><title>Down, ', svg.group(0))
    assert "<script" not in page
    feeds = re.search(r'<ul id="feeds">(.*?)</ul>', page, re.S).group(1)
    assert f"IODA: last answered {since_text(now)}" in feeds
    assert 'href="/api/v1/status"' in page


def test_any_past_day_has_its_timeline_and_a_bad_day_is_refused_in_the_page(tmp_path):
    evening = datetime(2022, 1, 5, 12, 0, tzinfo=UTC)  # 18:00 in Almaty
    almaty_cut(tmp_path, evening)
    client = Client(headers={"accept-language": "en"})

    today = client.get("/status/").content.decode()
    assert 'id="timeline-quiet"' in today, "nothing went down in the last days"
    assert "Unknown" in cell(today, "region/1507", "internet"), "stale years ago"

    that_day = client.get("/status/?day=2022-01-05")
    assert that_day.status_code == 200
    page = that_day.content.decode()
    assert "Timeline of 5 January 2022" in page
    assert "Almaty · Internet" in page
    # Nothing was evaluated after that evening: the next day does not draw it down all day.
    next_day = client.get("/status/?day=2022-01-06")
    assert next_day.status_code == 200
    assert 'id="timeline-quiet"' in next_day.content.decode()

    for bad, says in (
        ("5.1.2022", "is not a day: write it as YYYY-MM-DD"),
        ("2022-02-30", "is not a day"),
        ("2999-01-01", "has not come yet"),
        ("1999-12-31", "There is no timeline before 2020"),
        ("<b>x</b>" * 20, "is not a day"),
    ):
        response = client.get("/status/", {"day": bad})
        assert response.status_code == 400, bad
        page = response.content.decode()
        assert says in re.search(r'<p class="error" role="alert" id="day-error">(.*?)</p>',
                                 page, re.S).group(1)  # fmt: skip
        assert "<b>x</b>" not in page
        assert 'data-entity="region/1507"' in page, "the grid is still shown"


def test_the_page_is_light_in_each_language_and_linked_from_every_page(tmp_path):
    almaty_cut(tmp_path, datetime.now(UTC).replace(second=0, microsecond=0))
    for language in ("ru", "kk", "en"):
        client = Client()
        client.cookies["django_language"] = language
        response = client.get("/status/")
        page = response.content.decode()
        assert f'<html lang="{language}">' in page
        assert "<script" not in page, "no script on the public status page"
        assert len(response.content) < 30_000
    home = Client().get("/").content.decode()
    assert 'href="/status/"' in home
    assert Client().post("/status/").status_code == 405
