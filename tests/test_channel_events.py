"""What the SMS channel hears becomes typed events (bailanys.channels.events), whoever listens.

Each test posts what sms-gate.app posts (signed, over the webhook) and listens the way a
conversation does, with `subscribe`: the channel says what came in, not what it means.
"""

from contextlib import contextmanager

import pytest
from django.test import Client

from bailanys.channels.events import (
    DeliveryReport,
    Heartbeat,
    TextReceived,
    subscribe,
    unsubscribe,
)
from tests.conftest import outbox_drain, submit

pytestmark = pytest.mark.django_db(transaction=True)
MUM = "+77012345678"


@contextmanager
def listening(event_type):
    heard = []
    subscribe(event_type, heard.append)
    try:
        yield heard
    finally:
        unsubscribe(event_type, heard.append)


def post(built) -> dict:
    body, headers = built
    response = Client().post(
        "/channels/smsgate/webhook", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_phones_ping_is_a_heartbeat_with_its_battery_and_network(fake_smsgate):
    with listening(Heartbeat) as heard:
        assert post(fake_smsgate.build_ping(battery=17, network="cellular")) == {"result": "ping"}
    assert len(heard) == 1
    assert heard[0].channel == "sms"
    assert heard[0].details == {"battery": 17, "network": "cellular"}


def test_a_received_sms_is_one_text_event_with_the_whole_text(fake_smsgate, settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    with listening(TextReceived) as heard:
        assert post(fake_smsgate.build_received(MUM, "Аман, бәрі жақсы")) == {"result": "received"}
        outbox_drain()  # the worker joins the parts, then the event goes out
    assert [(e.channel, e.sender, e.text, e.is_phone) for e in heard] == [
        ("sms", MUM, "Аман, бәрі жақсы", True)
    ]


def test_a_final_delivery_report_names_the_outbox_row(anon, fake_smsgate):
    submit(anon, phone=MUM)  # deliver_message: the bridge texts MUM
    outbox_drain()
    [sent] = [m for m in fake_smsgate.outbox if MUM in m["phoneNumbers"]]
    with listening(DeliveryReport) as heard:
        post(fake_smsgate.build_report(sent["id"], "sent"))
        assert heard == []  # "sent" is not final: nobody is told
        post(fake_smsgate.build_report(sent["id"], "delivered"))
    assert [(e.channel, e.state) for e in heard] == [("sms", "delivered")]
    assert heard[0].outbox_id > 0
