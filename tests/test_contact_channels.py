"""A requester who leaves a phone number or a Telegram chat id as their contact on the web
form or the API is told there too, as well as on their status page (README, "Contacts").

Through the public API, to the fake sms-gate phone and the fake Bot API over real sockets.
"""

import pytest

from bailanys.outbox.models import OutboxMessage
from tests.conftest import Api, outbox_drain, request_body, status_token

pytestmark = pytest.mark.django_db(transaction=True)

REPLY = "We are all safe at home"


def reached(anon: Api, volunteer: Api, contact: str) -> dict:
    """A welfare check with this contact, called and reached; returns the created request."""
    body = request_body(kind="welfare_check", message="")
    body["requester"]["contact"] = contact
    created = anon.post("/requests", body)
    assert created.status_code == 201, created.content
    claim = volunteer.post("/claims").json()
    done = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": REPLY}
    )
    assert done.status_code == 200, done.content
    outbox_drain()
    return created.json()


def status_page_says(anon: Api, created: dict) -> str:
    """The notices on the requester's status page: exactly one, whatever else was sent."""
    notices = anon.get(f"/requests/{status_token(created)}").json()["notifications"]
    assert len(notices) == 1, notices
    return notices[0]


def test_a_phone_number_contact_gets_the_answer_by_sms(anon, volunteer, fake_smsgate):
    created = reached(anon, volunteer, "+44 7911 123456")
    texts = [m["text"] for m in fake_smsgate.outbox if "+447911123456" in m["phoneNumbers"]]
    assert len(texts) == 1
    assert REPLY in texts[0]
    assert "Gulnara" in texts[0]
    assert REPLY in status_page_says(anon, created)


def test_a_telegram_chat_id_contact_gets_the_answer_from_the_bot(anon, volunteer, fake_telegram):
    created = reached(anon, volunteer, "tg:424242")
    to_chat = [m for m in fake_telegram.sent_messages() if str(m["chat_id"]) == "424242"]
    assert len(to_chat) == 1
    assert REPLY in to_chat[0]["text"]
    assert REPLY in status_page_says(anon, created)


@pytest.mark.parametrize("contact", ["marat@example.org", "Marat, Berlin", "tg:@marat", ""])
def test_any_other_contact_is_told_on_the_status_page_only(
    anon, volunteer, fake_smsgate, fake_telegram, contact
):
    created = reached(anon, volunteer, contact)
    assert [m for m in fake_smsgate.outbox if "Gulnara" in m["text"]] == []
    assert fake_telegram.sent_messages() == []
    assert REPLY in status_page_says(anon, created)


def test_without_an_sms_gateway_a_phone_number_contact_is_told_on_the_status_page(anon, volunteer):
    created = reached(anon, volunteer, "+44 7911 123456")
    assert REPLY in status_page_says(anon, created)
    # No SMS row waits for a gateway that is not there (it would fail after its retries).
    assert list(OutboxMessage.objects.values_list("channel", flat=True)) == ["web"]


@pytest.mark.parametrize("contact", ["+1 900 555 1234", "+881 6 1234 5678", "8 800 123 45 67"])
def test_a_paid_satellite_or_service_contact_number_is_not_texted(
    anon, volunteer, fake_smsgate, contact
):
    created = reached(anon, volunteer, contact)
    assert [m for m in fake_smsgate.outbox if "Gulnara" in m["text"]] == []
    assert REPLY in status_page_says(anon, created)
