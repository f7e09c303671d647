"""Every form shows its errors with JavaScript on (issue 21, item 1).

htmx boosts each form; a refused submit must still show its error next to the field, in
the page's language, and the first field in error must take the focus so a screen
reader reads it. Each case is also submitted with JavaScript off: the same error shows.
"""

import re

import pytest

from bailanys.relay.models import Request
from tests.conftest import make_account
from tests.test_browser import (  # noqa: F401  (chromium: a fixture)
    PHONE,
    Phone,
    chromium,
    expect,
    screenshot,
    small_phone_coordinator,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CYRILLIC = re.compile(r"[\u0400-\u04ff]{3}")


def phone_in(chromium, live_server, language: str, *, javascript: bool = True) -> Phone:  # noqa: F811
    phone = Phone(chromium, live_server)
    if not javascript:
        phone.context.close()
        phone.context = chromium.new_context(
            **{**PHONE, "viewport": {"width": 360, "height": 740}},
            base_url=phone.base,
            java_script_enabled=False,
        )
        phone.context.on("request", lambda request: phone.loaded.append(request.url))
        phone.page = phone.context.new_page()
    phone.page.set_viewport_size({"width": 360, "height": 740})
    phone.page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": phone.base}]
    )
    return phone


def assert_error_shown(page, field: str, language: str, shot: str) -> str:
    """The field's error is visible beside it, translated, and the first error has focus."""
    box = page.locator(f"main .field.invalid:has([name={field}])")
    error = box.locator("p.error").first
    expect(error).to_be_visible()
    text = error.inner_text()
    if language != "en":
        assert CYRILLIC.search(text), f"{field}: not in {language}: {text!r}"
    expect(page.locator(f"[name={field}]")).to_have_attribute("aria-invalid", "true")
    described = page.locator(f"[name={field}]").get_attribute("aria-describedby") or ""
    assert box.locator(f"[id='{described.split()[-1]}']").count() == 1, described
    assert page.evaluate("document.activeElement && document.activeElement.name") == field
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"{shot}.png")
    return text


REQUEST_CASES = {
    # case: (what to type, the first field in error)
    "empty": ({}, "recipient_name"),
    "wrong-number": (
        {"recipient_name": "Айгуль", "recipient_phone": "12345", "requester_name": "Марат"},
        "recipient_phone",
    ),
    "message-missing": (
        {
            "recipient_name": "Айгуль",
            "recipient_phone": "+7 701 555 12 34",
            "requester_name": "Марат",
            "kind": "deliver_message",
        },
        "message",
    ),
    "message-too-long": (
        {
            "recipient_name": "Айгуль",
            "recipient_phone": "+7 701 555 12 34",
            "requester_name": "Марат",
            "kind": "deliver_message",
            "message": "Мама, мы в безопасности. " * 400,  # 10,000 characters, pasted
        },
        "message",
    ),
}


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("language", ["ru", "kk", "en"])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_the_request_form_shows_each_error_beside_its_field(
    chromium,  # noqa: F811
    live_server,
    language,
    case,
    javascript,
):
    typed, first = REQUEST_CASES[case]
    phone = phone_in(chromium, live_server, language, javascript=javascript)
    page = phone.page
    page.goto("/")
    for name, value in typed.items():
        if name == "kind":
            page.select_option(f"[name={name}]", value)
        else:
            page.fill(f"[name={name}]", value)
    page.locator("main form button.primary").tap()
    text = assert_error_shown(
        page, first, language, f"form-error-{case}-{language}-{'js' if javascript else 'nojs'}"
    )
    assert text
    for name, value in typed.items():  # nothing typed is lost
        if name != "kind":
            expect(page.locator(f"[name={name}]")).to_have_value(value)
    assert not Request.objects.exists()
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_a_wrong_two_step_code_shows_at_setup_and_at_login(chromium, live_server, language):  # noqa: F811
    name, password, _ = make_account("coordinator")
    phone = phone_in(chromium, live_server, language)
    page = phone.page
    phone.log_in(name, password, lands_on="/accounts/2fa/setup/")
    page.fill("input[name=code]", "000000")
    page.locator("main form button.primary").tap()
    assert_error_shown(page, "code", language, f"2fa-setup-error-{language}")
    expect(page.locator("#totp-qr svg")).to_be_visible()  # still the same key to scan
    page.wait_for_timeout(1_500)  # django-otp refuses any code for 1 s after a wrong one
    phone.pass_two_factor_setup()

    page.locator("header form button.link").tap()  # log out
    # Wait for the logout to land: a login page asked for while its POST is in flight
    # reaches a session still logged in and is redirected to the console.
    expect(page).to_have_url(phone.at("/accounts/login/"))
    phone.log_in(name, password, lands_on="/accounts/2fa/verify/")
    page.fill("input[name=code]", "000000")
    page.locator("main form button.primary").tap()
    assert_error_shown(page, "code", language, f"2fa-verify-error-{language}")
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_work_by_sms_shows_a_wrong_number_beside_the_field(chromium, live_server, language):  # noqa: F811
    name, password, _ = make_account()
    phone = phone_in(chromium, live_server, language)
    page = phone.page
    phone.log_in(name, password)
    page.goto("/console/sms/")
    page.fill("input[name=phone]", "12")
    page.locator("main form button").tap()
    assert_error_shown(page, "phone", language, f"sms-phone-error-{language}-focus")
    expect(page.locator("input[name=phone]")).to_have_value("12")


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_join_form_shows_its_errors_beside_the_fields(chromium, live_server, language):  # noqa: F811
    """The first form a new volunteer meets: passwords that differ are refused beside the
    second one, in the page's language, with the focus there, the username kept."""
    from tests.conftest import run_cli

    path = run_cli("volunteer", "invite").strip().splitlines()[-1]
    phone = phone_in(chromium, live_server, language)
    page = phone.page
    page.goto(path)
    page.fill("input[name=username]", "newcomer7")
    page.fill("input[name=password1]", "a long enough password 1")
    page.fill("input[name=password2]", "a long enough password 2")
    page.locator("main form button.primary").tap()
    assert_error_shown(page, "password2", language, f"join-error-{language}")
    expect(page.locator("input[name=username]")).to_have_value("newcomer7")
    help_text = page.locator("#id_password1_helptext").inner_text()
    assert CYRILLIC.search(help_text), help_text  # Django has no Kazakh for its own

    page.fill("input[name=password1]", "short")
    page.fill("input[name=password2]", "short")
    page.locator("main form button.primary").tap()
    assert_error_shown(page, "password1", language, f"join-error-short-{language}")
    phone.assert_nothing_from_elsewhere()
