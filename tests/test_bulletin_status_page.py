"""The requester's status page offers verified bulletins by SMS at the request's contact
number (issue 19): a button (POST, CSRF), the subscribed state, and a button to stop."""

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from bailanys.bulletins.services import subscribed
from tests.conftest import Api, Browser, html, status_token, submit

pytestmark = pytest.mark.django_db

CONTACT = "+77017778899"
OFFER = "Get verified bulletins by SMS at this number"


def page_of(contact: str) -> str:
    created = submit(Api(), requester={"name": "Marat", "language": "en", "contact": contact})
    return f"/s/{status_token(created)}/"


def test_a_requester_with_an_sms_number_subscribes_and_stops_from_the_status_page(
    fake_smsgate,
):
    page = page_of("8 701 777 88 99")
    browser = Browser()
    assert OFFER in html(browser.get(page))
    response = browser.post(f"{page}bulletins/", {"lang": "en", "action": "subscribe"}, follow=True)
    shown = html(response)
    assert "Subscribed: verified bulletins will come by SMS to this number." in shown
    assert "This number gets verified bulletins by SMS." in shown
    assert OFFER not in shown
    subscriber = subscribed(channel="sms", address=CONTACT)
    assert subscriber is not None and subscriber.language == "en"
    assert not fake_smsgate.outbox  # subscribing from the page sends nothing

    response = browser.post(
        f"{page}bulletins/", {"lang": "en", "action": "unsubscribe"}, follow=True
    )
    assert "You will get no more bulletins at this number." in html(response)
    assert OFFER in html(response)
    assert subscribed(channel="sms", address=CONTACT) is None


def test_the_subscriber_gets_the_pages_language(fake_smsgate):
    page = page_of(CONTACT)
    browser = Browser()
    shown = html(browser.get(f"{page}?lang=kk"))
    with translation.override("kk"):
        assert _(OFFER) in shown
    browser.post(f"{page}bulletins/", {"lang": "kk", "action": "subscribe"})
    assert subscribed(channel="sms", address=CONTACT).language == "kk"


def test_without_a_csrf_token_nothing_is_subscribed(fake_smsgate):
    page = page_of(CONTACT)
    browser = Browser()
    browser.get(page)
    browser.csrf = ""
    assert browser.post(f"{page}bulletins/", {"lang": "en"}).status_code == 403
    assert subscribed(channel="sms", address=CONTACT) is None


@pytest.mark.parametrize("contact", ["marat@example.org", "tg:123456789", ""])
def test_a_contact_we_cannot_text_is_offered_nothing(fake_smsgate, contact):
    page = page_of(contact)
    browser = Browser()
    assert OFFER not in html(browser.get(page))
    browser.post(f"{page}bulletins/", {"lang": "en", "action": "subscribe"})
    assert subscribed(channel="sms", address=CONTACT) is None


def test_with_no_sms_gateway_nothing_is_offered():
    page = page_of(CONTACT)
    assert OFFER not in html(Browser().get(page))


def test_an_unknown_status_link_subscribes_nobody():
    browser = Browser()
    browser.get("/")  # a form token, as from any page
    assert browser.post("/s/" + "A" * 32 + "/bulletins/", {"lang": "en"}).status_code == 404
