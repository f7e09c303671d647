"""The demo's shutdown (issue 20, "Done when"): `bailanys up --demo` shows a living
/status/ page — an hour-old cut in one region, Telegram blocked on one network, SMS to one
operator failing — kept fresh by each demo beat, with no live feed polled.
"""

import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from bailanys.outages.demo import demo_outages_beat, demo_outages_load
from tests.test_cli import Up, eventually, up_process  # noqa: F401  (the fixture)
from tests.test_status_page import cell


def status_page(client=None) -> str:
    response = (client or Client()).get("/status/", headers={"accept-language": "en"})
    assert response.status_code == 200
    return response.content.decode()


def shows_the_demo_outage(page: str) -> None:
    assert "Down" in cell(page, "region/9001", "internet")  # Almaty cut an hour ago
    assert "Works" in cell(page, "region/9002", "internet")
    assert "Blocked" in cell(page, "asn/21299", "telegram")  # Beeline
    assert "Works" in cell(page, "asn/29355", "telegram")
    assert "Down" in cell(page, "asn/29355", "sms")  # Kcell, from our own reports
    assert "Partly" in cell(page, "asn/48503", "internet")  # Tele2 at two thirds


# Committed, as `up --demo` does: an SMS report re-evaluates its operator once it commits.
@pytest.mark.django_db(transaction=True)
def test_the_demo_outage_is_on_the_page_and_each_beat_keeps_it_from_going_stale():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert demo_outages_load() > 0
        page = status_page()
    shows_the_demo_outage(page)
    assert "Almaty · Internet" in page and "Beeline · Telegram" in page
    since = re.search(r"since \d+ \w+ \d\d:\d\d", cell(page, "region/9001", "internet"))
    assert since, cell(page, "region/9001", "internet")

    later = start + timedelta(minutes=20)
    with time_machine.travel(later, tick=False):
        assert "Unknown" in cell(status_page(), "region/9001", "internet"), "stale, no beat"
        demo_outages_beat()
        page = status_page()
    shows_the_demo_outage(page)
    assert since.group(0) in cell(page, "region/9001", "internet"), "the same cut, not a new one"


@pytest.mark.subprocess
def test_up_demo_serves_a_living_status_page_and_polls_no_live_feed(up_process):  # noqa: F811
    up: Up = up_process("--demo")
    up.wait_healthy(timeout=60)
    asked = urllib.request.Request(f"{up.base}/status/", headers={"Accept-Language": "en"})  # noqa: S310
    with urllib.request.urlopen(asked, timeout=10) as response:  # noqa: S310
        page = response.read().decode()
    shows_the_demo_outage(page)

    def workers() -> list[int]:
        return [pid for pid, cmd in up.our_processes().items() if " worker" in cmd]

    assert eventually(workers, timeout=10), "up started no worker"
    environ = Path(f"/proc/{workers()[0]}/environ").read_bytes().split(b"\0")
    assert b"BAILANYS_OUTAGE_FEEDS=" in environ, "the worker would poll the live feeds"
    assert up.ctrl_c() == 0
