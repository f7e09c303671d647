"""The demo scenario: a newcomer sees the relay working within a minute."""

import json
from pathlib import Path

from django.db import transaction

from bailanys.accounts.models import User
from bailanys.accounts.services import password_generate, user_create
from bailanys.relay import services
from bailanys.relay.models import Request

SCENARIO = Path(__file__).parent / "demo" / "scenario.json"


@transaction.atomic
def demo_load() -> tuple[int, list[tuple[str, str]]]:
    """Load the scenario once; give the demo volunteers fresh passwords every time.

    Returns (requests created, [(username, password)]).
    """
    scenario = json.loads(SCENARIO.read_text(encoding="utf-8"))
    logins = []
    for spec in scenario["volunteers"]:
        password = password_generate()
        user = User.objects.filter(username=spec["username"]).first()
        if user is None:
            user_create(username=spec["username"], role=spec["role"], password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        logins.append((spec["username"], password))
    created = 0
    for number, payload in enumerate(scenario["requests"]):
        key = f"demo-{number}"
        if Request.objects.filter(idempotency_key=key).exists():
            continue
        data = services.request_check(payload)
        _request, new = services.request_create(data=data, channel="web", idempotency_key=key)
        created += new
    return created, logins
