"""Free text in: clear posts become requests, doubtful ones wait for a coordinator."""

import io
import json
import re

import pytest
from django.core.management import call_command

from bailanys.parsing.models import ParsedPost
from bailanys.privacy.models import AuditEntry
from bailanys.relay.models import Case, CaseState, Request
from bailanys.relay.services import NotCoordinator
from bailanys.relay.services.posts import (
    post_confirm,
    post_dismiss,
    post_get_for_review,
    post_ingest,
    posts_waiting_for_review,
)
from tests.conftest import Api, Browser, html, login_coordinator, make_account

CLEAR = "Алматы, мама Гульнара Сейтова 87015551234, скажите что я в Анталье, всё хорошо"
SCAM = "Срочно! Сын задержан, переведите 200000 на карту 4400 4301 2345 6789, звоните 87015559876"
NO_NUMBER = "Алматы, мама Гульнара Сейтова, скажите что я в Анталье, всё хорошо. Номер потеряла"
CHATTER = "Спасибо всем волонтёрам, вы лучшие!"
VOLUNTEERS = ["volunteer", "experienced"]
CONFIRM = {
    "action": "confirm",
    "target-0-phone": "8 701 555 98 76",
    "target-0-name": "Асхат",
    "kind": "welfare_check",
    "lang": "ru",
}


def ingest(text: str, message_id: int):
    return post_ingest(
        source="test-group", external_id=f"chat:{message_id}", text=text, author="Ерлан"
    )


def coordinator() -> tuple[Browser, str]:
    """A coordinator's browser, past the second factor, and their API token."""
    name, password, token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, name, password)
    return browser, token


def volunteer_browser(role: str) -> Browser:
    name, password, _token = make_account("" if role == "volunteer" else role)
    browser = Browser()
    browser.login(name, password)
    return browser


