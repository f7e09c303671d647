"""/status/ in a real browser on a 360-px phone, in Russian and Kazakh (issue 20): the
six-channel grid scrolls sideways inside its box with the place column kept in view, the
page itself never wider than the screen; the timeline is drawn; a bad ?day= is said on
the page. Same Chromium and fixtures as tests/test_browser.py; screenshots to
BAILANYS_ARTEFACTS.
"""

import re

import pytest

from bailanys.outages.demo import demo_outages_load
from tests.test_browser import Phone, chromium, expect, screenshot  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def phone_in(chromium, live_server, language: str) -> Phone:  # noqa: F811
    phone = Phone(chromium, live_server)
    phone.page.set_viewport_size({"width": 360, "height": 740})
    phone.page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": phone.base}]
    )
    return phone


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_status_grid_and_timeline_fit_a_small_phone(chromium, live_server, language):  # noqa: F811
    demo_outages_load()
    phone = phone_in(chromium, live_server, language)
    page = phone.page
    page.goto("/status/")
    assert page.locator("html").get_attribute("lang") == language
    almaty = page.locator('tr[data-entity="region/9001"] td[data-channel="internet"]')
    expect(almaty).to_be_visible()
    assert "st-down" in almaty.get_attribute("class")
    # In words, and since when: not a colour alone.
    assert almaty.locator("strong").inner_text().strip()
    assert re.search(r"\d\d:\d\d", almaty.locator("small").inner_text())
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"status-{language}.png")

    # The grid scrolls inside its box; the place column stays where it was.
    place = page.locator('tr[data-entity="region/9001"] th')
    before = place.bounding_box()
    box = page.locator("div.scroll")
    assert box.evaluate("el => el.scrollWidth > el.clientWidth"), "six channels need to scroll"
    box.evaluate("el => { el.scrollLeft = el.scrollWidth }")
    calls = page.locator('tr[data-entity="region/9001"] td[data-channel="voice"]')
    expect(calls).to_be_in_viewport()
    assert abs(place.bounding_box()["x"] - before["x"]) < 1, "the place column scrolled away"
    expect(place).to_be_in_viewport()
    screenshot(page, f"status-scrolled-{language}.png")

    timeline = page.locator("svg.timeline")
    expect(timeline).to_be_visible()
    assert timeline.bounding_box()["width"] <= 360
    assert timeline.locator("g.st-down title").count() >= 1
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_a_bad_day_is_said_on_the_page_on_a_small_phone(chromium, live_server, language):  # noqa: F811
    demo_outages_load()
    phone = phone_in(chromium, live_server, language)
    page = phone.page
    page.goto("/status/")
    page.fill("input[name=day]", "2999-01-01")
    page.locator("form.day button").tap()
    error = page.locator("#day-error")
    expect(error).to_be_visible()
    assert "2999-01-01" in error.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    expect(page.locator('tr[data-entity="region/9001"]')).to_be_visible()
    screenshot(page, f"status-day-error-{language}.png")

    page.goto("/status/?day=not-a-day")
    expect(page.locator("#day-error")).to_be_visible()
    phone.assert_nothing_from_elsewhere()
