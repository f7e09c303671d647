"""Envelope encryption at rest: bound to its row and column, rotatable, shreddable.

The database is read directly here only to see (and tamper with) what it holds
at rest; everything else goes through the API, the pages and the CLI. Keys
live in a temporary data directory per test.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import sqlite3
import subprocess
import textwrap
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test import Client

from bailanys.privacy import crypto, keys, services
from bailanys.privacy.crypto import DecryptionError
from bailanys.privacy.fields import SealedTextField, sealed_models
from bailanys.privacy.keys import keyring
from bailanys.relay.models import Request
from tests.conftest import (
    ON_POSTGRES,
    Api,
    Browser,
    bailanys_executable,
    make_account,
    request_body,
    status_token,
    submit,
)
from tests.helpers import child_env, hits_in, migrated_sqlite

commits = pytest.mark.django_db(transaction=True)

CANARY_MESSAGE = "canary-crypto-message-71c2"
CANARY_REPLY = "canary-crypto-reply-9e04"
CANARY_NOTE = "canary-crypto-note-3b55"
CANARY_NAMES = ("Zyxcryptorequester", "Qwcryptorecipient", "Qwcryptocity")
CANARIES = (CANARY_MESSAGE, CANARY_REPLY, CANARY_NOTE, *CANARY_NAMES, "7017654321")


@pytest.fixture(autouse=True)
def key_dir(tmp_path, settings, monkeypatch) -> Path:
    """Keys made fresh in this test's own data directory, never from the environment."""
    monkeypatch.delenv("BAILANYS_MASTER_KEY", raising=False)
    monkeypatch.delenv("BAILANYS_INDEX_KEY", raising=False)
    settings.DATA_DIR = tmp_path / "data"
    # Passwords are not what this file tests; Argon2 would only make it slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    keyring.forget()
    yield settings.DATA_DIR
    keyring.forget()


def canary_body(phone: str, tag: str = "") -> dict:
    return request_body(
        phone=phone,
        requester={"name": f"Zyxcryptorequester{tag}", "language": "en", "contact": f"c{tag}@x"},
        recipient={"name": f"Qwcryptorecipient{tag}", "phone": phone, "city": f"Qwcryptocity{tag}"},
        message=f"{CANARY_MESSAGE}{tag}",
    )


def populate() -> dict:
    """Rows in every sealed table: two closed cases with replies and notifications, one held."""
    anon = Api()
    name, password, token = make_account()
    volunteer = Api(token)
    closed = []
    for tag, phone in (("a", "+77017654321"), ("b", "+77017654322")):
        created = anon.post("/requests", canary_body(phone, tag)).json()
        claim = volunteer.post("/claims").json()
        r = volunteer.post(
            f"/claims/{claim['claim_id']}/outcome",
            {"outcome": "reached", "reply": f"{CANARY_REPLY}{tag}", "note": f"{CANARY_NOTE}{tag}"},
        )
        assert r.json()["case_state"] == "closed"
        closed.append(created)
    held = anon.post("/requests", canary_body("+77017654323", "c")).json()
    claim = volunteer.post("/claims").json()
    assert claim["case_id"] == held["case_id"]
    call_command("worker", "--batch", stdout=io.StringIO())
    return {
        "closed": closed,
        "held": held,
        "volunteer": volunteer,
        "claim": claim,
        "login": (name, password),
    }


def sealed_columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if isinstance(f, SealedTextField)]


def at_rest() -> dict[str, list[tuple]]:
    """{table: rows of (id, data_key, *sealed columns)} exactly as stored."""
    snapshot = {}
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in sealed_models():
            table = model._meta.db_table
            columns = ", ".join(q(c) for c in ["id", "data_key", *sealed_columns(model)])
            cursor.execute(f"SELECT {columns} FROM {q(table)} ORDER BY id")  # noqa: S608
            snapshot[table] = cursor.fetchall()
    return snapshot


def raw_update(table: str, column: str, source_column: str, target_id: int, source_id: int):
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(table)} SET {q(column)} = "  # noqa: S608
            f"(SELECT {q(source_column)} FROM {q(table)} WHERE id = %s) WHERE id = %s",
            [source_id, target_id],
        )


