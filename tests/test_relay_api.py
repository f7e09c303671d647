from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import Api, make_volunteer, request_body, run_cli, status_token, submit


def test_it_merges_requests_for_one_number_across_formats(anon, volunteer):
    first = submit(anon, phone="8 701 234 56 78")
    second = submit(anon, phone="701 234 5678")
    third = submit(anon, phone="+7 (701) 234-56-78")
    assert first["case_id"] == second["case_id"] == third["case_id"]
    assert len({first["request_id"], second["request_id"], third["request_id"]}) == 3

    case = volunteer.post("/claims").json()
    assert case["recipient_phone"] == "+77012345678"
    assert len(case["messages"]) == 3


# The worker closes stale connections, which a test transaction cannot survive.
@pytest.mark.django_db(transaction=True)
def test_every_requester_the_recipient_knows_gets_outcome_and_reply(anon, volunteer):
    created = [submit(anon, phone=p) for p in ("87012345678", "+77012345678")]
    claim = volunteer.post("/claims").json()
    known = [m["request_id"] for m in claim["messages"]]  # she knows them both
    r = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome",
        {"outcome": "reached", "reply": "We are safe", "known_requests": known},
    )
    assert r.status_code == 200
    assert r.json()["case_state"] == "closed"
    run_cli("worker", "--batch")
    for c in created:
        status = anon.get(f"/requests/{status_token(c)}").json()
        assert status["status"] == "reached"
        assert status["reply"] == "We are safe"
        assert len(status["notifications"]) == 1
        assert "We are safe" in status["notifications"][0]


def test_an_expired_lease_returns_the_case(anon, volunteer, other_volunteer):
    submit(anon)
    first = volunteer.post("/claims")
    assert first.status_code == 200
    assert other_volunteer.post("/claims").status_code == 204
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        second = other_volunteer.post("/claims")
        assert second.status_code == 200
        assert second.json()["case_id"] == first.json()["case_id"]
        late = volunteer.post(f"/claims/{first.json()['claim_id']}/outcome", {"outcome": "reached"})
        assert late.status_code == 409


def test_a_claim_you_do_not_hold_is_403_and_changes_nothing(anon, volunteer, other_volunteer):
    created = submit(anon)
    claim = volunteer.post("/claims").json()
    for action, body in (("outcome", {"outcome": "reached"}), ("renew", None), ("release", None)):
        r = other_volunteer.post(f"/claims/{claim['claim_id']}/{action}", body)
        assert r.status_code == 403, action
    assert anon.get(f"/requests/{status_token(created)}").json()["status"] == "calling"
    assert volunteer.post(f"/claims/{claim['claim_id']}/renew").status_code == 200


# The worker closes stale connections, which a test transaction cannot survive.
@pytest.mark.django_db(transaction=True)
def test_retry_schedule_then_unreachable_after_the_last_attempt(anon, volunteer):
    created = submit(anon)
    token = status_token(created)
    start = timezone.now()
    waits = [20, 60, 180]
    with time_machine.travel(start, tick=False) as clock:
        for attempt, wait in enumerate(waits, start=1):
            claim = volunteer.post("/claims").json()
            r = volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "no_answer"})
            assert r.json()["case_state"] == "queued"
            status = anon.get(f"/requests/{token}").json()
            assert status["status"] == "retrying"
            assert status["attempts"] == attempt
            clock.shift(timedelta(minutes=wait) - timedelta(seconds=1))
            assert volunteer.post("/claims").status_code == 204
            clock.shift(timedelta(seconds=2))
        claim = volunteer.post("/claims").json()
        r = volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "busy"})
        assert r.json()["case_state"] == "closed"
        run_cli("worker", "--batch")
    status = anon.get(f"/requests/{token}").json()
    assert status["status"] == "unreachable"
    assert status["notifications"], "the requester is told the case ended"


