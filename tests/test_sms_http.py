"""The SMS channel through a Twilio-style HTTP provider, against a fake Twilio on a real socket.

Incoming messages and status callbacks arrive form-encoded and signed with X-Twilio-Signature,
as Twilio sends them; outbound SMS leave through the outbox (`bailanys worker --batch`) and the
fake's log is what is asserted.
"""

import logging
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bailanys.channels.models import (
    SmsDelivery,
    SmsEvent,
    SmsGateway,
    SmsInbound,
)
from bailanys.channels.sms.twilio import signature_valid
from bailanys.outbox.models import OutboxMessage
from tests.conftest import Api, make_account, run_cli
from tests.conftest import outbox_drain as deliver
from tests.fakes.twilio import FakeTwilio, sign

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "https://relay.example.org"
INBOUND = "/channels/http-sms/twilio/inbound"
STATUS = "/channels/http-sms/twilio/status"
MUM = "+77012345678"
TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_PUBLIC_URL = PUBLIC
    settings.BAILANYS_SMS_JOIN_SECONDS = 0


def add_gateway(fake: FakeTwilio, name: str = "twilio") -> SmsGateway:
    """As an operator adds one: `bailanys sms add NAME URL --kind http …`."""
    out = run_cli(
        "sms",
        "add",
        name,
        fake.url,
        "--kind",
        "http",
        "--username",
        "AC" + "0" * 32,
        "--password",
        "token",
        "--from-number",
        "+15005550006",
        "--per-minute",
        "600",
        "--daily-cap",
        "1000",
    )
    assert f"/channels/http-sms/{name}/inbound" in out
    return SmsGateway.objects.get(name=name)


@pytest.fixture
def twilio(fake_twilio):
    add_gateway(fake_twilio)
    return fake_twilio