def untouched(post: ParsedPost) -> bool:
    """The post still waits, unreviewed, and nothing was made from it or read of it."""
    post.refresh_from_db()
    return (
        post.state == ParsedPost.State.REVIEW
        and post.reviewed_by_id is None
        and post.corrected == ""
        and not Request.objects.exists()
        and not AuditEntry.objects.filter(object_type="post").exists()
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
def test_a_post_without_a_number_waits_for_review_then_a_correction_enters_dispatch():
    result = ingest(NO_NUMBER, 3)
    assert result.outcome == "review"
    assert result.post.review_reason == "no number to call"
    _name, _password, token = make_account()
    assert Api(token).post("/claims").status_code == 204, "nothing reaches dispatch yet"

    browser, _token = coordinator()
    queue = browser.get("/console/review/")
    assert f"/console/review/{result.post.pk}/" in html(queue)
    page = browser.get(f"/console/review/{result.post.pk}/")
    assert "Номер потеряла" in html(page), "the original text is beside the fields"

    bad = browser.post(
        f"/console/review/{result.post.pk}/",
        {"action": "confirm", "target-0-phone": "12", "kind": "welfare_check", "lang": "ru"},
    )
    assert bad.status_code == 422
    assert "targets.0.phone" in html(bad)
    assert Api(token).post("/claims").status_code == 204, "nothing was created"

    done = browser.post(f"/console/review/{result.post.pk}/", CONFIRM)
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
def test_a_coordinator_can_dismiss_a_post_and_outsiders_see_nothing():
    result = ingest(SCAM, 4)
    assert Browser().get(f"/console/review/{result.post.pk}/").status_code == 302  # to login
    browser, _token = coordinator()
    browser.get(f"/console/review/{result.post.pk}/")
    gone = browser.post(f"/console/review/{result.post.pk}/", {"action": "dismiss"})
    assert gone.status_code == 302
    assert f"/console/review/{result.post.pk}/" not in html(browser.get("/console/review/"))


@pytest.mark.django_db
def test_dismissing_a_post_another_coordinator_already_dismissed_says_so():
    result = ingest(SCAM, 5)
    first, _token = coordinator()
    second, _token = coordinator()
    page = f"/console/review/{result.post.pk}/"
    assert second.get(page).status_code == 200  # open in a second tab, then the first acts
    assert first.post(page, {"action": "dismiss"}).status_code == 302
    late = second.post(page, {"action": "dismiss"}, follow=True)
    assert late.status_code == 200
    assert "Someone else has already reviewed this post." in html(late)


# Issue 16, item 4: any volunteer could read and edit the review queue, scam posts
# included. It is the coordinators' now; a volunteer is not told it exists (404).


@pytest.mark.django_db
@pytest.mark.parametrize("role", VOLUNTEERS)
def test_the_menu_shows_the_review_queue_to_coordinators_only(role):
    assert "/console/review/" not in html(volunteer_browser(role).get("/console/"))
    browser, _token = coordinator()
    assert "/console/review/" in html(browser.get("/console/"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", VOLUNTEERS)
def test_a_volunteer_does_not_see_the_review_queue(role):
    result = ingest(SCAM, 5)
    queue = volunteer_browser(role).get("/console/review/")
    assert queue.status_code == 404
    assert f"/console/review/{result.post.pk}/" not in html(queue)


@pytest.mark.django_db
@pytest.mark.parametrize("role", VOLUNTEERS)
def test_a_volunteer_cannot_read_a_post_waiting_for_review(role):
    result = ingest(SCAM, 6)
    page = volunteer_browser(role).get(f"/console/review/{result.post.pk}/")
    assert page.status_code == 404
    assert "переведите 200000" not in html(page)
    assert untouched(result.post), "not even a read to audit"


@pytest.mark.django_db
@pytest.mark.parametrize("role", VOLUNTEERS)
@pytest.mark.parametrize("action", ["confirm", "dismiss"])
def test_a_volunteer_cannot_confirm_or_dismiss_a_post(role, action):
    result = ingest(SCAM, 7)
    browser = volunteer_browser(role)
    browser.get("/console/")  # a page with the form token
    answer = browser.post(f"/console/review/{result.post.pk}/", {**CONFIRM, "action": action})
    assert answer.status_code == 404
    assert untouched(result.post)
    assert not Case.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", VOLUNTEERS)
def test_the_review_services_refuse_anyone_but_a_coordinator(role):
    """The services check too, for any caller that is not these pages."""
    from bailanys.accounts.models import User

    result = ingest(SCAM, 8)
    name, _password, _token = make_account("" if role == "volunteer" else role)
    someone = User.objects.get(username=name)
    fields = {"lang": "ru", "kind": "welfare_check", "targets": [{"phone": "+77015559876"}]}
    calls = [
        lambda: posts_waiting_for_review(reviewer=someone),
        lambda: post_get_for_review(post_id=result.post.pk, reviewer=someone),
        lambda: post_confirm(reviewer=someone, post_id=result.post.pk, fields=fields),
        lambda: post_dismiss(reviewer=someone, post_id=result.post.pk),
    ]
    for call in calls:
        with pytest.raises(NotCoordinator):
            call()
    assert untouched(result.post)


# A scam post a coordinator confirms, even with the money talk taken out of the message,
# does not become a normal queued case: it waits for a coordinator's outcome, like any
# request with scam signs. A coordinator's outcome clears it, as for any flagged case.


@pytest.mark.django_db
def test_a_scam_post_a_coordinator_confirms_stays_with_the_coordinators():
    result = ingest(SCAM, 9)
    assert result.post.review_reason == "scam"
    browser, token = coordinator()
    page = browser.get(f"/console/review/{result.post.pk}/")
    assert "until a coordinator records an outcome" in html(page), "told before confirming"
    done = browser.post(f"/console/review/{result.post.pk}/", CONFIRM, follow=True)
    assert "until a coordinator records an outcome" in html(done)

    case = Case.objects.get()
    assert case.state == CaseState.ESCALATED
    assert case.flag == "scam-post:money,card"
    assert Request.objects.get().flag == "scam-post:money,card"
    _name, _password, volunteer_token = make_account("experienced")
    assert Api(volunteer_token).post("/claims").status_code == 204, "no volunteer gets it"

    # The coordinator calls and records an outcome: that clears the flag.
    taken = browser.post(f"/console/cases/{case.pk}/take/", follow=True)
    claim_id = int(re.search(r"/console/claims/(\d+)/outcome/", html(taken)).group(1))
    answer = Api(token).post(f"/claims/{claim_id}/outcome", {"outcome": "no_answer"})
    assert answer.json()["case_state"] == "queued"
    case.refresh_from_db()
    assert case.flag == ""
