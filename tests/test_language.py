"""One language choice, remembered, everywhere (issue 21, item 7), over HTTP: the
requester's status page follows the site's language buttons and its own buttons are
those; a ?lang= link still works and is remembered; the recipient's language starts as
the form's; Kazakh is "Қазақша" on every switch; the SMS gateway kinds are translated.

tests/test_browser_language.py walks the same in a real browser.
"""

import re
from html import unescape

import pytest
from django.utils import translation
from django.utils.functional import Promise

from tests.conftest import Browser, html, login_coordinator, make_account
from tests.helpers import said

pytestmark = pytest.mark.django_db

FORM = {
    "recipient_name": "Gulnara Sadykova",
    "recipient_phone": "8 701 234 56 78",
    "recipient_city": "Almaty",
    "recipient_language": "ru",
    "kind": "welfare_check",
    "message": "Marat is safe.",
    "requester_name": "Marat",
}
NAMES = ["English", "Русский", "Қазақша"]


def status_page_of(browser: Browser) -> str:
    """Fill in the public form in `browser`; the status page's path."""
    browser.get("/")
    response = browser.post("/", FORM)
    assert response.status_code == 302, html(response)[:500]
    return response["Location"]


def choose(browser: Browser, language: str, back_to: str):
    """On `back_to`, tap a language button: the header's form posts to set_language."""
    browser.get(back_to)
    response = browser.post("/i18n/setlang/", {"language": language, "next": back_to})
    assert response.status_code == 302
    assert response["Location"] == back_to
    return response


def shown_in(page: str) -> str:
    return re.search(r'<html lang="([^"]+)">', page).group(1)


def language_buttons(page: str) -> list[tuple[str, str, bool]]:
    """The header's language form: (code, label, is it the current one) per button."""
    form = re.search(r'<form[^>]*class="lang".*?</form>', page, re.S).group(0)
    return [
        (code, label, bool(current))
        for code, current, label in re.findall(
            r'<button name="language" value="(\w+)"( aria-current="true")?>([^<]*)</button>', form
        )
    ]


def next_of(page: str) -> str:
    form = re.search(r'<form[^>]*class="lang".*?</form>', page, re.S).group(0)
    return unescape(re.search(r'name="next" value="([^"]*)"', form).group(1))


def test_the_status_page_follows_the_site_buttons_and_its_own_buttons_are_those():
    browser = Browser()
    status_path = status_page_of(browser)  # made in English
    page = html(browser.get(status_path))
    assert shown_in(page) == "en"
    # The site's own form, sending back to the page itself.
    assert language_buttons(page) == [
        ("en", "English", True),
        ("ru", "Русский", False),
        ("kk", "Қазақша", False),
    ]
    assert next_of(page) == status_path

    choose(browser, "kk", status_path)
    response = browser.get(status_path)
    assert shown_in(html(response)) == "kk"
    assert response["Content-Language"] == "kk"
    assert ("kk", "Қазақша", True) in language_buttons(html(response))
    # …and every other page, with the same one choice.
    for path in ("/", "/status/", "/accounts/login/"):
        assert shown_in(html(browser.get(path))) == "kk", path

    choose(browser, "ru", status_path)
    assert shown_in(html(browser.get(status_path))) == "ru"
    assert shown_in(html(browser.get("/"))) == "ru"


def test_a_language_chosen_elsewhere_outranks_the_requests_own():
    requester = Browser()
    requester.client.cookies["django_language"] = "kk"
    status_path = status_page_of(requester)  # a Kazakh request
    assert shown_in(html(Browser().get(status_path))) == "kk"  # nobody chose: the request's

    someone = Browser()
    choose(someone, "ru", "/")
    assert shown_in(html(someone.get(status_path))) == "ru"


def test_a_lang_link_works_and_is_remembered():
    browser = Browser()
    status_path = status_page_of(browser)
    response = browser.get(f"{status_path}?lang=kk")
    page = html(response)
    assert shown_in(page) == "kk"
    assert response.cookies["django_language"].value == "kk"
    # The buttons send back to the page without its ?lang=, which would outrank them.
    assert next_of(page) == status_path
    assert shown_in(html(browser.get("/"))) == "kk"
    # Asked again for what is already remembered: nothing to set.
    assert "django_language" not in browser.get(f"{status_path}?lang=kk").cookies

    # The page's own 30-second refresh carries its ?lang= but remembers nothing: a choice
    # made meanwhile in another tab stands.
    choose(browser, "ru", "/")
    refresh = browser.get(f"{status_path}?lang=kk", headers={"HX-Request": "true"})
    assert shown_in(html(refresh)) == "kk"
    assert "django_language" not in refresh.cookies
    assert shown_in(html(browser.get("/"))) == "ru"

    # An unknown ?lang= is no choice: the remembered one holds.
    unknown = browser.get(f"{status_path}?lang=de")
    assert shown_in(html(unknown)) == "ru"
    assert "django_language" not in unknown.cookies


@pytest.mark.parametrize(
    ("language", "recipient"),
    # English is read abroad; the person called is in Kazakhstan: Russian.
    [("kk", "kk"), ("ru", "ru"), ("en", "ru")],
)
def test_the_recipients_language_starts_as_the_forms(language, recipient):
    browser = Browser()
    browser.client.cookies["django_language"] = language
    page = html(browser.get("/"))
    assert shown_in(page) == language
    select = re.search(r'<select[^>]*name="recipient_language".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="(\w+)" selected>', select) == [recipient]
    assert '<option value="kk"' in select and ">Қазақша</option>" in select


def test_the_recipients_language_follows_the_browsers_language_too():
    page = html(Browser().get("/", headers={"Accept-Language": "kk"}))
    assert '<option value="kk" selected>' in page


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
@pytest.mark.parametrize("path", ["/", "/status/", "/accounts/login/"])
def test_kazakh_is_named_kazakhsha_on_every_page(language, path):
    browser = Browser()
    browser.client.cookies["django_language"] = language
    page = html(browser.get(path))
    assert [label for _code, label, _current in language_buttons(page)] == NAMES
    assert ">Қазақ<" not in page


def test_the_sms_gateway_kinds_are_translated():
    from bailanys.channels.sms.models import SmsGateway

    for kind in (SmsGateway.Kind.GAMMU, SmsGateway.Kind.HTTP):
        assert isinstance(kind.label, Promise), f"{kind.value}: not marked for translation"
    assert SmsGateway.Kind.SMSGATE.label == "sms-gate.app"  # the app's own name

    SmsGateway.objects.create(name="modem", kind="gammu", url="/var/spool/gammu")
    SmsGateway.objects.create(
        name="provider", kind="http", url="https://sms.example", from_number="+77010000000"
    )
    username, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, username, password)
    for language in ("ru", "kk"):
        choose(browser, language, "/console/sms/gateways/")
        page = unescape(html(browser.get("/console/sms/gateways/")))
        assert shown_in(page) == language
        with translation.override(language):
            for kind in (SmsGateway.Kind.GAMMU, SmsGateway.Kind.HTTP):
                label = str(kind.label)  # the catalogue's, once it has the msgid
                # In the table and in the "Kind" list: as the catalogue has it.
                assert page.count(label) >= 2, (language, label)
        assert said(language, "SMS gateways") in page
