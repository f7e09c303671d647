"""Many volunteers and requesters at once, each in a thread with its own connection."""

import threading
from collections import Counter

import pytest
from django.db import connection

from tests.conftest import ON_POSTGRES, Api, make_volunteer, request_body, run_cli, status_token

postgres_only = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs PostgreSQL: set DATABASE_URL=postgres://… (SQLite serialises every writer, "
    "so there is no row-level race to test)",
)


@pytest.fixture(autouse=True)
def _threads_can_share_the_database(transactional_db):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "the in-memory SQLite test database cannot be shared by threads (database table "
            "is locked); run with TEST_SQLITE_FILE=1 for a file, or on PostgreSQL"
        )


def in_threads(count: int, work) -> list:
    """Run work(i) for i in range(count) in threads started together; return the results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), name=f"t{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


@postgres_only
def test_forty_cases_twenty_volunteers_every_case_claimed_and_closed_once():
    anon = Api()
    created = [
        anon.post("/requests", request_body(phone=f"+7701{n:07d}")).json() for n in range(40)
    ]
    case_ids = {c["case_id"] for c in created}
    assert len(case_ids) == 40
    tokens = in_threads(20, lambda _i: make_volunteer()[1])  # password hashing, in parallel

    def volunteer(i: int) -> list[tuple[int, int]]:
        api = Api(tokens[i])
        done = []
        for _ in range(100):
            claim = api.post("/claims")
            if claim.status_code == 204:
                return done
            assert claim.status_code == 200, claim.content
            case = claim.json()
            outcome = api.post(f"/claims/{case['claim_id']}/outcome", {"outcome": "reached"})
            assert outcome.status_code == 200, outcome.content
            assert outcome.json()["case_state"] == "closed"
            done.append((case["case_id"], case["claim_id"]))
        pytest.fail("a volunteer was never told the queue is empty")

    per_volunteer = in_threads(20, volunteer)
    claimed = [case_id for done in per_volunteer for case_id, _claim in done]
    twice = [case_id for case_id, n in Counter(claimed).items() if n > 1]
    assert not twice, f"claimed more than once: {twice}"
    assert len(claimed) == 40
    assert set(claimed) == case_ids
    assert len({claim for done in per_volunteer for _case, claim in done}) == 40

    for c in created:
        status = anon.get(f"/requests/{status_token(c)}").json()
        assert status["status"] == "reached"
        assert status["attempts"] == 1
    assert Api(tokens[0]).post("/claims").status_code == 204, "the queue is empty"


def test_requests_for_one_new_number_at_once_share_one_case():
    phones = ["8 707 555 12 34", "+7 (707) 555-12-34", "7075551234", "+77075551234"]

    def ask(i: int) -> dict:
        response = Api().post("/requests", request_body(phone=phones[i % len(phones)]))
        assert response.status_code == 201, response.content
        return response.json()

    created = in_threads(12, ask)
    assert len({c["case_id"] for c in created}) == 1
    assert len({c["request_id"] for c in created}) == 12
    case = Api(make_volunteer()[1]).post("/claims").json()
    assert len(case["messages"]) == 12


def test_the_same_idempotency_key_at_once_creates_one_request():
    body = request_body(phone="+77085550000")

    def ask(_i: int) -> dict:
        response = Api().post("/requests", body, headers={"Idempotency-Key": "retry-storm-1"})
        assert response.status_code == 201, response.content
        return response.json()

    created = in_threads(8, ask)
    assert len({c["request_id"] for c in created}) == 1
    case = Api(make_volunteer()[1]).post("/claims").json()
    assert len(case["messages"]) == 1


def test_one_case_and_many_volunteers_at_once_one_gets_it():
    created = Api().post("/requests", request_body(phone="+77475550000")).json()
    tokens = in_threads(8, lambda _i: make_volunteer()[1])

    def claim(i: int) -> int:
        response = Api(tokens[i]).post("/claims")
        assert response.status_code in (200, 204), response.content
        if response.status_code == 200:
            assert response.json()["case_id"] == created["case_id"]
        return response.status_code

    codes = in_threads(8, claim)
    assert sorted(codes) == [200] + [204] * 7


def _close_every_open_case() -> None:
    token = make_volunteer()[1]
    while (claim := Api(token).post("/claims")).status_code == 200:
        done = Api(token).post(
            f"/claims/{claim.json()['claim_id']}/outcome", {"outcome": "reached"}
        )
        assert done.status_code == 200, done.content


def _outcome_and_requests_at_once(phone: str) -> None:
    first = Api().post("/requests", request_body(phone=phone)).json()
    token = make_volunteer()[1]
    claim = Api(token).post("/claims").json()
    assert claim["case_id"] == first["case_id"]

    def act(i: int):
        if i == 0:
            return Api(token).post(
                f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": "ok"}
            )
        return Api().post("/requests", request_body(phone=phone))

    answers = in_threads(8, act)
    assert answers[0].status_code == 200, answers[0].content
    assert all(a.status_code == 201 for a in answers[1:])
    run_cli("worker", "--batch")  # sends the status-page notifications
    for created in [first, *(a.json() for a in answers[1:])]:
        status = Api().get(f"/requests/{status_token(created)}").json()
        if created["case_id"] == first["case_id"]:  # closed with the outcome: told
            assert status["status"] == "reached", status
            assert status["notifications"], created
        else:  # too late for that case: a new one, still open
            assert status["status"] not in ("reached", "unreachable"), status


@postgres_only
def test_a_request_joining_while_the_outcome_closes_the_case_is_told_or_kept_open():
    # An outcome closes the case and tells the requests it sees; requests for the same
    # number arriving at that moment must be among them, or start a new case.
    for round_ in range(4):
        _close_every_open_case()
        _outcome_and_requests_at_once(f"+7702555{round_:04d}")
