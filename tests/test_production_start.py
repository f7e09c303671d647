"""The production start, as docs/scaling.md describes it: two web processes and two workers.

`bailanys up` stays the one-command start. In production the same pieces run apart:
`bailanys migrate` once, then `bailanys up --no-worker` on several ports (waitress, behind
a process manager and a proxy) and several `bailanys worker`, all with one environment:
one PostgreSQL database, Redis for the flood-limit counters, the same keys. This test
starts exactly that, as real child processes, and goes through public surfaces only:
the CLI, the HTTP API, the Telegram webhook and a fake Telegram Bot API server.

It reuses bench/crash_test.py (the same children, fake, load and counts, without the
kills): the fake Telegram runs in its own process and logs every message it accepts;
about half the requests come through the API with an Idempotency-Key, the others as a
requester does on Telegram (a message, then the "confirm:yes" button, as webhook
updates), so those requesters are notified in their chat. Every call goes to one of the
two web ports in turn, so a Telegram conversation starts on one process and is confirmed
on the other, and a volunteer claims a case on one port and records its outcome on the
other.

Checked: every request stored exactly once; every case claimed once, by one claim at a
time, and closed once; every notification and bot answer reached the fake Telegram
exactly once per requester (none missing, none twice); the flood counters lived in Redis
when one answered; the audit chain verifies; every process stopped cleanly on SIGTERM.
"""

import base64
import contextlib
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from bench._common import with_db
from bench.claims_concurrent import DOUBLE_CLAIM_CHECKS
from bench.crash_test import (
    Child,
    Db,
    Http,
    Stats,
    Unit,
    build_units,
    guarded,
    post_until_answered,
    read_fake_log,
    verify,
    wait_healthy,
)
from tests.conftest import ON_POSTGRES, bailanys_executable, free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL: set DATABASE_URL=postgres://… (the production start is "
        "several processes on one PostgreSQL; SQLite is one machine, one writer)",
    ),
]

ROOT = Path(__file__).resolve().parent.parent
CRASH_TEST = ROOT / "bench" / "crash_test.py"
REDIS = ("127.0.0.1", 6379)
REDIS_DB = 13  # the CI's test run uses 15 (and clears it); keep apart from it
REQUESTS = 40
API_SHARE = 0.5  # the rest come through the Telegram webhook
SEED = 22
INTAKE_THREADS = 4
VOLUNTEERS = 2
# Limits on waiting, so a hang fails instead of stalling CI: never a speed asserted.
STEP_LIMIT = 180.0


