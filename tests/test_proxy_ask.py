# ruff: noqa: RUF001  (Russian and Kazakh keywords: Cyrillic letters are intended)
"""Asking for proxies and reporting them (issue 18, items 3-5), end to end.

PROXY / NOWORK reach Bailanys through the fake sms-gate phone's webhook, /proxy and its
"Doesn't work" button through the fake Bot API; answers leave through the outbox
(`bailanys worker --batch`), and what the fakes were sent is what is asserted. The pool
is filled with `bailanys proxy import`.
"""

import io
import math
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import ngettext

from bailanys.channels.sms.segments import segments
from bailanys.privacy.models import AuditEntry
from tests.conftest import Browser, make_account, run_cli
from tests.conftest import outbox_drain as deliver
from tests.helpers import answer_to, new_number, said
from tests.helpers import texted as sms
from tests.helpers import texts_to as to

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = b"example.com".hex()
PRESS = "Press a link to add the proxy to Telegram. If none works, send NOWORK."
NOTED = "Thank you. When it is confirmed you get new proxies at once."
SHUTDOWN = "The internet is cut everywhere: a proxy cannot help now. Calls and SMS still work."


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 60_000
    settings.BAILANYS_SMS_DAILY_CAP = 100_000


def link(i: int) -> str:
    """A distinct valid fake-TLS link, in the form Bailanys hands it out."""
    return (
        f"tg://proxy?server=203.0.{113 + i // 250}.{i % 250 + 1}&port=443&secret=ee{i:032x}{DOMAIN}"
    )


def stock(tmp_path, numbers, pool: str = "public") -> set[str]:
    """`bailanys proxy import` a file of the links numbered `numbers`; returns them."""
    links = [link(i) for i in numbers]
    path = tmp_path / f"{pool}-{min(numbers)}.txt"
    path.write_text("\n".join(links) + "\n", encoding="utf-8")
    assert f"added {len(links)}" in run_cli("proxy", "import", str(path), "--pool", pool)
    return set(links)


def ask(fake, phone: str, text: str = "PROXY") -> list[str]:
    """What `phone` is sent after texting `text`."""
    return answer_to(fake, phone, text)


def links_in(texts: list[str]) -> set[str]:
    return {t for t in texts if t.startswith("tg://")}


def too_soon(language: str = "en") -> str:
    with translation.override(language):
        return ngettext(
            "One answer per hour. Ask again later.",
            "One answer per %(hours)d hours. Ask again later.",
            3,
        ) % {"hours": 3}


def proxy_list() -> dict[str, dict[str, int]]:
    """`bailanys proxy list`: the counts by pool and state."""
    lines = run_cli("proxy", "list").splitlines()
    states = lines[0].split()[1:-1]
    return {
        row.split()[0]: dict(zip(states, map(int, row.split()[1:-1]), strict=True))
        for row in lines[1:4]
    }


# --- Asking by SMS -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "language"),
    [
        ("PROXY", "en"),
        ("proxy!", "en"),
        (" PROXY. ", "en"),
        ("ПРОКСИ", "ru"),
        ("Прокси?", "ru"),
        ("Proksi", "kk"),
    ],
)
def test_proxy_in_any_case_gets_one_sms_per_link_and_the_line(
    fake_smsgate, tmp_path, word, language
):
    pool = stock(tmp_path, range(9))
    phone = new_number()
    got = ask(fake_smsgate, phone, word)
    links = links_in(got)
    assert len(links) == 3 and links <= pool
    assert len(got) == 4 and got[-1] == said(language, PRESS)
    for text in got:
        assert segments(text) == 1


def test_proksi_in_cyrillic_is_never_a_request_to_call(fake_smsgate, tmp_path):
    stock(tmp_path, range(3))
    phone = new_number()
    got = ask(fake_smsgate, phone, "Прокси")
    assert len(links_in(got)) == 3
    assert not any("volunteer" in text.lower() for text in got)
    assert "requesters 1" in run_cli("proxy", "list")


