"""Telegram as people really use it (issue 17, items 9 and 11), through the fake Bot API.

Updates are replayed from recorded real-shaped payloads in tests/fixtures/telegram/
(a private message, a group post with a mention, an inline button's callback_query, an
edited message), with only ids, text and button data changed; the bot polls the fake
(`bailanys bot --once`) and the worker sends what it wrote.
"""

import copy
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import Api, Browser, make_account, make_volunteer
from tests.conftest import outbox_drain as deliver

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
ALICE = 5001  # a requester abroad
VOLUNTEER_CHAT = 7001
GROUP = -1001573921144


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.BAILANYS_PUBLIC_URL = "https://relay.example.org"


def recorded(
    name: str, *, chat: int | None = None, text: str | None = None, data=None, language=None
) -> dict:
    """A recorded update, with a new update id (the fake gives one) and what the test says."""
    update = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))
    update.pop("update_id")
    body = next(iter(v for k, v in update.items()))
    message = body.get("message", body)
    if chat is not None:
        message["chat"]["id"] = chat
        body["from"]["id"] = abs(chat) if chat > 0 else body["from"]["id"]
    if text is not None:
        message["text"] = text
        message.pop("entities", None)
    if data is not None:
        body["data"] = data
    if language is not None:
        body["from"]["language_code"] = language
    return update


def replay(fake, update: dict) -> list[str]:
    """Feed one update to the bot; what it then said in that chat, oldest first."""
    body = next(iter(update.values()))
    chat = body.get("message", body)["chat"]["id"]
    before = len(said_to(fake, chat))
    fake.push_update(update)
    call_command("bot", "--once", stdout=io.StringIO())
    deliver()
    return said_to(fake, chat)[before:]


def said_to(fake, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent_messages() if str(m["chat_id"]) == str(chat_id)]


def say(fake, chat: int, text: str, language=None) -> list[str]:
    return replay(fake, recorded("private_message", chat=chat, text=text, language=language))


def press(fake, chat: int, data: str, language=None) -> list[str]:
    return replay(fake, recorded("callback_query", chat=chat, data=data, language=language))


def linked_volunteer(fake, chat: int) -> None:
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    page = browser.post("/console/telegram/").content.decode()
    code = page.split("/link ", 1)[1].split("<", 1)[0].strip()
    [linked] = say(fake, chat, f"/link {code}", language="en")  # the chat speaks English
    assert linked.startswith("Linked"), linked


FIVE = {
    "+77011112233": "мама Гульнара 8 701 111 22 33",
    "+77021112233": "папа Серик 8 702 111 22 33",
    "+77051112233": "бабушка Күләш 8 705 111 22 33",
    "+77071112233": "брат Ерлан 8 707 111 22 33",
    "+77771112233": "сестра Айгуль 8 777 111 22 33",
}


def masked(e164: str) -> str:
    return f"{e164[:5]}*****{e164[-2:]}"


def test_five_relatives_in_one_message_each_named_back(fake_telegram):
    fake = fake_telegram
    text = "Позвоните пожалуйста: " + ", ".join(FIVE.values()) + ". Скажите что я жив"
    say(fake, ALICE, text)
    [ack] = press(fake, ALICE, "confirm:yes")
    for number in FIVE:
        line = next((x for x in ack.splitlines() if masked(number) in x), None)
        assert line is not None, f"{masked(number)} not named in: {ack}"
        assert "https://relay.example.org/s/" in line, "each relative has their own link"

    # A volunteer reaches one of them: the requester learns which one.
    volunteer = Api(make_volunteer()[1])
    case = volunteer.post("/claims").json()
    answer = volunteer.post(
        f"/claims/{case['claim_id']}/outcome", {"outcome": "reached", "reply": "Жду звонка"}
    )
    assert answer.status_code == 200
    deliver()
    told = said_to(fake, ALICE)[-1]
    reached = next(n for n in FIVE if masked(n) in told)
    assert [n for n in FIVE if masked(n) in told] == [reached], told
    assert "Жду звонка" in told


def test_a_group_post_naming_two_relatives_is_answered_with_both(fake_telegram):
    fake = fake_telegram
    [ack] = replay(fake, recorded("group_message_mention"))
    for number in ("+77071112233", "+77011112244"):
        assert masked(number) in ack, ack
    assert ack.count("https://relay.example.org/s/") == 2


def test_an_edited_message_is_not_taken_as_a_new_request(fake_telegram):
    fake = fake_telegram
    assert replay(fake, recorded("edited_message", chat=ALICE)) == []
    assert Api(make_volunteer()[1]).post("/claims").status_code == 204


def test_release_then_next_gives_another_case(fake_telegram):
    fake = fake_telegram
    for number in ("8 701 600 10 01", "8 701 600 10 02"):
        say(fake, ALICE, f"Мама Гульнара {number}, скажите что я жив")
        press(fake, ALICE, "confirm:yes")
    linked_volunteer(fake, VOLUNTEER_CHAT)
    [first] = say(fake, VOLUNTEER_CHAT, "/next")
    [released] = say(fake, VOLUNTEER_CHAT, "/release")
    assert "Released" in released
    [second] = say(fake, VOLUNTEER_CHAT, "/next")
    case = re.compile(r"Case (\d+)")
    assert case.search(first).group(1) != case.search(second).group(1), second
    # With nothing else waiting, the released case comes back after the next one.
    say(fake, VOLUNTEER_CHAT, "/release")
    [third] = say(fake, VOLUNTEER_CHAT, "/next")
    assert case.search(third).group(1) == case.search(first).group(1)


def test_a_forged_or_stale_outcome_button_is_refused_at_once(fake_telegram):
    fake = fake_telegram
    say(fake, ALICE, "Мама Гульнара 8 701 600 20 01, скажите что я жив")
    press(fake, ALICE, "confirm:yes")
    linked_volunteer(fake, VOLUNTEER_CHAT)
    other = Api(make_volunteer()[1])
    theirs = other.post("/claims").json()["claim_id"]

    [answer] = press(fake, VOLUNTEER_CHAT, f"out:{theirs}:reached")
    assert answer.startswith("This case is not yours"), answer
    [answer] = press(fake, VOLUNTEER_CHAT, "out:12x:reached")
    assert answer == "This button is not valid."
    [answer] = press(fake, VOLUNTEER_CHAT, f"out:{theirs}:teleported")
    assert answer == "This button is not valid."
    # Nothing was asked, and nothing waits for a reply: the next text is not taken as one.
    assert not any("What did they say" in t for t in said_to(fake, VOLUNTEER_CHAT))

    other.post(f"/claims/{theirs}/release")
    [shown] = say(fake, VOLUNTEER_CHAT, "/next")
    mine = re.search(r"Case (\d+)", shown).group(1)
    from bailanys.relay.models import Claim

    claim = Claim.objects.get(case_id=mine, ended_at__isnull=True).pk
    press(fake, VOLUNTEER_CHAT, f"out:{claim}:no_answer")  # recorded: the claim ends
    [answer] = press(fake, VOLUNTEER_CHAT, f"out:{claim}:reached")  # the old button again
    assert answer.startswith("This case has ended for you"), answer
