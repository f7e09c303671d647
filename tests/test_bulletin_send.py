# ruff: noqa: RUF001  (Russian and Kazakh bulletin texts)
"""Sending bulletins (issue 19, item 4): the slow lane holds under a 2,000-subscriber
bulletin, Telegram subscribers get theirs through the Bot API, a withdrawn bulletin's
waiting messages are not sent, and bulletins keep to their share of each SIM's daily cap.

Subscribers are made with the service (the words that subscribe are tested where they are
read); a bulletin is drafted by one coordinator and approved by another; the worker
(`bailanys worker --batch`) sends to the fake sms-gate.app phone and the fake Bot API, whose
logs, in order, are what is asserted.
"""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from bailanys.bulletins.models import Bulletin
from bailanys.bulletins.services import (
    bulletin_approve,
    bulletin_draft,
    bulletin_progress,
    bulletin_withdraw,
    subscribe,
)
from bailanys.outbox.models import OutboxMessage
from tests.conftest import make_volunteer, pump_until, run_cli

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK = "/channels/smsgate/webhook"
CHECKER = "+77015550000"  # texts SAFE while the bulletin is sending; subscribed to nothing


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 60000  # the SIM's rate is tested in test_sms.py


def coordinators():
    users = get_user_model().objects
    return (
        users.get(username=make_volunteer("coordinator")[0]),
        users.get(username=make_volunteer("coordinator")[0]),
    )


def issue(texts: dict, **kwargs) -> Bulletin:
    author, second = coordinators()
    draft = bulletin_draft(
        texts=texts, source="Almaty akimat, akimat.almaty.kz", author=author, **kwargs
    )
    return bulletin_approve(draft.pk, by=second)


def number(n: int) -> str:
    return f"+7701700{n:04d}"


def sms_subscribers(count: int, language: str = "en") -> list[str]:
    numbers = [number(n) for n in range(count)]
    for address in numbers:
        subscribe(channel="sms", address=address, language=language)
    return numbers


