# ruff: noqa: RUF001  (Russian and Kazakh text: Cyrillic letters are intended)
"""SMS as people write them, in Kazakh and Russian, through the fake sms-gate phone.

Safe check-ins in their many forms, answered in the language they were written in and
counting the requests answered; SMS-only volunteers answered in their language, with
commands that are idempotent by state; a neighbour answering a bridge SMS from their own
phone; and a Kazakh requester's Russian message sent in Russian.
"""

import io
import re
import secrets

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext as _

from tests.conftest import Api, Browser, make_account, make_volunteer
from tests.conftest import outbox_drain as deliver
from tests.test_sms_bridge import status, submit

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/channels/smsgate/webhook"
GULNARA = "+77012345678"
DECOY = "+77019990000"
NEIGHBOUR = "+77019998877"
VOLUNTEER_PHONE = "+77770001122"


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 600


def sms(fake, phone: str, text: str) -> None:
    body, headers = fake.build_received(phone, text)
    response = Client().post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert response.json()["result"] == "received"


def to(fake, phone: str) -> list[str]:
    return [m["text"] for m in fake.outbox if phone in m["phoneNumbers"]]


def said_in(language: str, msgid: str, **values) -> str:
    with translation.override(language):
        return _(msgid) % values if values else _(msgid)


HELP = (
    "Bailanys: write who to call, their number and what to say. STOP: no more SMS. "
    "Volunteers never ask for money."
)
THANKS = "Thank you. Your answer was passed on."


# --- Safe check-in ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "language"),
    [
        ("АМАН-САУ", "kk"),
        ("Аман-сау, бәрі жақсы. Рахмет", "kk"),
        ("Мен аманмын", "kk"),
        ("Мы живы, всё хорошо", "ru"),
        ("Со мной всё в порядке", "ru"),
    ],
)
def test_a_check_in_answers_every_request_in_the_language_it_was_written_in(
    fake_smsgate, words, language
):
    """Two requesters ask about Gulnara, a third about someone else at her number: her
    check-in answers all three requests, and her answer counts requests, not cases."""
    about_her = [
        submit(kind="welfare_check", message="", requester={"name": n, "language": "ru"})
        for n in ("Айдос", "Ерлан")
    ]
    about_her_husband = submit(
        kind="welfare_check",
        message="",
        requester={"name": "Сауле", "language": "kk"},
        recipient={"name": "Серік", "phone": "8 701 234 56 78", "city": ""},
    )
    decoy = submit(phone=DECOY, kind="welfare_check", message="")
    sms(fake_smsgate, GULNARA, words)
    deliver()
    for created in [*about_her, about_her_husband]:
        assert status(created)["status"] == "self_reported"
    assert status(decoy)["status"] == "waiting"
    thanks = said_in(
        language, "Thank you. Everyone who asked about you has been told you are safe."
    )
    counted = said_in(language, "Requests answered: %(n)d.", n=3)
    assert to(fake_smsgate, GULNARA) == [f"{thanks} {counted}"]


@pytest.mark.parametrize(
    ("words", "language"),
    [("Аман ба?", "kk"), ("Амансыз ба, апа?", "kk"), ("Жив ли он?", "ru"), ("Не жив", "ru")],
)
def test_a_question_or_a_denial_is_no_check_in_and_is_answered_in_its_language(
    fake_smsgate, words, language
):
    created = submit(kind="welfare_check", message="")
    sms(fake_smsgate, GULNARA, words)
    deliver()
    assert status(created)["status"] == "waiting"
    assert to(fake_smsgate, GULNARA) == [said_in(language, HELP)]


# --- SMS-only volunteers --------------------------------------------------------------


def _register_phone(console_language: str) -> None:
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    page = browser.post(
        "/console/sms/", {"phone": VOLUNTEER_PHONE}, headers={"Accept-Language": console_language}
    )
    assert page.status_code == 200


CASE_SMS = (
    "%(code)s: call %(name)s %(phone)s. Say: %(said)s. Then %(code)s OK their words, or %(code)s NA"
)


