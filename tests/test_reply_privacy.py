"""Knowing a number is not knowing the person: the recipient decides who hears their words."""

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from tests.conftest import Browser, html, make_account, request_body, run_cli, status_token, submit

REPLY = "We are safe, tell Marat we love him"


def _stranger(api):
    body = request_body(
        requester={"name": "Stranger Bolat", "language": "en", "contact": ""},
        message="Where are you staying now?",
    )
    response = api.post("/requests", body)
    assert response.status_code == 201, response.content
    return response.json()


def _status_page(token: str) -> str:
    from django.test import Client
    from django.urls import reverse

    return html(Client().get(reverse("relay:status", args=[token])))


# The worker closes stale connections, which a test transaction cannot survive.
@pytest.mark.django_db(transaction=True)
def test_a_second_requester_with_only_the_number_sees_no_reply_and_no_names(anon, volunteer):
    first = submit(anon)
    second = _stranger(anon)
    assert first["case_id"] == second["case_id"]
    token = status_token(second)

    claim = volunteer.post("/claims").json()
    before = anon.get(f"/requests/{token}").json()
    assert before["reply"] == "" and before["notifications"] == []
    page = _status_page(token)
    assert "Marat" not in page and "Gulnara" in page  # their own words only

    r = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": REPLY}
    )
    assert r.status_code == 200
    run_cli("worker", "--batch")

    after = anon.get(f"/requests/{token}").json()
    assert after["status"] == "reached"
    assert after["reply"] == ""
    assert len(after["notifications"]) == 1
    for text in (after["reply"], *after["notifications"]):
        assert REPLY not in text and "love" not in text and "Marat" not in text
    assert "did not say they know you" in after["notifications"][0]
    page = _status_page(token)
    assert REPLY not in page and "Marat" not in page


@pytest.mark.django_db(transaction=True)
def test_the_volunteer_ticks_whom_the_recipient_knows_through_the_api(anon, volunteer):
    first = submit(anon)
    second = _stranger(anon)
    claim = volunteer.post("/claims").json()
    messages = claim["messages"]
    assert [m["confirmed"] for m in messages] == [False, False]
    script = claim["call_script"]  # in her language: it names them and asks whom she knows
    with translation.override("ru"):
        asks = _("Which of them do you know? I will pass your words only to those you know.")
    assert "Marat" in script and "Stranger Bolat" in script and asks in script

    bad = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome",
        {"outcome": "reached", "reply": REPLY, "known_requests": [999999]},
    )
    assert bad.status_code == 422
    assert "known_requests" in bad.json()["errors"]

    r = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome",
        {"outcome": "reached", "reply": REPLY, "known_requests": [first["request_id"]]},
    )
    assert r.status_code == 200
    run_cli("worker", "--batch")
    known = anon.get(f"/requests/{status_token(first)}").json()
    assert known["reply"] == REPLY
    assert REPLY in known["notifications"][0]
    stranger = anon.get(f"/requests/{status_token(second)}").json()
    assert stranger["reply"] == "" and REPLY not in stranger["notifications"][0]


@pytest.mark.django_db(transaction=True)
def test_a_single_requester_gets_the_reply_without_an_extra_question(anon, volunteer):
    created = submit(anon)
    claim = volunteer.post("/claims").json()
    assert claim["messages"][0]["request_id"] == created["request_id"]
    volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": REPLY})
    run_cli("worker", "--batch")
    status = anon.get(f"/requests/{status_token(created)}").json()
    assert status["reply"] == REPLY and REPLY in status["notifications"][0]


@pytest.mark.django_db(transaction=True)
def test_a_single_requester_the_volunteer_unticks_gets_no_reply(anon, volunteer):
    created = submit(anon)
    claim = volunteer.post("/claims").json()
    volunteer.post(
        f"/claims/{claim['claim_id']}/outcome",
        {"outcome": "reached", "reply": REPLY, "known_requests": []},
    )
    run_cli("worker", "--batch")
    status = anon.get(f"/requests/{status_token(created)}").json()
    assert status["reply"] == "" and REPLY not in status["notifications"][0]


