"""Free text in: clear posts become requests, doubtful ones wait for a person."""

import io
import json

import pytest
from django.core.management import call_command

from bailanys.relay.services.posts import post_ingest
from tests.conftest import Api, Browser, html, make_account

CLEAR = "Алматы, мама Гульнара Сейтова 87015551234, скажите что я в Анталье, всё хорошо"
SCAM = "Срочно! Сын задержан, переведите 200000 на карту 4400 4301 2345 6789, звоните 87015559876"
CHATTER = "Спасибо всем волонтёрам, вы лучшие!"


def ingest(text: str, message_id: int):
    return post_ingest(
        source="test-group", external_id=f"chat:{message_id}", text=text, author="Ерлан"
    )


@pytest.mark.django_db
def test_a_clear_post_becomes_a_case_and_a_repeat_adds_nothing():
    first = ingest(CLEAR, 1)
    assert first.outcome == "created"
    assert ingest(CLEAR, 1).outcome == "skipped"
    _name, _password, token = make_account()
    case = Api(token).post("/claims").json()
    assert case["recipient_phone"] == "+77015551234"
    assert "я в Анталье" in case["messages"][0]["message"]
    assert Api(token).post("/claims").json()["case_id"] == case["case_id"], "still one case"


@pytest.mark.django_db
def test_chatter_is_not_a_request_and_its_words_are_not_kept():
    result = ingest(CHATTER, 2)
    assert result.outcome == "not_request"
    result.post.refresh_from_db()
    assert result.post.text == ""


@pytest.mark.django_db
def test_a_scam_post_waits_for_review_then_a_correction_enters_dispatch():
    result = ingest(SCAM, 3)
    assert result.outcome == "review"
    name, password, token = make_account()
    assert Api(token).post("/claims").status_code == 204, "nothing reaches dispatch yet"

    browser = Browser()
    browser.login(name, password)
    queue = browser.get("/console/review/")
    assert f"/console/review/{result.post.pk}/" in html(queue)
    page = browser.get(f"/console/review/{result.post.pk}/")
    assert "переведите 200000" in html(page), "the original text is beside the fields"

    bad = browser.post(
        f"/console/review/{result.post.pk}/",
        {"action": "confirm", "target-0-phone": "12", "kind": "welfare_check", "lang": "ru"},
    )
    assert bad.status_code == 422
    assert "targets.0.phone" in html(bad)
    assert Api(token).post("/claims").status_code == 204, "nothing was created"

    done = browser.post(
        f"/console/review/{result.post.pk}/",
        {
            "action": "confirm",
            "target-0-phone": "8 701 555 98 76",
            "target-0-name": "Асхат",
            "kind": "welfare_check",
            "lang": "ru",
        },
    )
    assert done.status_code == 302
    case = Api(token).post("/claims").json()
    assert case["recipient_phone"] == "+77015559876"
    assert case["recipient_name"] == "Асхат"
    assert browser.get(f"/console/review/{result.post.pk}/").status_code == 404

    out = io.StringIO()
    call_command("parse", "export-corrections", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {
            "id": "test-group:chat:3",
            "text": result.post.text,
            "lang": "ru",
            "kind": "welfare_check",
            "urgent": False,
            "targets": [{"name": "Асхат", "phone": "+77015559876", "city": None}],
            "message": None,
        }
    ]


@pytest.mark.django_db
def test_a_reviewer_can_dismiss_a_post_and_outsiders_see_nothing():
    result = ingest(SCAM, 4)
    name, password, _token = make_account()
    assert Browser().get(f"/console/review/{result.post.pk}/").status_code == 302  # to login
    browser = Browser()
    browser.login(name, password)
    browser.get(f"/console/review/{result.post.pk}/")
    gone = browser.post(f"/console/review/{result.post.pk}/", {"action": "dismiss"})
    assert gone.status_code == 302
    assert f"/console/review/{result.post.pk}/" not in html(browser.get("/console/review/"))
