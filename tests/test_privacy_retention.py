"""Retention: closed cases go after BAILANYS_RETENTION_DAYS, everything after the hard limit.

The clock is moved with time_machine. The purge runs as an operator runs it
(`bailanys purge`) and as the worker runs it (`bailanys worker --batch`). What
a purge leaves behind (RetentionTally) is read at rest: counts, no text.
"""

import io
import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

from bailanys.privacy.models import RetentionTally
from tests.conftest import Api, Browser, html, login_coordinator, make_account, status_token, submit
from tests.helpers import hits_in

# The worker closes database connections between tasks: tests that run it commit.
commits = pytest.mark.django_db(transaction=True)

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
# 02:00 in Almaty is still the day before in UTC: the tally's day is the local one.
START = datetime(2026, 3, 2, 2, 0, tzinfo=ALMATY)
CANARIES = ("Zyxretentionname", "Qwretentioncity", "canary-retention-message-4e1f", "7015550101")


@pytest.fixture(autouse=True)
def _fast(settings):
    # Passwords are not what this file tests; Argon2 would only make it slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def purge_command() -> str:
    out = io.StringIO()
    call_command("purge", stdout=out)
    return out.getvalue()


def purge_worker() -> str:
    call_command("worker", "--batch", stdout=io.StringIO())
    return ""


PURGES = pytest.mark.parametrize("purge", [purge_command, purge_worker], ids=["purge", "worker"])


def ask(phone: str, kind: str = "deliver_message", tag: str = "") -> dict:
    return submit(
        Api(),
        phone=phone,
        kind=kind,
        requester={"name": f"Zyxretentionname{tag}", "language": "en", "contact": ""},
        recipient={"name": "Gulnara", "phone": phone, "city": f"Qwretentioncity{tag}"},
        message=f"canary-retention-message-4e1f{tag}",
    )


def close(volunteer: Api, outcome: str = "reached") -> dict:
    claim = volunteer.post("/claims").json()
    r = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": outcome, "reply": "canary reply"}
    )
    assert r.json()["case_state"] == "closed", r.json()
    return claim


def status_code(created: dict) -> int:
    api = Api().get(f"/requests/{status_token(created)}").status_code
    page = Client().get(f"/s/{status_token(created)}/").status_code
    assert api == page, (api, page)
    return api


@commits
@PURGES
def test_a_closed_case_is_kept_until_its_retention_days_then_purged(purge):
    days = settings.BAILANYS_RETENTION_DAYS
    assert days == 14
    _name, _password, token = make_account()
    with time_machine.travel(START, tick=False) as clock:
        created = ask("+77015550101")
        close(Api(token))
        clock.shift(timedelta(days=days - 1))
        out = purge()
        assert status_code(created) == 200, "kept a day before the limit"
        assert Api().get(f"/requests/{status_token(created)}").json()["reply"] == "canary reply"
        if out:
            assert out.strip() == "Purged 0 cases and 0 requests."
        clock.shift(timedelta(days=2))
        out = purge()
        assert status_code(created) == 404, "purged a day after the limit"
        if out:
            assert out.strip() == "Purged 1 cases and 1 requests."
    tally = list(RetentionTally.objects.values("day", "kind", "resolution", "cases", "requests"))
    assert tally == [
        {
            "day": START.date(),
            "kind": "deliver_message",
            "resolution": "reached",
            "cases": 1,
            "requests": 1,
        }
    ]


@commits
@PURGES
def test_an_open_case_is_kept_at_59_days_and_purged_at_61(purge):
    assert settings.BAILANYS_RETENTION_MAX_DAYS == 60
    _name, _password, token = make_account()
    with time_machine.travel(START, tick=False) as clock:
        queued = ask("+77015550101", tag="q")
        claimed = ask("+77015550102", tag="c")
        held = Api(token).post("/claims").json()
        assert held["case_id"] == queued["case_id"], "the oldest first"
        clock.shift(timedelta(days=59))
        purge()
        assert status_code(queued) == 200
        assert status_code(claimed) == 200
        clock.shift(timedelta(days=2))
        purge()
        assert status_code(queued) == 404, "the hard limit applies to a case being called too"
        assert status_code(claimed) == 404
        # The volunteer's claim went with the case.
        assert Api(token).post("/claims").status_code == 204
    counts = {(t.kind, t.resolution): (t.cases, t.requests) for t in RetentionTally.objects.all()}
    assert counts == {("deliver_message", ""): (2, 2)}


