"""Only numbers a volunteer can call cheaply and reach a person on (issue 16, item 7).

Volunteers call on their own credit: a premium-rate (`+7 809…`, `+1 900…`) or
satellite (`+881…`) number would cost them dollars a minute, and a free-phone, pager
or internet (VOIP) number reaches nobody's own phone. Intake takes mobile and fixed
lines only and says why in the requester's language. Through the API, the web form
and the SMS volunteers' page.
"""

from html import unescape

import pytest
from django.utils import translation
from django.utils.translation import gettext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import (
    Api,
    Browser,
    html,
    make_account,
    next_address,
    request_body,
    status_token,
    submit,
)
from tests.test_web_flow import FORM, field_block

PAID = (
    "This is a paid or satellite number: volunteers call and text on their own credit, "
    "so we cannot use it. Give a mobile or home number."
)
SERVICE = (
    "This is a free-phone, service or internet number, not a person's own phone. "
    "Give a mobile or home number."
)

ranges = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return gettext(text)


def refused(phone: str, headers=None) -> str:
    """POST a request for `phone`; it must be 422 on the phone alone. Returns the reason."""
    response = Api(address=next_address()).post(
        "/requests", request_body(phone=phone), headers=headers
    )
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert set(errors) == {"recipient.phone"}, errors
    return errors["recipient.phone"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "phone",
    ["+7 809 123 45 67", "8 809 123 45 67", "+1 900 555 1234", "+881 6 1234 5678"],
    ids=["ru-premium-809", "kz-written-premium-809", "us-premium-900", "satellite-881"],
)
def test_a_premium_or_satellite_number_is_refused_naming_the_phone(phone):
    assert refused(phone) == PAID


@pytest.mark.django_db
@pytest.mark.parametrize(
    "phone",
    ["+7 803 123 45 67", "+870 773 111 632", "+44 70 1234 5678", "+7 808 123 45 67"],
    ids=["ru-premium-803", "inmarsat-870", "uk-personal-070", "personal-808"],
)
def test_other_paid_numbers_are_refused_too(phone):
    assert refused(phone) == PAID


@pytest.mark.django_db
@pytest.mark.parametrize(
    "phone",
    ["8 800 123 45 67", "+1 800 555 1234", "+7 751 234 56 78", "+800 1234 5678"],
    ids=["free-phone-8800", "us-toll-free", "kz-voip-751", "international-free-phone"],
)
def test_a_free_phone_or_internet_number_is_refused(phone):
    assert refused(phone) == SERVICE


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_refusal_is_in_the_language_the_request_asks_for(language):
    for english, phone in ((PAID, "+1 900 555 1234"), (SERVICE, "8 800 123 45 67")):
        expected = in_language(language, english)
        assert expected != english  # really translated
        assert refused(phone, headers={"Accept-Language": language}) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("8 701 234 56 78", "+77012345678"),  # KZ mobile
        ("+7 747 123 45 67", "+77471234567"),  # KZ mobile
        ("8 727 250 12 34", "+77272501234"),  # KZ fixed line, Almaty
        ("8 7172 55 12 34", "+77172551234"),  # KZ fixed line, Astana
        ("+7 916 123 45 67", "+79161234567"),  # RU mobile, the same +7
        ("+7 495 123 45 67", "+74951234567"),  # RU fixed line, Moscow
        ("+44 7400 123456", "+447400123456"),  # UK mobile
        ("+49 1512 3456789", "+4915123456789"),  # DE mobile
        ("+1 201 555 0123", "+12015550123"),  # US: fixed line or mobile, one range
    ],
)
def test_mobile_and_fixed_lines_are_still_accepted(phone, e164):
    api = Api(address=next_address())
    created = submit(api, phone=phone)
    status = api.get(f"/requests/{status_token(created)}").json()
    assert status["recipient_phone_masked"] == f"{e164[:-7]}•••••{e164[-2:]}"


seven_digits = st.text("0123456789", min_size=7, max_size=7)


@pytest.mark.django_db
@ranges
@given(digits=seven_digits, style=st.sampled_from(["+7 809 {}", "8 809 {}", "8(809){}", "+7809{}"]))
def test_every_809_number_is_refused_however_it_is_written(digits, style):
    assert refused(style.format(digits)) == PAID


@pytest.mark.django_db
@ranges
@given(exchange=st.integers(2, 9), line=st.text("0123456789", min_size=6, max_size=6))
def test_every_us_900_number_is_refused(exchange, line):
    assert refused(f"+1 900 {exchange}{line[:2]} {line[2:]}") == PAID


@pytest.mark.django_db
@ranges
@given(
    national=st.one_of(
        st.text("0123456789", min_size=9, max_size=9).map("6".__add__),  # Iridium
        st.tuples(st.sampled_from("0123789"), st.text("0123456789", min_size=8, max_size=8)).map(
            "".join
        ),  # Globalstar, Thuraya and the rest of +881
    )
)
def test_every_satellite_881_number_is_refused(national):
    assert refused(f"+881 {national}") == PAID


@pytest.mark.django_db
@settings(ranges, max_examples=20)  # each one creates a request
@given(prefix=st.integers(900, 999), rest=seven_digits)
def test_every_russian_mobile_is_accepted(prefix, rest):
    response = Api(address=next_address()).post(
        "/requests", request_body(phone=f"+7 {prefix} {rest}")
    )
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_the_form_shows_the_refusal_in_the_requesters_language():
    browser = Browser()
    browser.get("/", headers={"Accept-Language": "ru"})
    response = browser.post(
        "/", {**FORM, "recipient_phone": "+7 809 123 45 67"}, headers={"Accept-Language": "ru"}
    )
    assert response.status_code == 422
    phone = unescape(field_block(html(response), "recipient_phone"))
    assert 'class="error"' in phone
    assert in_language("ru", PAID) in phone
    assert 'value="+7 809 123 45 67"' in phone
    # A mobile number in its place goes through.
    fixed = browser.post("/", {**FORM, "recipient_phone": "+7 701 234 5678"})
    assert fixed.status_code == 302


@pytest.mark.django_db
def test_an_sms_volunteer_cannot_register_a_satellite_number():
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    browser.get("/console/sms/")
    response = browser.post("/console/sms/", {"phone": "+881 6 1234 5678"})
    assert response.status_code == 422
    assert PAID in unescape(html(response))
    assert browser.post("/console/sms/", {"phone": "8 777 000 11 22"}).status_code == 200
