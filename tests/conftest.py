"""Personas and small factories. Everything goes through HTTP or the CLI."""

import io
import itertools
import json

import pytest
from django.core.management import call_command
from django.test import Client

_names = itertools.count(1)


class Api:
    """A JSON client for /api/v1 with an optional bearer token."""

    def __init__(self, token: str | None = None):
        self.client = Client()
        self.token = token

    def _headers(self, extra=None):
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def post(self, path: str, body=None, headers=None):
        data = body if isinstance(body, str | bytes) else json.dumps(body or {})
        return self.client.post(
            f"/api/v1{path}", data, content_type="application/json", headers=self._headers(headers)
        )

    def get(self, path: str):
        return self.client.get(f"/api/v1{path}", headers=self._headers())


def run_cli(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def make_volunteer(role: str = "") -> tuple[str, str]:
    """Create an account with `bailanys volunteer add`; return (username, API token)."""
    name = f"vol{next(_names)}"
    flags = [f"--{role}"] if role else []
    output = run_cli("volunteer", "add", name, *flags)
    return name, output.strip().splitlines()[-1]


def request_body(phone="8 701 234 56 78", **overrides) -> dict:
    body = {
        "requester": {"name": "Marat", "language": "en", "contact": ""},
        "recipient": {"name": "Gulnara", "phone": phone, "city": "Almaty"},
        "message": "Marat is in Germany and can't get a flight. He is fine.",
        "kind": "deliver_message",
        "urgent": False,
    }
    body.update(overrides)
    return body


@pytest.fixture
def anon(db) -> Api:
    return Api()


@pytest.fixture
def volunteer(db) -> Api:
    _name, token = make_volunteer()
    return Api(token)


@pytest.fixture
def other_volunteer(db) -> Api:
    _name, token = make_volunteer()
    return Api(token)


def submit(api: Api, **kwargs) -> dict:
    response = api.post("/requests", request_body(**kwargs))
    assert response.status_code == 201, response.content
    return response.json()


def status_token(created: dict) -> str:
    return created["status_url"].rstrip("/").rsplit("/", 1)[-1]