def test_the_same_number_gets_the_same_links_again_after_three_hours(fake_smsgate, tmp_path):
    stock(tmp_path, range(30))
    phone = new_number()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=True):
        first = links_in(ask(fake_smsgate, phone))
    for hours in (3, 7):
        with time_machine.travel(start + timedelta(hours=hours, minutes=1), tick=True):
            assert links_in(ask(fake_smsgate, phone, "proxy")) == first


def test_within_three_hours_one_too_soon_then_silence(fake_smsgate, tmp_path):
    stock(tmp_path, range(9))
    phone = new_number()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=True):
        assert len(links_in(ask(fake_smsgate, phone))) == 3
    with time_machine.travel(start + timedelta(hours=1), tick=True):
        assert ask(fake_smsgate, phone, "ПРОКСИ") == [too_soon("ru")]
    with time_machine.travel(start + timedelta(hours=2), tick=True):
        assert ask(fake_smsgate, phone) == []
        assert ask(fake_smsgate, phone, "Прокси!") == []
    assert len(to(fake_smsgate, phone)) == 5


def test_sixty_numbers_see_six_buckets_not_the_pool(fake_smsgate, tmp_path):
    pool = stock(tmp_path, range(60))
    seen: set[str] = set()
    for _n in range(60):
        sms(fake_smsgate, new_number(), "PROXY")
    deliver()
    seen = links_in([m["text"] for m in fake_smsgate.outbox])
    assert seen <= pool
    assert 0 < len(seen) <= math.ceil(60 / 10) * 3
    assert len([m for m in fake_smsgate.outbox if m["text"].startswith("tg://")]) == 60 * 3


def test_the_reserve_is_handed_out_only_after_a_release(fake_smsgate, tmp_path):
    public = stock(tmp_path, range(3))
    reserve = stock(tmp_path, range(100, 106), pool="reserved")
    for _n in range(10):  # the one public bucket fills up
        assert links_in(ask(fake_smsgate, new_number())) == public
    late = new_number()
    got = ask(fake_smsgate, late)
    assert not links_in(got)
    with translation.override("en"):
        assert got == [
            ngettext(
                "No proxy is free now. Ask again in an hour.",
                "No proxy is free now. Ask again in %(hours)d hours.",
                3,
            )
            % {"hours": 3}
        ]
    assert "released 6" in run_cli("proxy", "release", "6")
    assert links_in(ask(fake_smsgate, new_number())) <= reserve
    assert len(links_in(ask(fake_smsgate, new_number()))) == 3


# --- Reports -------------------------------------------------------------------------


def test_two_reports_retire_the_bucket_and_move_everyone_in_it(fake_smsgate, tmp_path):
    pool = stock(tmp_path, range(12))
    alice, bob, carol = new_number(), new_number(), new_number()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=True):
        first = links_in(ask(fake_smsgate, alice))
        assert links_in(ask(fake_smsgate, bob)) == first
        assert links_in(ask(fake_smsgate, carol)) == first
    with time_machine.travel(start + timedelta(minutes=30), tick=True):
        assert ask(fake_smsgate, alice, "no work!") == [said("en", NOTED)]
        assert proxy_list()["public"]["active"] == 3
        moved = ask(fake_smsgate, bob, "Не работает")
        assert len(links_in(moved)) == 3 and not links_in(moved) & first
        assert links_in(moved) <= pool and moved[-1] == said("ru", PRESS)
        assert proxy_list()["public"]["blocked"] == 3
        # The first reporter and the one who said nothing: new links at once.
        again = ask(fake_smsgate, alice)
        assert len(links_in(again)) == 3 and not links_in(again) & first
        third = ask(fake_smsgate, carol, "прокси")
        assert len(links_in(third)) == 3 and not links_in(third) & first