def raise_nothing_client() -> Client:
    return Client(raise_request_exception=False)


# --- Bound to row and column ----------------------------------------------------


@commits
def test_a_ciphertext_copied_into_another_row_does_not_decrypt():
    scene = populate()
    first, second = scene["closed"]
    raw_update("relay_request", "message", "message", first["request_id"], second["request_id"])

    # Through the API and the status page: the row cannot be read, so it is absent (404
    # with the reason, never a server error), and never the other row's message.
    for path in (f"/api/v1/requests/{status_token(first)}", f"/s/{status_token(first)}/"):
        response = raise_nothing_client().get(path)
        assert response.status_code == 404, path
        assert b"can no longer be read" in response.content
        assert CANARY_MESSAGE.encode() not in response.content
    with pytest.raises(DecryptionError):
        _ = Request.objects.get(pk=first["request_id"]).message
    # The row it was copied from is untouched.
    assert Api().get(f"/requests/{status_token(second)}").json()["message"] == CANARY_MESSAGE + "b"

    # Every sealed column of every sealed table: a value from another row fails.
    checked = []
    for model in sealed_models():
        ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
        for column in sealed_columns(model):
            values = dict(model.objects.values_list("pk", column))  # ciphertext, as stored
            filled = [pk for pk in ids if values[pk]]
            if len(filled) < 2:
                continue
            target, source = filled[0], filled[-1]
            raw_update(model._meta.db_table, column, column, target, source)
            row = model.objects.get(pk=target)
            with pytest.raises(DecryptionError):
                getattr(row, model._meta.get_field(column).attname)
            checked.append(f"{model._meta.db_table}.{column}")
    print(f"\n[crypto] cross-row copies refused: {len(checked)} columns {checked}")
    assert len(checked) >= 10, checked


@commits
def test_a_ciphertext_copied_into_another_column_of_its_row_does_not_decrypt():
    scene = populate()
    first = scene["closed"][0]
    raw_update(
        "relay_request", "recipient_city", "message", first["request_id"], first["request_id"]
    )
    response = raise_nothing_client().get(f"/s/{status_token(first)}/")
    # The status page does not show the city; the console would. The model refuses it.
    request = Request.objects.get(pk=first["request_id"])
    assert request.message == CANARY_MESSAGE + "a"
    with pytest.raises(DecryptionError):
        _ = request.recipient_city
    assert response.status_code == 200

    checked = []
    for model in sealed_models():
        columns = sealed_columns(model)
        for row in model.objects.order_by("pk"):
            stored = {c: row.__dict__[model._meta.get_field(c).attname] for c in columns}
            filled = [c for c in columns if stored[c]]
            if len(filled) < 2:
                continue
            source, target = filled[0], filled[1]
            raw_update(model._meta.db_table, target, source, row.pk, row.pk)
            fresh = model.objects.get(pk=row.pk)
            getattr(fresh, model._meta.get_field(source).attname)  # the original still opens
            with pytest.raises(DecryptionError):
                getattr(fresh, model._meta.get_field(target).attname)
            checked.append(f"{model._meta.db_table}.{source}->{target}")
            break
    print(f"\n[crypto] cross-column copies refused: {checked}")
    assert len(checked) >= 4, checked


@commits
def test_a_data_key_copied_from_another_row_does_not_unwrap():
    scene = populate()
    first, second = scene["closed"]
    raw_update("relay_request", "data_key", "data_key", first["request_id"], second["request_id"])
    response = raise_nothing_client().get(f"/api/v1/requests/{status_token(first)}")
    assert response.status_code == 404
    assert b"can no longer be read" in response.content
    assert CANARY_MESSAGE.encode() not in response.content


# --- The blind index --------------------------------------------------------------