@pytest.mark.parametrize(
    ("console", "next_word", "again", "then_word", "language", "then_language"),
    [
        ("kk", "ДАЛЕЕ", "далее", "КЕЛЕСІ", "ru", "kk"),
        ("ru", "КЕЛЕСІ", "келесі", "ДАЛЕЕ", "kk", "ru"),
    ],
)
def test_an_sms_only_volunteer_is_answered_in_the_language_of_their_command(
    fake_smsgate, console, next_word, again, then_word, language, then_language
):
    created = submit(kind="welfare_check", message="")
    _register_phone(console)
    phone = VOLUNTEER_PHONE

    sms(fake_smsgate, phone, "?")  # no language in it: the console's
    deliver()
    help_words = (
        "NEXT: a case. Then: CODE OK their words / CODE NA (no answer) / BUSY / OFF / "
        "WRONG / ESC (to a coordinator)."
    )
    vouch_words = "VOUCH number: it gets the trusted proxies."
    assert to(fake_smsgate, phone)[-1] == (
        said_in(console, help_words) + " " + said_in(console, vouch_words)
    )

    sms(fake_smsgate, phone, next_word)
    deliver()
    case = to(fake_smsgate, phone)[-1]
    code = case.split(":", 1)[0]
    expected = said_in(
        language,
        CASE_SMS,
        code=code,
        name="Gulnara",
        phone="+7 701 234 5678",
        said=said_in(language, "(check they are safe)"),
    )
    assert case == expected
    sms(fake_smsgate, phone, again)  # while holding it: the same case again
    deliver()
    assert to(fake_smsgate, phone)[-1] == expected

    sms(fake_smsgate, phone, f"{code} OK Всё хорошо, ждём")  # no language: as last time
    deliver()
    assert to(fake_smsgate, phone)[-1] == said_in(
        language, "Saved. Thank you. NEXT for another case."
    )
    assert status(created)["reply"] == "Всё хорошо, ждём"
    sms(fake_smsgate, phone, f"{code} ок всё хорошо, ждём")  # the same outcome again
    deliver()
    assert to(fake_smsgate, phone)[-1] == said_in(
        language, "Case %(code)s: already saved. NEXT for another case.", code=code
    )

    sms(fake_smsgate, phone, then_word)
    deliver()
    assert to(fake_smsgate, phone)[-1] == said_in(
        then_language, "No case is waiting. Thank you — try again in a few minutes."
    )
    sms(fake_smsgate, phone, f"{code} NA")  # another outcome for the closed case
    deliver()
    assert to(fake_smsgate, phone)[-1] == said_in(
        then_language, "Case %(code)s is not yours any more. Send NEXT for another.", code=code
    )


# --- A neighbour answers the bridge SMS ------------------------------------------------


def _bridged(fake, language: str) -> tuple[dict, str]:
    """A message bridged to Gulnara by SMS, and the reference the SMS carries."""
    created = submit(
        message="Марат в Германии, всё хорошо",
        recipient={"name": "Gulnara", "phone": "8 701 234 56 78", "city": "", "language": language},
    )
    deliver()
    [bridge] = to(fake, GULNARA)
    return created, re.search(r"\bB\d+\b", bridge).group()


@pytest.mark.parametrize(
    ("language", "answer", "cyrillic_ref"),
    [("kk", "Аман-сау, бәрі жақсы", False), ("ru", "Живы, всё хорошо. Ждём Марата", True)],
)
def test_a_neighbour_answers_the_bridge_sms_from_their_own_phone(
    fake_smsgate, language, answer, cyrillic_ref
):
    created, ref = _bridged(fake_smsgate, language)
    # Someone is looking for the neighbour too: their SMS must not check them in.
    about_neighbour = submit(phone=NEIGHBOUR, kind="welfare_check", message="")

    sms(fake_smsgate, NEIGHBOUR, f"B999999 {answer}")  # no such bridge
    deliver()
    assert to(fake_smsgate, NEIGHBOUR) == [said_in(language, HELP)]
    assert status(created)["status"] == "waiting" and status(created)["reply"] == ""

    if cyrillic_ref:
        ref = "В" + ref[1:]  # typed on a Russian keyboard
    sms(fake_smsgate, NEIGHBOUR, f"{ref} {answer}")
    deliver()
    seen = status(created)
    assert seen["status"] == "reached"
    assert seen["reply"] == answer  # the request the SMS named hears the words
    assert to(fake_smsgate, NEIGHBOUR)[-1] == said_in(language, THANKS)
    assert status(about_neighbour)["status"] == "waiting"  # not a check-in for them
    assert not to(fake_smsgate, GULNARA)[1:]  # nothing more to Gulnara's phone


def test_the_requester_learns_the_answer_came_from_another_number(fake_smsgate):
    created, ref = _bridged(fake_smsgate, "kk")
    sms(fake_smsgate, NEIGHBOUR, f"{ref} Аман-сау, бәрі жақсы")
    deliver()
    notices = status(created)["notifications"]
    assert any("answered our SMS from another number" in n for n in notices)


