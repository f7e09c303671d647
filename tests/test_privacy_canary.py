"""Canaries: personal data goes in through every door and is found nowhere at rest or in logs.

Distinctive strings go in as every kind of personal data the relay takes (the
requester's name and contact, the recipient's name, city and phone number, the
message, the volunteer's reply and note), through the API, the intake form, the
console and the CLI, with the worker sending the notifications. Then the raw
bytes are searched:

- (a) SQLite, the embedded mode: `bailanys up` in a child process with a fresh
  data directory; every file in that directory (the database, its -wal and
  -shm, the key files) and everything the processes printed;
- (b) PostgreSQL: the same flow in this process, then `pg_dump` of the test
  database;
- (c) the log records of the in-process run at DEBUG, and every SQL statement
  and parameter sent to the database.

A hit is any canary in any of its encodings (see `canary_forms` in tests/helpers.py).
"""

import base64
import http.cookiejar
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import (
    ON_POSTGRES,
    Api,
    Browser,
    bailanys_executable,
    free_port,
    make_account,
    status_token,
    totp_code_from_page,
)
from tests.helpers import capture_everything, child_env, hits_in, log_text, migrated_sqlite

# --- The canaries ------------------------------------------------------------

PHONE = "+77019876543"
# Every way the number may be written down: E.164, national (8…), digits only
# with and without the country code, and the groupings people and
# `phones.display` use.
PHONE_FORMS = (
    "+77019876543",
    "87019876543",
    "77019876543",
    "7019876543",
    "+7 701 987 6543",
    "701 987 65 43",
    "701-987-65-43",
)

API_REQUEST = {
    "requester": {
        "name": "Zyxcanaryname Апицанарейка",
        "language": "ru",
        "contact": "zyxcanary-contact@example.org",
    },
    "recipient": {
        "name": "Qwcanaryrecipient Жанаркүлканарейка",
        "phone": PHONE,
        "city": "Qwcanarycity",
        "language": "kk",
    },
    "message": "canary-message-8f3a1c7e Сәлем, бәрі жақсы",
    "kind": "deliver_message",
    "urgent": True,
}
FORM_REQUEST = {
    "recipient_name": "Qwcanaryformrecipient",
    "recipient_phone": "8 701 987 65 43",
    "recipient_city": "Qwcanaryformcity Өскемен",
    "recipient_language": "ru",
    "kind": "welfare_check",
    "message": "canary-formmessage-3c9d0b2a",
    "requester_name": "Zyxcanaryformname Айгүлканарейка",
    "requester_contact": "+4915112345678 zyxcanary-formcontact",
}
ESCALATION_NOTE = "canary-escalation-note-0a4b91 Полиция"
REPLY = "canary-reply-5d2e77 Біз аманбыз"
NOTE = "canary-note-b71f03"

TEXT_CANARIES = (
    "Zyxcanaryname",
    "Апицанарейка",
    "zyxcanary-contact@example.org",
    "Qwcanaryrecipient",
    "Жанаркүлканарейка",
    "Qwcanarycity",
    "canary-message-8f3a1c7e",
    "Сәлем, бәрі жақсы",
    "Qwcanaryformrecipient",
    "Qwcanaryformcity",
    "Өскемен",
    "canary-formmessage-3c9d0b2a",
    "Zyxcanaryformname",
    "Айгүлканарейка",
    "4915112345678",
    "zyxcanary-formcontact",
    "canary-escalation-note-0a4b91",
    "canary-reply-5d2e77",
    "Біз аманбыз",
    "canary-note-b71f03",
)
CANARIES = (*TEXT_CANARIES, *PHONE_FORMS)


