# ruff: noqa: RUF001, RUF002  (Russian and Kazakh keywords, codes typed in Cyrillic: intended)
"""Subscribing to verified bulletins and checking their codes (issue 19, items 3 and 5),
end to end.

SUB / ПОДПИСКА / ЖАЗЫЛУ, STOP and CHECK reach Bailanys through the fake sms-gate phone's
webhook, /subscribe, /check and /unsubscribe through the fake Bot API. Bulletins are
written and approved with the services (two coordinators made with `bailanys volunteer
add --coordinator`), sent by the worker (`bailanys worker --batch`); what the fakes were
sent is what is asserted.
"""

import io
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from bailanys.bulletins.models import Bulletin
from bailanys.bulletins.services import (
    bulletin_approve,
    bulletin_draft,
    bulletin_fanout,
    bulletin_withdraw,
)
from bailanys.channels.sms.segments import segments
from bailanys.outbox.services import outbox_send_due
from tests.conftest import make_account
from tests.conftest import outbox_drain as deliver
from tests.helpers import answer_to as ask
from tests.helpers import new_number, said
from tests.helpers import texted as sms
from tests.helpers import texts_to as to

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = "Akimat of Almaty, akimat.almaty.kz"
CURFEW = {
    "ru": "Комендантский час в Алматы с 23:00 до 06:00. Не выходите из дома.",
    "kk": "Алматыда коменданттық сағат 23:00-ден 06:00-ге дейін. Үйден шықпаңыз.",
    "en": "Curfew in Almaty from 23:00 to 06:00. Stay at home.",
}
NATIONWIDE = {
    "ru": "Мобильный интернет по всей стране ожидается завтра к полудню.",
    "kk": "Мобильді интернет бүкіл елде ертең түске қарай күтіледі.",
    "en": "Mobile internet across the country is expected back by noon tomorrow.",
}


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 60_000
    settings.BAILANYS_SMS_DAILY_CAP = 100_000


def subscribed(language: str, region: str = "") -> str:
    if region:
        line = said(
            language,
            "Subscribed to Bailanys bulletins for %(region)s and all of Kazakhstan.",
            region=region,
        )
    else:
        line = said(language, "Subscribed to Bailanys bulletins for all of Kazakhstan.")
    return line + " " + said(language, "Send STOP to leave.")


def coordinators():
    users = get_user_model().objects
    return [users.get(username=make_account("coordinator")[0]) for _n in range(2)]


def issue(texts: dict, *, pair=None, approve: bool = True, **kwargs) -> Bulletin:
    """A bulletin drafted by one coordinator and (with `approve`) approved by another."""
    author, second = pair or coordinators()
    kwargs.setdefault("source", SOURCE)
    bulletin = bulletin_draft(texts=texts, author=author, **kwargs)
    return bulletin_approve(bulletin.pk, by=second) if approve else bulletin


def bulletins_to(fake, phone: str, code: str) -> list[str]:
    return [t for t in to(fake, phone) if f"Bailanys {code}" in t]


def made_up_code() -> str:
    while True:
        code = "B" + "".join(secrets.choice("2346789ACDEFGHJKMNPQRTUVWXYZ") for _n in range(3))
        if not code[1:].isdigit() and not Bulletin.objects.filter(code=code).exists():
            return code


def cyrillic(code: str) -> str:
    """The code typed with the Cyrillic letters that look like its Latin ones ("В7К2")."""
    return code.translate(str.maketrans("ABEKMHOPCTYX", "АВЕКМНОРСТУХ"))


# --- Subscribing, and who receives what ----------------------------------------------