def redis_answers() -> bool:
    """Whether a Redis without a password answers PING on 127.0.0.1:6379."""
    try:
        with socket.create_connection(REDIS, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def a_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def child_env(data_dir: Path, database_url: str, redis_url: str, token: str, secret: str):
    """One environment for every process, as the systemd units' environment file holds it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        and not k.startswith("BAILANYS_")
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "BAILANYS_DATA_DIR": str(data_dir),
            "BAILANYS_SECRET_KEY": secrets.token_urlsafe(50),
            "BAILANYS_MASTER_KEY": a_key(),
            "BAILANYS_INDEX_KEY": a_key(),
            "BAILANYS_AUDIT_KEY": a_key(),
            "BAILANYS_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # Every request comes from 127.0.0.1: this is not a flood test.
            "BAILANYS_INTAKE_LIMIT_PER_SOURCE": "100000000/60",
            "BAILANYS_INTAKE_LIMIT_PER_CONTACT": "100000000/60",
            "BAILANYS_TELEGRAM_BOT_TOKEN": token,
            "BAILANYS_TELEGRAM_WEBHOOK_SECRET": secret,
            # The fake has no rate limits.
            "BAILANYS_TELEGRAM_PER_SECOND": "100000",
            "BAILANYS_TELEGRAM_CHAT_INTERVAL_MS": "1",
            "BAILANYS_TELEGRAM_GROUP_INTERVAL_MS": "1",
            "BAILANYS_WORKER_SWEEP_SECONDS": "5",
            # No test asks the real outage feeds.
            "BAILANYS_OUTAGE_FEEDS": "",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def intake(ports: list[int], jobs: queue.Queue, stats: Stats, done: list, stop) -> None:
    """File requests until none is left; call k of request n goes to port (n + k) mod 2."""
    conns = {port: Http(port) for port in ports}
    while not stop.is_set():
        try:
            unit: Unit = jobs.get_nowait()
        except queue.Empty:
            break
        for k, (path, headers, body) in enumerate(unit.calls):
            conn = conns[ports[(unit.n + k) % len(ports)]]
            answer = post_until_answered(conn, path, headers, body, stats, "intake", stop)
            if answer is None:
                return
            status, data, tries = answer
            unit.answers.append((status, data))
            unit.attempts += tries
        with stats.lock:
            done.append(unit)
    for conn in conns.values():
        conn.close()


def volunteer(
    v: int, ports: list[int], token: str, stats: Stats, handed: list, finished, stop
) -> None:
    """Claim on one port, record "reached" on the other, swap; until every case is closed."""
    conns = {port: Http(port) for port in ports}
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    outcome = json.dumps({"outcome": "reached", "reply": "All well, thank you.", "minutes": 2})
    turn = v
    while not finished.is_set() and not stop.is_set():
        claim_at, outcome_at = conns[ports[turn % 2]], conns[ports[(turn + 1) % 2]]
        turn += 1
        answer = post_until_answered(claim_at, "/api/v1/claims", auth, b"", stats, "vol", stop)
        if answer is None:
            break
        status, data, _tries = answer
        if status == 204:
            finished.wait(0.2)
            continue
        if status != 200:
            stats.add(f"claims_http_{status}")
            time.sleep(0.5)
            continue
        case = json.loads(data)
        with stats.lock:
            handed.append((v, case["case_id"], case["claim_id"]))
        path = f"/api/v1/claims/{case['claim_id']}/outcome"
        answer = post_until_answered(outcome_at, path, auth, outcome.encode(), stats, "vol", stop)
        if answer is None:
            break
        if answer[0] == 200 and json.loads(answer[1])["case_state"] == "closed":
            stats.add("outcomes_closing_the_case")
        else:
            stats.add(f"outcomes_http_{answer[0]}")
    for conn in conns.values():
        conn.close()


def wait_for(what: str, predicate, logs, limit: float = STEP_LIMIT) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {limit:g} s\n{logs()}")
        time.sleep(0.2)


def test_two_web_processes_and_two_workers_on_postgresql_store_and_notify_once(tmp_path):
    started = time.monotonic()
    bailanys = bailanys_executable()
    base_url = os.environ["DATABASE_URL"]  # what settings read: ON_POSTGRES says it is set
    redis_url = f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}" if redis_answers() else ""
    name = f"bailanys_prod_{os.getpid()}"
    admin = psycopg.connect(base_url, autocommit=True)
    database_url = with_db(base_url, name)
    db = Db(pg_url=database_url)

    bot_token = f"{secrets.randbelow(9 * 10**8) + 10**8}:{secrets.token_urlsafe(24)}"
    webhook_secret = secrets.token_urlsafe(24)
    # Not made beforehand: with every key in the environment nothing else makes it, and
    # `bailanys up` must (its static files live there).
    data_dir = tmp_path / "data"
    env = child_env(data_dir, database_url, redis_url, bot_token, webhook_secret)
    fake_log, fake_url = tmp_path / "fake_telegram.jsonl", tmp_path / "fake_telegram.url"
    fake = Child(
        "fake",
        [
            sys.executable,
            str(CRASH_TEST),
            "--serve-fake-telegram",
            str(fake_url),
            str(fake_log),
            bot_token,
        ],
        {**env, "PYTHONPATH": str(ROOT)},
        tmp_path / "fake.log",
    )
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    webs = [
        Child(
            f"web{i}",
            [bailanys, "up", "--no-worker", "--port", str(port), "--threads", "4"],
            env,
            tmp_path / f"web{i}.log",
        )
        for i, port in enumerate(ports, 1)
    ]
    workers = [
        Child(f"worker{i}", [bailanys, "worker"], env, tmp_path / f"worker{i}.log") for i in (1, 2)
    ]
    children = [*webs, *workers, fake]

    def logs() -> str:
        return "\n".join(f"--- {c.name}\n{c.tail(1500)}" for c in children)

    stop = threading.Event()
    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        fake.start()
        wait_for(
            "the fake Telegram's address", lambda: fake_url.exists() and fake_url.read_text(), logs
        )
        env["BAILANYS_TELEGRAM_API_URL"] = fake_url.read_text()

        # Once, before any process starts (docs/scaling.md, "Start order").
        subprocess.run([bailanys, "migrate", "-v", "0"], env=env, check=True, timeout=300)
        adding = [
            subprocess.Popen(
                [bailanys, "volunteer", "add", f"prod{v}", "--experienced"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for v in range(VOLUNTEERS)
        ]
        for child in workers:
            child.start()
        # One `up` first (it makes the first coordinator), then the other.
        webs[0].start()
        tokens = []
        for proc in adding:
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, out
            tokens.append(out.strip().splitlines()[-1])
        for port, web in zip(ports, webs, strict=True):
            if web.proc is None:
                web.start()
            try:
                wait_healthy(port, web, timeout=STEP_LIMIT)
            except SystemExit as exc:
                pytest.fail(f"{web.name}: {exc}")
        setup_seconds = time.monotonic() - started

        units = build_units(
            requests=REQUESTS, api_share=API_SHARE, seed=SEED, secret=webhook_secret
        )
        telegram_chats = {u.chat_id for u in units if u.via == "telegram"}
        assert 0 < len(telegram_chats) < REQUESTS  # both ways in, whatever the seed
        jobs: queue.Queue = queue.Queue()
        for unit in units:
            jobs.put(unit)
        stats, done, handed = Stats(), [], []
        finished = threading.Event()
        threads = [
            threading.Thread(
                target=guarded(intake, stats, stop), args=(ports, jobs, stats, done, stop)
            )
            for _ in range(INTAKE_THREADS)
        ] + [
            threading.Thread(
                target=guarded(volunteer, stats, stop),
                args=(v, ports, token, stats, handed, finished, stop),
            )
            for v, token in enumerate(tokens)
        ]
        for thread in threads:
            thread.start()

        def intake_over() -> bool:
            assert not stats.errors, stats.errors
            return not any(t.is_alive() for t in threads[:INTAKE_THREADS])

        wait_for("every request answered", intake_over, logs)
        open_cases = "SELECT count(*) FROM relay_case WHERE state <> 'closed'"
        wait_for("every case closed", lambda: db.one(open_cases) == 0, logs)
        finished.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not stats.errors, stats.errors
        unsent = "SELECT count(*) FROM channels_outboxmessage WHERE state IN ('pending', 'sending')"
        wait_for("the outbox drained", lambda: db.one(unsent) == 0, logs)
        seen = -1
        while seen != len(read_fake_log(fake_log)):  # the fake's log has settled
            seen = len(read_fake_log(fake_log))
            time.sleep(0.5)
        work_seconds = time.monotonic() - started - setup_seconds

        # Stored once, notified once: the crash test's counts, with no kill to explain.
        fake_entries = read_fake_log(fake_log)
        checks, detail = verify(db, units, done, fake_entries, [], False)
        failed = [name for name, ok in checks.items() if not ok]
        assert not failed, f"{failed}\n{json.dumps(detail, indent=1)}\n{logs()}"
        assert detail["requests_stored"] == REQUESTS
        assert detail["fake_messages_logged"] == 3 * len(telegram_chats)

        # Per requester: each Telegram chat got exactly one outcome notification.
        by_message = {entry["message_id"]: entry for entry in fake_entries}
        notified = Counter(
            by_message[int(provider_id.removeprefix("tg-"))]["chat_id"]
            for (provider_id,) in db.rows(
                "SELECT provider_id FROM channels_outboxmessage "
                "WHERE channel = 'telegram' AND idempotency_key LIKE 'outcome:%'"
            )
        )
        assert notified == Counter(telegram_chats), notified

        # Claimed once, one claim at a time, closed once.
        for check, sql in DOUBLE_CLAIM_CHECKS.items():
            assert db.one(sql) == 0, check
        cases = db.one("SELECT count(*) FROM relay_case")
        per_case = db.rows(
            "SELECT s.id, s.state, s.closed_at IS NOT NULL, "
            "  (SELECT count(*) FROM relay_claim c WHERE c.case_id = s.id), "
            "  (SELECT count(*) FROM relay_claim c "
            "     WHERE c.case_id = s.id AND c.end_reason = 'outcome'), "
            "  (SELECT count(*) FROM relay_attempt t WHERE t.case_id = s.id) "
            "FROM relay_case s"
        )
        wrong = [row for row in per_case if row[1:] != ("closed", True, 1, 1, 1)]
        assert not wrong, f"(case, state, closed_at, claims, ended by outcome, attempts): {wrong}"
        handed_cases = Counter(case_id for _v, case_id, _claim in handed)
        assert handed_cases == Counter({s[0]: 1 for s in per_case}), handed_cases
        assert stats.counts["outcomes_closing_the_case"] == cases, stats.counts
        assert 0 < cases < REQUESTS  # some requests joined an open case for the same person

        # Flood counters: in Redis when it answered, else in the database table.
        counters = db.one("SELECT count(*) FROM privacy_ratecounter")
        assert (counters == 0) if redis_url else (counters > 0), counters

        # SIGTERM, as a process manager stops them: each exits 0.
        for child in (*webs, *workers):
            child.stop()
        exits = {c.name: c.proc.returncode for c in (*webs, *workers)}
        assert set(exits.values()) == {0}, f"{exits}\n{logs()}"
        audit = subprocess.run(
            [bailanys, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
        )
        assert audit.returncode == 0, audit.stdout + audit.stderr

        summary = {
            "redis": bool(redis_url),
            "requests": REQUESTS,
            "via_api": REQUESTS - len(telegram_chats),
            "via_telegram": len(telegram_chats),
            "cases": cases,
            "outcomes": stats.counts["outcomes_closing_the_case"],
            "telegram_messages": len(fake_entries),
            "outcome_notifications": detail["notification_rows"],
            "intake_5xx": stats.counts["intake_5xx"],
            "setup_s": round(setup_seconds, 1),
            "work_s": round(work_seconds, 1),
            "total_s": round(time.monotonic() - started, 1),
            "nproc": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        print(f"production start: {json.dumps(summary)}")
    finally:
        stop.set()
        db.close()
        for child in children:
            child.stop()
        with contextlib.suppress(Exception):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
