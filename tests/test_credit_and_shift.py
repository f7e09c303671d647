"""Volunteer care in numbers: phone credit (minutes, SMS, top-ups), the end-of-shift
suggestion, and dispatch that prefers the operators a volunteer calls cheaply."""

import re
from html import unescape

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import Api, Browser, login_coordinator, make_account, request_body

pytestmark = pytest.mark.django_db

# KZ prefixes: Beeline 705/771/776/777, Kcell 701/702/775/778.
KCELL = "8 701 555 00 {:02d}"
BEELINE = "8 705 555 00 {:02d}"


def submit(phone: str) -> dict:
    body = request_body(phone=phone, kind="welfare_check", message="")
    response = Api().post("/requests", body)
    assert response.status_code == 201, response.content
    return response.json()


def page(response) -> str:
    return unescape(response.content.decode())


def volunteer(role: str = "") -> tuple[Browser, str, str]:
    """A logged-in browser, the username and the API token of a new account."""
    username, password, token = make_account(role)
    browser = Browser()
    if role == "coordinator":
        login_coordinator(browser, username, password)
    else:
        browser.login(username, password)
    return browser, username, token


def credit_row(browser: Browser, label: str) -> str:
    """The text of one row of the volunteer's credit table, tags removed."""
    text = page(browser.get("/console/credit/"))
    found = re.search(rf"<th>{re.escape(label)}</th><td>(.*?)</td></tr>", text, re.S)
    assert found, f"no row {label!r} on the credit page"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def take_and_record(browser: Browser, **fields) -> None:
    """Take the next case in the web console and record an outcome for it."""
    assert browser.post("/console/take/").status_code == 302
    console = page(browser.get("/console/"))
    action = re.search(r'action="(/console/claims/\d+/outcome/)"', console)
    assert action, "no case was taken"
    response = browser.post(action.group(1), {"outcome": "reached", **fields})
    assert response.status_code == 302


def low_list(browser: Browser) -> dict[str, tuple[str, str]]:
    """The coordinator's "running low" list: username -> (balance, top-up form path)."""
    text = page(browser.get("/console/coordinator/"))
    section = text.split('<section class="credit-low">', 1)[1].split("</section>", 1)[0]
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td>\s*<td><form method=\"post\" "
        r"action=\"(/console/volunteers/\d+/topup/)\"",
        section,
    )
    return {name: (balance, path) for name, balance, path in rows}


# --- Credit totals -------------------------------------------------------------


def test_credit_totals_add_calls_sms_and_both_kinds_of_top_up():
    for n in range(3):
        submit(KCELL.format(n))
    browser, username, token = volunteer()
    assert credit_row(browser, "Balance").startswith("Unknown")

    # The volunteer marks their own top-up, then calls twice and texts once.
    assert browser.post("/console/credit/", {"minutes": "20"}).status_code == 302
    take_and_record(browser, minutes="12")
    api = Api(token)
    claim = api.post("/claims").json()
    done = api.post(
        f"/claims/{claim['claim_id']}/outcome",
        {"outcome": "no_answer", "via": "call", "minutes": 9},
    )
    assert done.status_code == 200, done.content
    # An SMS spends BAILANYS_SMS_CREDIT_MINUTES (1), whatever minutes came with it.
    take_and_record(browser, via="sms", minutes="30")

    assert credit_row(browser, "Calls") == "2"
    assert credit_row(browser, "Minutes on calls") == "21"
    assert credit_row(browser, "SMS sent").startswith("1 ")
    assert credit_row(browser, "Topped up") == "20 min"
    assert credit_row(browser, "Balance").startswith("-2 min")  # 20 - 21 - 1
    assert "Running low" in credit_row(browser, "Balance")

    # A coordinator sees the volunteer running low and marks a top-up for them.
    coordinator, _name, _token = volunteer("coordinator")
    low = low_list(coordinator)
    assert low[username][0] == "-2 min"
    marked = coordinator.post(low[username][1], {"minutes": "25"})
    assert marked.status_code == 302
    assert low_list(coordinator)[username][0] == "23 min"  # still under 30

    assert credit_row(browser, "Topped up") == "45 min"
    assert credit_row(browser, "Balance").startswith("23 min")
    credit_page = page(browser.get("/console/credit/"))
    assert "marked by you" in credit_page and "marked by a coordinator" in credit_page
    assert "Phone credit left: about 23 min." in page(browser.get("/console/"))

    # Topped up past the threshold, the volunteer leaves the list.
    coordinator.post(low[username][1], {"minutes": "100"})
    assert username not in low_list(coordinator)
    assert credit_row(browser, "Balance") == "123 min"


def test_a_volunteer_without_a_top_up_is_unknown_not_low():
    submit(KCELL.format(10))
    browser, username, _token = volunteer()
    take_and_record(browser, minutes="50")
    assert credit_row(browser, "Balance").startswith("Unknown")
    assert "Phone credit used: 50 min of calls, 0 SMS." in page(browser.get("/console/"))
    coordinator, _name, _token = volunteer("coordinator")
    assert username not in low_list(coordinator)