@pytest.mark.django_db(transaction=True)
def test_the_console_lists_the_requesters_and_its_ticks_pass_the_reply(anon):
    first = submit(anon)
    second = _stranger(anon)
    name, password, _token = make_account()
    browser = Browser()
    browser.login(name, password)
    browser.post("/console/take/")
    console = html(browser.get("/console/"))
    assert console.count("not confirmed yet") == 2
    assert f'name="known" value="{first["request_id"]}"' in console
    assert f'name="known" value="{second["request_id"]}"' in console
    assert "checked" not in console.split('name="known"')[1].split(">")[0]  # two: none ticked
    claim_id = console.split("/console/claims/")[1].split("/")[0]
    browser.post(
        f"/console/claims/{claim_id}/outcome/",
        {"outcome": "reached", "reply": REPLY, "known_asked": "1", "known": [second["request_id"]]},
    )
    run_cli("worker", "--batch")
    assert anon.get(f"/requests/{status_token(second)}").json()["reply"] == REPLY
    assert anon.get(f"/requests/{status_token(first)}").json()["reply"] == ""


@pytest.mark.django_db(transaction=True)
def test_the_console_ticks_a_lone_requester_and_unticking_withholds(anon):
    created = submit(anon)
    name, password, _token = make_account()
    browser = Browser()
    browser.login(name, password)
    browser.post("/console/take/")
    console = html(browser.get("/console/"))
    box = console.split('name="known"')[1].split(">")[0]
    assert "checked" in box
    claim_id = console.split("/console/claims/")[1].split("/")[0]
    # Unticked: the browser sends known_asked and no "known".
    browser.post(
        f"/console/claims/{claim_id}/outcome/",
        {"outcome": "reached", "reply": REPLY, "known_asked": "1"},
    )
    run_cli("worker", "--batch")
    assert anon.get(f"/requests/{status_token(created)}").json()["reply"] == ""


# --- By SMS: a PIN, and an answer to the bridge SMS -----------------------------------


@pytest.fixture
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 600


def _sms(fake, phone: str, text: str) -> None:
    from django.test import Client

    body, headers = fake.build_received(phone, text)
    response = Client().post(
        "/channels/smsgate/webhook", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_only_the_requester_whose_pin_she_texted_hears_her_words(anon, fake_smsgate, sms_settings):
    from tests.conftest import outbox_drain

    with_pin = submit(anon, kind="welfare_check", message="", checkin_pin="4821")
    stranger = _stranger(anon)
    _sms(fake_smsgate, "+77012345678", "SAFE 4821 all good, at home")
    outbox_drain()
    verified = anon.get(f"/requests/{status_token(with_pin)}").json()
    assert verified["reply"] == "all good, at home"
    assert any("all good, at home" in n for n in verified["notifications"])
    other = anon.get(f"/requests/{status_token(stranger)}").json()
    assert other["status"] == "self_reported"
    assert other["reply"] == "" and all("at home" not in n for n in other["notifications"])


@pytest.mark.django_db(transaction=True)
def test_an_answer_to_the_bridge_goes_to_the_requester_it_named_only(
    anon, fake_smsgate, sms_settings
):
    from tests.conftest import outbox_drain

    first = submit(anon)  # deliver_message: bridged, the SMS signed by Marat
    outbox_drain()
    stranger = _stranger(anon)
    [sent] = [m for m in fake_smsgate.outbox if "+77012345678" in m["phoneNumbers"]]
    assert "Marat" in sent["text"] and "Bolat" not in sent["text"]
    _sms(fake_smsgate, "+77012345678", "Marat, dear, we are fine")
    outbox_drain()
    named = anon.get(f"/requests/{status_token(first)}").json()
    assert named["status"] == "reached" and named["reply"] == "Marat, dear, we are fine"
    other = anon.get(f"/requests/{status_token(stranger)}").json()
    assert other["status"] == "reached" and other["reply"] == ""
    assert all("dear" not in n and "Marat" not in n for n in other["notifications"])
    assert any("answered our SMS" in n for n in other["notifications"])