def test_guessing_bridge_references_from_a_stranger_number_is_limited(fake_smsgate, settings):
    settings.BAILANYS_BRIDGE_REF_LIMIT_PER_NUMBER = "2/3600"
    # A number of its own: with Redis the counters outlive the test database.
    guesser = f"+770155{secrets.randbelow(10**5):05d}"
    created, ref = _bridged(fake_smsgate, "ru")
    for wrong in ("B999991", "B999992"):
        sms(fake_smsgate, guesser, f"{wrong} Живы")
    sms(fake_smsgate, guesser, f"{ref} Живы")  # right, but after too many guesses
    deliver()
    assert to(fake_smsgate, guesser) == [said_in("ru", HELP)] * 3
    assert status(created)["status"] == "waiting" and status(created)["reply"] == ""


def test_the_recipient_quoting_the_reference_is_answered_as_before(fake_smsgate):
    created, ref = _bridged(fake_smsgate, "kk")
    sms(fake_smsgate, GULNARA, f"{ref} Аман-сау, бәрі жақсы")
    deliver()
    assert status(created)["reply"] == "Аман-сау, бәрі жақсы"
    assert to(fake_smsgate, GULNARA)[-1] == said_in("kk", THANKS)


# --- Which language a request is answered and passed on in ----------------------------


def test_a_kazakh_requesters_russian_message_is_passed_on_in_russian(fake_smsgate, settings):
    settings.BAILANYS_SMS_BRIDGE_KINDS = []  # a volunteer calls: the call script's language
    requester = "+77015550011"
    sms(
        fake_smsgate,
        requester,
        "Сәлеметсіз бе, апама Гүлнараға 87012345678 хабарласыңызшы, айтыңызшы: "
        "Мама, я жив, всё хорошо, скоро позвоню. Айдос",
    )
    deliver()
    answer = to(fake_smsgate, requester)
    assert answer in (
        [said_in("kk", "Received. A volunteer will call them. We will text you the answer.")],
        [said_in("kk", "Received. A volunteer will check it before calling.")],
    )
    case = Api(make_volunteer()[1]).post("/claims").json()
    assert case["recipient_phone"] == GULNARA
    assert case["recipient_language"] == "ru"  # the message's language, not the requester's


@pytest.mark.parametrize(
    ("requester_language", "message", "recipient_language"),
    [
        ("kk", "Мама, я жив, всё хорошо, скоро позвоню", "ru"),
        ("ru", "Апа, мен аманмын, бәрі жақсы, жақында хабарласамын", "kk"),
        ("kk", "", "kk"),
    ],
)
def test_the_recipients_language_follows_the_message_when_not_given(
    db, requester_language, message, recipient_language
):
    submit(
        kind="deliver_message" if message else "welfare_check",
        message=message,
        requester={"name": "Айдос", "language": requester_language},
    )
    case = Api(make_volunteer()[1]).post("/claims").json()
    assert case["recipient_language"] == recipient_language


def test_a_neighbour_waiting_for_their_own_answer_can_still_answer_for_her(fake_smsgate):
    """Both were sent a bridge SMS; the neighbour quotes Gulnara's reference: it answers
    hers, not the neighbour's own."""
    created, ref = _bridged(fake_smsgate, "kk")
    own = submit(
        phone=NEIGHBOUR,
        message="Марат в Германии",
        recipient={"name": "Дәурен", "phone": NEIGHBOUR, "city": "", "language": "kk"},
    )
    deliver()
    assert to(fake_smsgate, NEIGHBOUR)  # their own bridge SMS
    sms(fake_smsgate, NEIGHBOUR, f"Аман-сау, бәрі жақсы {ref}")
    deliver()
    assert status(created)["reply"] == "Аман-сау, бәрі жақсы"
    assert status(own)["status"] == "waiting" and status(own)["reply"] == ""


def test_a_kazakh_group_post_with_a_russian_message_is_answered_in_kazakh(fake_telegram):
    from django.core.management import call_command

    group = -100778
    fake_telegram.push_message(
        group,
        "Сәлеметсіз бе, апама Гүлнараға 87012345678 хабарласыңызшы, айтыңызшы: "
        "Мама, я жив, всё хорошо, скоро позвоню. Айдос",
        user_id=9003,
        message_id=21,
    )
    call_command("bot", "--once", stdout=io.StringIO())
    deliver()
    [answer] = [m for m in fake_telegram.sent_messages() if m["chat_id"] == group]
    assert answer["text"].startswith(
        said_in("kk", "Received. A volunteer will call. Follow it here:")
    )
    case = Api(make_volunteer()[1]).post("/claims").json()
    assert case["recipient_language"] == "ru"
