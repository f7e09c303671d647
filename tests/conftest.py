"""Personas and small factories. Everything goes through HTTP or the CLI."""

import base64
import io
import itertools
import json
import os
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.fakes.gammu import FakeGammu
from tests.fakes.outages import RADAR_TOKEN, OutageFakes
from tests.fakes.smsgate import SIGNING_KEY, FakeSmsGate
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio

_names = itertools.count(1)


_addresses = itertools.count(1)


def next_address() -> str:
    """A network address nobody in this test run has used: flood limits count per address."""
    n = next(_addresses)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


class Api:
    """A JSON client for /api/v1 with an optional bearer token (and source address)."""

    def __init__(self, token: str | None = None, *, address: str | None = None):
        self.client = Client(**({"REMOTE_ADDR": address} if address else {}))
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


def outbox_drain(timeout: float = 30) -> None:
    """Run `bailanys worker --batch` until nothing waits in the outbox.

    Rate-limited messages come back as deferred tasks, so one run is not always enough.
    Tests that call this must commit (django_db(transaction=True)): the worker closes
    database connections between tasks.
    """
    import time

    from bailanys.outbox.models import OutboxMessage

    deadline = time.monotonic() + timeout
    pending = (OutboxMessage.State.PENDING, OutboxMessage.State.SENDING)
    while True:
        run_cli("worker", "--batch")
        if not OutboxMessage.objects.filter(state__in=pending).exists():
            return
        assert time.monotonic() < deadline, "the outbox did not empty"
        time.sleep(0.05)


def pump_until(done, timeout: float = 60) -> None:
    """Run a worker's outbox pump (in a thread, as `bailanys worker` does) until `done()`
    is true, then stop it; it finishes the sends in hand. Tests that call this must commit
    (django_db(transaction=True)): the pump's sends run on threads of their own."""
    import threading
    import time

    from bailanys.outbox.pump import outbox_pump

    stop = threading.Event()
    pump = threading.Thread(target=outbox_pump, args=(stop,))
    pump.start()
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the pump did not get there in time"
            time.sleep(0.05)
    finally:
        stop.set()
        pump.join(timeout=60)
    assert not pump.is_alive(), "the pump did not stop"


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


# --- The web console, as a browser uses it -----------------------------------

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_PASSWORD = re.compile(r"^Password for the web console: (\S+)$", re.MULTILINE)


def pytest_configure(config):
    # The live server serves static files as `bailanys up` does: through WhiteNoise from
    # the collection (hashed, gzipped, cached), not through Django's finder view, which
    # knows no hashed name and compresses nothing.
    from django.contrib.staticfiles import handlers

    class ServedByWhiteNoise(handlers.StaticFilesHandler):
        def _should_handle(self, path):
            return False

    handlers.StaticFilesHandler = ServedByWhiteNoise
    config.addinivalue_line(
        "markers",
        "subprocess: starts `bailanys` in a child process with SQLite in a temporary "
        "directory; runs the same whatever DATABASE_URL says",
    )


@pytest.fixture(scope="session", autouse=True)
def static_collected(tmp_path_factory):
    """The static files collected as `bailanys up` collects them, once per run."""
    from django.test.signals import setting_changed

    root = tmp_path_factory.mktemp("static")
    settings.STATIC_ROOT = root
    # A storage made before now (a module that rendered a page at import) keeps the old
    # root: collectstatic would fill the data directory's, and WhiteNoise serve this one.
    setting_changed.send(sender=None, setting="STATIC_ROOT", value=root, enter=True)
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (root / "staticfiles.json").exists()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, tmp_path_factory):
    """With TEST_SQLITE_FILE=1, the SQLite test database is a file, so threads can share it.

    pytest-django's default in-memory SQLite database answers a second thread
    with "database table is locked"; the threaded tests skip there.
    """
    if os.environ.get("TEST_SQLITE_FILE") and not ON_POSTGRES:
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(path)


def make_account(role: str = "") -> tuple[str, str, str]:
    """Create an account with `bailanys volunteer add`; return (username, password, API token)."""
    name = f"vol{next(_names)}"
    flags = [f"--{role}"] if role else []
    output = run_cli("volunteer", "add", name, *flags)
    password = _PASSWORD.search(output)
    assert password, output
    return name, password.group(1), output.strip().splitlines()[-1]


class Browser:
    """A django.test.Client that checks CSRF like production and remembers the form token.

    Every HTML page fetched refreshes the token, as a browser's open page would.
    """

    def __init__(self):
        # Each browser is somebody else, somewhere else.
        self.client = Client(enforce_csrf_checks=True, REMOTE_ADDR=next_address())
        self.csrf = ""

    def _remember(self, response):
        if response.get("Content-Type", "").startswith("text/html"):
            found = _CSRF.search(response.content.decode())
            if found:
                self.csrf = found.group(1)
        return response

    def get(self, path: str, **kwargs):
        return self._remember(self.client.get(path, **kwargs))

    def post(self, path: str, data=None, **kwargs):
        data = {"csrfmiddlewaretoken": self.csrf, **(data or {})}
        return self._remember(self.client.post(path, data, **kwargs))

    def login(self, username: str, password: str) -> None:
        """Log in through the form; a coordinator also passes the TOTP step it is sent to."""
        self.get("/accounts/login/")
        response = self.post(
            "/accounts/login/", {"username": username, "password": password}, follow=True
        )
        assert response.redirect_chain, response.content.decode()
        if response.redirect_chain[-1][0].startswith("/accounts/2fa/"):
            response = pass_two_factor(self, response, username)
        assert response.redirect_chain[-1][0] == "/console/"


def html(response) -> str:
    return response.content.decode()


# --- Fakes of the services Bailanys talks to (tests/fakes/) ---------------------


