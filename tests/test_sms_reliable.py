"""SMS that must arrive once, and arrive: repeats, resends and stale gateways, end to end.

Through the fake sms-gate.app phones (and a fake Twilio) on real sockets, replaying the
recorded webhook bodies of tests/fixtures/smsgate/ and tests/fixtures/twilio/; outbound SMS
leave through the outbox (`bailanys worker --batch`) and the fakes' logs are asserted.
"""

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from bailanys.channels.models import SmsDelivery, SmsGateway
from bailanys.outbox.models import OutboxMessage
from tests.conftest import (
    Api,
    Browser,
    login_coordinator,
    make_account,
    make_volunteer,
    run_cli,
    status_token,
)
from tests.conftest import outbox_drain as deliver
from tests.fakes.smsgate import FakeSmsGate
from tests.test_sms_bridge import submit

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/channels/smsgate/webhook"
VOLUNTEER = "+77770001122"
REQUESTER = "+77015550101"
GULNARA = "+77012345678"


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 600
    settings.BAILANYS_SMS_BRIDGE_KINDS = []  # no bridge SMS in the way, unless a test wants it
    settings.BAILANYS_PUBLIC_URL = "https://relay.example.org"


def second_phone(fake: FakeSmsGate, name: str = "sim2", per_minute: int = 600) -> None:
    """Another phone, with its own signing key: its webhooks name it, not the first."""
    key = f"{name}-signing-key"
    assert "env\t" in run_cli("sms", "list")  # the phone from the environment comes first
    out = run_cli(
        "sms",
        "add",
        name,
        fake.url,
        "--username",
        fake.username,
        "--password",
        fake.password,
        "--signing-key",
        key,
        "--per-minute",
        str(per_minute),
    )
    assert "added" in out
    fake.signing_key = key


def post(built: tuple[bytes, dict]) -> str:
    body, headers = built
    response = Client().post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200, response.content
    return response.json()["result"]


def texts(fake, phone: str) -> list[str]:
    return [m["text"] for m in fake.outbox if phone in m["phoneNumbers"]]


def sms_volunteer() -> None:
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    assert browser.post("/console/sms/", {"phone": VOLUNTEER}).status_code == 200


# --- 1. A person's repeat is not a gateway's re-delivery --------------------------------


@pytest.mark.parametrize(
    ("next_word", "help_word"), [("NEXT", "HELP"), ("Далее", "помощь"), ("КЕЛЕСІ", "Көмек")]
)
def test_an_sms_volunteer_sends_next_again_within_seconds_and_gets_the_next_case(
    fake_smsgate, next_word, help_word
):
    gulnara = submit(
        kind="welfare_check", message="", recipient={"name": "Gulnara", "phone": GULNARA}
    )
    serik = submit(
        kind="welfare_check",
        message="",
        recipient={"name": "Serik", "phone": "+77017770011"},
        requester={"name": "Aida", "language": "en", "contact": ""},
    )
    sms_volunteer()
    at = timezone.localtime()

    def say(text: str, seconds: int, version: str = "v2") -> str:
        when = (at + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
        sender = {"sender": VOLUNTEER} if version == "v2" else {"phoneNumber": VOLUNTEER}
        fixture = f"received-{version}"
        return post(fake_smsgate.build_fixture(fixture, message=text, receivedAt=when, **sender))

    def state(created: dict) -> str:
        return Api().get(f"/requests/{status_token(created)}").json()["status"]

    assert say(next_word, 0) == "received"
    deliver()
    [first] = texts(fake_smsgate, VOLUNTEER)
    code = first.split(":", 1)[0]
    assert say(f"{code} OK Всё хорошо", 5, "v1") == "received"
    deliver()
    assert len(texts(fake_smsgate, VOLUNTEER)) == 2
    assert say(next_word, 9) == "received"  # the same word again, nine seconds after the first
    deliver()
    second = texts(fake_smsgate, VOLUNTEER)[-1]
    assert len(texts(fake_smsgate, VOLUNTEER)) == 3
    assert second.split(":", 1)[0] not in ("", code) and second.split(":", 1)[0].isdigit()
    assert {"Gulnara", "Serik"} == {n for n in ("Gulnara", "Serik") if n in first + second}
    assert sorted([state(gulnara), state(serik)]) == ["calling", "reached"]  # the next is taken

    # HELP twice, seconds apart: two answers.
    assert say(help_word, 20) == "received"
    assert say(help_word, 24, "v1") == "received"
    deliver()
    assert len(texts(fake_smsgate, VOLUNTEER)) == 5
    assert texts(fake_smsgate, VOLUNTEER)[-1] == texts(fake_smsgate, VOLUNTEER)[-2]

    # The app delivering one SMS again under a new event id: one SMS, one answer.
    once = fake_smsgate.build_fixture("received-v2", sender=VOLUNTEER, message=help_word)
    payload = json.loads(once[0])["payload"]
    assert post(once) == "received"
    assert post(fake_smsgate.build_fixture("received-v2", **payload)) == "duplicate"
    deliver()
    assert len(texts(fake_smsgate, VOLUNTEER)) == 6


def test_twilio_retrying_a_message_is_one_and_a_repeat_is_two(fake_twilio):
    from tests.test_sms_http import INBOUND, PUBLIC, add_gateway

    add_gateway(fake_twilio)

    def inbound(sid: str) -> None:
        params, headers = fake_twilio.build_fixture(
            "inbound", PUBLIC + INBOUND, MessageSid=sid, From=VOLUNTEER
        )
        response = Client().post(
            INBOUND,
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )
        assert response.status_code == 200

    inbound("SM" + "1" * 32)
    inbound("SM" + "1" * 32)  # Twilio retrying the webhook
    inbound("SM" + "2" * 32)  # HELP again: a new message
    deliver()
    assert len(fake_twilio.bodies_to(VOLUNTEER)) == 2


# --- 2. An SMS reported failed is sent again -------------------------------------------


def outcome_sms(fake) -> OutboxMessage:
    """A requester who gave their phone number is told an outcome by SMS."""
    created = submit(
        kind="welfare_check",
        message="",
        requester={"name": "Marat", "language": "en", "contact": REQUESTER},
    )
    volunteer = Api(make_volunteer()[1])
    claim = volunteer.post("/claims").json()
    done = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": "Всё хорошо"}
    )
    assert done.status_code == 200
    deliver()
    [row] = [m for m in OutboxMessage.objects.filter(channel="sms") if m.address == REQUESTER]
    assert row.state == OutboxMessage.State.SENT
    assert status_token(created)
    return row


