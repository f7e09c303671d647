"""A notice sent again after a worker died mid-send says so (issue 22, item 4).

Telegram's Bot API takes no idempotency key: a worker killed after Telegram took a
message but before its row was marked sent leaves it "sending", and once its lease runs
out another worker sends it again. The requester may then read it twice; the second copy
starts with a line, in their language, that says why.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from bailanys.outbox.models import OutboxMessage
from tests.conftest import Browser, make_account
from tests.conftest import outbox_drain as deliver
from tests.test_telegram import ALICE, converse, press, said_to

pytestmark = pytest.mark.django_db(transaction=True)

AGAIN = {
    "en": "↻ Sent again: the first copy may have come too.",
    "ru": "↻ Отправлено ещё раз: первое сообщение тоже могло дойти.",
}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_outcome_sent_again_after_a_worker_died_says_so(fake_telegram, language):
    fake = fake_telegram
    converse(fake, ALICE, "/request", language)
    for answer in ("87012345678", "Серик", "-", "-"):
        converse(fake, ALICE, answer, language)
    press(fake, ALICE, "kind:welfare_check", language)

    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    browser.post("/console/take/")
    claim = re.search(r"/console/claims/(\d+)/outcome/", browser.get("/console/").content.decode())
    browser.post(
        f"/console/claims/{claim[1]}/outcome/", {"outcome": "reached", "reply": "Всё хорошо"}
    )
    deliver()
    first = said_to(fake, ALICE)[-1]["text"]
    assert "Всё хорошо" in first and not first.startswith("↻")

    # What kill -9 between Telegram's answer and "sent" leaves: the row still "sending"
    # with its lease run out. The sweep sends it again.
    row = OutboxMessage.objects.get(channel="telegram", idempotency_key__startswith="outcome:")
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxMessage.State.SENDING, next_try_at=timezone.now() - timedelta(seconds=1)
    )
    deliver()
    second = said_to(fake, ALICE)[-1]["text"]
    label, _newline, rest = second.partition("\n")
    assert label == AGAIN[language]
    assert rest == first  # the same notice under the line
    row.refresh_from_db()
    assert row.state == OutboxMessage.State.SENT and row.tries == 2