@pytest.fixture
def fake_smsgate(settings):
    """An SMS Gateway for Android phone, with Bailanys' settings pointing at it."""
    with FakeSmsGate() as fake:
        settings.BAILANYS_SMSGATE_URL = fake.url
        settings.BAILANYS_SMSGATE_USERNAME = fake.username
        settings.BAILANYS_SMSGATE_PASSWORD = fake.password
        settings.BAILANYS_SMSGATE_SIGNING_KEY = SIGNING_KEY
        fake.signing_key = SIGNING_KEY
        yield fake


@pytest.fixture
def fake_telegram(settings):
    """A Telegram Bot API server, with Bailanys' settings pointing at it."""
    with FakeTelegram() as fake:
        settings.BAILANYS_TELEGRAM_API_URL = fake.url
        settings.BAILANYS_TELEGRAM_BOT_TOKEN = fake.token
        yield fake


@pytest.fixture
def fake_twilio():
    """A Twilio Messages API; add it as a gateway with its url (see tests/test_sms_http.py)."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_gammu(tmp_path):
    """A gammu-smsd FILES spool in a temporary folder."""
    return FakeGammu(tmp_path / "spool")


@pytest.fixture
def fake_outages(settings):
    """IODA, OONI and Cloudflare Radar answering from one made-up scenario
    (``fake_outages.scenario``), with Bailanys' settings pointing at them and all three polled."""
    with OutageFakes() as fake:
        settings.BAILANYS_IODA_URL = fake.urls["ioda"]
        settings.BAILANYS_OONI_URL = fake.urls["ooni"]
        settings.BAILANYS_RADAR_URL = fake.urls["radar"]
        settings.BAILANYS_RADAR_TOKEN = RADAR_TOKEN
        settings.BAILANYS_OUTAGE_FEEDS = ["ioda", "ooni"]
        yield fake


@pytest.fixture(autouse=True)
def no_outage_feeds(settings):
    """No test asks the real IODA, OONI or Radar: tests that poll use ``fake_outages``."""
    settings.BAILANYS_OUTAGE_FEEDS = []
    settings.BAILANYS_RADAR_TOKEN = ""


@pytest.fixture(autouse=True)
def generous_flood_limits(settings):
    """Most tests send many requests from one address; flood tests set their own limits."""
    settings.BAILANYS_INTAKE_LIMIT_PER_SOURCE = "100000/60"
    settings.BAILANYS_INTAKE_LIMIT_PER_CONTACT = "100000/60"
    settings.BAILANYS_CHECKIN_LIMIT_PER_NUMBER = "100000/60"
    settings.BAILANYS_BRIDGE_REF_LIMIT_PER_NUMBER = "100000/60"
    settings.BAILANYS_PROXY_VOUCH_LIMIT = "100000/60"
    settings.BAILANYS_BULLETIN_CHECK_LIMIT_PER_NUMBER = "100000/60"
    settings.BAILANYS_STATUS_LIMIT_PER_NUMBER = "100000/60"


# --- Two-step login (TOTP) for coordinators -----------------------------------

_TOTP_SECRET = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')


def totp_code(key: bytes, *, drift: int = 0, last_t: int = -1) -> str:
    """A code the server accepts now: the first step in its window (±1) above `last_t`."""
    from django_otp.oath import TOTP

    totp = TOTP(key)
    now = totp.t()
    # The current step, not the one before: a minute may turn before the server checks.
    step = max(now + drift, last_t + 1)
    assert step <= now + drift + 1, "this device has used every code of this minute"
    totp.drift = step - now
    return f"{totp.token():06d}"


def totp_code_from_page(page: str) -> str:
    """A code for the key shown on /accounts/2fa/setup/, as a phone app would compute it."""
    found = _TOTP_SECRET.search(page)
    assert found, "no TOTP key on the page"
    return totp_code(base64.b32decode(found.group(1).replace(" ", "")))


def pass_two_factor(browser: "Browser", response, username: str):
    """Finish the 2FA step `response` landed on (setup or verify); return the followed response."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    path = response.redirect_chain[-1][0]
    if path.startswith("/accounts/2fa/setup/"):
        code = totp_code_from_page(html(response))
    else:
        assert path.startswith("/accounts/2fa/verify/"), path
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        code = totp_code(device.bin_key, drift=device.drift, last_t=device.last_t)
    return browser.post(path, {"code": code}, follow=True)


def login_coordinator(browser: "Browser", username: str, password: str) -> None:
    """Log a coordinator in as a person would: password, then the code from the app.

    The first login sets the TOTP device up through /accounts/2fa/setup/ (reading
    the key off the page); later ones pass /accounts/2fa/verify/.
    """
    browser.get("/accounts/login/")
    response = browser.post(
        "/accounts/login/", {"username": username, "password": password}, follow=True
    )
    landed = response.redirect_chain[-1][0]
    assert landed.startswith("/accounts/2fa/"), f"no second step asked for, landed on {landed}"
    response = pass_two_factor(browser, response, username)
    assert response.redirect_chain[-1][0] == "/console/", response.redirect_chain


def verify_forced_login(client: Client, user) -> None:
    """For a client after `force_login(coordinator)`: give it a device and pass the verify step."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    code = totp_code(device.bin_key, drift=device.drift, last_t=device.last_t)
    response = client.post("/accounts/2fa/verify/", {"code": code})
    assert response.status_code == 302, response.content.decode()[:500]


# --- Child processes of the real command ---------------------------------------


def bailanys_executable() -> str:
    beside = Path(sys.executable).parent / "bailanys"
    found = str(beside) if beside.exists() else shutil.which("bailanys")
    if not found:
        pytest.skip("the bailanys command is not installed (pip install -e .)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
