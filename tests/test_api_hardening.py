"""Smaller holes from the outside test (issue 16, item 8), through the public surface."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from bailanys.relay.models import Request
from tests.conftest import Api, request_body, run_cli

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_request_body_must_say_it_is_json(content_type):
    """Another site's page can POST text/plain without asking first; it cannot POST JSON."""
    answer = Client().post(
        "/api/v1/requests", json.dumps(request_body()), content_type=content_type
    )
    assert answer.status_code == 415
    assert "application/json" in answer.json()["detail"]
    assert not Request.objects.exists()
    assert Api().post("/requests", request_body()).status_code == 201


def test_the_schema_says_a_recipients_phone_cannot_be_empty():
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["components"]["schemas"]["RecipientIn"]["properties"]["phone"]["minLength"] == 1
    empty = request_body()
    empty["recipient"]["phone"] = ""
    answer = Api().post("/requests", empty)
    assert answer.status_code == 422
    assert list(answer.json()["errors"]) == ["recipient.phone"]


@pytest.mark.django_db(transaction=True)
def test_finished_task_results_do_not_pile_up(fake_smsgate, settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    # An SMS that comes in is read by a task (an outbox message is not: the pump takes it).
    body, headers = fake_smsgate.build_received("+77012345678", "help")
    response = Client().post(
        "/channels/smsgate/webhook", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200
    run_cli("worker", "--batch")  # reads it: a finished task's row
    done = DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL)
    assert done.exists()
    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        run_cli("worker", "--batch")
        assert done.exists(), "kept for an hour"
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        run_cli("worker", "--batch")
        assert not done.exists()


def created_with_host(host: str) -> str:
    answer = Client().post(
        "/api/v1/requests",
        json.dumps(request_body()),
        content_type="application/json",
        headers={"Host": host},
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["status_url"]


def test_the_host_header_is_never_echoed_into_a_status_link(settings):
    settings.BAILANYS_PUBLIC_URL = ""
    url = created_with_host("evil.example")
    assert "evil.example" not in url
    assert url.startswith("/s/")
    assert Client().get(url).status_code == 200


def test_a_status_link_is_absolute_under_the_public_url_or_a_listed_host(settings):
    settings.BAILANYS_PUBLIC_URL = "https://relay.example.org"
    assert created_with_host("evil.example").startswith("https://relay.example.org/s/")
    settings.BAILANYS_PUBLIC_URL = ""
    settings.ALLOWED_HOSTS = ["relay.lan"]
    assert created_with_host("relay.lan").startswith("http://relay.lan/s/")


def test_an_idempotency_key_belongs_to_the_client_that_sent_it():
    """Another client with the same key and body makes its own request: it never gets the
    first requester's status link."""
    headers = {"Idempotency-Key": "shared-key-1"}
    mine = Api(address="198.51.100.1")
    first = mine.post("/requests", request_body(), headers=headers)
    again = mine.post("/requests", request_body(), headers=headers)
    other = Api(address="198.51.100.2").post("/requests", request_body(), headers=headers)
    assert first.status_code == again.status_code == other.status_code == 201
    assert again.json() == first.json()  # the same client's retry: the same request
    assert other.json()["request_id"] != first.json()["request_id"]
    assert other.json()["status_url"] != first.json()["status_url"]
    assert Request.objects.count() == 2