@pytest.mark.parametrize("word", ["NOWORK", "nowork.", "НЕРАБОТАЕТ", "ІСТЕМЕЙДІ", "истемейди"])
def test_a_report_before_any_proxy_asks_for_proxy_first(fake_smsgate, tmp_path, word):
    stock(tmp_path, range(3))
    assert ask(fake_smsgate, new_number(), word) == [
        said(
            {"NOWORK": "en", "nowork.": "en", "НЕРАБОТАЕТ": "ru"}.get(word, "kk"),
            "Send PROXY first.",
        )
    ]


def test_a_full_shutdown_answers_that_proxies_cannot_help(fake_smsgate, tmp_path):
    stock(tmp_path, range(9))
    call_command("proxy", "shutdown", "on", stdout=io.StringIO())
    phone = new_number()
    assert ask(fake_smsgate, phone) == [said("en", SHUTDOWN)]
    assert proxy_list()["public"]["stocked"] == 9
    call_command("proxy", "shutdown", "off", stdout=io.StringIO())
    assert len(links_in(ask(fake_smsgate, new_number(), "ПРОКСИ"))) == 3


def test_a_redelivered_sms_is_answered_once(fake_smsgate, tmp_path):
    stock(tmp_path, range(3))
    phone = new_number()
    when = datetime.now(UTC)
    body = {"message_id": "abc123", "received_at": when}
    sms(fake_smsgate, phone, "PROXY", **body)
    sms(fake_smsgate, phone, "PROXY", **body)
    deliver()
    sms(fake_smsgate, phone, "PROXY", **body)
    deliver()
    assert len(to(fake_smsgate, phone)) == 4


def test_every_proxy_reply_fits_one_sms(settings):
    from bailanys.conversations.proxies import outcome_line, press_line
    from bailanys.proxies.services import Outcome

    for language in ("en", "ru", "kk"):
        with translation.override(language):
            lines = [press_line()] + [
                outcome_line(o) for o in Outcome if o not in (Outcome.LINKS, Outcome.SILENT)
            ]
        for line in lines:
            assert segments(line) == 1, (language, line)
    assert segments(link(0)) == 1


# --- Vouching by SMS -------------------------------------------------------------------

VOLUNTEER_PHONE = "+77015550101"


def register_volunteer_phone() -> str:
    """A volunteer registers VOLUNTEER_PHONE in the console; returns their user name."""
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    page = browser.post("/console/sms/", {"phone": VOLUNTEER_PHONE})
    assert page.status_code == 200
    return username


def test_a_volunteer_vouches_by_sms_and_the_number_gets_the_trusted_pool(fake_smsgate, tmp_path):
    public = stock(tmp_path, range(3))
    trusted = stock(tmp_path, range(200, 203), pool="trusted")
    volunteer = get_user_model().objects.get(username=register_volunteer_phone())
    friend = "+77015551234"
    assert ask(fake_smsgate, VOLUNTEER_PHONE, "vouch 8 701 555 12 34") == [
        said("en", "Vouched: %(number)s. It gets the trusted proxies.") % {"number": "+7701*****34"}
    ]
    assert ask(fake_smsgate, VOLUNTEER_PHONE, "РУЧАЮСЬ +7 701 555 12 34") == [
        said("ru", "Already vouched: %(number)s.") % {"number": "+7701*****34"}
    ]
    refused = ask(fake_smsgate, VOLUNTEER_PHONE, "КЕПІЛ 12345")
    assert len(refused) == 1 and refused[0].endswith(said("kk", "Send: VOUCH number."))
    assert links_in(ask(fake_smsgate, friend)) == trusted
    assert links_in(ask(fake_smsgate, new_number())) == public
    # The volunteer's own phone asking: a requester like any other.
    assert links_in(ask(fake_smsgate, VOLUNTEER_PHONE, "Proxy")) == public
    assert "vouched 1" in run_cli("proxy", "list")
    [entry] = AuditEntry.objects.filter(action="proxy.vouch")
    assert entry.actor == f"user:{volunteer.pk}"


