"""The console's outage banner in a real browser on a 360-px phone (issue 20, item 4).

The same Chromium under Playwright as tests/test_browser.py (its `chromium` fixture and
`Phone`); SMS to Beeline numbers fail through the fake phone's webhook, then a volunteer
takes a Beeline case and sees one line telling them to call.
"""

import re

import pytest

from tests.conftest import make_account
from tests.conftest import outbox_drain as deliver
from tests.test_browser import Phone, chromium, expect, screenshot  # noqa: F401  (a fixture)
from tests.test_outage_used import BEELINE, number, report, sent_to, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 60_000
    settings.BAILANYS_OUTAGE_FEEDS = []


def test_the_console_shows_a_failing_operator_on_a_small_phone(
    chromium,  # noqa: F811
    live_server,
    fake_smsgate,
):
    phones = [number(BEELINE) for _ in range(3)]
    for phone in phones:
        submit(phone)
    deliver()
    for phone in phones:
        report(fake_smsgate, sent_to(fake_smsgate, phone)[0]["id"], "failed")

    name, password, _token = make_account()
    phone = Phone(chromium, live_server)
    phone.page.set_viewport_size({"width": 360, "height": 740})
    phone.log_in(name, password)
    page = phone.page
    page.locator('form[action$="/console/take/"] button').tap()
    banner = page.locator("article.case p.network-warning")
    expect(banner).to_be_visible()
    expect(banner).to_have_text(
        re.compile(r"^SMS to Beeline numbers are failing since \d\d:\d\d: call instead\.$")
    )
    # One line above the number to call, and nothing wider than the screen.
    box, call = banner.bounding_box(), page.locator("article.case a.call").first.bounding_box()
    assert box["y"] < call["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "console-outage-banner.png")
    phone.assert_nothing_from_elsewhere()
