"""The newcomer's path through the web pages, with CSRF checked as in production."""

import re
from html import unescape

import pytest
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext

from tests.conftest import Browser, html, login_coordinator, make_account, run_cli

# The worker closes "old" database connections between tasks; a test wrapped
# in a transaction would lose its connection, so tests that run it commit.
commits = pytest.mark.django_db(transaction=True)

FORM = {
    "recipient_name": "Gulnara Sadykova",
    "recipient_phone": "8 701 234 56 78",
    "recipient_city": "Almaty",
    "recipient_language": "kk",
    "kind": "deliver_message",
    "message": "Marat is in Berlin and safe. He will call when he can.",
    "requester_name": "Marat",
    "requester_contact": "",
}


def text(response) -> str:
    return unescape(html(response))


def field_block(page: str, name: str) -> str:
    """The <div class="field…"> of the intake form that holds the input `name`."""
    for block in page.split('<div class="field')[1:]:
        if f'name="{name}"' in block:
            return block
    raise AssertionError(f"no field {name!r} in the form")


def outcome_url(page: str) -> str:
    found = re.search(r'action="(/console/claims/\d+/outcome/)"', page)
    assert found, "no outcome form on the console"
    return found.group(1)


def submit_request(browser: Browser, **changes) -> str:
    """Fill in the public form; return the status page's path."""
    assert browser.get("/").status_code == 200
    response = browser.post("/", {**FORM, **changes})
    assert response.status_code == 302, text(response)
    path = response["Location"]
    assert re.fullmatch(r"/s/[\w-]+/", path), path
    return path


def volunteer(role: str = "") -> tuple[Browser, str]:
    """A logged-in volunteer's browser and username; a coordinator also passes 2FA."""
    name, password, _token = make_account(role)
    browser = Browser()
    if role == "coordinator":
        login_coordinator(browser, name, password)
    else:
        browser.login(name, password)
    return browser, name


@commits
def test_it_carries_a_request_from_the_form_to_the_reply():
    requester = Browser()
    home = requester.get("/")
    assert home.status_code == 200
    assert 'name="recipient_phone"' in html(home)
    status_path = submit_request(requester)

    page = text(requester.get(status_path))
    assert "Gulnara Sadykova" in page
    assert FORM["message"] in page

    # The volunteer account comes from the CLI, as an organiser would make it.
    out = re.search(
        r"^Password for the web console: (\S+)$", run_cli("volunteer", "add", "aigerim"), re.M
    )
    assert out
    vol = Browser()
    vol.login("aigerim", out.group(1))
    assert "Take next case" in text(vol.get("/console/"))
    take = vol.post("/console/take/")
    assert take.status_code == 302
    assert take["Location"] == "/console/"

    console = text(vol.get("/console/"))
    assert "Gulnara Sadykova" in console
    assert 'href="tel:+77012345678"' in console
    assert FORM["message"] in console
    assert "Marat" in console

    saved = vol.post(
        outcome_url(console), {"outcome": "reached", "reply": "Tell Marat we love him", "note": ""}
    )
    assert saved.status_code == 302
    assert "Take next case" in text(vol.get("/console/"))

    call_command("worker", "--batch")
    page = text(requester.get(status_path))
    assert "Tell Marat we love him" in page
    assert "Gulnara Sadykova (+7701*****78): a volunteer reached them and passed on" in page
    assert "Their reply: Tell Marat we love him" in page


@pytest.mark.django_db
def test_a_bad_phone_re_renders_the_form_with_the_error_and_what_was_typed():
    browser = Browser()
    browser.get("/")
    response = browser.post("/", {**FORM, "recipient_phone": "12345"})
    assert response.status_code == 422
    page = html(response)
    phone = field_block(page, "recipient_phone")
    assert "invalid" in phone.split(">", 1)[0]
    assert 'class="error"' in phone
    assert 'value="12345"' in phone
    assert 'class="error"' not in field_block(page, "recipient_name")
    assert 'value="Gulnara Sadykova"' in page
    assert unescape(page).count(FORM["message"]) == 1
    # Corrected, the same form goes through.
    assert browser.post("/", {**FORM, "recipient_phone": "+7 701 234 5678"}).status_code == 302


@pytest.mark.django_db
def test_the_form_refuses_a_post_without_the_csrf_token():
    browser = Browser()
    browser.get("/")
    response = browser.client.post("/", FORM)
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_console_sends_strangers_to_the_login_page():
    response = Browser().get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "next=/console/" in response["Location"]


