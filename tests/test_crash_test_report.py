"""The crash test's JSON tells the truth (issue 22, item 4): a duplicate is counted and
its checks say false, even when --allow-kill-duplicates lets the run pass.

The run itself (bench/crash_test.py, minutes of killed processes) is CI's step; this
feeds its report the database rows and fake-Telegram log of one small run, read as the
script reads them.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def crash():
    spec = importlib.util.spec_from_file_location("crash_test", ROOT / "bench" / "crash_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["crash_test"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("crash_test", None)


class Rows:
    """The run's database as the report reads it: one Telegram request, case closed."""

    def __init__(self, outbox):
        self.outbox = outbox

    def rows(self, sql: str) -> list[tuple]:
        if "FROM relay_request" in sql:
            return [(1, "tg:1", 1)]
        if "FROM relay_case" in sql:
            return [("closed", 1)]
        if "FROM channels_outboxmessage" in sql:
            return self.outbox
        raise AssertionError(sql)


OUTBOX = [
    # id, channel, key, state, provider_id, request_id, tries
    (1, "telegram", "reply:1:a", "sent", "tg-1", None, 1),
    (2, "telegram", "reply:1:b", "sent", "tg-2", None, 1),
    (3, "telegram", "outcome:1", "sent", "tg-4", 1, 2),  # sent again after a lease
]


def fake_log(first_copy_at: float) -> list[dict]:
    return [
        {"message_id": 1, "chat_id": 7, "text": "Got it", "t": 1.0},
        {"message_id": 2, "chat_id": 7, "text": "Thank you", "t": 2.0},
        {"message_id": 3, "chat_id": 7, "text": "We reached her", "t": first_copy_at},
        {"message_id": 4, "chat_id": 7, "text": "↻ Sent again\nWe reached her", "t": 300.0},
    ]


def report(crash, *, kill_at: float, allow: bool):
    unit = crash.Unit(n=1, via="telegram", calls=[], key="tg:1", chat_id=7)
    unit.answers = [(200, b""), (200, b"")]
    checks, detail = crash.verify(Rows(OUTBOX), [unit], [unit], fake_log(100.0), [kill_at], allow)
    return checks, detail, crash.passed(checks, detail["checks_waived"])


def test_a_duplicate_a_worker_kill_explains_is_counted_and_its_checks_stay_false(crash):
    checks, detail, ok = report(crash, kill_at=100.5, allow=True)
    assert detail["notifications_sent_twice"] == 1
    assert detail["messages_labelled_sent_again"] == 1  # the second copy said so
    assert checks["telegram_notifications_duplicated_0"] is False
    assert checks["fake_log_no_duplicates"] is False
    assert checks["bot_answers_duplicated_0"] is True  # the bot's answers came once
    assert checks["every_duplicate_explained_by_a_worker_kill"] is True
    assert detail["checks_waived"] == [
        "fake_log_no_duplicates",
        "telegram_notifications_duplicated_0",
    ]
    assert ok


def test_without_the_allowance_the_same_run_fails(crash):
    _checks, detail, ok = report(crash, kill_at=100.5, allow=False)
    assert detail["checks_waived"] == [] and not ok
    assert detail["notifications_sent_twice"] == 1


def test_a_duplicate_no_kill_explains_fails_even_with_the_allowance(crash):
    checks, detail, ok = report(crash, kill_at=150.0, allow=True)  # 50 s after: not the kill
    assert checks["every_duplicate_explained_by_a_worker_kill"] is False
    assert detail["checks_waived"] == [] and not ok