@commits
def test_a_case_extended_by_a_coordinator_survives_the_purge_until_the_extension_ends():
    _name, _password, token = make_account()
    coordinator_name, coordinator_password, _token = make_account("coordinator")
    with time_machine.travel(START, tick=False) as clock:
        closed = ask("+77015550101", tag="x")
        close(Api(token))
        still_open = ask("+77015550102", tag="y")
        coordinator = Browser()
        login_coordinator(coordinator, coordinator_name, coordinator_password)
        until = (START + timedelta(days=90)).date()  # 31 May, kept to its last second
        for created in (closed, still_open):
            form = {"case_id": created["case_id"], "until": until.isoformat(), "reason": "court"}
            kept = coordinator.post("/console/retain/", form, follow=True)
            assert f"The case will be kept until {until.isoformat()}." in html(kept)
        # Past both limits: 14 days after closing, 60 days for any case.
        clock.shift(timedelta(days=61))
        assert purge_command().strip() == "Purged 0 cases and 0 requests."
        assert status_code(closed) == 200
        assert status_code(still_open) == 200
        clock.shift(timedelta(days=30))  # 1 June: the extension has ended
        assert purge_command().strip() == "Purged 2 cases and 2 requests."
        assert status_code(closed) == 404
        assert status_code(still_open) == 404


@pytest.mark.django_db
def test_a_coordinator_keeps_a_case_longer_with_a_reason_and_a_volunteer_cannot():
    coordinator_name, coordinator_password, _token = make_account("coordinator")
    volunteer_name, volunteer_password, _token = make_account()
    with time_machine.travel(START, tick=False) as clock:
        created = ask("+77015550101")
        form = {"case_id": str(created["case_id"]), "until": "2026-06-01", "reason": "court"}
        clock.shift(timedelta(days=1))
        volunteer = Browser()
        volunteer.login(volunteer_name, volunteer_password)
        assert volunteer.post("/console/retain/", form).status_code == 404
        coordinator = Browser()
        login_coordinator(coordinator, coordinator_name, coordinator_password)
        no_reason = coordinator.post("/console/retain/", {**form, "reason": ""}, follow=True)
        assert "Say why this case must be kept." in html(no_reason)
        kept = coordinator.post("/console/retain/", form, follow=True)
        assert "The case will be kept until" in html(kept)
        clock.shift(timedelta(days=61))
        assert purge_command().strip() == "Purged 0 cases and 0 requests."
        assert status_code(created) == 200
        clock.shift(timedelta(days=30))  # past 1 June: the extension has ended
        assert purge_command().strip() == "Purged 1 cases and 1 requests."
        assert status_code(created) == 404


@commits
def test_a_purge_leaves_only_counts_by_day_kind_and_resolution():
    _name, _password, token = make_account()
    volunteer = Api(token)
    with time_machine.travel(START, tick=False) as clock:
        ask("+77015550101", kind="deliver_message", tag="a1")
        ask("+77015550101", kind="welfare_check", tag="a2")
        close(volunteer, "reached")
        ask("+77015550102", kind="deliver_message", tag="b")
        close(volunteer, "wrong_number")
        ask("+77015550103", kind="medical", tag="c")
        clock.shift(timedelta(days=1))
        ask("+77015550104", kind="welfare_check", tag="d")  # the next day: stays
        clock.shift(timedelta(days=59, hours=1))  # 60 days and an hour after START
        assert purge_command().strip() == "Purged 3 cases and 4 requests."

    rows = {
        (t.day, t.kind, t.resolution): (t.cases, t.requests)
        for t in RetentionTally.objects.order_by("kind", "resolution")
    }
    day = START.date()
    assert rows == {
        (day, "deliver_message", "reached"): (1, 1),
        (day, "welfare_check", "reached"): (1, 1),
        (day, "deliver_message", "wrong_number"): (1, 1),
        (day, "medical", ""): (1, 1),
    }
    # At rest: the tally's columns are these and nothing else, and hold no text of anyone.
    columns = {f.column for f in RetentionTally._meta.concrete_fields}
    assert columns == {"id", "day", "kind", "resolution", "cases", "requests"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM privacy_retentiontally")
        stored = repr(cursor.fetchall()).encode()
        # Nothing personal is left of the purged cases: one request of the next day remains.
        cursor.execute("SELECT COUNT(*) FROM relay_request")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT COUNT(*) FROM relay_requester")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT COUNT(*) FROM relay_attempt")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT COUNT(*) FROM channels_outboxmessage")
        assert cursor.fetchone()[0] == 0
    assert hits_in(stored, CANARIES) == []


@commits
def test_a_subscriber_not_heard_from_for_the_subscriber_days_is_forgotten(settings):
    from bailanys.bulletins.services import subscribe, subscribed

    settings.BAILANYS_SUBSCRIBER_DAYS = 30
    with time_machine.travel(START, tick=False):
        subscribe(channel="sms", address="+77015550101", language="ru")
        subscribe(channel="telegram", address="7015550101", language="kk")
    with time_machine.travel(START + timedelta(days=20), tick=False):
        # Subscribing again (or writing to us) starts the clock again.
        subscribe(channel="telegram", address="7015550101", language="kk")
    with time_machine.travel(START + timedelta(days=30, hours=1), tick=False):
        purge_command()
        assert subscribed(channel="sms", address="+77015550101") is None
        assert subscribed(channel="telegram", address="7015550101") is not None
    with time_machine.travel(START + timedelta(days=51), tick=False):
        purge_command()
        assert subscribed(channel="telegram", address="7015550101") is None
