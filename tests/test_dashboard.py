"""The coordinators' dashboard: counts and charts over HTTP, refreshing itself, nothing personal."""

import re

import pytest

from tests.conftest import (
    Api,
    Browser,
    html,
    login_coordinator,
    make_account,
    submit,
)

pytestmark = pytest.mark.django_db


def count(page: str, name: str) -> int:
    found = re.search(rf'data-count="{name}">(\d+)<', page)
    assert found, f"no {name} count on the dashboard"
    return int(found.group(1))


@pytest.fixture
def coordinator() -> Browser:
    username, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, username, password)
    return browser


def test_counts_follow_the_work(coordinator, settings):
    settings.BAILANYS_DASHBOARD_REFRESH_SECONDS = 7
    anon = Api()
    for n in range(3):
        submit(anon, phone=f"+7 701 555 00 0{n}", kind="welfare_check")
    submit(anon, phone="+7 705 555 00 09", kind="medical")
    page = html(coordinator.get("/console/dashboard/"))
    assert count(page, "waiting") == 4
    assert count(page, "closed") == 0
    # It asks for itself again every refresh seconds, and only its own part is swapped.
    assert 'hx-trigger="every 7s"' in page
    assert 'hx-select="#dashboard"' in page

    _name, _password, token = make_account("experienced")
    volunteer = Api(token)
    claim = volunteer.post("/claims").json()
    assert (
        volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached"}).status_code
        == 200
    )
    claim = volunteer.post("/claims").json()

    page = html(coordinator.get("/console/dashboard/", headers={"HX-Request": "true"}))
    assert "<html" not in page, "the refresh gets the fragment, not the whole page"
    assert count(page, "closed") == 1
    assert count(page, "claimed") == 1
    assert count(page, "waiting") == 2
    assert count(page, "volunteers-holding") == 1
    # The per-hour chart has this hour's outcome; the load chart names the volunteer.
    outcomes = re.search(r'<svg[^>]*data-chart="outcomes".*?</svg>', page, re.S).group(0)
    assert re.search(r"Reached or passed on: 1</title>", outcomes)
    requests = re.search(r'<svg[^>]*data-chart="requests".*?</svg>', page, re.S).group(0)
    assert re.search(r"Requests: 4</title>", requests)
    load = re.search(r'<svg[^>]*data-chart="load".*?</svg>', page, re.S).group(0)
    assert _name in load


def test_only_for_coordinators_and_nothing_personal(coordinator):
    submit(Api(), phone="+7 701 555 11 22", message="canary-dash-msg")
    page = html(coordinator.get("/console/dashboard/"))
    assert "canary-dash-msg" not in page
    assert "555" not in page
    # Nothing from another host: every src/href is a path on this site.
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url == "data:," or (url.startswith("/") and not url.startswith("//")), url

    _name, password, _token = make_account()
    volunteer = Browser()
    volunteer.login(_name, password)
    assert volunteer.get("/console/dashboard/").status_code == 404
    assert Browser().get("/console/dashboard/").status_code == 302