def fail(fake, row: OutboxMessage, version: str = "v2") -> str:
    """The phone that took the row's latest SMS reports it failed."""
    delivery = SmsDelivery.objects.filter(outbox=row).latest("pk")
    field = {"recipient": REQUESTER} if version == "v2" else {"phoneNumber": REQUESTER}
    return post(fake.build_fixture(f"failed-{version}", messageId=delivery.provider_id, **field))


def test_a_failed_outcome_sms_goes_again_at_once_through_the_other_sim(fake_smsgate):
    with FakeSmsGate(device_id="dev-2") as other:
        second_phone(other)
        row = outcome_sms(fake_smsgate)
        [first] = SmsDelivery.objects.filter(outbox=row)
        took, spare = (
            (fake_smsgate, other) if first.gateway.name == "env" else (other, fake_smsgate)
        )
        assert fail(took, row, "v1") == "failed"
        row.refresh_from_db()
        assert row.state == OutboxMessage.State.PENDING
        assert row.next_try_at <= timezone.now()  # at once: another SIM can take it
        deliver()
        assert len(texts(spare, REQUESTER)) == 1 and len(texts(took, REQUESTER)) == 1
        assert texts(spare, REQUESTER) == texts(took, REQUESTER)
        again = SmsDelivery.objects.filter(outbox=row).latest("pk")
        assert again.gateway != first.gateway and again.provider_id != first.provider_id
        assert post(spare.build_fixture("delivered-v2", messageId=again.provider_id)) == (
            "delivered"
        )
        row.refresh_from_db()
        assert row.state == OutboxMessage.State.SENT
        assert list(SmsDelivery.objects.filter(outbox=row).values_list("state", flat=True)) == [
            "failed",
            "delivered",
        ]