def scan_files(paths) -> dict[str, list[str]]:
    """{file: canaries found} for every file under `paths` that holds one."""
    report = {}
    for path in paths:
        files = [p for p in Path(path).rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in files:
            found = hits_in(file.read_bytes(), CANARIES)
            if found:
                report[str(file)] = found
    return report


def report_scan(where: str, scanned_bytes: int, hits: dict) -> None:
    total = sum(len(v) for v in hits.values())
    print(f"\n[canary] {where}: {len(CANARIES)} canaries, {scanned_bytes} bytes, {total} hits")
    assert not hits, f"personal data found in {where}: {hits}"


def report_blob(where: str, blob: bytes) -> None:
    found = hits_in(blob, CANARIES)
    report_scan(where, len(blob), {where: found} if found else {})


def test_the_scanner_finds_canaries_in_every_encoding():
    message = "canary-message-8f3a1c7e"
    for blob in (
        f"xx{message}yy".encode(),
        f"xx{message.upper()}yy".encode(),
        json.dumps({"m": "Жанаркүлканарейка"}).encode(),
        base64.b64encode(b"{'a': 'Qwcanarycity'}"),
        base64.b64encode(b"12" + message.encode()),
        b"call 8 701 987 65 43",
        b"tel:+77019876543",
    ):
        assert hits_in(blob, CANARIES), blob
    assert hits_in(b"k1:abcdef:" + base64.b64encode(os.urandom(400)), CANARIES) == []


# --- (b) and (c): the flow in this process ------------------------------------


@pytest.fixture
def _fast(settings):
    # Passwords are not what this file tests; Argon2 would only make it slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def drive_in_process() -> list[str]:
    """Every door: API intake, form intake, API volunteer, console coordinator, CLI, worker.

    Returns the two requests' status tokens.
    """
    anon = Api()
    created = anon.post("/requests", API_REQUEST)
    assert created.status_code == 201, created.content
    created = created.json()

    requester = Browser()
    requester.get("/")
    response = requester.post("/", FORM_REQUEST)
    assert response.status_code == 302, response.content.decode()
    form_token = response["Location"].rstrip("/").rsplit("/", 1)[-1]

    _name, _password, token = make_account()
    volunteer = Api(token)
    case = volunteer.post("/claims")
    assert case.status_code == 200
    # Positive control: the holder does see the canaries, so they really went in.
    assert "canary-message-8f3a1c7e" in case.content.decode()
    assert case.json()["recipient_phone"] == PHONE
    escalated = volunteer.post(
        f"/claims/{case.json()['claim_id']}/outcome",
        {"outcome": "escalate", "note": ESCALATION_NOTE},
    )
    assert escalated.json()["case_state"] == "escalated"

    name, password, _token = make_account("coordinator")
    coordinator = Browser()
    coordinator.login(name, password)
    overview = coordinator.get("/console/coordinator/").content.decode()
    assert "canary-escalation-note-0a4b91" in overview
    taken = coordinator.post(f"/console/cases/{case.json()['case_id']}/take/")
    assert taken.status_code == 302
    console = coordinator.get("/console/").content.decode()
    assert "Qwcanarycity" in console
    claim_path = re.search(r'action="(/console/claims/\d+/outcome/)"', console).group(1)
    # The recipient says they know both requesters: both hear the reply (issue 16, item 1).
    known = re.findall(r'name="known" value="(\d+)"', console)
    assert len(known) == 2, known
    done = coordinator.post(
        claim_path,
        {"outcome": "reached", "reply": REPLY, "note": NOTE, "known_asked": "1", "known": known},
    )
    assert done.status_code == 302

    call_command("worker", "--batch", stdout=io.StringIO())
    status = anon.get(f"/requests/{status_token(created)}").json()
    assert status["status"] == "reached"
    assert any("canary-reply-5d2e77" in n for n in status["notifications"]), status
    form_status = anon.get(f"/requests/{form_token}").json()
    assert form_status["notifications"], "the form's requester was notified too"
    return [status_token(created), form_token]


@pytest.mark.usefixtures("_fast")
@pytest.mark.django_db(transaction=True)
def test_it_logs_no_canary_and_sends_the_database_only_ciphertext(caplog):
    capture_everything(caplog)
    with CaptureQueriesContext(connection) as queries:
        drive_in_process()
    # Each statement with its parameters, as the driver got them (before any log filter).
    sql = "\n".join(q["sql"] for q in queries.captured_queries).encode()
    assert len(queries.captured_queries) > 50, "the queries were captured"
    assert caplog.records, "logging was captured"
    report_blob("SQL sent to the database", sql)
    report_blob("log records at DEBUG", log_text(caplog))


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
@pytest.mark.skipif(not shutil.which("pg_dump"), reason="pg_dump is not installed")
@pytest.mark.usefixtures("_fast")
@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_canary_in_a_pg_dump(caplog):
    capture_everything(caplog)
    tokens = drive_in_process()
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    dump = subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "-h",
            db.get("HOST") or "127.0.0.1",
            "-p",
            str(db.get("PORT") or 5432),
            "-U",
            db.get("USER") or "postgres",
            db["NAME"],
        ],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    # Positive control: the dump holds this run's rows (committed, not rolled back).
    assert dump.count(b"k1:") >= 8, "sealed rows with wrapped data keys are in the dump"
    # A status token is never stored, only its keyed hash (issue 16, item 2).
    for token in tokens:
        assert token.encode() not in dump
    report_blob(f"pg_dump of {db['NAME']}", dump)
    report_blob("log records at DEBUG", log_text(caplog))


