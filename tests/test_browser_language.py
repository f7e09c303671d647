"""One language choice, remembered, everywhere (issue 21, item 7), in a real browser on a
360-px phone: Kazakh chosen with the site's buttons on the request form holds on the
requester's status page; the status page's own buttons carry Russian to every other page;
the recipient's language starts as the form's; Kazakh is "Қазақша" wherever it is named.

Same Chromium and fixtures as tests/test_browser.py; screenshots to BAILANYS_ARTEFACTS.
"""

import re

import pytest

from tests.helpers import said
from tests.test_browser import Phone, chromium, expect, screenshot  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The language buttons, each in its own name.
NAMES = ["English", "Русский", "Қазақша"]
# Kazakh's name alone, not as the start of "Қазақша" or "Қазақстан".
SHORT_NAME = re.compile(r"Қазақ(?![а-яёәғқңөұүһі])", re.IGNORECASE)  # noqa: RUF001


def small_phone(chromium, live_server) -> Phone:  # noqa: F811
    """A phone with no language chosen yet: its browser asks for English."""
    phone = Phone(chromium, live_server)
    phone.page.set_viewport_size({"width": 360, "height": 740})
    return phone


def choose(page, code: str) -> None:
    """Tap the header's button for `code` and wait for the page to come back in it."""
    page.locator(f"header form.lang button[value={code}]").tap()
    expect(page.locator("html")).to_have_attribute("lang", code)


def speaks(page, code: str) -> None:
    """The page is in `code`, its button marked as the current one, Kazakh named in full."""
    expect(page.locator("html")).to_have_attribute("lang", code)
    buttons = page.locator("header form.lang button")
    expect(buttons).to_have_text(NAMES)
    expect(page.locator("header form.lang button[aria-current=true]")).to_have_attribute(
        "value", code
    )
    assert not SHORT_NAME.search(page.locator("body").inner_text()), "Kazakh named 'Қазақ'"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_one_language_choice_holds_on_the_status_page_and_everywhere(chromium, live_server):  # noqa: F811
    phone = small_phone(chromium, live_server)
    page = phone.page
    page.goto("/")
    speaks(page, "en")
    # The English form is read abroad; the person called is in Kazakhstan: Russian.
    expect(page.locator("select[name=recipient_language]")).to_have_value("ru")

    # Kazakh, with the site's buttons: the form, and the recipient's language with it.
    choose(page, "kk")
    speaks(page, "kk")
    expect(page.locator("select[name=recipient_language]")).to_have_value("kk")
    screenshot(page, "language-form-kk.png")
    status_path = phone.ask_for_a_call("Айгүл", "+7 701 555 12 34", "Дана")

    # The status page is in Kazakh.
    speaks(page, "kk")
    expect(page.locator("#status h1")).to_have_text(said("kk", "Your request"))
    screenshot(page, "language-status-kk.png")

    # Its own switch: Russian, on this page and back at this page (not at a ?lang= link).
    choose(page, "ru")
    expect(page).to_have_url(phone.at(status_path))
    speaks(page, "ru")
    expect(page.locator("#status h1")).to_have_text(said("ru", "Your request"))
    screenshot(page, "language-status-ru.png")

    # Every other page follows; so does the status page, though the request was Kazakh.
    page.goto("/")
    speaks(page, "ru")
    expect(page.locator("select[name=recipient_language]")).to_have_value("ru")
    screenshot(page, "language-home-ru.png")
    page.goto("/status/")
    speaks(page, "ru")
    screenshot(page, "language-outages-ru.png")
    page.goto("/accounts/login/")
    speaks(page, "ru")
    page.goto(status_path)
    speaks(page, "ru")
    phone.assert_nothing_from_elsewhere()


def test_a_lang_link_shows_its_language_and_the_site_remembers_it(chromium, live_server):  # noqa: F811
    """Links that carry ?lang= (older ones, the bulletins form's way back) still work; what
    they show is remembered, and the page's buttons still change it."""
    phone = small_phone(chromium, live_server)
    page = phone.page
    page.goto("/")
    status_path = phone.ask_for_a_call("Gulnara", "8 701 234 56 78", "Marat")
    speaks(page, "en")

    page.goto(f"{status_path}?lang=kk")
    speaks(page, "kk")
    page.goto("/")
    speaks(page, "kk")
    expect(page.locator("select[name=recipient_language]")).to_have_value("kk")
    page.goto("/status/")  # kept a minute in the browser's cache: in Kazakh
    speaks(page, "kk")

    # From a ?lang=kk page the buttons still switch: the way back drops the ?lang=.
    page.goto(f"{status_path}?lang=kk")
    choose(page, "ru")
    expect(page).to_have_url(phone.at(status_path))
    assert "lang=" not in page.url
    speaks(page, "ru")
    screenshot(page, "language-status-from-link-ru.png")
    page.goto("/status/")  # not the cached Kazakh page
    speaks(page, "ru")
    choose(page, "en")
    expect(page).to_have_url(phone.at("/status/"))
    page.goto(status_path)
    speaks(page, "en")
