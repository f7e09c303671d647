"""Sends in flight (issue 22, point 3): one `bailanys worker` process keeps up to
BAILANYS_WORKER_SENDERS sends in flight on a channel (its outbox pump), so that while one
waits for a provider's answer another sends; SIGTERM stops it after the sends in hand,
none left half-sent.

The worker runs as a real process against the test database (PostgreSQL: an in-memory
SQLite database cannot be shared with another process) and sends to the fake Bot API
server over a real socket. The fake answers each call `DELAY` seconds after it arrives:
one send in flight cannot have a second call arrive before the first is answered, so two arrivals
closer than that prove two sends in flight. A limit on overlap, not a speed.
"""

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from bailanys.outbox.models import OutboxMessage
from tests.conftest import ON_POSTGRES
from tests.test_telegram import SECRET, post_updates, webhook_message

pytestmark = pytest.mark.django_db(transaction=True)

DELAY = 3.0  # seconds the fake takes to answer each call


def worker_env(fake, senders: int) -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "BAILANYS_WORKER_SENDERS": str(senders),
        "BAILANYS_TELEGRAM_API_URL": fake.url,
        "BAILANYS_TELEGRAM_BOT_TOKEN": fake.token,
        "BAILANYS_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "BAILANYS_LOG_LEVEL": "WARNING",
        "BAILANYS_WORKER_SWEEP_SECONDS": "600",  # no periodic sweep sends during the test
    }


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("senders", [1, 3])
def test_senders_keep_several_sends_in_flight_and_stop_cleanly(fake_telegram, senders, settings):
    if not ON_POSTGRES:
        pytest.skip("the worker process shares the test database: PostgreSQL only")
    settings.BAILANYS_TELEGRAM_WEBHOOK_SECRET = SECRET
    fake_telegram.delay = DELAY
    pending = OutboxMessage.objects.filter(state__in=["pending", "sending"])
    bailanys = Path(sys.executable).with_name("bailanys")
    worker = subprocess.Popen(
        [str(bailanys), "worker"],
        env=worker_env(fake_telegram, senders),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A first message, sent once the worker is up: its start-up sweep (which sends
        # what is due, one at a time) is then past, and the pump takes what follows.
        post_updates([webhook_message(19_999, 7099, "/start")])
        assert wait_for(lambda: len(fake_telegram.sent_messages()) == 1, 120), "worker not up"
        chats = [7100 + n for n in range(6)]
        post_updates([webhook_message(20_000 + n, c, "/start") for n, c in enumerate(chats)])
        assert wait_for(lambda: not pending.exists(), 120), "the outbox did not empty"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        code = worker.wait(timeout=30)
    assert code == 0, worker.stderr.read()
    assert not pending.exists()  # nothing left half-sent

    sent = [m for m in fake_telegram.sent_messages() if m["chat_id"] in chats]
    assert sorted(m["chat_id"] for m in sent) == chats  # each once
    arrivals = sorted(m["_t"] for m in sent)
    closest = min(b - a for a, b in itertools.pairwise(arrivals))
    if senders == 1:
        assert closest >= DELAY  # one in flight: the next call only after the answer
    else:
        assert closest < DELAY  # at least two calls in flight at once