def post(path: str, built: tuple[dict, dict]):
    data, headers = built
    return Client().post(
        path,
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def receive(fake: FakeTwilio, sender: str, text: str, sid: str | None = None):
    response = post(INBOUND, fake.build_inbound(PUBLIC + INBOUND, sender, text, sid))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    assert response.content == TWIML
    return response


def report(fake: FakeTwilio, sid: str, status: str):
    """Twilio's status callback to the URL it was given with the message."""
    url = next(m["status_callback"] for m in fake.outbox if m["sid"] == sid)
    response = post(urlsplit(url).path, fake.build_status(url, sid, status))
    assert response.status_code == 200, response.content
    return response


def test_the_signature_is_twilios():
    """The example of Twilio's helper libraries (twilio-python's RequestValidator tests)."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert signature_valid("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert signature_valid(
        "12345", url, {k: [v] for k, v in params.items()}, sign("12345", url, params)
    )
    # Twilio has signed the URL with and without the scheme's port.
    assert signature_valid("12345", url, params, "kvajT1Ptam85bY51eRf/AJRuM3w=")  # :443
    assert signature_valid(
        "12345", url.replace(".com", ".com:1234"), params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    assert not signature_valid(
        "12345", url, {**params, "Digits": "1235"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    assert not signature_valid("54321", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not signature_valid("12345", url, params, "")
    assert not signature_valid("", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not signature_valid("12345", url, params, "ÿ" * 28)


def test_an_sms_request_becomes_a_case_and_the_answer_goes_out_through_the_provider(twilio):
    sender = "+77017654321"
    receive(twilio, sender, "Позвоните маме Гульнаре 8 701 234 56 78, Алматы")
    deliver()
    with translation.override("ru"):
        received = _("Received. A volunteer will call them. We will text you the answer.")
    assert twilio.bodies_to(sender) == [received]
    sent = twilio.outbox[0]
    assert sent["from"] == "+15005550006"
    assert sent["status_callback"] == PUBLIC + STATUS
    delivery = SmsDelivery.objects.get()
    assert delivery.provider_id == sent["sid"] and delivery.state == "queued"
    assert OutboxMessage.objects.get().provider_id == f"sms-{sent['sid']}"

    _username, _password, token = make_account()
    claim = Api(token).post("/claims").json()
    assert claim["recipient_phone"] == MUM
    done = Api(token).post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": "Всё хорошо"}
    )
    assert done.status_code == 200
    deliver()
    assert "Всё хорошо" in twilio.bodies_to(sender)[-1]


def test_a_forged_or_missing_signature_is_refused_and_nothing_is_stored(twilio):
    data, headers = twilio.build_inbound(PUBLIC + INBOUND, MUM, "help")
    assert post(INBOUND, (data, {"X-Twilio-Signature": "A" * 27 + "="})).status_code == 403
    assert post(INBOUND, (data, {})).status_code == 403
    assert post(INBOUND, ({**data, "Body": "STOP"}, headers)).status_code == 403  # body changed
    assert post(INBOUND, ({**data, "Extra": ""}, headers)).status_code == 403  # a field added
    wrong_token = {"X-Twilio-Signature": sign("not-the-token", PUBLIC + INBOUND, data)}
    assert post(INBOUND, (data, wrong_token)).status_code == 403
    # Signed for the address Django sees, not the public one Twilio was given.
    local = twilio.build_inbound("http://testserver" + INBOUND, MUM, "help")
    assert post(INBOUND, local).status_code == 403
    # Signed for the other endpoint.
    assert post(STATUS, (data, headers)).status_code == 403
    assert not SmsInbound.objects.exists()
    assert not SmsEvent.objects.exists()
    assert not OutboxMessage.objects.exists()

    # Unknown, disabled or not-HTTP gateways are answered like a wrong signature (issue 16,
    # item 8): the webhook does not tell which gateway names exist.
    other = twilio.build_inbound(PUBLIC + "/channels/http-sms/nobody/inbound", MUM, "help")
    unknown = post("/channels/http-sms/nobody/inbound", other)
    SmsGateway.objects.create(name="phone", kind="smsgate", url="http://127.0.0.1:9")
    phone = twilio.build_inbound(PUBLIC + "/channels/http-sms/phone/inbound", MUM, "help")
    not_http = post("/channels/http-sms/phone/inbound", phone)
    forged = post(INBOUND, ({**data, "Body": "changed"}, headers))
    assert unknown.status_code == not_http.status_code == forged.status_code == 403
    assert unknown.content == not_http.content == forged.content
    SmsGateway.objects.filter(name="twilio").update(enabled=False)
    assert post(INBOUND, (data, headers)).status_code == 403  # a disabled gateway, likewise
    SmsGateway.objects.filter(name="twilio").update(enabled=True)
    assert Client().get(INBOUND, headers=headers).status_code == 405
    assert not SmsInbound.objects.exists()

    assert post(INBOUND, (data, headers)).status_code == 200  # the genuine one
    assert SmsInbound.objects.count() == 1


def test_without_a_public_url_the_address_django_sees_is_checked(twilio, settings):
    settings.BAILANYS_PUBLIC_URL = ""
    public = twilio.build_inbound(PUBLIC + INBOUND, MUM, "help")
    assert post(INBOUND, public).status_code == 403
    local = twilio.build_inbound("http://testserver" + INBOUND, MUM, "help")
    assert post(INBOUND, local).status_code == 200
    deliver()
    assert "StatusCallback" not in twilio.outbox[0]["form"]  # nowhere Twilio could reach


def test_a_retried_inbound_webhook_is_taken_once(twilio):
    sid = "SM" + "a" * 32
    receive(twilio, MUM, "help", sid=sid)
    receive(twilio, MUM, "help", sid=sid)  # Twilio retrying: answered 200, taken once
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        receive(twilio, MUM, "help", sid=sid)  # long after the same-text window too
        deliver()
    assert SmsInbound.objects.count() == 1
    assert len(twilio.bodies_to(MUM)) == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        receive(twilio, MUM, "help")  # a new message with the same text: a real repeat
        deliver()
    assert len(twilio.bodies_to(MUM)) == 2


def test_status_callbacks_move_the_delivery_and_duplicates_change_nothing(twilio):
    receive(twilio, MUM, "help")
    deliver()
    sid = twilio.outbox[0]["sid"]
    delivery = SmsDelivery.objects.get(provider_id=sid)

    def state() -> str:
        delivery.refresh_from_db()
        return delivery.state

    for status in ("queued", "sending"):
        report(twilio, sid, status)
        assert state() == "queued"
    report(twilio, sid, "sent")
    assert state() == "sent"
    report(twilio, sid, "delivered")
    assert state() == "delivered"
    reported_at = delivery.reported_at
    assert reported_at is not None
    report(twilio, sid, "delivered")  # Twilio sent it twice
    report(twilio, sid, "sent")  # a late "sent" does not undo "delivered"
    report(twilio, sid, "failed")
    assert state() == "delivered"
    assert delivery.reported_at == reported_at

    for n, status in enumerate(("undelivered", "failed")):
        receive(twilio, f"+7701555000{n}", "help")
        deliver()
        sid = twilio.outbox[-1]["sid"]
        report(twilio, sid, "sent")
        report(twilio, sid, status)
        assert SmsDelivery.objects.get(provider_id=sid).state == "failed"

    # Signed but not understood: answered 200, so Twilio does not retry, and nothing moves.
    before = sorted(SmsDelivery.objects.values_list("pk", "state", "reported_at"))
    data, headers = twilio.build_status(PUBLIC + STATUS, "SM" + "f" * 32, "delivered")
    assert post(STATUS, (data, headers)).status_code == 200
    for params in (
        {"MessageSid": sid, "MessageStatus": "read"},
        {"MessageStatus": "delivered"},
        {},
    ):
        headers = {"X-Twilio-Signature": sign("token", PUBLIC + STATUS, params)}
        assert post(STATUS, (params, headers)).status_code == 200
    assert sorted(SmsDelivery.objects.values_list("pk", "state", "reported_at")) == before

    forged = twilio.build_status(PUBLIC + STATUS, twilio.outbox[0]["sid"], "failed")
    assert post(STATUS, (forged[0], {"X-Twilio-Signature": "x"})).status_code == 403


def test_a_provider_error_leaves_the_message_for_a_retry(twilio):
    twilio.fail_next(503)
    receive(twilio, MUM, "help")
    run_cli("worker", "--batch")
    message = OutboxMessage.objects.get()
    assert message.state == OutboxMessage.State.PENDING
    assert message.last_error.startswith("ChannelError")
    assert not twilio.outbox
    assert [c["status"] for c in twilio.calls] == [503]
    assert SmsGateway.objects.get(name="twilio").stale_since is not None
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        deliver()
    assert len(twilio.bodies_to(MUM)) == 1  # the only gateway, stale or not
    assert OutboxMessage.objects.get().state == OutboxMessage.State.SENT


def test_a_provider_error_fails_over_to_the_next_gateway_at_once(twilio):
    with FakeTwilio() as backup:
        add_gateway(backup, "backup")
        for failure in (502, 0, 401, 429):  # an error, a dropped connection, a login, a limit
            twilio.fail_next(failure)
            receive(twilio, f"+7701555{failure:04d}", "help")  # also clears "stale"
            run_cli("worker", "--batch")  # once: no retry needed
        assert not twilio.outbox
        assert len(backup.outbox) == 4
        assert set(SmsDelivery.objects.values_list("gateway__name", flat=True)) == {"backup"}
        assert not OutboxMessage.objects.exclude(state=OutboxMessage.State.SENT).exists()

        twilio.fail_next(503)
        receive(twilio, MUM, "help")
        run_cli("worker", "--batch")
        assert SmsGateway.objects.get(name="twilio").stale_since is not None
        receive(twilio, "+77015550001", "help")  # Twilio reaching us: it is up again
        assert SmsGateway.objects.get(name="twilio").stale_since is None


def test_a_refused_message_fails_for_good_without_the_number_in_the_error(twilio):
    twilio.fail_next(400, code=21211, message=f"The 'To' number {MUM} is not a valid phone number.")
    receive(twilio, MUM, "help")
    run_cli("worker", "--batch")
    message = OutboxMessage.objects.get()
    assert message.state == OutboxMessage.State.FAILED
    assert "21211" in message.last_error
    assert MUM not in message.last_error and MUM[1:] not in message.last_error
    assert SmsGateway.objects.get(name="twilio").stale_since is None


@hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=500), sender=st.sampled_from([MUM, "87011234567", "Kaspi", "+1"]))
def test_any_inbound_text_is_taken_without_an_error(twilio, caplog, text, sender):
    caplog.set_level(logging.ERROR)
    receive(twilio, sender, text)
    run_cli("worker", "--batch")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