@pytest.mark.parametrize("minutes", ["-1", "601", "abc", "2.5", "1e3"])
def test_bad_minutes_are_refused_in_the_console_and_nothing_is_saved(minutes):
    submit(KCELL.format(20))
    browser, _username, _token = volunteer()
    browser.post("/console/take/")
    console = page(browser.get("/console/"))
    action = re.search(r'action="(/console/claims/\d+/outcome/)"', console).group(1)
    refused = browser.post(action, {"outcome": "reached", "minutes": minutes}, follow=True)
    text = page(refused)
    assert "Minutes on the phone: a whole number from 0 to 600." in text
    assert action in text  # the case is still theirs, the outcome form still there
    assert credit_row(browser, "Calls") == "0"
    # Corrected, it is saved.
    browser.post(action, {"outcome": "reached", "minutes": "7"})
    assert credit_row(browser, "Minutes on calls") == "7"


@pytest.mark.parametrize(
    "extra", [{"minutes": 601}, {"minutes": -1}, {"minutes": "ten"}, {"via": "fax"}]
)
def test_bad_minutes_or_channel_are_refused_by_the_api_and_nothing_is_saved(extra):
    submit(KCELL.format(30))
    browser, _username, token = volunteer()
    api = Api(token)
    claim = api.post("/claims").json()
    refused = api.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", **extra})
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == set(extra)
    assert credit_row(browser, "Calls") == "0"
    done = api.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "minutes": 3})
    assert done.status_code == 200
    assert credit_row(browser, "Minutes on calls") == "3"


@pytest.mark.parametrize("minutes", ["0", "10001", "many", ""])
def test_a_bad_top_up_is_refused_and_nothing_is_saved(minutes):
    browser, _username, _token = volunteer()
    refused = browser.post("/console/credit/", {"minutes": minutes}, follow=True)
    assert "Top-up: a whole number of minutes from 1 to 10000." in page(refused)
    assert credit_row(browser, "Topped up") == "0 min"
    assert credit_row(browser, "Balance").startswith("Unknown")


def test_a_volunteer_cannot_top_up_someone_else():
    other, other_name, _token = volunteer()
    other.post("/console/credit/", {"minutes": "5"})
    coordinator, _name, _token = volunteer("coordinator")
    path = low_list(coordinator)[other_name][1]

    browser, _username, _token = volunteer()
    assert browser.post(path, {"minutes": "500"}).status_code == 404
    assert credit_row(other, "Topped up") == "5 min"
    # Nor can anyone who is not logged in.
    stranger = Browser()
    stranger.get("/")
    refused = stranger.post(path, {"minutes": "500"})
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    assert credit_row(other, "Topped up") == "5 min"


# --- Shifts --------------------------------------------------------------------


def test_the_console_suggests_stopping_after_the_shifts_calls_and_taking_still_works(settings):
    settings.BAILANYS_SHIFT_CALLS = 2
    for n in range(3):
        submit(KCELL.format(40 + n))
    browser, _username, _token = volunteer()
    take_and_record(browser, minutes="4")
    assert "Consider stopping for today" not in page(browser.get("/console/"))
    take_and_record(browser, via="sms")
    console = page(browser.get("/console/"))
    assert re.search(r"You have made 2 calls in 0 h \d\d min\.", console)
    assert "Consider stopping for today" in console
    assert "Take next case" in console  # the choice is theirs
    assert browser.post("/console/take/").status_code == 302
    assert "+7 701 555 0042" in page(browser.get("/console/"))


def test_a_long_shift_counts_its_hours_and_a_long_break_starts_a_new_one(settings):
    settings.BAILANYS_SHIFT_HOURS = 1
    submit(KCELL.format(50))
    browser, _username, _token = volunteer()
    take_and_record(browser, minutes="2")
    assert "Consider stopping" not in page(browser.get("/console/"))
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=61)):
        console = page(browser.get("/console/"))
        assert "You have made 1 call in 1 h 01 min." in console
    # More than BAILANYS_SHIFT_GAP_MINUTES (120) since the last call: a new day.
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=125)):
        assert "Consider stopping" not in page(browser.get("/console/"))


# --- Operators -----------------------------------------------------------------


def test_dispatch_prefers_the_volunteers_cheap_operator_over_an_older_case():
    submit(KCELL.format(60))
    submit(BEELINE.format(61))
    browser, _username, _token = volunteer()
    saved = browser.post("/console/operators/", {"operator": ["Beeline"]}, follow=True)
    assert 'value="Beeline" checked' in page(saved)
    assert 'value="Kcell/Activ" checked' not in page(saved)
    browser.post("/console/take/")
    assert "+7 705 555 0061" in page(browser.get("/console/"))
    # Someone with no preference gets the older case.
    _other, _name, other_token = volunteer()
    assert Api(other_token).post("/claims").json()["recipient_phone"] == "+77015550060"


def test_a_case_waiting_past_the_preference_window_goes_first_whatever_the_operator():
    submit(KCELL.format(70))
    later = timezone.now() + timezone.timedelta(minutes=31)
    with time_machine.travel(later):
        submit(BEELINE.format(71))
        browser, _username, token = volunteer()
        browser.post("/console/operators/", {"operator": ["Beeline"]})
        claim = Api(token).post("/claims").json()
        assert claim["recipient_phone"] == "+77015550070"


def test_an_unknown_operator_is_refused_and_the_choice_kept():
    browser, _username, _token = volunteer()
    browser.post("/console/operators/", {"operator": ["Beeline", "Kcell/Activ"]})
    refused = browser.post("/console/operators/", {"operator": ["Beeline", "MegaCom"]}, follow=True)
    text = page(refused)
    assert "Choose from:" in text
    assert 'value="Kcell/Activ" checked' in text and 'value="Beeline" checked' in text
    cleared = page(browser.post("/console/operators/", {}, follow=True))
    assert " checked" not in cleared.split("Operators you can call cheaply", 1)[1]