def test_an_sms_twilio_reports_undelivered_goes_again_through_the_phone(fake_smsgate, fake_twilio):
    from tests.test_sms_http import PUBLIC, STATUS, add_gateway

    run_cli("sms", "list")  # the phone from the environment exists…
    SmsGateway.objects.filter(name="env").update(enabled=False)  # …but Twilio sends first
    add_gateway(fake_twilio)
    row = outcome_sms(fake_twilio)
    SmsGateway.objects.filter(name="env").update(enabled=True)
    post(fake_smsgate.build_ping())
    [sid] = [m["sid"] for m in fake_twilio.outbox if m["to"] == REQUESTER]
    params, headers = fake_twilio.build_fixture(
        "status-undelivered", PUBLIC + STATUS, MessageSid=sid, To=REQUESTER
    )
    response = Client().post(
        STATUS, urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert response.content == b"failed"
    deliver()
    assert len(texts(fake_smsgate, REQUESTER)) == 1
    assert fake_twilio.bodies_to(REQUESTER) == texts(fake_smsgate, REQUESTER)
    row.refresh_from_db()
    assert row.state == OutboxMessage.State.SENT


def test_with_one_sim_a_failed_sms_goes_again_later_then_coordinators_see_it(
    fake_smsgate, settings
):
    settings.BAILANYS_SMS_RESENDS = 2
    row = outcome_sms(fake_smsgate)
    now = timezone.now()
    for n in (1, 2):
        assert fail(fake_smsgate, row) == "failed"
        row.refresh_from_db()
        assert row.state == OutboxMessage.State.PENDING
        assert row.next_try_at > timezone.now()  # no other SIM: after the back-off
        run_cli("worker", "--batch")
        assert len(texts(fake_smsgate, REQUESTER)) == n  # not yet
        now += timedelta(hours=1)
        with time_machine.travel(now):
            post(fake_smsgate.build_ping())  # the phone is alive, its SIM failed the SMS
            deliver()
        assert len(texts(fake_smsgate, REQUESTER)) == n + 1  # the same SIM, a new id
    ids = [m["id"] for m in fake_smsgate.outbox if REQUESTER in m["phoneNumbers"]]
    assert len(set(ids)) == 3
    with time_machine.travel(now + timedelta(hours=1)):
        post(fake_smsgate.build_ping())
        assert fail(fake_smsgate, row) == "failed"  # the last of BAILANYS_SMS_RESENDS + 1
        run_cli("worker", "--batch")
    row.refresh_from_db()
    assert row.state == OutboxMessage.State.FAILED
    assert len(texts(fake_smsgate, REQUESTER)) == 3

    username, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, username, password)
    page = browser.get("/console/coordinator/").content.decode()
    assert "Requesters we could not tell by SMS (1)" in page
    assert f"#{row.request.case_id}" in page and f"#{row.request_id}" in page
    assert "+7701•••••01" in page and REQUESTER not in page and "701 555" not in page
    dashboard = browser.get("/console/dashboard/").content.decode()
    assert "Requesters we could not tell by SMS" in dashboard


def test_a_failed_bridge_sms_is_not_sent_again_the_case_goes_to_the_call_queue(
    fake_smsgate, settings
):
    settings.BAILANYS_SMS_BRIDGE_KINDS = ["deliver_message"]
    with FakeSmsGate(device_id="dev-2") as other:
        second_phone(other)
        submit(message="Марат в Германии, всё хорошо")
        deliver()
        [bridge] = [m for m in OutboxMessage.objects.filter(channel="sms") if m.address == GULNARA]
        [delivery] = SmsDelivery.objects.filter(outbox=bridge)
        phone = fake_smsgate if delivery.gateway.name == "env" else other
        assert post(phone.build_fixture("failed-v2", messageId=delivery.provider_id)) == "failed"
        deliver()
        assert len(texts(fake_smsgate, GULNARA) + texts(other, GULNARA)) == 1
        bridge.refresh_from_db()
        assert bridge.state == OutboxMessage.State.FAILED
        claim = Api(make_volunteer()[1]).post("/claims")
        assert claim.status_code == 200 and claim.json()["recipient_phone"] == GULNARA


# --- 3. Stale gateways ------------------------------------------------------------------


def test_a_stale_phone_keeps_its_sms_and_reports_it_delivered_when_it_is_back(fake_smsgate):
    with FakeSmsGate(device_id="dev-2") as other:
        second_phone(other)
        post(fake_smsgate.build_ping())
        SmsGateway.objects.filter(name="sim2").update(enabled=False)
        row = outcome_sms(fake_smsgate)  # on env: sim2 is off
        SmsGateway.objects.filter(name="sim2").update(enabled=True)
        [queued] = SmsDelivery.objects.filter(outbox=row)
        assert queued.state == "queued"
        later = timezone.now() + timedelta(minutes=20)
        with time_machine.travel(later):
            post(other.build_ping())  # sim2 is alive; env has been silent
            run_cli("worker", "--batch")
            assert SmsGateway.objects.get(name="env").stale_since is not None
            deliver()
        assert not texts(other, REQUESTER)  # nothing resent without a report
        with time_machine.travel(later + timedelta(minutes=5)):
            post(fake_smsgate.build_ping())  # env is back
            assert post(fake_smsgate.build_fixture("sent-v1", messageId=queued.provider_id))
            result = post(fake_smsgate.build_fixture("delivered-v1", messageId=queued.provider_id))
            assert result == "delivered"
        with time_machine.travel(later + timedelta(hours=3)):
            post(fake_smsgate.build_ping())
            post(other.build_ping())
            run_cli("worker", "--batch")
            deliver()
        assert len(texts(fake_smsgate, REQUESTER) + texts(other, REQUESTER)) == 1
        queued.refresh_from_db()
        assert queued.state == "delivered"


