# ruff: noqa: RUF001, RUF002  (Russian and Kazakh text: Cyrillic letters are intended)
"""Every SMS template a requester, a recipient or an SMS-only volunteer may get fits its parts.

Each part costs a SIM's daily budget: an outcome notice and a bridge SMS fit 2 parts, a
volunteer's case SMS 2 parts, in every language. Russian and Kazakh are UCS-2 (2 parts =
134 characters); English is GSM-7 (2 parts = 306) unless a name in it is Cyrillic, which
makes it UCS-2 as well.

Assumed fillers, as people really fill them: a 10-letter name (Cyrillic for ru and kk,
Latin for en), the masked number recipient_label shows, a 40-character reply wherever a
reply can be passed on, a 40-character message and a 10-letter requester's name in the
bridge and the volunteer's SMS.
"""

import itertools

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.channels.sms.segments import segments
from bailanys.relay.models import Attempt, Resolution
from bailanys.relay.services import notification_text

LANGUAGES = ("en", "ru", "kk")
NAME = {"en": "Nurlybekov", "ru": "Александра", "kk": "Айгерімжан"}
REPLY = {
    "en": "All fine here, we are home. Love you all",
    "ru": "Мы дома, всё хорошо. Обнимаем всех вас!!",
    "kk": "Бәрі жақсы, үйдеміз. Бәріңді құшақтаймын",
}
MESSAGE = REPLY  # a requester's message to pass on, also 40 characters
NUMBER = "+77012345678"
LABEL = {lang: f"{NAME[lang]} ({phones.masked(NUMBER, plain=True)})" for lang in LANGUAGES}


def test_the_fillers_are_the_stated_sizes():
    for lang in LANGUAGES:
        assert len(NAME[lang]) == 10
        assert len(REPLY[lang]) == 40
    assert phones.masked(NUMBER, plain=True) == "+7701*****78"


def _outcome_notices(lang: str):
    """Every notice notification_text can make: each Resolution, how the case ended (via),
    known or not, PIN or not, reply or not, answered from another number or not."""
    for resolution, via, known, pin, reply, other in itertools.product(
        Resolution.values,
        Attempt.Via.values,
        (True, False),
        (True, False),
        ("", REPLY[lang]),
        (False, True),
    ):
        if other and (via != Attempt.Via.SMS_BRIDGE or resolution != Resolution.REACHED):
            continue  # only an answer to a bridge SMS can come from another number
        with translation.override(lang):
            text = notification_text(
                resolution=resolution,
                recipient_name=LABEL[lang],
                reply=reply,
                via=via,
                pin_verified=pin,
                known=known,
                from_other_number=other,
            )
        yield (resolution, via, known, pin, bool(reply), other), text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_outcome_notice_fits_two_sms_parts(lang):
    measured = dict(_outcome_notices(lang))
    assert len(measured) > 100  # the enumeration really ran
    too_long = {k: (segments(t), len(t), t) for k, t in measured.items() if segments(t) > 2}
    assert not too_long, too_long
    money = {"en": "never ask for money", "ru": "Денег не просим", "kk": "Ақша сұрамаймыз"}
    assert all(money[lang] in text for text in measured.values())
    unverified = {"en": "unverified", "ru": "не проверено", "kk": "тексерілмеген"}
    for key, text in measured.items():
        if key[0] == Resolution.SELF_REPORTED and not key[3]:
            assert unverified[lang] in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_requester_notices_outside_outcomes_fit_two_parts(lang):
    """The notices bridge.py and outcomes.py write (their texts are read from the catalogue
    by msgid: a changed msgid fails here, and this list gets the new one)."""
    templates = [
        "%(name)s: your message was delivered by SMS. If they answer, you will read it here; "
        "if not, a volunteer will call.",
        "%(name)s has since asked for help by SMS. Volunteers will call them.",
    ]
    with translation.override(lang):
        for template in templates:
            translated = _(template)
            assert lang == "en" or translated != template, f"untranslated: {template}"
            text = translated % {"name": LABEL[lang]}
            assert segments(text) <= 2, (segments(text), text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_volunteers_case_sms_fits_two_parts(lang):
    """The case an SMS-only volunteer gets after NEXT: the full number to dial."""
    template = (
        "%(code)s: call %(name)s %(phone)s. Say: %(said)s. Then %(code)s OK their words, "
        "or %(code)s NA"
    )
    with translation.override(lang):
        translated = _(template)
        assert lang == "en" or translated != template
        text = translated % {
            "code": 12345,
            "name": NAME[lang],
            "phone": phones.display(NUMBER),
            "said": MESSAGE[lang],
        }
    assert segments(text) <= 2, (segments(text), len(text), text)


# --- Measured on what really leaves: the SMS the fake phone is asked to send -----------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_bridge_sms_fits_two_parts(fake_smsgate, settings, lang):
    """The bridge texts the requester's message to the recipient, in the recipient's
    language, signed with the requester's name and the case reference."""
    from tests.conftest import Api, request_body
    from tests.conftest import outbox_drain as deliver

    settings.BAILANYS_SMS_PER_MINUTE = 600
    body = request_body(
        phone=NUMBER,
        requester={"name": NAME[lang], "language": lang},
        recipient={"name": NAME[lang], "phone": NUMBER, "language": lang},
        message=MESSAGE[lang],
    )
    assert Api().post("/requests", body).status_code == 201
    deliver()
    [bridge] = [m for m in fake_smsgate.outbox if NUMBER in m["phoneNumbers"]]
    assert MESSAGE[lang] in bridge["text"]
    assert segments(bridge["text"]) <= 2, (segments(bridge["text"]), bridge["text"])
    if lang == "en":
        # Latin words and names: nothing in the template (no "—") forces UCS-2, so one part.
        assert segments(bridge["text"]) == 1, bridge["text"]


@pytest.mark.django_db(transaction=True)
def test_a_volunteers_case_sms_has_one_full_stop_after_the_message(fake_smsgate, settings):
    """'Не волнуйтесь.. Then': the message's own full stop and the template's were both kept."""
    from django.test import Client

    from tests.conftest import Api, Browser, make_account, request_body
    from tests.conftest import outbox_drain as deliver

    settings.BAILANYS_SMS_PER_MINUTE = 600
    settings.BAILANYS_SMS_JOIN_SECONDS = 0  # act on the SMS now, not after waiting for parts
    message = "Всё хорошо, мы в Стамбуле. Не волнуйтесь."
    body = request_body(phone=NUMBER, kind="welfare_check", message=message)
    assert Api().post("/requests", body).status_code == 201
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    browser.post("/console/sms/", {"phone": "8 777 000 11 22"})
    sms, headers = fake_smsgate.build_received("+77770001122", "NEXT")
    url = "/channels/smsgate/webhook"
    assert Client().post(url, sms, content_type="application/json", headers=headers)
    deliver()
    [case] = [m["text"] for m in fake_smsgate.outbox if "+77770001122" in m["phoneNumbers"]]
    assert "Стамбуле. Не волнуйтесь. " in case, case
    assert ".." not in case
