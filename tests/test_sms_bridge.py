"""The SMS bridge and the safe check-in, through the API, the webhook and the worker."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tests.conftest import Api, make_volunteer, request_body, run_cli, status_token
from tests.conftest import outbox_drain as deliver

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/channels/smsgate/webhook"
GULNARA = "+77012345678"
DECOY = "+77019990000"


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 600  # the SIM's rate is tested in test_sms.py


def sms(fake, phone: str, text: str) -> str:
    body, headers = fake.build_received(phone, text)
    response = Client().post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    return response.json()["result"]


def report(fake, message_id: str, state: str) -> None:
    body, headers = fake.build_report(message_id, state)
    Client().post(URL, data=body, content_type="application/json", headers=headers)


def status(created: dict) -> dict:
    return Api().get(f"/requests/{status_token(created)}").json()


def submit(**overrides) -> dict:
    response = Api().post("/requests", request_body(**overrides))
    assert response.status_code == 201, response.content
    return response.json()


def to(fake, phone: str) -> list[dict]:
    return [m for m in fake.outbox if phone in m["phoneNumbers"]]


def test_the_bridge_end_to_end(fake_smsgate):
    created = submit(message="Марат в Германии, всё хорошо, скоро позвонит")
    deliver()
    [sent] = to(fake_smsgate, GULNARA)
    assert "Марат в Германии, всё хорошо" in sent["text"]
    assert "B" in sent["text"]  # the case reference
    volunteer = Api(make_volunteer()[1])
    assert volunteer.post("/claims").status_code == 204  # waiting for the SMS answer

    report(fake_smsgate, sent["id"], "sent")
    deliver()
    assert not status(created)["notifications"]  # "sent" is not "delivered"
    report(fake_smsgate, sent["id"], "delivered")
    deliver()
    [note] = status(created)["notifications"]
    assert note.startswith("Gulnara (+7701*****78): your message was delivered by SMS.")

    assert sms(fake_smsgate, "87012345678", "Спасибо, сынок, ждём тебя") == "received"
    deliver()
    seen = status(created)
    assert seen["status"] == "reached"
    assert seen["reply"] == "Спасибо, сынок, ждём тебя"
    assert any("got your message by SMS" in n for n in seen["notifications"])
    with translation.override("ru"):  # she wrote in Russian
        thanks = _("Thank you. Your answer was passed on.")
    assert to(fake_smsgate, GULNARA)[-1]["text"] == thanks


def test_a_failed_bridge_goes_to_the_call_queue_at_once(fake_smsgate):
    submit()
    deliver()
    [sent] = to(fake_smsgate, GULNARA)
    volunteer = Api(make_volunteer()[1])
    assert volunteer.post("/claims").status_code == 204
    report(fake_smsgate, sent["id"], "failed")
    claim = volunteer.post("/claims")
    assert claim.status_code == 200 and claim.json()["recipient_phone"] == GULNARA


def test_no_answer_in_time_puts_the_case_in_the_call_queue(fake_smsgate):
    submit()
    deliver()
    volunteer = Api(make_volunteer()[1])
    assert volunteer.post("/claims").status_code == 204
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert volunteer.post("/claims").status_code == 200


def test_welfare_checks_are_not_bridged_by_default(fake_smsgate):
    submit(kind="welfare_check", message="")
    deliver()
    assert not to(fake_smsgate, GULNARA)
    assert Api(make_volunteer()[1]).post("/claims").status_code == 200


@pytest.mark.parametrize("word", ["SAFE, all good here", "Аман! бәрі жақсы", "жив. Всё хорошо"])
def test_a_safe_check_in_answers_every_request_for_the_number_and_no_other(fake_smsgate, word):
    mine = [
        submit(kind="welfare_check", message="", requester={"name": n, "language": "en"})
        for n in ("Marat", "Aigerim", "Serik")
    ]
    decoy = submit(phone=DECOY, kind="welfare_check", message="")
    assert sms(fake_smsgate, "Kaspi", "SAFE") == "received"  # an alphanumeric sender
    deliver()
    assert all(status(c)["status"] == "waiting" for c in [*mine, decoy])

    sms(fake_smsgate, GULNARA, word)
    deliver()
    words = word.split(maxsplit=1)[1]
    for created in mine:
        seen = status(created)
        assert seen["status"] == "self_reported"
        # No PIN: nothing shows she knows any of them, so her words go to nobody.
        assert seen["reply"] == ""
        assert all(words not in n for n in seen["notifications"])
        assert any("self-reported, unverified" in n for n in seen["notifications"])
    assert status(decoy)["status"] == "waiting"
    [answer] = to(fake_smsgate, GULNARA)
    # Three requests answered (one case), and never their names.
    assert answer["text"].endswith(" 3.")
    assert "Marat" not in answer["text"] and "Aigerim" not in answer["text"]


def test_a_later_help_overrides_the_check_in_and_keeps_the_history(fake_smsgate):
    created = submit(kind="welfare_check", message="")
    sms(fake_smsgate, GULNARA, "SAFE")
    deliver()
    assert status(created)["status"] == "self_reported"
    sms(fake_smsgate, GULNARA, "КӨМЕК")
    deliver()
    seen = status(created)
    assert seen["status"] == "waiting"
    assert any("self-reported" in n for n in seen["notifications"])  # the history stays
    assert any("asked for help by SMS" in n for n in seen["notifications"])
    claim = Api(make_volunteer()[1]).post("/claims")
    assert claim.status_code == 200 and claim.json()["recipient_phone"] == GULNARA


VOLUNTEER_PHONE = "+77770001122"


def test_an_sms_only_volunteer_works_a_case_to_the_requesters_status_page(fake_smsgate):
    from tests.conftest import Browser, make_account

    created = submit(kind="welfare_check", message="")
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    bad = browser.post("/console/sms/", {"phone": "12"})
    assert bad.status_code == 422
    page = browser.post("/console/sms/", {"phone": "8 777 000 11 22"}).content.decode()
    assert "+7 777 000 1122" in page

    sms(fake_smsgate, VOLUNTEER_PHONE, "NEXT")
    deliver()
    [case] = to(fake_smsgate, VOLUNTEER_PHONE)
    assert "Gulnara" in case["text"] and "+7 701 234 5678" in case["text"]
    code = case["text"].split(":", 1)[0]

    sms(fake_smsgate, VOLUNTEER_PHONE, f"{code} OK Всё хорошо, ждём")
    deliver()
    assert to(fake_smsgate, VOLUNTEER_PHONE)[-1]["text"].startswith("Saved")
    seen = status(created)
    assert seen["status"] == "reached" and seen["reply"] == "Всё хорошо, ждём"

    sms(fake_smsgate, VOLUNTEER_PHONE, f"{code} NA")  # too late: the case is closed
    deliver()
    assert "not yours" in to(fake_smsgate, VOLUNTEER_PHONE)[-1]["text"]


def test_a_suspended_volunteer_gets_nothing_by_sms(fake_smsgate):
    from tests.conftest import Browser, make_account

    submit(kind="welfare_check", message="")
    username, password, _token = make_account()
    browser = Browser()
    browser.login(username, password)
    browser.post("/console/sms/", {"phone": VOLUNTEER_PHONE})
    run_cli("volunteer", "suspend", username)
    sms(fake_smsgate, VOLUNTEER_PHONE, "next")
    deliver()
    assert "not active" in to(fake_smsgate, VOLUNTEER_PHONE)[-1]["text"]
    claim = Api(make_volunteer()[1]).post("/claims")
    assert claim.status_code == 200  # the case is still waiting for someone else


def test_a_pin_verifies_the_check_in_for_the_requester_who_set_it(fake_smsgate):
    bad = Api().post("/requests", request_body(kind="welfare_check", message="", checkin_pin="12a"))
    assert bad.status_code == 422 and "checkin_pin" in bad.json()["errors"]
    with_pin = submit(kind="welfare_check", message="", checkin_pin="4821")
    without = submit(kind="welfare_check", message="", requester={"name": "Aida"})
    sms(fake_smsgate, GULNARA, "SAFE 4821 всё хорошо")
    deliver()
    verified = status(with_pin)
    assert verified["status"] == "self_reported_pin"
    assert verified["reply"] == "всё хорошо"  # the PIN is not part of the reply
    assert any("PIN-verified" in n for n in verified["notifications"])
    plain = status(without)
    assert plain["status"] == "self_reported"
    assert any("unverified" in n for n in plain["notifications"])


def test_a_wrong_pin_verifies_nothing(fake_smsgate):
    created = submit(kind="welfare_check", message="", checkin_pin="4821")
    sms(fake_smsgate, GULNARA, "аман 1234")
    deliver()
    assert status(created)["status"] == "self_reported"


def test_coordinators_choose_the_bridged_kinds_and_add_gateways_in_the_console(fake_smsgate):
    from tests.conftest import Browser, login_coordinator, make_account
    from tests.fakes.smsgate import FakeSmsGate

    username, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, username, password)
    saved = browser.post("/console/sms/gateways/", {"action": "bridge", "kinds": ["welfare_check"]})
    assert saved.status_code == 200
    submit()  # deliver_message: no longer bridged
    asked = submit(phone=DECOY, kind="welfare_check", message="")  # now bridged
    deliver()
    assert not to(fake_smsgate, GULNARA)
    [sms_] = to(fake_smsgate, DECOY)
    with translation.override("ru"):  # the recipient's language
        asks = (
            _(
                "%(sender)s asks, via Bailanys volunteers, whether you are safe. Reply to "
                "this SMS to answer. %(ref)s"
            )
            .split("%(sender)s")[1]
            .split(".")[0]
        )
    assert asks in sms_["text"]
    sms(fake_smsgate, DECOY, "Да, всё хорошо")
    deliver()
    assert status(asked)["reply"] == "Да, всё хорошо"

    refused = browser.post(
        "/console/sms/gateways/",
        {"action": "add", "name": "bad name!", "kind": "http", "url": "ftp://x", "per_minute": "0"},
    )
    assert refused.status_code == 422
    page = refused.content.decode()
    for field in ("name", "url", "from_number", "per_minute"):
        assert f"{field}:" in page
    with FakeSmsGate() as other:
        added = browser.post(
            "/console/sms/gateways/",
            {
                "action": "add",
                "name": "beeline",
                "kind": "smsgate",
                "url": other.url,
                "username": other.username,
                "password": other.password,
                "prefixes": "705,777",
            },
        )
        assert added.status_code == 200 and "beeline" in added.content.decode()
        off = browser.post("/console/sms/gateways/", {"action": "disable", "name": "beeline"})
        assert "switched off" in off.content.decode()


def test_check_ins_from_one_number_are_rate_limited(fake_smsgate, settings):
    settings.BAILANYS_CHECKIN_LIMIT_PER_NUMBER = "2/3600"
    number = "+77019994433"
    for words in ("all fine", "all good", "still fine"):  # the same text twice is one SMS
        sms(fake_smsgate, number, f"SAFE {words}")
    deliver()
    answers = [m["text"] for m in to(fake_smsgate, number)]
    assert len(answers) == 3
    assert sum("Too many" in a for a in answers) == 1  # the third within the hour


def test_an_answer_to_the_bridge_that_starts_with_a_safe_word_is_relayed_whole(fake_smsgate):
    """ "Живы, всё хорошо" from the number we texted answers our SMS: not a bare check-in."""
    created = submit(message="Марат в Германии, всё хорошо")
    deliver()
    [sent] = to(fake_smsgate, GULNARA)
    report(fake_smsgate, sent["id"], "delivered")
    sms(fake_smsgate, GULNARA, "Живы, всё хорошо. Дома, ждём Марата")
    deliver()
    seen = status(created)
    assert seen["status"] == "reached", "answered by SMS, not an unverified check-in"
    assert seen["reply"] == "Живы, всё хорошо. Дома, ждём Марата"
    with translation.override("ru"):
        thanks = _("Thank you. Your answer was passed on.")
    assert to(fake_smsgate, GULNARA)[-1]["text"] == thanks


def test_a_bridge_answer_after_a_call_closed_the_case_still_reaches_the_requesters(
    fake_smsgate,
):
    created = submit(message="Марат в Германии, всё хорошо")
    deliver()
    [sent] = to(fake_smsgate, GULNARA)
    report(fake_smsgate, sent["id"], "delivered")
    volunteer = Api(make_volunteer()[1])
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        claim = volunteer.post("/claims").json()  # the SMS went unanswered: a call
        answer = volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached"})
        assert answer.json()["case_state"] == "closed"
        deliver()
        before = len(status(created)["notifications"])
        # She answers the SMS at last, hours after it came.
        sms(fake_smsgate, GULNARA, "Спасибо, сынок, ждём тебя")
        deliver()
    seen = status(created)
    assert seen["status"] == "reached"
    assert len(seen["notifications"]) == before + 1
    assert "Спасибо, сынок, ждём тебя" in seen["notifications"][-1]