def test_a_phone_stale_past_the_report_timeout_loses_its_sms_to_another(fake_smsgate):
    with FakeSmsGate(device_id="dev-2") as other:
        second_phone(other)
        post(fake_smsgate.build_ping())
        SmsGateway.objects.filter(name="sim2").update(enabled=False)
        row = outcome_sms(fake_smsgate)
        SmsGateway.objects.filter(name="sim2").update(enabled=True)
        with time_machine.travel(timezone.now() + timedelta(minutes=30)):
            post(other.build_ping())
            run_cli("worker", "--batch")  # env stale, its SMS kept
            deliver()
        assert not texts(other, REQUESTER)
        with time_machine.travel(timezone.now() + timedelta(minutes=61)):
            post(other.build_ping())
            run_cli("worker", "--batch")  # no report for BAILANYS_SMS_REPORT_MINUTES: failed
            deliver()
        assert len(texts(other, REQUESTER)) == 1
        assert list(SmsDelivery.objects.filter(outbox=row).values_list("state", flat=True)) == [
            "failed",
            "queued",
        ]


def test_a_rate_limited_sim_is_waited_for_and_a_stale_one_is_never_the_way_round(
    fake_smsgate,
):
    with FakeSmsGate(device_id="dev-2") as other:
        second_phone(other, per_minute=1)
        # env first: it has the lower id. It drops the connection: stale, the SMS fails over.
        fake_smsgate.fail_next(0)
        post(other.build_fixture("received-v2", sender="+77015550001", message="HELP"))
        run_cli("worker", "--batch")
        assert len(other.outbox) == 1 and not fake_smsgate.outbox
        assert SmsGateway.objects.get(name="env").stale_since is not None
        # sim2 may send one part a minute: the next SMS waits for it, not for env.
        post(other.build_fixture("received-v2", sender="+77015550002", message="HELP"))
        run_cli("worker", "--batch")
        run_cli("worker", "--batch")
        assert not fake_smsgate.outbox and len(other.outbox) == 1
        [waiting] = [m for m in OutboxMessage.objects.all() if m.address == "+77015550002"]
        assert waiting.state == OutboxMessage.State.PENDING
        assert waiting.tries == 0  # waiting is not failing
        # env is heard from again: it is used again, when the message looks next.
        post(fake_smsgate.build_ping())
        with time_machine.travel(timezone.now() + timedelta(seconds=70)):
            deliver()
        assert texts(fake_smsgate, "+77015550002") or texts(other, "+77015550002")


def test_every_gateway_stale_the_sms_waits_until_one_is_heard(fake_smsgate):
    post(fake_smsgate.build_ping())
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        run_cli("worker", "--batch")  # env has been silent: stale
        assert SmsGateway.objects.get(name="env").stale_since is not None
        submit(
            kind="welfare_check",
            message="",
            requester={"name": "Marat", "language": "en", "contact": REQUESTER},
        )
        volunteer = Api(make_volunteer()[1])
        claim = volunteer.post("/claims").json()
        volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached"})
        run_cli("worker", "--batch")
        run_cli("worker", "--batch")
        assert not fake_smsgate.outbox
        row = OutboxMessage.objects.get(channel="sms")
        assert row.state == OutboxMessage.State.PENDING and row.tries == 0
        post(fake_smsgate.build_ping())  # heard from: used again, when the message looks next
    with time_machine.travel(timezone.now() + timedelta(minutes=22)):
        deliver()
    assert texts(fake_smsgate, REQUESTER)


# --- 4. A report on an id we never sent -------------------------------------------------


@pytest.mark.parametrize("name", ["sent-v1", "delivered-v2", "failed-v1", "failed-v2"])
def test_a_report_on_an_unknown_message_is_answered_unknown(fake_smsgate, name):
    assert post(fake_smsgate.build_fixture(name, messageId="bl-" + "0" * 32)) == "unknown"
    assert not SmsDelivery.objects.exists()


def test_a_twilio_report_on_an_unknown_message_is_answered_unknown(fake_twilio):
    from tests.test_sms_http import PUBLIC, STATUS, add_gateway

    add_gateway(fake_twilio)
    params, headers = fake_twilio.build_fixture(
        "status-undelivered", PUBLIC + STATUS, MessageSid="SM" + "e" * 32
    )
    response = Client().post(
        STATUS, urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert response.status_code == 200 and response.content == b"unknown"
