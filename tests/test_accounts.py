"""Accounts and roles: invitations, approval, suspension, login throttling, 2FA, logout.

Everything goes through HTTP as a browser sends it (CSRF checked) or through
the CLI; the database is read only to prove what is *not* stored.
"""

import logging
import re
from datetime import timedelta
from html import unescape
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.conftest import (
    Api,
    Browser,
    html,
    login_coordinator,
    make_account,
    run_cli,
    submit,
    totp_code,
    totp_code_from_page,
)

pytestmark = pytest.mark.django_db

PENDING = "Your account is waiting for a coordinator's approval."
SUSPENDED = "This account has been suspended."
MISMATCH = "That username and password did not match."
LOCKED = "Too many failed logins for this username from this network."
GONE = "This invitation no longer works"
GOOD_PASSWORD = "a long and unusual passphrase 7"


def text(response) -> str:
    return unescape(html(response))


def coordinator() -> tuple[Browser, str]:
    name, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, name, password)
    return browser, name


def invite(boss: Browser, role: str = "volunteer") -> str:
    """Make an invitation on the web page; return the path of its link."""
    assert boss.get("/accounts/invitations/").status_code == 200
    page = html(boss.post("/accounts/invitations/", {"role": role}))
    found = re.search(r'id="invitation-link">([^<]+)</code>', page)
    assert found, page
    return urlsplit(unescape(found.group(1))).path


def sign_up(path: str, username: str, password: str = GOOD_PASSWORD, browser=None):
    browser = browser or Browser()
    assert browser.get(path).status_code == 200
    return browser.post(path, {"username": username, "password1": password, "password2": password})


def try_login(browser: Browser, username: str, password: str):
    browser.get("/accounts/login/")
    return browser.post("/accounts/login/", {"username": username, "password": password})


def account_action(boss: Browser, username: str, action: str):
    """Press approve / suspend / reactivate on the accounts page for `username`."""
    page = html(boss.get("/accounts/volunteers/"))
    row = re.search(rf'<tr id="account-(\d+)"><td>{re.escape(username)}</td>', page)
    assert row, f"{username} is not on the accounts page"
    url = f"/accounts/volunteers/{row.group(1)}/{action}/"
    assert f'action="{url}"' in page, f"no {action} button for {username}"
    return boss.post(url, follow=True)


def state_on_page(boss: Browser, username: str) -> str:
    page = text(boss.get("/accounts/volunteers/"))
    found = re.search(rf"<td>{re.escape(username)}</td><td>[^<]*</td><td>([^<]*)</td>", page)
    assert found, page
    return found.group(1)


# --- Invitations and approval ---------------------------------------------------


