"""Intake in few statements (issue 22, point 2): a limit on how many SQL statements one
request costs on the server's path, counted through the API. A count, not a time: it
holds on any machine, and it fails the day a lookup or a lock creeps back in.

What the worker does later (the SMS bridge's own transaction) is not on the path and not
counted here; tests/test_sms_bridge.py checks that it still happens.
"""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bailanys.conversations.models import SmsBridge
from bailanys.relay.models import Case
from tests.conftest import Api, outbox_drain, request_body

pytestmark = pytest.mark.django_db(transaction=True)

CONTACT = {"name": "Marat", "language": "en", "contact": "+49 151 23456789"}


def statements(body: dict) -> list[str]:
    with CaptureQueriesContext(connection) as seen:
        response = Api().post("/requests", body)
    assert response.status_code == 201, response.content
    return [q["sql"] for q in seen.captured_queries]


def writes(sql: list[str]) -> list[str]:
    return [s.split("(")[0].strip() for s in sql if s.startswith(("INSERT", "UPDATE"))]


@pytest.mark.parametrize("gateway", [False, True], ids=["no-gateway", "sms-gateway"])
def test_a_new_case_and_a_joining_request_take_a_handful_of_statements(request, gateway):
    if gateway:
        request.getfixturevalue("fake_smsgate")
    statements(request_body(phone="8 701 555 00 01"))  # the first request reads the settings

    made = statements(request_body(phone="8 701 555 00 02", requester=CONTACT))
    # Flood counters (one upsert for both), BEGIN, the open-or-merged lookup, the case,
    # requester, request and audit entry (and with a gateway the bridge's task row), COMMIT.
    assert len(made) <= 8 + gateway, made
    # Both flood counters in one statement (with Redis, one pipeline and no SQL at all).
    assert writes(made).count('INSERT INTO "privacy_ratecounter"') == (
        0 if settings.REDIS_URL else 1
    )
    assert not [s for s in made if "SAVEPOINT" in s]
    assert not [s for s in made if "audithead" in s.lower()]

    joined = statements(request_body(phone="8 701 555 00 02", requester={**CONTACT, "name": "A"}))
    assert len(joined) <= 7, joined
    assert Case.objects.count() == 2  # the second request for the same number joined

    # Nothing was dropped to get there: with a gateway the worker starts the bridge.
    outbox_drain()
    assert SmsBridge.objects.count() == (2 if gateway else 0)
