"""A long message is never cut without a word (issue 21, item 9).

The request form's message had maxlength="2000": a browser cut a 10,000-character paste
to 2,000 and sent that, and the person never knew. Now the field takes it, the server
says "at most 2000 characters (this has 10000)" and shows the whole text again, and a
live count under the field says how long it is. The console's reply keeps its limit in
the browser (a volunteer's reply is not written twice), and the count says when it is hit.
"""

import re
from html import unescape

import pytest

from bailanys.relay.models import Request
from tests.conftest import Browser, html
from tests.test_browser import (  # noqa: F401  (chromium: a fixture)
    Phone,
    chromium,
    expect,
    screenshot,
    two_requests,
)
from tests.test_web_flow import FORM, field_block

LONG = ("Марат жив, в Берлине. " * 500)[:10_000]


@pytest.mark.django_db
def test_a_message_over_the_limit_is_refused_with_its_length_and_kept():
    browser = Browser()
    page = html(browser.get("/"))
    message = field_block(page, "message")
    assert "maxlength" not in message  # no silent cut in the browser
    assert 'data-counter="2000"' in message

    response = browser.post("/", {**FORM, "message": LONG})
    assert response.status_code == 422
    page = unescape(html(response))
    block = field_block(page, "message")
    assert "at most 2000 characters (this has 10000)" in block
    assert LONG in block  # all of it, to shorten
    assert not Request.objects.exists()

    response = browser.post("/", {**FORM, "message": LONG[:2000]})
    assert response.status_code == 302


@pytest.mark.django_db
def test_the_count_speaks_the_pages_language():
    browser = Browser()
    browser.client.cookies["django_language"] = "ru"
    block = field_block(html(browser.get("/")), "message")
    assert re.search(r'data-counter-text="[^"]*%\(count\)s[^"]*%\(limit\)s', block), block


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_form_counts_as_you_type_and_keeps_a_long_paste(chromium, live_server):  # noqa: F811
    phone = Phone(chromium, live_server)
    page = phone.page
    page.goto("/")
    counter = page.locator("#id_message-counter")
    expect(counter).to_have_text("0 of 2,000 characters")
    page.fill("textarea[name=message]", "Мама, я в порядке 👋")
    expect(counter).to_have_text("19 of 2,000 characters")  # as the server counts
    page.fill("textarea[name=message]", LONG)
    expect(counter).to_have_text(
        "Too long: 10,000 characters, at most 2,000. Shorten it before sending."
    )
    expect(page.locator("textarea[name=message]")).to_have_attribute("aria-invalid", "true")
    page.fill("input[name=recipient_name]", "Айгуль")
    page.fill("input[name=recipient_phone]", "+7 701 555 12 34")
    page.fill("input[name=requester_name]", "Dana")
    page.locator("main form button.primary").tap()
    error = page.locator("main .field.invalid p.error")
    expect(error).to_have_text(re.compile(r"at most 2000 characters \(this has 10000\)"))
    assert len(page.input_value("textarea[name=message]")) == 10_000  # nothing was cut
    # The page htmx swapped in counts too.
    expect(page.locator("#id_message-counter")).to_contain_text("Too long: 10,000 characters")
    screenshot(page, "request-too-long.png")
    page.fill("textarea[name=message]", LONG[:2000])
    expect(page.locator("#id_message-counter")).to_have_text("2,000 of 2,000 characters")
    page.locator("main form button.primary").tap()
    expect(page).to_have_url(re.compile(r"/s/[^/]+/$"))
    assert len(Request.objects.get().message) == 2000
    phone.assert_nothing_from_elsewhere()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_console_says_when_a_reply_reaches_its_limit(chromium, live_server):  # noqa: F811
    from tests.conftest import make_account

    name, password, _token = make_account()
    two_requests()
    phone = Phone(chromium, live_server)
    phone.log_in(name, password)
    page = phone.page
    page.locator('form[action$="/console/take/"] button').tap()
    reply = page.locator("textarea[name=reply]")
    counter = page.locator("#reply-counter")
    expect(counter).to_have_text("0 of 2,000 characters")
    reply.fill("She is well.")
    expect(counter).to_have_text("12 of 2,000 characters")
    reply.fill("")
    reply.focus()
    page.keyboard.insert_text("x" * 2500)  # a paste: the browser keeps 2,000
    assert len(reply.input_value()) == 2000
    expect(counter).to_have_text(
        "2,000 characters: the limit. Anything more you type or paste is not kept."
    )
    screenshot(page, "console-reply-limit.png")
    phone.assert_nothing_from_elsewhere()