@pytest.mark.django_db
def test_a_wrong_password_does_not_log_in():
    name, _password, _token = make_account()
    browser = Browser()
    browser.get("/accounts/login/")
    response = browser.post("/accounts/login/", {"username": name, "password": "not-it-at-all"})
    assert response.status_code == 200
    assert "did not match" in text(response)
    assert browser.get("/console/").status_code == 302


@pytest.mark.django_db
def test_a_volunteer_cannot_record_an_outcome_on_anothers_claim():
    submit_request(Browser())
    holder, _ = volunteer()
    holder.post("/console/take/")
    url = outcome_url(html(holder.get("/console/")))

    intruder, _ = volunteer()
    intruder.get("/console/")
    response = intruder.post(url, {"outcome": "reached", "reply": "fake"})
    assert response.status_code == 403
    # The holder still holds it and can finish it.
    assert outcome_url(html(holder.get("/console/"))) == url
    assert holder.post(url, {"outcome": "reached"}).status_code == 302


@pytest.mark.django_db
def test_the_coordinator_page_is_for_coordinators_only():
    plain, _ = volunteer()
    refused = plain.get("/console/coordinator/")
    # 404, so that the page does not admit it exists; never the overview.
    assert refused.status_code == 404
    assert "Escalated" not in text(refused)
    boss, _ = volunteer("coordinator")
    assert boss.get("/console/coordinator/").status_code == 200


@pytest.mark.django_db
def test_an_escalated_case_reaches_the_coordinator_who_can_take_it():
    submit_request(Browser())
    caller, caller_name = volunteer()
    caller.post("/console/take/")
    url = outcome_url(html(caller.get("/console/")))
    note = "Says her son was detained; needs a coordinator"
    assert caller.post(url, {"outcome": "escalate", "note": note}).status_code == 302
    # Volunteers no longer get it from the queue.
    caller.post("/console/take/")
    assert "Take next case" in text(caller.get("/console/"))

    boss, _ = volunteer("coordinator")
    overview = text(boss.get("/console/coordinator/"))
    assert note in overview
    assert "Gulnara Sadykova" in overview
    assert caller_name in overview
    found = re.search(r'action="(/console/cases/(\d+)/take/)"', overview)
    assert found, "no take button on the escalated case"
    take = found.group(1)

    # Only a coordinator may take it.
    assert caller.post(take).status_code == 403

    taken = boss.post(take)
    assert taken.status_code == 302
    assert taken["Location"] == "/console/"
    console = text(boss.get("/console/"))
    assert 'href="tel:+77012345678"' in console
    assert note in console  # the note from the earlier call

    # Once taken, it is nobody else's to take.
    second_boss, _ = volunteer("coordinator")
    second_boss.get("/console/coordinator/")
    again = second_boss.post(take, follow=True)
    assert "Someone else has taken this case." in text(again)


@pytest.mark.django_db
def test_the_status_page_speaks_the_language_asked_for():
    status_path = submit_request(Browser())
    browser = Browser()
    english = html(browser.get(status_path))
    assert '<html lang="en">' in english
    assert "Your request" in english

    russian = html(browser.get(f"{status_path}?lang=ru"))
    assert '<html lang="ru">' in russian
    assert '<button name="language" value="ru" aria-current="true">' in russian
    with translation.override("ru"):
        heading = gettext("Your request")
    if heading != "Your request":  # only once the ru catalogue translates it
        assert heading in russian

    kazakh = html(browser.get(f"{status_path}?lang=kk"))
    assert '<html lang="kk">' in kazakh

    # An unknown language falls back to the one last chosen (a ?lang= is remembered as
    # the language buttons' choice is), and for someone who chose none, to the requester's.
    assert '<html lang="kk">' in html(browser.get(f"{status_path}?lang=de"))
    assert '<html lang="en">' in html(Browser().get(f"{status_path}?lang=de"))


@pytest.mark.django_db
def test_a_request_made_in_russian_shows_its_status_in_russian():
    requester = Browser()
    requester.get("/", headers={"Accept-Language": "ru"})
    response = requester.post("/", FORM, headers={"Accept-Language": "ru"})
    assert response.status_code == 302
    status_path = response["Location"]
    assert '<html lang="ru">' in html(Browser().get(status_path))
    assert '<html lang="en">' in html(Browser().get(f"{status_path}?lang=en"))


@pytest.mark.django_db
def test_an_unknown_status_link_is_404():
    assert Browser().get("/s/not-a-real-token/").status_code == 404
