"""The outbox's priority lane (issue 18): urgent messages before bulk ones (proxy answers,
bulletins), and bulk SMS kept to a share of each SIM's daily cap.

Rows are written with outbox_add (the outbox's service API, as the relay writes them); the
worker (`bailanys worker --batch`) sends them to a fake sms-gate.app phone, whose log is
what is asserted.
"""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bailanys.outbox.models import Lane, OutboxMessage
from bailanys.outbox.services import outbox_add
from tests.conftest import pump_until, run_cli

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_PER_MINUTE = 60000  # the SIM's rate is tested in test_sms.py


def add(text: str, *, priority: int = Lane.URGENT, number: int = 0) -> OutboxMessage:
    with transaction.atomic():
        return outbox_add(
            channel="sms",
            address=f"+7701555{number:04d}",
            body=text,
            idempotency_key=f"lane-test:{text}",
            priority=priority,
        )


def texts(fake) -> list[str]:
    return [m["text"] for m in fake.outbox]


def test_the_worker_sends_urgent_messages_before_a_bulk_backlog(fake_smsgate):
    for n in range(3):
        add(f"proxy answer {n}", priority=Lane.BULK, number=n)
    add("your message was delivered", number=10)
    add("thank you, your answer was passed on", number=11)
    run_cli("worker", "--batch")
    assert texts(fake_smsgate) == [
        "your message was delivered",
        "thank you, your answer was passed on",
        "proxy answer 0",
        "proxy answer 1",
        "proxy answer 2",
    ]


def test_the_pump_takes_urgent_messages_first_and_writes_no_task_rows(fake_smsgate, settings):
    """A running worker's outbox pump (one send in flight, so the order is the pump's)."""
    settings.BAILANYS_WORKER_SENDERS = 1
    for n in range(3):
        add(f"proxy answer {n}", priority=Lane.BULK, number=n)
    add("your message was delivered", number=10)
    assert not DBTaskResult.objects.exists()  # the pump finds rows; no task row per message
    pump_until(lambda: len(fake_smsgate.outbox) >= 4)
    assert texts(fake_smsgate) == [
        "your message was delivered",
        "proxy answer 0",
        "proxy answer 1",
        "proxy answer 2",
    ]
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"sent"}


def test_bulk_sms_keeps_to_its_share_of_the_cap_and_urgent_ones_still_go(fake_smsgate, settings):
    settings.BAILANYS_SMS_DAILY_CAP = 4
    settings.BAILANYS_SMS_BULK_SHARE = 50  # two of the day's four parts
    for n in range(3):
        add(f"proxy answer {n}", priority=Lane.BULK, number=n)
    run_cli("worker", "--batch")
    assert texts(fake_smsgate) == ["proxy answer 0", "proxy answer 1"]
    waiting = OutboxMessage.objects.get(idempotency_key="lane-test:proxy answer 2")
    # Over the share it waits, neither failed nor counted as a try.
    assert waiting.state == OutboxMessage.State.PENDING
    assert waiting.tries == 0
    assert waiting.next_try_at > timezone.now()

    add("your message was delivered", number=10)
    add("thank you, your answer was passed on", number=11)
    run_cli("worker", "--batch")
    # Urgent messages use the whole cap, the half bulk left them included.
    assert texts(fake_smsgate)[2:] == [
        "your message was delivered",
        "thank you, your answer was passed on",
    ]
    waiting.refresh_from_db()
    assert waiting.state == OutboxMessage.State.PENDING

    # The next day the counts start again and the waiting answer goes.
    tomorrow = timezone.localtime().replace(hour=1, minute=0, second=0) + timedelta(days=1)
    with time_machine.travel(tomorrow):
        run_cli("worker", "--batch")
    assert texts(fake_smsgate)[4:] == ["proxy answer 2"]
    waiting.refresh_from_db()
    assert waiting.state == OutboxMessage.State.SENT


def test_with_no_share_bulk_sms_is_never_sent(fake_smsgate, settings):
    settings.BAILANYS_SMS_BULK_SHARE = 0
    bulk = add("proxy answer", priority=Lane.BULK)
    add("your message was delivered", number=10)
    run_cli("worker", "--batch")
    assert texts(fake_smsgate) == ["your message was delivered"]
    bulk.refresh_from_db()
    # Not a wait for tomorrow: no SIM will ever take it, so it is a failed try.
    assert bulk.tries == 1
    assert "no SMS gateway" in bulk.last_error


def test_the_sweep_stops_sending_after_its_time_and_the_next_one_goes_on(fake_smsgate, monkeypatch):
    """A bulletin's backlog must not hold the sweep (and the lease checks behind it)."""
    from bailanys.outbox import services
    from bailanys.relay.management.commands.worker import sweep

    for n in range(3):
        add(f"bulletin {n}", priority=Lane.SLOW, number=n)
    OutboxMessage.objects.update(next_try_at=timezone.now() - timedelta(minutes=1))
    monkeypatch.setattr(services, "SWEEP_SECONDS", 0.0)
    sweep(purge=False)
    assert texts(fake_smsgate) == []
    assert OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).count() == 3
    monkeypatch.undo()
    sweep(purge=False)
    assert texts(fake_smsgate) == ["bulletin 0", "bulletin 1", "bulletin 2"]
