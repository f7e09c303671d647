"""The demo's made-up data never leaves through a real gateway or bot (issue 17, item 8).

Its numbers carry real operator prefixes: with a gateway set up, `bailanys up --demo` once
texted strangers. Here the fake sms-gate.app phone and the fake Bot API stand in for real
ones; the demo is loaded as `bailanys up --demo` loads it, volunteers work its cases, the
worker drains the outbox, and a real request made at the same time goes out as usual.
"""

import contextlib
import io
import random

import pytest
from django.core.management import call_command
from django.test import Client

from bailanys import phones
from tests.conftest import Api, make_volunteer, request_body, run_cli
from tests.conftest import outbox_drain as deliver

pytestmark = pytest.mark.django_db(transaction=True)

REAL = "+77012345678"  # the real request's relative
REAL_REQUESTER = "+77019876543"


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 600


def _demo_numbers() -> set[str]:
    """Every number the demo made up: its recipients and its requesters' contacts."""
    from bailanys.relay.models import Request

    numbers = set()
    for request in Request.objects.filter(demo=True).select_related("case", "requester"):
        numbers.add(request.case.recipient_phone)
        with contextlib.suppress(phones.InvalidPhone):
            numbers.add(phones.normalize(request.requester.contact))
    return numbers


def _work_every_case(volunteer: Api) -> int:
    """The volunteer takes cases and records each reached, with a reply, until none waits."""
    worked = 0
    while (taken := volunteer.post("/claims")).status_code == 200:
        claim = taken.json()["claim_id"]
        answer = volunteer.post(
            f"/claims/{claim}/outcome", {"outcome": "reached", "reply": "Всё хорошо, ждём"}
        )
        assert answer.status_code == 200, answer.content
        worked += 1
    return worked


def test_demo_data_goes_to_the_log_and_a_real_request_goes_out(fake_smsgate, fake_telegram):
    from bailanys.conversations.models import SmsBridge
    from bailanys.outbox.models import OutboxMessage
    from bailanys.relay.demo import demo_history, demo_pulse
    from bailanys.relay.models import Case

    # As `bailanys up --demo` does: the scenario, a past for the charts, a living beat.
    assert "Demo:" in run_cli("demo")
    rng = random.Random(17)  # made-up data
    demo_history(rng, hours=2)
    demo_pulse(rng, requests=3, calls=2)
    # A real request at the same time: by the API, told back by SMS.
    real = Api().post(
        "/requests",
        request_body(
            phone=REAL,
            requester={"name": "Марат", "language": "ru", "contact": REAL_REQUESTER},
            message="Марат в Германии, всё хорошо",
        ),
    )
    assert real.status_code == 201, real.content
    deliver()

    demo_numbers = _demo_numbers()
    assert len(demo_numbers) > 10
    assert not SmsBridge.objects.filter(case__demo=True).exists(), "no bridge for a demo case"
    bridged = [m for m in fake_smsgate.outbox if REAL in m["phoneNumbers"]]
    assert len(bridged) == 1, "the real request's bridge SMS went out"

    # Volunteers in the console (here the API) work the demo cases; the real recipient
    # answers the bridge SMS.
    volunteer = Api(make_volunteer("experienced")[1])
    assert _work_every_case(volunteer) > 3
    body, headers = fake_smsgate.build_received(REAL, "Всё хорошо, ждём")
    url = "/channels/smsgate/webhook"
    assert Client().post(url, body, content_type="application/json", headers=headers).json()
    deliver()

    texted = {number for m in fake_smsgate.outbox for number in m["phoneNumbers"]}
    assert not texted & demo_numbers, "an SMS went to a made-up number"
    assert texted == {REAL, REAL_REQUESTER}
    told = [m for m in fake_smsgate.outbox if REAL_REQUESTER in m["phoneNumbers"]]
    assert any("Всё хорошо, ждём" in m["text"] for m in told), "the real requester was told"
    assert not fake_telegram.sent_messages(), "the demo's Telegram contact got nothing"

    # The demo's notices to contacts were written, and went to the log instead.
    demo_rows = OutboxMessage.objects.filter(demo=True)
    assert demo_rows.filter(channel__in=("sms", "telegram")).exists()
    assert not demo_rows.exclude(state=OutboxMessage.State.SENT).exists()
    for row in demo_rows.exclude(channel="web"):
        assert row.provider_id.startswith("log-"), row.channel
    assert Case.objects.filter(demo=True).count() >= 10


def test_a_volunteer_on_sms_never_gets_a_demo_case_but_gets_a_real_one(fake_smsgate):
    """A case goes to an SMS-only volunteer in full, number and all: a made-up one never does."""
    from tests.conftest import Browser, make_account

    call_command("demo", stdout=io.StringIO())
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    browser.post("/console/sms/", {"phone": "8 777 000 11 22"})
    volunteer = "+77770001122"

    def text_next(word: str) -> str:
        body, headers = fake_smsgate.build_received(volunteer, word)
        url = "/channels/smsgate/webhook"
        answer = Client().post(url, data=body, content_type="application/json", headers=headers)
        assert answer.status_code == 200
        deliver()
        return [m for m in fake_smsgate.outbox if volunteer in m["phoneNumbers"]][-1]["text"]

    waiting = text_next("NEXT")
    assert phones.display(REAL) not in waiting and "555" not in waiting, "no demo case by SMS"
    Api().post("/requests", request_body(phone=REAL, kind="welfare_check", message=""))
    case = text_next("ДАЛЕЕ")  # another word: a repeat within a minute is item 1's business
    assert phones.display(REAL) in case, case