def test_a_volunteer_past_the_vouch_limit_is_told_by_sms(fake_smsgate, settings):
    cache.clear()  # with REDIS_URL, counters outlive other tests' databases
    settings.BAILANYS_PROXY_VOUCH_LIMIT = "1/86400"
    register_volunteer_phone()
    ask(fake_smsgate, VOLUNTEER_PHONE, "VOUCH +77015551201")
    refused = ask(fake_smsgate, VOLUNTEER_PHONE, "ручаюсь +77015551202")
    assert refused == [said("ru", "You have vouched for many numbers today. Try again tomorrow.")]
    assert "vouched 1" in run_cli("proxy", "list")


def test_vouch_from_a_number_that_is_no_volunteer_vouches_nothing(fake_smsgate, tmp_path):
    public = stock(tmp_path, range(3))
    stock(tmp_path, range(200, 203), pool="trusted")
    ask(fake_smsgate, new_number(), "VOUCH 87015559876")
    assert "vouched 0" in run_cli("proxy", "list")
    assert links_in(ask(fake_smsgate, "+77015559876")) == public


# --- Telegram -------------------------------------------------------------------------

CHAT = 5101


def poll() -> None:
    call_command("bot", "--once", stdout=io.StringIO())


def bot_said(fake, chat_id: int) -> list[dict]:
    return [m for m in fake.sent_messages() if m["chat_id"] == chat_id]


def keyboard(message: dict) -> list[dict]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def url_buttons(message: dict) -> set[str]:
    return {b["url"] for b in keyboard(message) if "url" in b}


def tme(links: set[str]) -> set[str]:
    return {x.replace("tg://proxy?", "https://t.me/proxy?") for x in links}


def test_proxy_in_the_bot_gives_url_buttons_and_doesnt_work_reports(fake_telegram, tmp_path):
    fake = fake_telegram
    pool = tme(stock(tmp_path, range(12)))
    for user in (CHAT, CHAT + 1):
        fake.push_message(user, "/proxy", language_code="ru")
    poll()
    deliver()
    first, second = bot_said(fake, CHAT)[-1], bot_said(fake, CHAT + 1)[-1]
    given = url_buttons(first)
    assert len(given) == 3 and given <= pool and url_buttons(second) == given
    assert first["text"] == said("ru", "Press a proxy to add it to Telegram.")
    assert "secret" not in first["text"]  # the links are the buttons
    nowork = [b["callback_data"] for b in keyboard(first) if "callback_data" in b]
    assert nowork == ["proxy:nowork"]

    fake.push_callback(CHAT, "proxy:nowork", language_code="ru")
    poll()
    deliver()
    assert bot_said(fake, CHAT)[-1]["text"] == said("ru", NOTED)
    fake.push_callback(CHAT + 1, "proxy:nowork", language_code="ru")
    poll()
    deliver()
    fresh = url_buttons(bot_said(fake, CHAT + 1)[-1])
    assert len(fresh) == 3 and fresh <= pool and not fresh & given
    assert proxy_list()["public"]["blocked"] == 3


def test_proxy_in_the_bot_within_three_hours(fake_telegram, tmp_path):
    fake = fake_telegram
    stock(tmp_path, range(3))
    for _n in range(3):
        fake.push_message(CHAT, "/proxy", language_code="en")
        poll()
        deliver()
    texts = [m["text"] for m in bot_said(fake, CHAT)]
    assert texts == [said("en", "Press a proxy to add it to Telegram."), too_soon("en")]


def test_the_bot_help_names_proxy(fake_telegram):
    fake_telegram.push_message(CHAT, "/help", language_code="en")
    poll()
    deliver()
    assert "/proxy" in bot_said(fake_telegram, CHAT)[-1]["text"]
