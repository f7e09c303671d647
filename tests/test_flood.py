import pytest
from django.core.cache import cache
from django.test import Client

from tests.conftest import request_body


@pytest.fixture(autouse=True)
def fresh_counters():
    """With REDIS_URL the counters outlive a test's transaction: start from zero."""
    cache.clear()


def post_from(address: str, body=None):
    return Client(REMOTE_ADDR=address).post(
        "/api/v1/requests", body or request_body(), content_type="application/json"
    )


@pytest.mark.django_db
def test_a_flood_from_one_address_gets_429_while_another_is_served(settings):
    settings.BAILANYS_INTAKE_LIMIT_PER_SOURCE = "5/300"
    answers = [post_from("203.0.113.7").status_code for _ in range(8)]
    assert answers == [201] * 5 + [429] * 3
    throttled = post_from("203.0.113.7")
    assert 0 < int(throttled["Retry-After"]) <= 300
    assert "Try again" in throttled.json()["detail"]
    assert post_from("198.51.100.9").status_code == 201


@pytest.mark.django_db
def test_one_contact_is_limited_across_addresses(settings):
    settings.BAILANYS_INTAKE_LIMIT_PER_CONTACT = "3/3600"
    body = request_body(requester={"name": "Spam", "language": "en", "contact": "@flooder"})
    answers = [post_from(f"192.0.2.{n}", body).status_code for n in range(1, 6)]
    assert answers == [201, 201, 201, 429, 429]
    other = request_body(requester={"name": "Aigul", "language": "en", "contact": "@aigul"})
    assert post_from("192.0.2.99", other).status_code == 201


@pytest.mark.django_db
def test_the_web_form_is_limited_too(settings):
    settings.BAILANYS_INTAKE_LIMIT_PER_SOURCE = "2/300"
    client = Client(REMOTE_ADDR="203.0.113.8")
    form = {
        "recipient_name": "Gulnara",
        "recipient_phone": "8 701 234 56 78",
        "recipient_language": "ru",
        "kind": "welfare_check",
        "requester_name": "Marat",
    }
    codes = [client.post("/", form).status_code for _ in range(3)]
    assert codes == [302, 302, 429]
    page = client.post("/", form)
    assert page.status_code == 429
    assert "Too many requests" in page.content.decode()
    assert 'value="Gulnara"' in page.content.decode(), "what the user typed is kept"