def sms_in(fake, phone: str, text: str) -> None:
    body, headers = fake.build_received(phone, text)
    response = Client().post(WEBHOOK, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200, response.content


def ping(fake) -> None:
    """The phone's heartbeat: a gateway heard from is not stale."""
    body, headers = fake.build_ping()
    response = Client().post(WEBHOOK, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200, response.content


def next_day(fake):
    """Tomorrow at 01:00, the phone heard from: the day's SMS counts start again."""
    tomorrow = timezone.localtime().replace(hour=1, minute=0, second=0) + timedelta(days=1)
    travel = time_machine.travel(tomorrow)
    travel.start()
    ping(fake)
    return travel


def worker() -> None:
    run_cli("worker", "--batch")


def test_the_sweep_finishes_a_fan_out_the_task_queue_never_ran():
    sms_subscribers(3)
    bulletin = issue({"en": "Curfew from 23:00 to 07:00."})
    # The fan-out task is queued but no worker took it (a crash, a lost task).
    assert not OutboxMessage.objects.exists()
    from bailanys.relay.management.commands.worker import sweep

    sweep(purge=False)
    rows = OutboxMessage.objects.filter(priority=9)
    assert sorted(r.address for r in rows) == [number(n) for n in range(3)]
    assert all(bulletin.code in r.body for r in rows)
    bulletin.refresh_from_db()
    assert bulletin.fanout_done_at is not None
    sweep(purge=False)  # done once: nothing written twice
    assert OutboxMessage.objects.filter(priority=9).count() == 3


def test_a_check_in_reply_goes_before_the_rest_of_a_2000_subscriber_bulletin(
    fake_smsgate, settings
):
    # One SIM; bulletins may fill half of its day, 200 parts: the first slice.
    settings.BAILANYS_SMS_DAILY_CAP = 400
    settings.BAILANYS_SMS_BULK_SHARE = 50
    numbers = sms_subscribers(2000)
    bulletin = issue({"en": "Curfew in Almaty from 23:00 to 07:00."})
    text = fake_smsgate.outbox  # the phone's log, in the order it took them
    assert text == []  # nothing before the worker

    worker()  # the fan-out, then the slow lane up to its share of today's cap
    assert len(text) == 200
    assert all(m["text"].endswith(f"Bailanys {bulletin.code}") for m in text)
    progress = bulletin_progress(bulletin)
    assert (progress.recipients, progress.sent, progress.waiting) == (2000, 200, 1800)

    # While it is sending, someone who is subscribed to nothing checks in.
    sms_in(fake_smsgate, CHECKER, "SAFE")
    worker()
    # The next pass sends the reply, from the half of the day the slow lane may not use.
    [reply] = text[200:]
    assert reply["phoneNumbers"] == [CHECKER]
    assert "Nobody is looking for you" in reply["text"]

    # The backlog waits for the slow lane's budget: not one of them went with the reply.
    progress = bulletin_progress(bulletin)
    assert (progress.sent, progress.waiting, progress.failed) == (200, 1800, 0)
    sent_to = {m["phoneNumbers"][0] for m in text[:200]}
    assert len(sent_to) == 200 and sent_to <= set(numbers)  # each subscriber once


def test_the_task_queue_answers_a_check_in_before_a_queued_bulletin_whatever_the_budget(
    fake_smsgate, settings
):
    """With budget to spare, the lane alone holds: the worker's outbox pump, one send in
    flight, takes the check-in's reply (urgent) before any of the bulletin's sends (slow)."""
    import io

    from django.core.management import call_command

    settings.BAILANYS_SMS_BULK_SHARE = 100
    settings.BAILANYS_WORKER_SENDERS = 1
    sms_subscribers(300)
    bulletin = issue({"en": "Curfew in Almaty from 23:00 to 07:00."})
    call_command("db_worker", "--batch", "--max-tasks", "1", stdout=io.StringIO())
    assert OutboxMessage.objects.filter(priority=9).count() == 300  # fanned out, none sent
    assert fake_smsgate.outbox == []
    sms_in(fake_smsgate, CHECKER, "SAFE")
    call_command("db_worker", "--batch", "--max-tasks", "3", stdout=io.StringIO())  # read
    pump_until(lambda: fake_smsgate.outbox)
    assert fake_smsgate.outbox[0]["phoneNumbers"] == [CHECKER]
    worker()
    assert bulletin_progress(bulletin).sent == 300


def test_bulletins_keep_to_their_share_of_a_sims_cap_and_answers_still_go(fake_smsgate, settings):
    settings.BAILANYS_SMS_DAILY_CAP = 10
    settings.BAILANYS_SMS_BULK_SHARE = 30  # three of the day's ten parts
    sms_subscribers(5)
    bulletin = issue({"en": "Cash machines work at Kaspi branches on Abay avenue."})
    worker()
    assert len(fake_smsgate.outbox) == 3
    waiting = OutboxMessage.objects.filter(priority=9, state=OutboxMessage.State.PENDING)
    assert waiting.count() == 2
    assert all(row.tries == 0 for row in waiting)  # waiting for budget is no failed try

    sms_in(fake_smsgate, CHECKER, "SAFE")
    worker()
    assert fake_smsgate.outbox[3]["phoneNumbers"] == [CHECKER]
    assert len(fake_smsgate.outbox) == 4
    assert bulletin_progress(bulletin).waiting == 2

    # The next day the slow lane goes on where it stopped.
    travel = next_day(fake_smsgate)
    worker()
    travel.stop()
    later = fake_smsgate.outbox[4:]
    assert len(later) == 2 and all(bulletin.code in m["text"] for m in later)
    assert len({m["phoneNumbers"][0] for m in fake_smsgate.outbox}) == 6


def test_telegram_subscribers_get_the_bulletin_in_their_language(fake_telegram):
    chats = {1000 + n: ("ru", "kk", "en")[n % 3] for n in range(40)}
    for chat, language in chats.items():
        subscribe(channel="telegram", address=str(chat), language=language)
    texts = {
        "ru": "Комендантский час с 23:00 до 07:00.",
        "kk": "Коменданттық сағат 23:00-ден 07:00-ге дейін.",
        "en": "Curfew from 23:00 to 07:00.",
    }
    bulletin = issue(texts)
    deadline = 0
    while len(fake_telegram.sent_messages()) < len(chats) and deadline < 20:
        worker()  # a message over the 30/s limit waits its turn and goes in a later pass
        deadline += 1
    sent = fake_telegram.sent_messages()
    assert sorted(int(m["chat_id"]) for m in sent) == sorted(chats)
    for message in sent:
        language = chats[int(message["chat_id"])]
        assert message["text"].startswith(texts[language])
        assert message["text"].endswith(f"Bailanys {bulletin.code}")
    assert bulletin_progress(bulletin).sent == len(chats)


def test_a_withdrawn_bulletins_waiting_messages_are_not_sent(fake_smsgate, settings):
    settings.BAILANYS_SMS_DAILY_CAP = 10
    settings.BAILANYS_SMS_BULK_SHARE = 20  # two a day for bulletins
    sms_subscribers(6)
    bulletin = issue({"en": "Hospital No. 7 takes patients again."})
    worker()
    assert len(fake_smsgate.outbox) == 2
    bulletin_withdraw(bulletin.pk, by=coordinators()[0])

    travel = next_day(fake_smsgate)
    worker()
    travel.stop()
    assert len(fake_smsgate.outbox) == 2
    progress = bulletin_progress(bulletin)
    assert (progress.sent, progress.failed, progress.waiting) == (2, 4, 0)