# --- (a) SQLite: `bailanys up` in a child process -------------------------------


class Web:
    """urllib with cookies, reading the CSRF token from each page like a browser."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.token = token
        self.csrf = ""
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def _open(self, request) -> tuple[str, bytes]:
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with self.opener.open(request, timeout=20) as r:
            body = r.read()
            found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
            if found:
                self.csrf = found.group(1).decode()
            return r.geturl(), body

    def get(self, path: str) -> tuple[str, bytes]:
        return self._open(urllib.request.Request(self.base + path))  # noqa: S310

    def form(self, path: str, data: dict) -> tuple[str, bytes]:
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": self.csrf, **data}, doseq=True
        ).encode()
        return self._open(urllib.request.Request(self.base + path, data=body))  # noqa: S310

    def json(self, path: str, data=None) -> dict | None:
        request = urllib.request.Request(  # noqa: S310
            self.base + path,
            data=json.dumps(data or {}).encode(),
            headers={"Content-Type": "application/json"},
        )
        _url, body = self._open(request)
        return json.loads(body) if body else None


class Child:
    """The processes of one embedded installation, all on one data directory."""

    def __init__(self, data_dir: Path, logs: Path):
        self.data_dir = data_dir
        self.logs = logs
        self.logs.mkdir()
        self.env = child_env(
            data_dir,
            BAILANYS_LOG_LEVEL="DEBUG",
            BAILANYS_COORDINATOR_USERNAME="boss",
            BAILANYS_COORDINATOR_PASSWORD="a long enough coordinator password",
        )
        self.server: subprocess.Popen | None = None
        self.runs = 0

    def run(self, *args: str) -> str:
        """Run one `bailanys` command to the end; keep its output for the scan."""
        self.runs += 1
        done = subprocess.run(
            [bailanys_executable(), *args],
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        (self.logs / f"{self.runs:02d}-{args[0]}.out").write_bytes(done.stdout + done.stderr)
        assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")
        return done.stdout.decode()

    def up(self) -> str:
        port = free_port()
        log = (self.logs / "up.log").open("wb")
        self.server = subprocess.Popen(
            [bailanys_executable(), "up", "--port", str(port), "--no-worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                pytest.fail(f"bailanys up exited:\n{(self.logs / 'up.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return base
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)  # waiting for the server to listen, not timing anything
        pytest.fail("bailanys up did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGINT)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait(timeout=5)


@pytest.fixture
def child(tmp_path, tmp_path_factory):
    installation = Child(migrated_sqlite(tmp_path_factory, tmp_path / "data"), tmp_path / "logs")
    yield installation
    installation.stop()


def scan_data_dir(data_dir: Path, token: str, when: str) -> set[str]:
    """Scan every file of the data directory as bytes; return the file names."""
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    contents = {p.name: p.read_bytes() for p in files}
    assert "bailanys.sqlite3" in contents, sorted(contents)
    database = b"".join(v for k, v in contents.items() if k.startswith("bailanys.sqlite3"))
    # Positive control: the rows are in the files (sealed rows with wrapped data keys).
    assert database.count(b"k1:") >= 8, "sealed rows with wrapped data keys are there"
    # A status token is never stored, only its keyed hash (issue 16, item 2).
    assert token.encode() not in database
    hits = {name: found for name, blob in contents.items() if (found := hits_in(blob, CANARIES))}
    print(f"\n[canary] data directory {when}: {sorted(contents)}")
    report_scan(
        f"SQLite data directory {when} ({len(files)} files)",
        sum(len(v) for v in contents.values()),
        hits,
    )
    return set(contents)


@pytest.mark.subprocess
def test_it_leaves_no_canary_in_the_sqlite_data_directory_or_the_output(child):
    base = child.up()
    anon = Web(base)
    created = anon.json("/api/v1/requests", API_REQUEST)
    api_token = created["status_url"].rstrip("/").rsplit("/", 1)[-1]

    requester = Web(base)
    requester.get("/")
    url, page = requester.form("/", FORM_REQUEST)
    assert "/s/" in url, page.decode()
    assert b"canary-formmessage-3c9d0b2a" in page, "the requester sees their own message"

    token = child.run("volunteer", "add", "vola").strip().splitlines()[-1]
    volunteer = Web(base, token)
    case = volunteer.json("/api/v1/claims")
    assert case["recipient_phone"] == PHONE
    assert len(case["messages"]) == 2, "the form's request joined the API's case"
    volunteer.json(
        f"/api/v1/claims/{case['claim_id']}/outcome",
        {"outcome": "escalate", "note": ESCALATION_NOTE},
    )

    boss = Web(base)
    boss.get("/accounts/login/")
    url, page = boss.form(
        "/accounts/login/", {"username": "boss", "password": "a long enough coordinator password"}
    )
    if "/accounts/2fa/setup/" in url:  # the coordinator's first login: set up TOTP
        url, page = boss.form(
            urllib.parse.urlsplit(url).path + "?next=/console/",
            {"code": totp_code_from_page(page.decode())},
        )
    assert url.endswith("/console/"), url
    _url, overview = boss.get("/console/coordinator/")
    assert b"canary-escalation-note-0a4b91" in overview
    _url, console = boss.form(f"/console/cases/{case['case_id']}/take/", {})
    assert "Qwcanarycity" in console.decode()
    outcome = re.search(r'action="(/console/claims/\d+/outcome/)"', console.decode()).group(1)
    known = re.findall(r'name="known" value="(\d+)"', console.decode())
    assert known, "the outcome form asks whom they know"
    boss.form(
        outcome,
        {"outcome": "reached", "reply": REPLY, "note": NOTE, "known_asked": "1", "known": known},
    )

    child.run("worker", "--batch")
    _url, body = anon.get(f"/api/v1/requests/{api_token}")
    status = json.loads(body)
    assert status["status"] == "reached"
    assert any("canary-reply-5d2e77" in n for n in status["notifications"]), status

    # While the server runs, the recent pages are in the -wal file; after it
    # stops they are checkpointed into the database file. Both are scanned.
    running = scan_data_dir(child.data_dir, api_token, "while `bailanys up` runs")
    assert "bailanys.sqlite3-wal" in running, "the write-ahead log was there to scan"
    child.stop()
    scan_data_dir(child.data_dir, api_token, "after `bailanys up` stopped")
    outputs = sorted(child.logs.iterdir())
    assert (child.logs / "up.log").stat().st_size > 0
    report_scan(
        f"output of {len(outputs)} bailanys processes",
        sum(p.stat().st_size for p in outputs),
        scan_files(outputs),
    )


# --- Bulletin subscribers (issue 19) -------------------------------------------

SUBSCRIBER_PHONE = "+77016665544"
SUBSCRIBER_FORMS = ("+77016665544", "87016665544", "77016665544", "7016665544", "701 666 55 44")
SUBSCRIBER_CHAT = "5918273645"


@pytest.mark.usefixtures("_fast")
@pytest.mark.django_db(transaction=True)
def test_a_subscribers_number_and_chat_are_in_no_log_and_not_in_the_sqlite_file(
    caplog, fake_smsgate, fake_telegram, settings, tmp_path
):
    """Subscribing, the fan-out and sending: the number and the chat id reach the fake
    phone and the fake Bot API, and nothing else; the database holds ciphertext only."""
    from django.contrib.auth import get_user_model

    from bailanys.bulletins.services import bulletin_approve, bulletin_draft, subscribe

    settings.BAILANYS_SMS_PER_MINUTE = 60000
    capture_everything(caplog)
    with CaptureQueriesContext(connection) as queries:
        subscribe(channel="sms", address=SUBSCRIBER_PHONE, language="kk", region="Алматы")
        subscribe(channel="telegram", address=SUBSCRIBER_CHAT, language="en")
        author, second = (
            get_user_model().objects.get(username=make_account("coordinator")[0]) for _ in range(2)
        )
        draft = bulletin_draft(
            texts={"en": "Banks open at 10:00.", "kk": "Банктер 10:00-де ашылады."},
            source="National Bank, nationalbank.kz",
            author=author,
        )
        bulletin_approve(draft.pk, by=second)
        call_command("worker", "--batch", stdout=io.StringIO())
    # Positive control: they did go where they were meant to.
    assert [m["phoneNumbers"] for m in fake_smsgate.outbox] == [[SUBSCRIBER_PHONE]]
    assert [str(m["chat_id"]) for m in fake_telegram.sent_messages()] == [SUBSCRIBER_CHAT]
    canaries = (*SUBSCRIBER_FORMS, SUBSCRIBER_CHAT)
    sql = "\n".join(q["sql"] for q in queries.captured_queries).encode()
    for where, blob in (("SQL sent to the database", sql), ("log records", log_text(caplog))):
        assert hits_in(blob, canaries) == [], where
    if connection.vendor == "sqlite":
        # The database as a file, in-memory or not: every page of it, -wal included.
        copy = tmp_path / "copy.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(copy)])
        blob = copy.read_bytes()
        assert b"Banks open at 10:00." in blob, "the copy holds the (public) bulletin"
        assert hits_in(blob, canaries) == []