def test_intake_is_idempotent(anon):
    body = request_body()
    first = anon.post("/requests", body, headers={"Idempotency-Key": "abc-1"})
    again = anon.post("/requests", body, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = anon.post(
        "/requests", request_body(message="different"), headers={"Idempotency-Key": "abc-1"}
    )
    assert other.status_code == 409
    fresh = anon.post("/requests", body, headers={"Idempotency-Key": "abc-2"})
    assert fresh.json()["request_id"] != first.json()["request_id"]
    assert fresh.json()["case_id"] == first.json()["case_id"]


def test_a_database_failure_is_503_and_the_same_call_again_stores_it_once(anon, monkeypatch):
    from django.db import OperationalError, transaction

    from bailanys.relay import services

    real = services.request_create
    aborted = []

    def deadlocked_once(**kwargs):
        with transaction.atomic():  # all of its writes, then the database aborts them
            created = real(**kwargs)
            if not aborted:
                aborted.append(True)
                raise OperationalError("deadlock detected")
        return created

    monkeypatch.setattr(services, "request_create", deadlocked_once)
    body = request_body()
    busy = anon.post("/requests", body, headers={"Idempotency-Key": "busy-1"})
    assert busy.status_code == 503 and busy["Retry-After"] == "1"
    assert busy.json()["detail"]
    first = anon.post("/requests", body, headers={"Idempotency-Key": "busy-1"})
    again = anon.post("/requests", body, headers={"Idempotency-Key": "busy-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["request_id"] == again.json()["request_id"]
    assert first.json()["case_id"] == again.json()["case_id"]


def test_an_invalid_phone_is_422_naming_the_field(anon):
    r = anon.post("/requests", request_body(phone="12345"))
    assert r.status_code == 422
    assert "recipient.phone" in r.json()["errors"]


def test_an_oversized_message_is_a_clear_error(anon):
    r = anon.post("/requests", request_body(message="x" * 2001))
    assert r.status_code == 422
    assert "message" in r.json()["errors"]
    huge = anon.post("/requests", request_body(message="x" * 200_000))
    assert huge.status_code == 413
    assert "too large" in huge.json()["detail"]


def test_a_status_link_reveals_nothing_of_other_requests(anon):
    mine = submit(anon, message="MINE-SECRET")
    theirs = submit(
        anon,
        message="THEIRS-SECRET",
        requester={"name": "Someone Else", "language": "ru", "contact": "their-contact"},
    )
    assert mine["case_id"] == theirs["case_id"]
    page = anon.client.get(mine["status_url"]).content.decode()
    api = str(anon.get(f"/requests/{status_token(mine)}").json())
    for shown in (page, api):
        assert "MINE-SECRET" in shown
        assert "THEIRS-SECRET" not in shown
        assert "Someone Else" not in shown
        assert "their-contact" not in shown
    assert anon.get("/requests/not-a-real-token").status_code == 404


def test_claims_need_a_valid_token(anon):
    assert Api().post("/claims").status_code == 401
    assert Api("bly_wrong").post("/claims").status_code == 401


def test_urgent_and_medical_go_first_then_oldest(anon, other_volunteer):
    plain = submit(anon, phone="+77010000001")
    medical = submit(anon, phone="+77010000002", kind="medical")
    # medical cases are hard: an experienced volunteer gets them (tests/test_hard_cases.py)
    experienced = Api(make_volunteer("experienced")[1])
    assert experienced.post("/claims").json()["case_id"] == medical["case_id"]
    assert other_volunteer.post("/claims").json()["case_id"] == plain["case_id"]


def test_escalate_moves_the_case_to_coordinators(anon, volunteer, other_volunteer):
    created = submit(anon)
    claim = volunteer.post("/claims").json()
    r = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "escalate", "note": "mentions arrest"}
    )
    assert r.json()["case_state"] == "escalated"
    assert other_volunteer.post("/claims").status_code == 204
    assert anon.get(f"/requests/{status_token(created)}").json()["status"] == "escalated"