def stored_recipient_key(case_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT recipient_key FROM relay_case WHERE id = %s", [case_id])
        return cursor.fetchone()[0]


def unkeyed_hashes(phone_e164: str) -> set[str]:
    forms = {phone_e164, phone_e164[1:], "8" + phone_e164[2:], phone_e164[2:]}
    return {
        algorithm(form.encode()).hexdigest()
        for form in forms
        for algorithm in (hashlib.sha256, hashlib.sha1, hashlib.md5, hashlib.sha512)
    }


@pytest.mark.django_db
def test_the_blind_index_is_keyed_and_changes_with_the_key(monkeypatch, key_dir):
    phone = "+77017654321"
    stored = []
    for _ in range(2):
        key = os.urandom(32)
        monkeypatch.setenv("BAILANYS_INDEX_KEY", base64.urlsafe_b64encode(key).decode())
        keyring.forget()
        case_id = submit(Api(), phone=phone)["case_id"]
        recipient_key = stored_recipient_key(case_id)
        assert recipient_key == hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()
        stored.append((case_id, recipient_key))
    (first_case, first_key), (second_case, second_key) = stored
    assert first_key != second_key
    assert first_case != second_case, "under another key the number is another index entry"
    assert not {first_key, second_key} & unkeyed_hashes(phone)

    # In the embedded mode the key is the data directory's index.key.
    monkeypatch.delenv("BAILANYS_INDEX_KEY")
    keyring.forget()
    case_id = submit(Api(), phone="+77017654329")["case_id"]
    file_key = keys.decode_key((key_dir / keys.INDEX_FILE).read_text(), source="test")
    assert (
        stored_recipient_key(case_id)
        == hmac.new(file_key, b"+77017654329", hashlib.sha256).hexdigest()
    )
    assert stored_recipient_key(case_id) not in unkeyed_hashes("+77017654329")
    assert oct((key_dir / keys.INDEX_FILE).stat().st_mode & 0o777) == "0o600"


@pytest.mark.subprocess
@pytest.mark.django_db
def test_a_running_process_follows_the_index_key_after_a_wipe_elsewhere(key_dir, tmp_path_factory):
    migrated_sqlite(tmp_path_factory, key_dir)
    before = submit(Api(), phone="+77017654321")
    assert (key_dir / keys.INDEX_FILE).exists()
    # An operator runs `bailanys wipe --confirm` in a terminal, on the same data directory.
    subprocess.run(
        [bailanys_executable(), "wipe", "--confirm"],
        env=child_env(key_dir),
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert not (key_dir / keys.INDEX_FILE).exists()

    # This process (the server) takes the next request for another number.
    after = submit(Api(), phone="+77017654322")
    assert after["case_id"] != before["case_id"]
    assert (key_dir / keys.INDEX_FILE).exists(), (
        "the server still computes blind indexes with the index key the wipe destroyed"
    )
    file_key = keys.decode_key((key_dir / keys.INDEX_FILE).read_text(), source="test")
    assert (
        stored_recipient_key(after["case_id"])
        == hmac.new(file_key, b"+77017654322", hashlib.sha256).hexdigest()
    )


# --- Rotation ---------------------------------------------------------------------


def master_file(key_dir: Path) -> dict:
    return json.loads((key_dir / keys.MASTER_FILE).read_text())


@commits
def test_keys_rotate_rewraps_data_keys_and_leaves_the_messages_untouched(key_dir):
    scene = populate()
    old_id = master_file(key_dir)["current"]
    before = at_rest()
    assert sum(len(rows) for rows in before.values()) >= 12
    assert all(row[1].startswith(f"k1:{old_id}:") for rows in before.values() for row in rows)

    out = io.StringIO()
    call_command("keys", "rotate", stdout=out)

    after = at_rest()
    new_id = master_file(key_dir)["current"]
    assert new_id != old_id
    assert f"under master key {new_id}" in out.getvalue()
    assert f"Removed old master keys: {old_id}." in out.getvalue()
    assert list(master_file(key_dir)["keys"]) == [new_id], "the old master key is gone"
    rewrapped = 0
    for table, rows in before.items():
        assert [r[0] for r in after[table]] == [r[0] for r in rows], table
        for old_row, new_row in zip(rows, after[table], strict=True):
            assert new_row[1].startswith(f"k1:{new_id}:"), (table, new_row[0])
            assert new_row[1] != old_row[1]
            # The sealed columns are byte for byte what they were: nothing re-encrypted.
            assert new_row[2:] == old_row[2:], (table, new_row[0])
            rewrapped += 1
    assert f"Re-wrapped {rewrapped} data keys" in out.getvalue()
    print(f"\n[crypto] rotation re-wrapped {rewrapped} data keys over {len(before)} tables")
    assert_everything_reads(scene)


def assert_everything_reads(scene: dict) -> None:
    """The status page with its notification, the volunteer's case, the console."""
    for n, created in enumerate(scene["closed"]):
        tag = "ab"[n]
        status = Api().get(f"/requests/{status_token(created)}").json()
        assert status["message"] == CANARY_MESSAGE + tag
        assert status["reply"] == CANARY_REPLY + tag
        assert any(CANARY_REPLY + tag in body for body in status["notifications"])
        page = Client().get(f"/s/{status_token(created)}/").content.decode()
        assert CANARY_MESSAGE + tag in page
    case = scene["volunteer"].post("/claims").json()
    assert case["claim_id"] == scene["claim"]["claim_id"]
    assert case["messages"][0]["message"] == CANARY_MESSAGE + "c"
    assert case["recipient_phone"] == "+77017654323"
    browser = Browser()
    browser.login(*scene["login"])
    console = browser.get("/console/").content.decode()
    assert CANARY_MESSAGE + "c" in console
    assert "Zyxcryptorequesterc" in console


def wrapped_under() -> Counter:
    """How many rows are wrapped under each master key id."""
    return Counter(row[1].split(":")[1] for rows in at_rest().values() for row in rows if row[1])


class PowerCut(Exception):
    pass


@commits
def test_an_interrupted_rotation_is_resumed_with_its_own_key_and_leaves_one_master_key(
    key_dir, monkeypatch
):
    scene = populate()
    old_id = master_file(key_dir)["current"]
    total = sum(wrapped_under().values())
    assert total >= 12
    monkeypatch.setattr(services, "REWRAP_BATCH", 3, raising=False)
    real_wrap = crypto.data_key_wrap

    def cut_after(n: int):
        calls = iter(range(n))

        def wrap(*args, **kwargs):
            if next(calls, None) is None:
                raise PowerCut
            return real_wrap(*args, **kwargs)

        return wrap

    # Cut short twice, part-way through (a crash, a kill -9 between two batches).
    monkeypatch.setattr(crypto, "data_key_wrap", cut_after(5))
    with pytest.raises(PowerCut):
        call_command("keys", "rotate", stdout=io.StringIO())
    new_id = master_file(key_dir)["current"]
    assert new_id != old_id
    first = wrapped_under()
    assert set(first) == {old_id, new_id}, "some batches got through, the one cut short did not"
    monkeypatch.setattr(crypto, "data_key_wrap", cut_after(4))
    with pytest.raises(PowerCut):
        call_command("keys", "rotate", stdout=io.StringIO())
    assert master_file(key_dir)["current"] == new_id, "the second run went on with the same key"
    assert set(master_file(key_dir)["keys"]) == {old_id, new_id}, "no master key piled up"
    done = wrapped_under()[new_id]
    assert first[new_id] < done < total

    monkeypatch.setattr(crypto, "data_key_wrap", real_wrap)
    out = io.StringIO()
    call_command("keys", "rotate", stdout=out)
    assert f"Resumed the rotation to master key {new_id}" in out.getvalue()
    assert f"Re-wrapped {total - done} data keys under master key {new_id}." in out.getvalue()
    assert f"Removed old master keys: {old_id}." in out.getvalue()
    assert list(master_file(key_dir)["keys"]) == [new_id]
    assert wrapped_under() == {new_id: total}
    assert_everything_reads(scene)

    # A rotation that finished starts a new one, as before.
    out = io.StringIO()
    call_command("keys", "rotate", stdout=out)
    assert "Resumed" not in out.getvalue()
    newest = master_file(key_dir)["current"]
    assert newest != new_id and list(master_file(key_dir)["keys"]) == [newest]
    assert wrapped_under() == {newest: total}


@commits
def test_a_batch_that_meets_a_locked_database_is_retried(key_dir, monkeypatch):
    """What SQLite says when a writer holds the database past the busy timeout."""
    populate()
    total = sum(wrapped_under().values())
    real_batch = services._rewrap_batch
    locked = iter(range(2))

    def batch(*args, **kwargs):
        if next(locked, None) is not None:
            raise OperationalError("database is locked")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(services, "_rewrap_batch", batch)
    out = io.StringIO()
    call_command("keys", "rotate", stdout=out)
    new_id = master_file(key_dir)["current"]
    assert f"Re-wrapped {total} data keys under master key {new_id}." in out.getvalue()
    assert "The database was busy 2 times" in out.getvalue()
    assert wrapped_under() == {new_id: total}
    assert list(master_file(key_dir)["keys"]) == [new_id]


SHELL_REQUESTS = textwrap.dedent(
    """
    import os
    from pathlib import Path
    from django.db import transaction
    from bailanys.relay import services

    def request(n):
        data = services.request_check({
            "requester": {"name": f"Loadrequester{n}", "contact": f"c{n}@x"},
            "recipient": {"name": f"Loadrecipient{n}", "phone": "+7701%07d" % n,
                          "city": "Loadcity"},
            "message": f"load message {n}", "kind": "deliver_message"})
        with transaction.atomic():
            services.request_create(data=data)

    control = Path(os.environ["ROTATE_TEST_CONTROL"])
    if os.environ.get("ROTATE_TEST_POPULATE"):
        for n in range(int(os.environ["ROTATE_TEST_POPULATE"])):
            request(1_000_000 + n)
    else:
        # The server under load: one write transaction after another until told to stop.
        n = 0
        while not (control / "stop").exists():
            request(2_000_000 + n)
            n += 1
            if n == 1:
                (control / "writing").touch()
        print(f"WROTE {n}")
    """
)

SHELL_READ_ALL = textwrap.dedent(
    """
    import json
    from collections import Counter
    from bailanys.privacy.crypto import wrapped_key_id
    from bailanys.privacy.fields import SealedTextField, sealed_models

    under, rows, fields = Counter(), 0, 0
    for model in sealed_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, SealedTextField)]
        for row in model.objects.iterator():
            if row.data_key:
                under[wrapped_key_id(row.data_key)] += 1
                row.plain_data_key()
            for name in names:
                getattr(row, name)
                fields += 1
            rows += 1
    print("SUMMARY " + json.dumps({"under": under, "rows": rows, "fields": fields}))
    """
)


def postgres_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "database",
    [
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not ON_POSTGRES, reason="needs DATABASE_URL=postgres://…"),
            ],
        ),
    ],
)
def test_keys_rotate_succeeds_while_the_server_writes(
    database, request, key_dir, tmp_path, tmp_path_factory
):
    """`bailanys keys rotate` in a terminal while another process writes request after request."""
    control = tmp_path / "control"
    control.mkdir()
    if database == "sqlite":
        env = child_env(
            migrated_sqlite(tmp_path_factory, key_dir), ROTATE_TEST_CONTROL=str(control)
        )
    else:
        request.getfixturevalue("transactional_db")  # the test database, flushed afterwards
        env = child_env(key_dir, DATABASE_URL=postgres_url(), ROTATE_TEST_CONTROL=str(control))

    def bailanys(*args: str, **extra: str) -> str:
        done = subprocess.run(
            [bailanys_executable(), *args],
            env={**env, **extra},
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")
        return done.stdout.decode()

    populated = 400
    bailanys("shell", "-c", SHELL_REQUESTS, ROTATE_TEST_POPULATE=str(populated))
    old_id = master_file(key_dir)["current"]
    writer = subprocess.Popen(
        [bailanys_executable(), "shell", "-c", SHELL_REQUESTS],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (control / "writing").exists():
            assert writer.poll() is None, writer.communicate()[1].decode(errors="replace")
            assert time.monotonic() < deadline, "the writer never wrote"
            time.sleep(0.05)
        started = time.monotonic()
        rotation = subprocess.run(
            [bailanys_executable(), "keys", "rotate"],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        took = time.monotonic() - started
    finally:
        (control / "stop").touch()
        written, errors = writer.communicate(timeout=120)
    report = (rotation.stdout + rotation.stderr).decode(errors="replace")
    assert rotation.returncode == 0, report
    assert writer.returncode == 0, errors.decode(errors="replace")
    wrote = int(written.decode().split("WROTE ")[1])
    assert wrote > 0

    new_id = master_file(key_dir)["current"]
    assert new_id != old_id
    assert list(master_file(key_dir)["keys"]) == [new_id], "exactly one master key: the new one"
    assert f"Removed old master keys: {old_id}." in report
    summary = json.loads(bailanys("shell", "-c", SHELL_READ_ALL).split("SUMMARY ")[1])
    assert summary["under"] == {new_id: summary["rows"]}, "every row is under the new key"
    assert summary["rows"] >= 3 * (populated + wrote), "every row was read, fields and all"
    print(
        f"\n[crypto] {database}: rotation took {took:.1f}s while the writer wrote {wrote} "
        f"requests; {summary['rows']} rows ({summary['fields']} sealed fields) read back. "
        + " ".join(report.split())
    )


# --- The emergency wipe --------------------------------------------------------------

PERSONAL_TABLES = (
    "relay_case",
    "relay_request",
    "relay_requester",
    "relay_attempt",
    "relay_claim",
    "channels_outboxmessage",
)


def row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in PERSONAL_TABLES:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def key_files(key_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in key_dir.iterdir() if p.is_file()}


@pytest.mark.django_db
def test_wipe_without_confirm_refuses_and_changes_nothing(key_dir):
    created = submit(Api())
    before_rows, before_keys = row_counts(), key_files(key_dir)
    assert set(before_keys) == {keys.MASTER_FILE, keys.INDEX_FILE}
    with pytest.raises(CommandError, match="--confirm"):
        call_command("wipe")
    assert row_counts() == before_rows
    assert key_files(key_dir) == before_keys
    assert Api().get(f"/requests/{status_token(created)}").status_code == 200


@commits
def test_wipe_destroys_keys_and_rows_and_the_app_then_works_empty(key_dir):
    scene = populate()
    old_master = master_file(key_dir)["current"]
    assert all(n > 0 for n in row_counts().values()), row_counts()

    out = io.StringIO()
    call_command("wipe", "--confirm", stdout=out)

    assert row_counts() == dict.fromkeys(PERSONAL_TABLES, 0)
    assert not (key_dir / keys.MASTER_FILE).exists()
    assert not (key_dir / keys.INDEX_FILE).exists()
    assert f"Destroyed key file {keys.MASTER_FILE}" in out.getvalue()
    assert f"Destroyed key file {keys.INDEX_FILE}" in out.getvalue()
    assert "WARNING" not in out.getvalue()
    leftovers = {
        p.name: hits_in(p.read_bytes(), CANARIES) for p in key_dir.rglob("*") if p.is_file()
    }
    assert not any(leftovers.values()), leftovers
    for created in scene["closed"]:
        assert Api().get(f"/requests/{status_token(created)}").status_code == 404
    assert "Audit chain intact" in _cli("audit", "verify")

    # The app works empty: new keys, a new request, read back.
    assert Client().get("/healthz").status_code == 200
    fresh = submit(Api(), phone="+77017654321")
    status = Api().get(f"/requests/{status_token(fresh)}").json()
    assert status["status"] == "waiting"
    assert status["message"] == request_body()["message"]
    assert master_file(key_dir)["current"] != old_master


def _cli(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@commits
def test_wipe_warns_that_keys_given_in_the_environment_are_not_destroyed(monkeypatch):
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("BAILANYS_MASTER_KEY", key)
    keyring.forget()
    submit(Api())
    out = _cli("wipe", "--confirm")
    assert "WARNING: BAILANYS_MASTER_KEY is set in the environment" in out
    assert row_counts()["relay_request"] == 0


SHELL_POPULATE = textwrap.dedent(
    """
    from bailanys.accounts.services import user_create
    from bailanys.relay import services
    vol = user_create(username="v1")
    for tag, phone in (("a", "+77017654321"), ("b", "+77017654322")):
        data = services.request_check({
            "requester": {"name": "Zyxcryptorequester" + tag, "contact": "c@x"},
            "recipient": {"name": "Qwcryptorecipient" + tag, "phone": phone,
                          "city": "Qwcryptocity" + tag},
            "message": "canary-crypto-message-71c2" + tag, "kind": "deliver_message"})
        services.request_create(data=data)
        claim = services.case_claim_next(volunteer=vol)
        services.claim_record_outcome(claim_id=claim.pk, volunteer=vol, outcome="reached",
            reply="canary-crypto-reply-9e04" + tag, note="canary-crypto-note-3b55" + tag)
    """
)


@pytest.mark.subprocess
def test_wipe_leaves_no_ciphertext_in_the_sqlite_files(tmp_path, tmp_path_factory):
    """Embedded mode: after a wipe, not even the old ciphertext is left in free pages or the WAL."""
    data_dir = migrated_sqlite(tmp_path_factory, tmp_path / "data")
    env = child_env(data_dir)

    def bailanys(*args: str) -> str:
        done = subprocess.run(
            [bailanys_executable(), *args], env=env, capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")
        return done.stdout.decode()

    bailanys("shell", "-c", SHELL_POPULATE)
    database = data_dir / "bailanys.sqlite3"
    with sqlite3.connect(database) as db:
        sealed = [
            value
            for table, columns in (
                ("relay_request", "message, recipient_name, recipient_city, data_key"),
                ("relay_case", "recipient_phone, recipient_name, data_key"),
                ("relay_requester", "name, contact, data_key"),
                ("relay_attempt", "reply, note, data_key"),
                ("channels_outboxmessage", "body, data_key"),
            )
            for row in db.execute(f"SELECT {columns} FROM {table}")  # noqa: S608
            for value in row
            if value
        ]
    db.close()
    assert len(sealed) >= 25
    # Take the last 40 characters of each: a stretch that is surely on one page.
    needles = {value[-40:].encode() for value in sealed}

    def files() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}

    before = b"".join(files().values())
    assert sum(needle in before for needle in needles) == len(needles), "positive control"

    out = bailanys("wipe", "--confirm")
    assert "Wipe complete." in out
    after = files()
    assert keys.MASTER_FILE not in after and keys.INDEX_FILE not in after
    left = {name: sum(n in blob for n in needles) for name, blob in after.items()}
    assert not any(left.values()), f"old ciphertext still in the files: {left}"
    canaries = {name: hits_in(blob, CANARIES) for name, blob in after.items()}
    assert not any(canaries.values()), canaries
    print(f"\n[crypto] after wipe: {len(needles)} ciphertexts and {len(CANARIES)} canaries, 0 hits")


@commits
def test_wipe_leaves_nothing_derived_from_requesters_in_the_cache(settings):
    if "DatabaseCache" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("the cache is not a database table here")
    contact, address = "+77019998877", "198.51.100.23"
    body = canary_body("+77017654321")
    body["requester"]["contact"] = contact
    assert Api(address=address).post("/requests", body).status_code == 201
    call_command("wipe", "--confirm", stdout=io.StringIO())

    table = connection.ops.quote_name(settings.CACHES["default"]["LOCATION"])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cache_key FROM {table}")  # noqa: S608
        keys_at_rest = [row[0] for row in cursor.fetchall()]
    # What someone holding the data directory computes for a number they suspect.
    secret = settings.SECRET_KEY
    guesses = {
        value: hashlib.sha256(f"{secret}:{value}".encode()).hexdigest()[:32]
        for value in (contact, address)
    }
    confirmed = [
        value for value, digest in guesses.items() if any(digest in k for k in keys_at_rest)
    ]
    assert not confirmed, f"after the wipe the cache still confirms {confirmed}: {keys_at_rest}"
