"""A status link's token is shown to its requester and never stored: the database keeps a
keyed hash of it, so a copy of the database opens no status page (issue 16, item 2)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bailanys.relay.models import Request
from tests.conftest import Api, request_body, status_token

pytestmark = pytest.mark.django_db(transaction=True)


def made(anon: Api, **headers) -> str:
    response = anon.post("/requests", request_body(), headers=headers)
    assert response.status_code == 201, response.content
    return status_token(response.json())


def test_the_database_never_sees_a_status_token(anon):
    with CaptureQueriesContext(connection) as queries:
        tokens = [made(anon), made(anon, **{"Idempotency-Key": "retry-me-1"})]
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    stored = "\n".join(str(value) for row in Request.objects.values_list() for value in row)
    for token in tokens:
        assert len(token) == 32
        assert token not in sql
        assert token not in stored
        page = anon.get(f"/requests/{token}")
        assert page.status_code == 200
        assert page.json()["recipient_name"] == "Gulnara"


def test_what_a_copy_of_the_database_holds_opens_no_status_page(anon):
    made(anon)
    made(anon, **{"Idempotency-Key": "retry-me-2"})
    keys = list(Request.objects.values_list("status_key", flat=True))
    assert len(keys) == 2
    for key in keys:
        assert anon.get(f"/requests/{key}").status_code == 404
        assert anon.get(f"/requests/{key[:32]}").status_code == 404


def test_the_same_request_sent_again_gets_the_same_working_link(anon):
    first = anon.post("/requests", request_body(), headers={"Idempotency-Key": "k-77"})
    again = anon.post("/requests", request_body(), headers={"Idempotency-Key": "k-77"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert anon.get(f"/requests/{status_token(first.json())}").status_code == 200
    assert Request.objects.count() == 1


def test_the_web_forms_link_works_and_is_not_stored():
    browser = Client()
    answer = browser.post(
        "/",
        {
            "requester_name": "Marat",
            "recipient_name": "Gulnara",
            "recipient_phone": "8 701 234 56 78",
            "recipient_language": "ru",
            "kind": "welfare_check",
        },
    )
    assert answer.status_code == 302, answer.content
    token = answer["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert browser.get(answer["Location"]).status_code == 200
    assert not Request.objects.filter(status_key=token).exists()
    assert token not in "".join(Request.objects.values_list("status_key", flat=True))
