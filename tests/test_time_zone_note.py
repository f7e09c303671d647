"""Every page that shows times says, once, which clock they are on (issue 21, item 9).

"Yours until 23:26" on a volunteer's console is Almaty time, on whatever machine, for a
reader anywhere: the page now says "Times are Almaty time (UTC+5)."
"""

import re
from html.parser import HTMLParser

import pytest

from tests.conftest import Api, Browser, html, login_coordinator, make_account, submit

NOTE = "Times are Almaty time (UTC+5)."

COORDINATOR_PAGES = [
    "/console/coordinator/",
    "/console/cases/",
    "/console/dashboard/",
    "/console/review/",
    "/console/sms/gateways/",
    "/accounts/invitations/",
]


def note_count(page: str) -> int:
    return len(re.findall(r'<p class="times-are">', page))


@pytest.fixture
def coordinator(db) -> Browser:
    name, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, name, password)
    return browser


@pytest.mark.django_db
def test_the_console_says_its_times_are_almaty_time():
    submit(Api())
    name, password, _token = make_account()
    browser = Browser()
    browser.login(name, password)
    browser.post("/console/take/")
    page = html(browser.get("/console/"))
    assert re.search(r"\d\d:\d\d", page), "the console shows a time"
    assert NOTE in page
    assert note_count(page) == 1
    assert NOTE in html(browser.get("/console/credit/"))


@pytest.mark.parametrize("path", COORDINATOR_PAGES)
def test_coordinator_pages_say_it_once(coordinator, path):
    page = html(coordinator.get(path))
    assert NOTE in page, path
    assert note_count(page) == 1, path


class Inside(HTMLParser):
    """The text inside the element with this id (what htmx's hx-select takes)."""

    def __init__(self, wanted: str):
        super().__init__()
        self.wanted, self.depth, self.text = wanted, 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth or dict(attrs).get("id") == self.wanted:
            self.depth += tag not in ("br", "img", "input", "meta", "link")

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def test_the_dashboards_refresh_keeps_one_note(coordinator):
    """htmx swaps #dashboard in every few seconds: the note is outside it, never doubled."""
    page = html(coordinator.get("/console/dashboard/"))
    inside = Inside("dashboard")
    inside.feed(page)
    swapped = "".join(inside.text)
    assert "Dashboard" in swapped
    assert NOTE not in swapped
    assert note_count(page) == 1


@pytest.mark.parametrize(
    ("zone", "said"),
    [
        ("Asia/Almaty", "Almaty time (UTC+5)"),
        ("Asia/Kolkata", "Kolkata time (UTC+5:30)"),
        ("America/Sao_Paulo", "Sao Paulo time (UTC-3)"),
        ("UTC", "UTC"),
    ],
)
def test_the_note_follows_the_configured_zone(coordinator, settings, zone, said):
    settings.TIME_ZONE = zone
    assert f"Times are {said}." in html(coordinator.get("/console/coordinator/"))


def test_an_invitation_says_when_it_expires_on_which_clock(coordinator):
    made = html(coordinator.post("/accounts/invitations/", {"role": "volunteer"}, follow=True))
    link = re.search(r'<code id="invitation-link">[^<]*(/accounts/join/[^<"]+)</code>', made)
    assert link, made
    page = html(Browser().get(link.group(1)))
    assert "It expires on" in page
    assert NOTE in page


@pytest.mark.django_db
def test_a_requester_abroad_is_told_which_clock_the_next_try_is_on():
    from tests.conftest import make_volunteer, status_token

    created = submit(Api())
    page = html(Browser().get(f"/s/{status_token(created)}/"))
    assert note_count(page) == 0  # no time on the page yet
    volunteer = Api(make_volunteer()[1])
    claim = volunteer.post("/claims").json()
    tried = volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "no_answer"})
    assert tried.status_code == 200
    page = html(Browser().get(f"/s/{status_token(created)}/"))
    assert re.search(r"\d\d:\d\d</dd>", page)  # "Next try after 14:30"
    assert note_count(page) == 1 and NOTE in page
