"""The audit log: every read and change of personal data, hash-chained, with nothing personal.

Entries are made through the pages, the API and the CLI; they are read through
the coordinator's page and, to prove what is stored and to tamper with it, in
the database directly. `bailanys audit verify` must name the entry where the
chain breaks.
"""

import io
import os
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.conftest import Api, Browser, make_account, status_token
from tests.helpers import hits_in

CANARIES = (
    "Zyxauditname",
    "zyxaudit-contact",
    "Qwauditrecipient",
    "Qwauditcity",
    "canary-audit-message-6a0d",
    "canary-audit-reply-c3e9",
    "canary-audit-note-11f7",
    "7015550177",
)
ADDRESS = "203.0.113.77"
ADDRESS_V6 = "2001:db8:1234:5678::1"


@pytest.fixture(autouse=True)
def _fast(settings):
    # Passwords are not what this file tests; Argon2 would only make it slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(role: str = "") -> tuple[Browser, str]:
    """A browser logged in to the console (a coordinator passes the TOTP step too)."""
    name, password, token = make_account(role)
    browser = Browser()
    browser.login(name, password)
    return browser, token


def audit_rows() -> list[dict]:
    """The audit table exactly as stored."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM privacy_auditentry ORDER BY id")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def verify() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def scenario(*, console: bool = True) -> dict:
    """A request read by its requester, claimed, read and closed by a volunteer."""
    requester = Api(address=ADDRESS)
    created = requester.post(
        "/requests",
        {
            "requester": {"name": "Zyxauditname", "contact": "zyxaudit-contact@example.org"},
            "recipient": {
                "name": "Qwauditrecipient",
                "phone": "+77015550177",
                "city": "Qwauditcity",
            },
            "message": "canary-audit-message-6a0d",
            "kind": "deliver_message",
        },
    )
    assert created.status_code == 201, created.content
    created = created.json()
    page = requester.client.get(f"/s/{status_token(created)}/")
    assert "canary-audit-message-6a0d" in page.content.decode()
    Api(address=ADDRESS_V6).get(f"/requests/{status_token(created)}")

    if console:
        browser, token = login()
    else:
        _name, _password, token = make_account()
    volunteer = Api(token, address=ADDRESS_V6)
    claim = volunteer.post("/claims").json()
    if console:
        assert "canary-audit-message-6a0d" in browser.get("/console/").content.decode()
    done = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome",
        {
            "outcome": "reached",
            "reply": "canary-audit-reply-c3e9",
            "note": "canary-audit-note-11f7",
        },
    )
    assert done.status_code == 200
    call_command("audit", "seal", stdout=io.StringIO())  # as the worker does every second
    return {"created": created, "claim": claim}


@pytest.mark.django_db
def test_reads_and_changes_are_audited_and_entries_hold_nothing_personal():
    scene = scenario()
    rows = audit_rows()
    request_id, case_id = scene["created"]["request_id"], scene["created"]["case_id"]
    trail = [(r["action"], r["object_type"], r["object_id"]) for r in rows]
    assert trail == [
        ("request.create", "request", str(request_id)),
        ("case.claim", "case", str(case_id)),
        ("case.read", "case", str(case_id)),  # the API's claim answer
        ("case.read", "case", str(case_id)),  # the console page
        ("case.outcome", "case", str(case_id)),
    ]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]  # sealed, in the order written
    # Where a read came from is kept as its network only: /24 for IPv4, /48 for IPv6.
    assert rows[2]["source"] == "2001:db8:1234::/48"
    assert re.fullmatch(r"\d+\.\d+\.\d+\.0/24", rows[3]["source"]), rows[3]["source"]
    assert rows[0]["source"] == rows[1]["source"] == rows[4]["source"] == "local"
    volunteer_actor = rows[1]["actor"]
    assert re.fullmatch(r"user:\d+", volunteer_actor)
    assert [r["actor"] for r in rows] == ["requester:web", *[volunteer_actor] * 4]
    # The status page and the status API (the requester's link) are counted, not chained:
    # the page refreshes itself every 30 seconds.
    with connection.cursor() as cursor:
        cursor.execute("SELECT request_id, views FROM privacy_auditviews")
        assert cursor.fetchall() == [(request_id, 2)]
    assert rows[-1]["detail"] == "reached"

    stored = repr(rows).encode()
    # Nothing personal in any column, and never a full network address.
    assert hits_in(stored, (*CANARIES, ADDRESS, "5678::1", "2001:db8:1234:5678")) == []
    print(f"\n[audit] {len(rows)} entries, {len(CANARIES)} canaries, 0 hits")


@pytest.mark.django_db
def test_audit_verify_passes_on_an_intact_chain():
    scenario(console=False)
    assert verify().strip() == f"Audit chain intact: {len(audit_rows())} entries."


@pytest.mark.django_db
def test_audit_verify_passes_on_an_empty_log():
    assert verify().strip() == "Audit chain intact: 0 entries."


@pytest.mark.django_db
@pytest.mark.parametrize(
    "column",
    ["detail", "actor", "action", "object_type", "object_id", "source", "prev_hash", "hash"],
)
def test_an_edited_entry_is_reported_at_its_seq(column):
    scenario(console=False)
    rows = audit_rows()
    target = rows[len(rows) // 2]["seq"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE privacy_auditentry SET {connection.ops.quote_name(column)} = %s "  # noqa: S608
            "WHERE seq = %s",
            ["0" * 64 if column.endswith("hash") else "forged", target],
        )
    with pytest.raises(CommandError, match=rf"Audit chain broken at entry {target}:") as error:
        verify()
    assert f"({target - 1} entries before it are intact)" in str(error.value)


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_deleted_entry_is_reported(where):
    scenario(console=False)
    rows = audit_rows()
    seq = {"first": 1, "middle": len(rows) // 2, "last": len(rows)}[where]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM privacy_auditentry WHERE seq = %s", [seq])
    with pytest.raises(CommandError, match=rf"Audit chain broken at entry {seq}:") as error:
        verify()
    reason = "were deleted" if where == "last" else f"entry {seq} is missing"
    assert reason in str(error.value)


@pytest.mark.django_db
def test_the_coordinator_pages_the_audit_log_and_a_volunteer_gets_404():
    scene = scenario()
    browser, _token = login("coordinator")
    page = browser.get("/console/audit/")
    assert page.status_code == 200
    text = page.content.decode()
    for action in ("request.create", "case.claim", "case.read", "case.outcome"):
        assert action in text, action
    assert "status pages were viewed 2 times today" in text  # the page and the API
    assert f"case {scene['created']['case_id']}" in text
    assert hits_in(page.content, CANARIES) == []

    volunteer, _token = login()
    assert volunteer.get("/console/audit/").status_code == 404
    anonymous = Browser().get("/console/audit/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_an_admin_reading_a_case_in_the_django_admin_is_audited(monkeypatch):
    scene = scenario()
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_PASSWORD", "a long enough admin password")
    call_command(
        "createsuperuser", "--noinput", "--username", "root", "--email", "", stdout=io.StringIO()
    )
    admin = Browser()
    admin.login("root", "a long enough admin password")  # with its TOTP step
    before = len(audit_rows())
    page = admin.get(f"/admin/relay/case/{scene['created']['case_id']}/change/")
    assert page.status_code == 200
    shown = page.content.decode()
    for personal in ("+77015550177", "Qwauditrecipient", "Qwauditcity"):
        assert personal in shown, f"the admin page shows {personal}"
    new = audit_rows()[before:]
    assert any(r["object_id"] == str(scene["created"]["case_id"]) for r in new), (
        f"no audit entry for the admin's read of case {scene['created']['case_id']}: {new}"
    )