def test_subscribers_get_only_what_concerns_them_in_their_language(fake_smsgate):
    fake = fake_smsgate
    almaty_en, almaty_kk, astana_ru, country_en, country_ru = (new_number() for _n in range(5))
    assert ask(fake, almaty_en, "SUB ALMATY") == [subscribed("en", "Almaty")]
    assert ask(fake, almaty_kk, "ЖАЗЫЛУ АЛМАТЫ") == [subscribed("kk", "Алматы")]
    assert ask(fake, astana_ru, "подписка Астана!") == [subscribed("ru", "Астана")]
    assert ask(fake, country_en, "Sub.") == [subscribed("en")]
    assert ask(fake, country_ru, "ПОДПИСКА") == [subscribed("ru")]
    everyone = (almaty_en, almaty_kk, astana_ru, country_en, country_ru)
    before = {phone: len(to(fake, phone)) for phone in everyone}

    pair = coordinators()
    draft = issue(CURFEW, regions=["Алматы"], pair=pair, approve=False)
    deliver()
    assert {phone: len(to(fake, phone)) for phone in everyone} == before  # a draft: nothing

    curfew = bulletin_approve(draft.pk, by=pair[1])
    deliver()
    for phone, language in ((almaty_en, "en"), (almaty_kk, "kk")):
        [got] = bulletins_to(fake, phone, curfew.code)
        assert CURFEW[language] in got
        assert said(language, "Source: %(source)s", source=SOURCE) in got
    for phone in (astana_ru, country_en, country_ru):
        assert bulletins_to(fake, phone, curfew.code) == []  # Almaty's only

    internet = issue(NATIONWIDE, pair=pair)
    deliver()
    languages = {almaty_en: "en", almaty_kk: "kk", astana_ru: "ru", country_en: "en"}
    languages[country_ru] = "ru"
    for phone, language in languages.items():
        [got] = bulletins_to(fake, phone, internet.code)
        assert NATIONWIDE[language] in got
        assert said(language, "Source: %(source)s", source=SOURCE) in got
    # Nothing else: the nationwide one to everyone, and in Almaty the curfew before it.
    got = {phone: len(to(fake, phone)) - before[phone] for phone in everyone}
    assert got == {almaty_en: 2, almaty_kk: 2, astana_ru: 1, country_en: 1, country_ru: 1}


def test_a_bulletin_in_one_language_reaches_everyone_in_it(fake_smsgate):
    kk_phone = new_number()
    ask(fake_smsgate, kk_phone, "жазылу")
    only_ru = issue({"ru": NATIONWIDE["ru"]})
    deliver()
    [got] = bulletins_to(fake_smsgate, kk_phone, only_ru.code)
    assert NATIONWIDE["ru"] in got


@pytest.mark.parametrize(
    ("text", "language", "example"),
    [("SUB GOTHAM", "en", "SUB ALMATY"), ("Жазылу Готэм", "kk", "ЖАЗЫЛУ АЛМАТЫ")],
)
def test_an_unknown_region_is_refused_and_nothing_is_subscribed(
    fake_smsgate, text, language, example
):
    phone = new_number()
    [reply] = ask(fake_smsgate, phone, text)
    name = text.split()[1]
    assert reply == (
        said(
            language,
            'We do not know the city "%(name)s". Write it like this: %(example)s',
            name=name,
            example=example,
        )
        + " "
        + said(language, "Nothing was subscribed.")
    )
    internet = issue(NATIONWIDE)
    deliver()
    assert bulletins_to(fake_smsgate, phone, internet.code) == []


def test_subscribing_again_moves_the_region_and_the_language(fake_smsgate):
    phone = new_number()
    ask(fake_smsgate, phone, "SUB ASTANA")
    assert ask(fake_smsgate, phone, "подписка алматы") == [subscribed("ru", "Алматы")]
    curfew = issue(CURFEW, regions=["Almaty"])
    deliver()
    [got] = bulletins_to(fake_smsgate, phone, curfew.code)
    assert CURFEW["ru"] in got


def test_a_redelivered_sms_is_answered_once(fake_smsgate):
    phone = new_number()
    body = {"message_id": "bul-abc123", "received_at": datetime.now(UTC)}
    sms(fake_smsgate, phone, "SUB ALMATY", **body)
    sms(fake_smsgate, phone, "SUB ALMATY", **body)
    deliver()
    sms(fake_smsgate, phone, "SUB ALMATY", **body)
    deliver()
    assert to(fake_smsgate, phone) == [subscribed("en", "Almaty")]


# --- STOP --------------------------------------------------------------------------------