def test_an_invitation_makes_an_account_that_waits_for_approval():
    boss, _ = coordinator()
    path = invite(boss)
    assert re.fullmatch(r"/accounts/join/bly_[\w-]{20,}/", path), path
    assert "Volunteer" in text(boss.get("/accounts/invitations/"))  # listed as open

    newcomer = Browser()
    form = newcomer.get(path)
    assert 'name="password2"' in html(form)
    done = newcomer.post(
        path, {"username": "asel", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert done.status_code == 201
    assert "waiting for a coordinator's approval" in text(done)

    # Waiting: the right password says so; a wrong one says nothing about the account.
    refused = try_login(newcomer, "asel", GOOD_PASSWORD)
    assert refused.status_code == 200
    assert PENDING in text(refused)
    assert newcomer.get("/console/").status_code == 302
    wrong = try_login(Browser(), "asel", "not the password at all")
    assert MISMATCH in text(wrong)
    assert PENDING not in text(wrong)

    assert state_on_page(boss, "asel") == "Waiting for approval"
    approved = account_action(boss, "asel", "approve")
    assert "asel is approved and can log in now." in text(approved)
    assert state_on_page(boss, "asel") == "Active"
    assert "No open" not in text(boss.get("/accounts/invitations/"))

    newcomer.login("asel", GOOD_PASSWORD)  # straight to /console/: no 2FA for volunteers
    assert "Take next case" in text(newcomer.get("/console/"))
    audit = text(boss.get("/console/audit/"))
    assert "invitation.create" in audit
    assert "invitation.accept" in audit
    assert "account.approve" in audit


def test_an_invitation_works_once():
    boss, _ = coordinator()
    path = invite(boss)
    first, second = Browser(), Browser()
    assert second.get(path).status_code == 200  # opened in two tabs
    assert sign_up(path, "first", browser=first).status_code == 201

    again = second.post(
        path, {"username": "second", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert again.status_code == 410
    assert GONE in text(again)
    assert Browser().get(path).status_code == 410
    assert Browser().get("/accounts/join/bly_never-made-by-us-1234567890/").status_code == 404
    # Nobody made a second account with it.
    assert "second" not in text(boss.get("/accounts/volunteers/"))


def test_a_revoked_invitation_stops_working():
    boss, _ = coordinator()
    path = invite(boss)
    page = html(boss.get("/accounts/invitations/"))
    revoke = re.search(r'action="(/accounts/invitations/\d+/revoke/)"', page)
    assert revoke
    assert boss.post(revoke.group(1)).status_code == 302
    assert Browser().get(path).status_code == 410


def test_an_invitation_expires_after_the_configured_days(settings):
    settings.BAILANYS_INVITATION_DAYS = 3
    path = urlsplit(run_cli("volunteer", "invite").strip().splitlines()[-1]).path
    start = timezone.now()
    with time_machine.travel(start + timedelta(days=3) - timedelta(minutes=1), tick=False):
        assert Browser().get(path).status_code == 200
    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        late = Browser().get(path)
        assert late.status_code == 410
        assert GONE in text(late)
        assert sign_up_refused(path)


def sign_up_refused(path: str) -> bool:
    browser = Browser()
    browser.get("/accounts/login/")  # a page with a CSRF token
    response = browser.post(
        path, {"username": "late", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    return response.status_code == 410


def test_cli_invite_prints_the_link_last_and_stores_only_its_hash():
    from bailanys.accounts.models import Invitation

    output = run_cli(
        "volunteer", "invite", "--experienced", "--base-url", "https://relay.example.org/"
    )
    link = output.strip().splitlines()[-1]
    assert re.fullmatch(r"https://relay\.example\.org/accounts/join/bly_[\w-]{20,}/", link), link
    token = link.rstrip("/").rsplit("/", 1)[-1]
    stored = Invitation.objects.values_list("digest", "role").get()
    assert token not in str(stored)
    assert stored[1] == "experienced"

    bare = run_cli("volunteer", "invite").strip().splitlines()
    assert bare[-1].startswith("/accounts/join/bly_")
    assert "BAILANYS_PUBLIC_URL" in bare[-2]

    assert sign_up(urlsplit(link).path, "erlan").status_code == 201
    boss, _ = coordinator()
    page = text(boss.get("/accounts/volunteers/"))
    assert re.search(r"<td>erlan</td><td>Experienced volunteer</td><td>Waiting for approval", page)
    assert re.search(r"<td[^>]*>command line</td>", page)  # who invited them


def test_the_signup_form_checks_the_password_and_the_name():
    boss, name = coordinator()
    path = invite(boss)
    browser = Browser()
    browser.get(path)
    mismatch = browser.post(
        path, {"username": "dana", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD + "x"}
    )
    assert mismatch.status_code == 422
    assert "The two passwords are not the same." in text(mismatch)
    common = browser.post(
        path, {"username": "dana", "password1": "password", "password2": "password"}
    )
    assert common.status_code == 422
    assert "Many people use this password. Choose another." in text(common)
    short = browser.post(path, {"username": "dana", "password1": "x7Qz", "password2": "x7Qz"})
    assert "Too short: at least 8 characters." in text(short)
    taken = browser.post(
        path, {"username": name.upper(), "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert "That username is taken." in text(taken)
    # None of that spent the invitation.
    created = browser.post(
        path, {"username": "dana", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert created.status_code == 201


def test_the_account_pages_are_for_coordinators_only():
    volunteer = Browser()
    name, password, _token = make_account()
    volunteer.login(name, password)
    for path in ("/accounts/volunteers/", "/accounts/invitations/"):
        assert volunteer.get(path).status_code == 404
    assert volunteer.post("/accounts/invitations/", {"role": "volunteer"}).status_code == 404

    boss, _ = coordinator()
    page = html(boss.get("/accounts/volunteers/"))
    row = re.search(rf'<tr id="account-(\d+)"><td>{name}</td>', page)
    assert row
    suspend = f"/accounts/volunteers/{row.group(1)}/suspend/"
    assert volunteer.post(suspend).status_code == 404
    assert boss.get(suspend).status_code == 405  # POST only
    assert boss.client.post(suspend).status_code == 403  # without the CSRF token
    assert state_on_page(boss, name) == "Active"
    # The invitation form cannot make coordinators.
    refused = boss.post("/accounts/invitations/", {"role": "coordinator"})
    assert 'id="invitation-link"' not in html(refused)


def test_a_coordinator_cannot_suspend_themselves_or_another_coordinator():
    boss, boss_name = coordinator()
    other, other_name = coordinator()
    page = html(boss.get("/accounts/volunteers/"))
    own = re.search(rf'<tr id="account-(\d+)"><td>{boss_name}</td>', page).group(1)
    assert f"/accounts/volunteers/{own}/suspend/" not in page
    assert "cannot do that" in text(boss.post(f"/accounts/volunteers/{own}/suspend/", follow=True))
    assert "cannot do that" in text(account_action(boss, other_name, "suspend"))
    assert other.get("/console/coordinator/").status_code == 200


# --- Suspension -----------------------------------------------------------------


def test_suspension_ends_the_session_the_api_token_and_the_claim_at_once():
    created = submit(Api(address="10.200.0.1"))
    name, password, token = make_account()
    volunteer = Browser()
    volunteer.login(name, password)
    volunteer.post("/console/take/")
    assert 'href="tel:' in html(volunteer.get("/console/"))
    assert Api(token).post("/claims").json()["case_id"] == created["case_id"]  # still theirs

    boss, _ = coordinator()
    done = account_action(boss, name, "suspend")
    assert f"{name} is suspended" in text(done)
    assert state_on_page(boss, name) == "Suspended"

    # The open page stops working on its next request.
    bounced = volunteer.get("/console/")
    assert bounced.status_code == 302
    assert bounced["Location"].startswith("/accounts/login/")
    assert volunteer.post("/console/take/").status_code == 302  # to the login page
    assert "Take next case" not in text(volunteer.get("/console/", follow=True))
    # The API token is dead.
    assert Api(token).post("/claims").status_code == 401
    # The case went back to the queue: another volunteer gets it now.
    _other, _pw, other_token = make_account()
    taken = Api(other_token).post("/claims")
    assert taken.status_code == 200
    assert taken.json()["case_id"] == created["case_id"]
    # And the password no longer logs in; the page says why.
    refused = try_login(Browser(), name, password)
    assert SUSPENDED in text(refused)
    audit = text(boss.get("/console/audit/"))
    assert "account.suspend (returned 1 case(s))" in audit


def test_a_suspended_session_is_deleted_on_the_server():
    name, password, _token = make_account()
    volunteer = Browser()
    volunteer.login(name, password)
    key = volunteer.client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=key).exists()
    boss, _ = coordinator()
    account_action(boss, name, "suspend")
    assert not Session.objects.filter(session_key=key).exists()


def test_reactivation_lets_them_in_again_but_not_the_old_token():
    name, password, token = make_account()
    boss, _ = coordinator()
    account_action(boss, name, "suspend")
    done = account_action(boss, name, "reactivate")
    assert f"{name} can log in again." in text(done)
    Browser().login(name, password)
    assert Api(token).post("/claims").status_code == 401
    new_token = run_cli("volunteer", "token", name).strip().splitlines()[-1]
    assert Api(new_token).post("/claims").status_code == 204
    audit = text(boss.get("/console/audit/"))
    assert "account.reactivate" in audit


def test_a_rejected_newcomer_cannot_log_in():
    boss, _ = coordinator()
    assert sign_up(invite(boss), "mallory").status_code == 201
    page = text(account_action(boss, "mallory", "suspend"))  # the button says "Reject"
    assert "mallory is suspended" in page
    assert SUSPENDED in text(try_login(Browser(), "mallory", GOOD_PASSWORD))


def test_the_cli_suspends_and_reactivates():
    name, password, token = make_account()
    volunteer = Browser()
    volunteer.login(name, password)
    out = run_cli("volunteer", "suspend", name)
    assert f"Suspended {name}" in out
    assert volunteer.get("/console/").status_code == 302
    assert Api(token).post("/claims").status_code == 401
    run_cli("volunteer", "reactivate", name)
    Browser().login(name, password)


# --- Login throttling -------------------------------------------------------------


def test_logins_lock_after_repeated_failures_and_say_so(settings, caplog):
    settings.AXES_FAILURE_LIMIT = 5
    name, password, _token = make_account()
    browser = Browser()
    address = browser.client.defaults["REMOTE_ADDR"]
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="axes")  # even if an operator turns it up
    for _ in range(4):
        response = try_login(browser, name, "wrong guess")
        assert response.status_code == 200
        assert MISMATCH in text(response)
    locked = try_login(browser, name, "wrong guess")
    assert locked.status_code == 429
    assert LOCKED in text(locked)
    assert "15 minutes" in text(locked)

    # During the lock even the right password is refused, with the same message.
    right = try_login(browser, name, password)
    assert right.status_code == 429
    assert LOCKED in text(right)
    assert browser.get("/console/").status_code == 302
    # The lock is per username and address: the volunteer elsewhere still gets in.
    Browser().login(name, password)

    # Nothing personal in the logs, nor names in axes' table.
    from axes.models import AccessAttempt

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Locking out" in logged  # axes did log the lock
    assert name not in logged
    assert address not in logged
    assert "wrong guess" not in logged
    stored = list(AccessAttempt.objects.values("username", "post_data", "get_data"))
    assert stored
    assert name not in str(stored)
    assert "wrong guess" not in str(stored)


def test_the_lock_lifts_after_the_cool_off(settings):
    settings.AXES_FAILURE_LIMIT = 3
    name, password, _token = make_account()
    browser = Browser()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            try_login(browser, name, "wrong guess")
        assert try_login(browser, name, password).status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        browser.login(name, password)


# --- Two-step login (TOTP) ------------------------------------------------------


def test_a_coordinator_sets_up_totp_at_first_login_and_nothing_opens_before(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code, then the right one at once
    name, password, _token = make_account("coordinator")
    boss = Browser()
    boss.get("/accounts/login/")
    landed = boss.post("/accounts/login/", {"username": name, "password": password}, follow=True)
    assert landed.redirect_chain[-1][0] == "/accounts/2fa/setup/?next=%2Fconsole%2F"
    setup = html(landed)
    assert "otpauth://totp/Bailanys%3A" in setup
    for path in ("/console/coordinator/", "/console/", "/accounts/volunteers/", "/admin/"):
        response = boss.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/2fa/setup/"), path

    wrong = boss.post("/accounts/2fa/setup/", {"code": "000000", "next": "/console/"})
    assert wrong.status_code == 422
    assert "That code did not match." in text(wrong)
    done = boss.post(
        "/accounts/2fa/setup/",
        {"code": totp_code_from_page(html(wrong)), "next": "/console/coordinator/"},
    )
    assert done.status_code == 302
    assert done["Location"] == "/console/coordinator/"
    assert boss.get("/console/coordinator/").status_code == 200
    assert boss.get("/admin/").status_code == 200
    assert "2fa.confirm" in text(boss.get("/console/audit/"))


def test_a_coordinator_with_a_device_passes_the_verify_step_every_session(settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    name, password, _token = make_account("coordinator")
    login_coordinator(Browser(), name, password)  # sets the device up
    device = TOTPDevice.objects.get(user__username=name, confirmed=True)

    # A new session (another browser) must pass the code again.
    boss = Browser()
    boss.get("/accounts/login/")
    landed = boss.post("/accounts/login/", {"username": name, "password": password}, follow=True)
    assert landed.redirect_chain[-1][0] == "/accounts/2fa/verify/?next=%2Fconsole%2F"
    for path in ("/console/coordinator/", "/console/audit/", "/admin/"):
        response = boss.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/2fa/verify/"), path
    # Nor can the second browser set up a device of its own.
    assert boss.get("/accounts/2fa/setup/")["Location"].startswith("/accounts/2fa/verify/")

    wrong = boss.post("/accounts/2fa/verify/", {"code": "123456"})
    assert wrong.status_code == 422
    assert "That code did not work." in text(wrong)
    device.refresh_from_db()
    code = totp_code(device.bin_key, drift=device.drift, last_t=device.last_t)
    ok = boss.post("/accounts/2fa/verify/", {"code": code, "next": "/console/coordinator/"})
    assert ok["Location"] == "/console/coordinator/"
    assert boss.get("/console/coordinator/").status_code == 200
    # The same code cannot be used twice.
    replay = Browser()
    replay.get("/accounts/login/")
    replay.post("/accounts/login/", {"username": name, "password": password})
    replay.get("/accounts/2fa/verify/")
    assert replay.post("/accounts/2fa/verify/", {"code": code}).status_code == 422


def test_volunteers_are_not_asked_for_a_second_factor():
    for role in ("", "experienced"):
        name, password, _token = make_account(role)
        browser = Browser()
        browser.get("/accounts/login/")
        response = browser.post(
            "/accounts/login/", {"username": name, "password": password}, follow=True
        )
        assert [url for url, _code in response.redirect_chain] == ["/console/"]
        assert browser.get("/accounts/2fa/setup/")["Location"] == "/console/"


def test_reset_2fa_from_the_cli_makes_the_coordinator_set_up_again():
    name, password, _token = make_account("coordinator")
    boss = Browser()
    login_coordinator(boss, name, password)
    out = run_cli("volunteer", "reset-2fa", name)
    assert f"Removed 1 two-step login device(s) of {name}" in out
    # Logged out everywhere, and the next login sets a new device up.
    assert boss.get("/console/coordinator/")["Location"].startswith("/accounts/login/")
    again = Browser()
    again.get("/accounts/login/")
    landed = again.post("/accounts/login/", {"username": name, "password": password}, follow=True)
    assert landed.redirect_chain[-1][0].startswith("/accounts/2fa/setup/")


def test_the_api_does_not_ask_for_a_second_factor():
    _name, _password, token = make_account("coordinator")
    assert Api(token).post("/claims").status_code == 204


# --- Sessions -------------------------------------------------------------------


def test_logout_deletes_the_session_so_the_old_cookie_is_worthless():
    name, password, _token = make_account()
    browser = Browser()
    browser.login(name, password)
    old = browser.client.cookies["sessionid"].value
    assert browser.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=old).exists()

    thief = Client()
    thief.cookies["sessionid"] = old
    response = thief.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_pages_speak_russian_and_kazakh():
    from django.utils import translation
    from django.utils.translation import gettext

    boss, _ = coordinator()
    path = invite(boss)
    # The request switches this thread's language; leave it as it was for other tests.
    with translation.override("en"):
        for language in ("ru", "kk"):
            with translation.override(language):
                heading = gettext("Join as a volunteer")
            assert heading != "Join as a volunteer", language
            page = text(Browser().get(path, headers={"Accept-Language": language}))
            assert heading in page