def run_tasks(max_tasks: int | None = None) -> None:
    """What a running worker does between its sweeps: the queued tasks, by priority (an
    SMS received and every answer before the slow lane's bulletins)."""
    args = ["--batch", "--no-startup-delay"]
    if max_tasks:
        args += ["--max-tasks", str(max_tasks)]
    call_command("db_worker", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_stop_while_a_bulletin_is_half_sent_gets_nothing_more_and_start_does_not_resubscribe(
    fake_smsgate,
):
    fake = fake_smsgate
    phones = [new_number() for _n in range(4)]
    for phone in phones:
        ask(fake, phone, "ЖАЗЫЛУ")
    internet = issue(NATIONWIDE)
    assert bulletin_fanout(internet.pk) == 4  # every row written: the fan-out is done
    outbox_send_due(limit=1)  # one of them is sent (what the worker's sweep does)
    [first] = [p for p in phones if bulletins_to(fake, p, internet.code)]
    leaver = next(p for p in phones if p != first)

    sms(fake, leaver, "ТОҚТАТ")
    run_tasks()
    deliver()
    assert bulletins_to(fake, leaver, internet.code) == []
    assert to(fake, leaver)[-1] == said(
        "kk", "You will get no more SMS from Bailanys. Send START to undo."
    )
    for phone in phones:
        if phone != leaver:
            assert len(bulletins_to(fake, phone, internet.code)) == 1

    ask(fake, leaver, "START")  # SMS again, but no bulletins: START is no SUB
    later = issue(CURFEW)
    deliver()
    assert bulletins_to(fake, leaver, later.code) == []
    assert all(bulletins_to(fake, p, later.code) for p in phones if p != leaver)


@pytest.mark.parametrize(("word", "language"), [("СТОП", "ru"), ("токтат", "kk"), ("Stop!", "en")])
def test_every_stop_word_leaves_the_bulletins(fake_smsgate, word, language):
    phone = new_number()
    ask(fake_smsgate, phone, "SUB")
    assert ask(fake_smsgate, phone, word) == [
        said(language, "You will get no more SMS from Bailanys. Send START to undo.")
    ]
    ask(fake_smsgate, phone, "START")
    internet = issue(NATIONWIDE)
    deliver()
    assert bulletins_to(fake_smsgate, phone, internet.code) == []


def test_sub_after_stop_sends_sms_again(fake_smsgate):
    phone = new_number()
    ask(fake_smsgate, phone, "STOP")
    assert ask(fake_smsgate, phone, "SUB") == [subscribed("en")]
    internet = issue(NATIONWIDE)
    deliver()
    assert len(bulletins_to(fake_smsgate, phone, internet.code)) == 1


# --- Corrections ----------------------------------------------------------------------


def test_a_correction_reaches_exactly_the_earlier_recipients(fake_smsgate):
    fake = fake_smsgate
    early_ru, early_en, almaty_elsewhere, late = (new_number() for _n in range(4))
    ask(fake, early_ru, "ПОДПИСКА АЛМАТЫ")
    ask(fake, early_en, "SUB Almaty")
    ask(fake, almaty_elsewhere, "SUB ASTANA")
    pair = coordinators()
    curfew = issue(CURFEW, regions=["Алматы"], pair=pair)
    deliver()
    ask(fake, late, "SUB ALMATY")  # joined after the first bulletin

    fixed = {"ru": CURFEW["ru"].replace("23:00", "22:00"), "en": CURFEW["en"].replace("23", "22")}
    correction = issue(fixed, regions=["Алматы"], corrects=curfew, pair=pair)
    deliver()
    for phone, language in ((early_ru, "ru"), (early_en, "en")):
        [got] = bulletins_to(fake, phone, correction.code)
        assert said(language, "Correction of %(code)s:", code=curfew.code) in got
        assert fixed[language] in got
    assert bulletins_to(fake, late, correction.code) == []
    assert bulletins_to(fake, almaty_elsewhere, correction.code) == []


# --- CHECK -----------------------------------------------------------------------------

KEYWORDS = [("CHECK", "en"), ("проверка", "ru"), ("ТЕКСЕРУ", "kk")]


def check(fake, keyword: str, code: str) -> str:
    [reply] = ask(fake, new_number(), f"{keyword} {code}")
    assert segments(reply) <= 2
    return reply


def first(text: str, n: int = 3) -> str:
    return " ".join(text.split()[:n])


@pytest.mark.parametrize(("keyword", "language"), KEYWORDS)
def test_check_a_current_a_withdrawn_a_corrected_and_a_made_up_code(
    fake_smsgate, keyword, language
):
    pair = coordinators()
    current = issue(NATIONWIDE, pair=pair, source="Kazakhtelecom press office")
    withdrawn = issue(CURFEW, pair=pair)
    bulletin_withdraw(withdrawn.pk, by=pair[0])
    corrected = issue(CURFEW, pair=pair)
    correction = issue({"ru": "Исправление."}, corrects=corrected, pair=pair)

    reply = check(fake_smsgate, keyword, current.code)
    assert reply.startswith(
        said(language, "%(code)s is a current Bailanys bulletin.", code=current.code)
    )
    assert first(NATIONWIDE[language]) in reply
    assert "Kazakhtelecom" in reply

    reply = check(fake_smsgate, keyword, withdrawn.code)
    assert reply.startswith(
        said(
            language, "%(code)s was withdrawn by Bailanys: do not rely on it.", code=withdrawn.code
        )
    )
    assert first(CURFEW[language]) in reply

    reply = check(fake_smsgate, keyword, corrected.code)
    assert reply.startswith(
        said(
            language,
            "%(code)s was corrected by Bailanys: read %(new)s instead.",
            code=corrected.code,
            new=correction.code,
        )
    )

    fake = made_up_code()
    assert check(fake_smsgate, keyword, fake) == said(
        language, "%(code)s is not a Bailanys bulletin. Do not trust it.", code=fake
    )
    draft = issue(CURFEW, pair=pair, approve=False)  # not issued: not ours to vouch for
    assert check(fake_smsgate, keyword, draft.code) == said(
        language, "%(code)s is not a Bailanys bulletin. Do not trust it.", code=draft.code
    )


@pytest.mark.parametrize(("keyword", "language"), KEYWORDS)
def test_check_with_cyrillic_look_alike_letters_and_any_case(fake_smsgate, keyword, language):
    current = issue(NATIONWIDE)
    expected = said(language, "%(code)s is a current Bailanys bulletin.", code=current.code)
    assert check(fake_smsgate, keyword, cyrillic(current.code)).startswith(expected)
    assert check(fake_smsgate, keyword.lower(), current.code.lower() + ".").startswith(expected)
    assert check(fake_smsgate, keyword, cyrillic(current.code).lower()).startswith(expected)
    assert check(fake_smsgate, keyword, f"{current.code}, please").startswith(expected)


@pytest.mark.parametrize(("keyword", "language"), KEYWORDS)
def test_check_an_expired_code(fake_smsgate, keyword, language):
    bulletin = issue(CURFEW, expires_at=timezone.now() + timedelta(hours=2))
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        reply = check(fake_smsgate, keyword, bulletin.code)
    assert reply.startswith(
        said(language, "%(code)s was a Bailanys bulletin; it has expired.", code=bulletin.code)
    )
    assert first(CURFEW[language]) in reply


def test_a_check_answer_fits_two_sms_whatever_the_bulletin(fake_smsgate):
    long = {
        "ru": "Очень длинный бюллетень о том, где работают банкоматы и больницы. " * 7,
        "kk": "Банкоматтар мен ауруханалар қай жерде жұмыс істейтіні туралы хабар. " * 6,
        "en": "A very long bulletin about where cash machines and hospitals work now. " * 6,
    }
    bulletin = issue(long, source="Seen by our volunteer at the akimat, Abylai Khan 1. " * 3)
    for keyword, language in KEYWORDS:
        reply = check(fake_smsgate, keyword, bulletin.code)  # <= 2 parts, checked there
        assert reply.startswith(
            said(language, "%(code)s is a current Bailanys bulletin.", code=bulletin.code)
        )
        assert first(long[language]) in reply


def test_check_is_rate_limited_per_number(fake_smsgate, settings):
    settings.BAILANYS_BULLETIN_CHECK_LIMIT_PER_NUMBER = "2/3600"
    current = issue(NATIONWIDE)
    phone = new_number()
    for _n in range(2):
        [reply] = ask(fake_smsgate, phone, f"CHECK {current.code}")
        assert current.code in reply
    assert ask(fake_smsgate, phone, f"CHECK {made_up_code()}") == [
        said("en", "Too many messages from this number. Try again later.")
    ]
    [other] = ask(fake_smsgate, new_number(), f"CHECK {current.code}")
    assert current.code in other  # another number is not held back


def test_check_followed_by_words_is_a_request_not_a_check(fake_smsgate):
    [reply] = ask(fake_smsgate, new_number(), "Проверка связи, позвоните маме 87012345678")
    assert reply in (
        said("ru", "Received. A volunteer will call them. We will text you the answer."),
        said("ru", "Received. A volunteer will check it before calling."),
    )


def test_check_without_a_code_says_how(fake_smsgate):
    assert ask(fake_smsgate, new_number(), "Проверка") == [
        said("ru", "Send %(word)s and the code, for example: %(word)s B7K2", word="ПРОВЕРКА")
    ]


# --- Telegram ---------------------------------------------------------------------------

CHAT = 6101


def poll() -> None:
    call_command("bot", "--once", stdout=io.StringIO())


def bot_said(fake, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent_messages() if m["chat_id"] == chat_id]


def tell(fake, chat_id: int, text: str, language: str = "ru") -> list[str]:
    before = len(bot_said(fake, chat_id))
    fake.push_message(chat_id, text, language_code=language)
    poll()
    deliver()
    return bot_said(fake, chat_id)[before:]


def test_telegram_subscribe_check_and_unsubscribe(fake_telegram):
    fake = fake_telegram
    assert tell(fake, CHAT, "/subscribe Almaty") == [
        said(
            "ru",
            "Subscribed to Bailanys bulletins for %(region)s and all of Kazakhstan.",
            region="Алматы",
        )
        + "\n"
        + said("ru", "Send /unsubscribe to stop them.")
    ]
    tell(fake, CHAT + 1, "/subscribe Astana", language="en")
    [unknown] = tell(fake, CHAT + 2, "/subscribe Gotham", language="en")
    assert unknown == said(
        "en",
        'We do not know the city "%(name)s". Write it like this: %(example)s',
        name="Gotham",
        example="/subscribe Almaty",
    )

    curfew = issue(CURFEW, regions=["Алматы"])
    deliver()
    [got] = [t for t in bot_said(fake, CHAT) if curfew.code in t]
    assert CURFEW["ru"] in got and SOURCE in got
    assert not [t for t in bot_said(fake, CHAT + 1) if curfew.code in t]
    assert not [t for t in bot_said(fake, CHAT + 2) if curfew.code in t]

    [answer] = tell(fake, CHAT + 3, f"/check {cyrillic(curfew.code)}", language="kk")
    assert answer.startswith(
        said("kk", "%(code)s is a current Bailanys bulletin.", code=curfew.code)
    )
    [answer] = tell(fake, CHAT + 3, "/check B999", language="kk")
    assert answer == said(
        "kk", "%(code)s is not a Bailanys bulletin. Do not trust it.", code="B999"
    )

    assert tell(fake, CHAT, "/unsubscribe") == [
        said("ru", "You will get no more Bailanys bulletins.")
    ]
    assert tell(fake, CHAT, "/unsubscribe") == [
        said("ru", "You are not subscribed to Bailanys bulletins.")
    ]
    internet = issue(NATIONWIDE)
    deliver()
    assert not [t for t in bot_said(fake, CHAT) if internet.code in t]
    [got] = [t for t in bot_said(fake, CHAT + 1) if internet.code in t]
    assert NATIONWIDE["en"] in got


def test_the_bot_help_names_subscribe_and_check(fake_telegram):
    [helped] = tell(fake_telegram, CHAT, "/help", language="en")
    assert "/subscribe" in helped and "/check" in helped
