#!/usr/bin/env python
"""Intake and claim latency with 10,000 and with 1,000,000 stored cases (PostgreSQL); print JSON.

python bench/scale.py [--database-url postgres://postgres@127.0.0.1:5432/postgres]
    [--sizes 10000 1000000] [--samples 400] [--warmup 50] [--volunteers 500]
    [--measuring 20] [--threads 4] [--chunk 5000] [--quiet-wait 120] [--seed 1]
    [--keep] [--pooled-sealing]

Issue 9, point 2: the two calls made most, a new request and a volunteer's claim, must
not slow down as the stored history grows: the 1,000,000 figures within 1.2 times the
10,000 ones (median and p99, each).

What it does. The URL names a PostgreSQL server and a database to connect to for
CREATE/DROP DATABASE; its data is never touched. The bench makes
`bailanys_scale_<pid>`, migrates it, makes --volunteers volunteer accounts (the
first --measuring with API tokens) and grows the database through --sizes, smallest
first: it loads cases up to the first size, measures, loads the rest up to the next
size, measures again. The database is dropped at the end, also on an error or SIGTERM
(--keep keeps it).

The loader writes what the real code writes, by COPY: cases with their requests and
requesters, the claims and attempts of their calls, the requesters' notifications
(outbox) and the audit entries (a valid hash chain), with the blind indexes of the
real functions (recipient, requester contact) for every row. Every personal field is
sealed for its row with the real functions (bailanys.privacy.crypto: a data key per
row, AES-GCM bound to the row). With --pooled-sealing, the closed history that no
measured call opens (about 93 % of cases) reuses instead a pool of ciphertexts sealed
once per distinct value: the same sizes in the database, but they do not open for the
row they are in; the rows are made 1.6 times faster. The mix: about 95 % closed (most
reached, some unreachable after every retry, withdrawn, self-reported, closed by a
coordinator or merged into the previous case), 4 % queued (30 % of them after failed
calls, some still waiting for their retry time), 1 % escalated, and up to 100 claimed
(held by volunteers who are not measured). One closed case in ten is a recipient seen
before. The calls' claims belong to all the volunteers, the measured ones included, so
a volunteer's history grows with the database. Rows are made in chunks (memory stays
flat) by a thread while the previous chunk is copied; then VACUUM ANALYZE, as
autovacuum would have done on a database that grew slowly. 1,000,000 cases (about 12
million rows, 5.5 GB) load in about 5 minutes on 2 shared cores. The keys come from
the environment (made for the run), shared by the loader and the server, as on several
machines.

At each size, `bailanys up --no-worker --threads T` (waitress, as in production) runs
against the database, and one client on loopback sends, one at a time over a
keep-alive connection, --samples intake requests and --samples claim cycles,
shuffled together, after --warmup of each unmeasured:

- intake: POST /api/v1/requests for a new recipient (half), for a recipient with an
  open case (the request joins it) and for a recipient whose earlier cases are closed
  (a new case); the kind is read from the answer's case id;
- claim: POST /api/v1/claims by the next measured volunteer, then, measured
  separately, the outcome (half reached, a quarter no_answer) or a release (a quarter),
  so the queue neither empties nor only grows.

Then the statements of each call are captured in-process (django's
CaptureQueriesContext, with the same services the API calls) and each distinct
SELECT and UPDATE is run three times under EXPLAIN (ANALYZE, BUFFERS), rolled back:
the plan's node types, the indexes used, the rows it examined and its execution time.

How to read it. `sizes` holds, per size, the latency in ms (median, p90, p99, max; n
samples) of intake (and by kind) and of claim, outcome and release, and the CPU the
server, PostgreSQL, the client and everything else used meanwhile; `ratios` the
largest size over the smallest; `goals` the four goals (at most 1.2 times).
`hot_queries` lists, for every statement of those calls, its plan at the largest size
next to its rows examined and time at the smallest: a statement whose rows examined
grow with the database (a Seq Scan, a Sort over many rows, an index read far past its
first rows) is the one to fix; `plan_findings` names them (empty: none). With
--samples 400 the p99 is the fourth slowest sample: one hiccup of a shared machine
moves it; the median does not. Other jobs on the machine slow every call alike, at
either size: `cpu.other_processes_cpu_s` says how much they took.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import contextlib
import http.client
import json
import os
import queue
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import at_most, bailanys_command, free_port, machine, with_db  # noqa: E402
from bench.claims_concurrent import (  # noqa: E402
    CpuMeter,
    _setup_django,
    _stop,
    _wait_healthy,
    percentiles,
    wait_quiet,
)

GOAL_RATIO = 1.2
DAY = 86400.0

# Recipient numbers of the stored cases: case index i has PREFIXES[i % 8] and i // 8.
# New recipients in the measurement use FRESH_PREFIX, never loaded.
PREFIXES = ("700", "701", "705", "707", "747", "771", "775", "777")
FRESH_PREFIX = "702"

# The mix of stored cases (shares of all cases).
QUEUED_SHARE = 0.04
ESCALATED_SHARE = 0.01
CLAIMED_MAX = 100
REUSED_NUMBER_SHARE = 0.10  # a closed case whose recipient had an earlier case
RESOLUTIONS = (
    ("reached", 58),
    ("delivered", 10),
    ("unreachable", 8),
    ("wrong_number", 4),
    ("refused", 2),
    ("withdrawn", 6),
    ("self_reported", 6),
    ("coordinator", 4),
    ("merged", 2),
)
KINDS = (("welfare_check", 50), ("deliver_message", 35), ("find_relatives", 10), ("medical", 5))
FINAL = ("reached", "delivered", "wrong_number", "refused")

# What the loader remembers of each case index (one byte each): which numbers have an
# open case, which only closed ones.
CODE_CLOSED, CODE_CLOSED_REUSED, CODE_QUEUED, CODE_ESCALATED, CODE_CLAIMED = range(5)
OPEN_CODES = (CODE_QUEUED, CODE_ESCALATED, CODE_CLAIMED)

# Made-up people and words.
NAMES = ("Гульнара", "Марат", "Айгерим", "Ерлан", "Светлана", "Нурлан", "Дана", "Асель")
SURNAMES = ("Ахметова", "Серикбаев", "Ким", "Иванова", "Жумабаев", "Оспанова")
CITIES = ("Алматы", "Астана", "Шымкент", "Караганда", "Актобе", "Павлодар", "")
MESSAGES = (
    "Мама, я в Германии, рейсов нет, но со мной всё хорошо.",  # noqa: RUF001
    "Передайте, пожалуйста, что мы доехали и ждём звонка.",
    "Не могу дозвониться уже три дня, проверьте, всё ли в порядке.",  # noqa: RUF001
    "Скажите, что деньги на карту пришли, пусть не волнуется.",
    "Please tell her we are safe in Tbilisi and will call soon.",
    "Ата-анама хабарласыңыз, біз аманбыз.",
    "",
)
REPLIES = ("Всё хорошо, спасибо.", "Передам детям.", "")
NOTES = ("Ответила дочь.", "Перезвонить вечером.", "", "", "")

TABLES = {
    "relay_case": (
        "id, uid, data_key, recipient_phone, recipient_key, recipient_name, recipient_city, "
        "recipient_language, state, resolution, priority, created_at, available_at, "
        "failed_calls, lease_expires_at, closed_at, flag, retain_until, retain_reason, "
        "current_claim_id, hard, close_reason, merged_into_id, recipient_operator"
    ),
    "relay_requester": "id, uid, data_key, name, language, channel, contact, created_at, "
    "contact_key",
    "relay_request": (
        "id, uid, data_key, recipient_name, recipient_city, message, kind, urgent, flag, "
        "status_key, idempotency_key, payload_digest, created_at, case_id, requester_id, "
        "withdrawn_at, checkin_pin_hash, pin_verified_at, origin_case_id"
    ),
    "relay_claim": "id, started_at, expires_at, ended_at, end_reason, case_id, volunteer_id",
    "relay_attempt": (
        "id, uid, data_key, outcome, reply, note, created_at, volunteer_id, case_id, claim_id, "
        "via, minutes"
    ),
    "channels_outboxmessage": (
        "id, uid, data_key, channel, address, body, idempotency_key, state, tries, "
        "next_try_at, provider_id, last_error, created_at, sent_at, request_id, options"
    ),
    "privacy_auditentry": (
        "id, seq, at, actor, action, object_type, object_id, source, detail, prev_hash, hash"
    ),
}
NULL = "\\N"


def number(i: int) -> str:
    """The (made-up) E.164 number of stored case index i."""
    return f"+7{PREFIXES[i % len(PREFIXES)]}{i // len(PREFIXES):07d}"


def _short(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _weighted(pairs):
    names = [name for name, _w in pairs]
    total = sum(w for _n, w in pairs)
    cumulative, acc = [], 0
    for _name, weight in pairs:
        acc += weight
        cumulative.append(acc / total)
    return names, cumulative


def _pick(rng: random.Random, table) -> str:
    names, cumulative = table
    return names[min(bisect.bisect(cumulative, rng.random()), len(names) - 1)]


# --- The fixture: rows as the real code writes them ---------------------------------


class Fixture:
    """Stored cases as COPY text: every table request_create, the claims, the outcomes,
    the notifications and the audit log write for them."""

    def __init__(
        self, *, seed: int, volunteers: list[int], holders: list[int], pool_closed: bool = False
    ):
        from django.conf import settings

        from bailanys import phones
        from bailanys.privacy import crypto
        from bailanys.privacy.audit import _digest

        self.rng = random.Random(seed)
        self.volunteers = volunteers
        self.holders = list(holders)
        self.codes = bytearray()
        self.crypto, self.digest, self.phones = crypto, _digest, phones
        self.lease = settings.BAILANYS_LEASE_SECONDS
        self.delays = [m * 60 for m in settings.BAILANYS_RETRY_DELAYS_MINUTES]
        self.max_attempts = settings.BAILANYS_MAX_ATTEMPTS
        self.operators: dict[str, str] = {}
        self.prev_case_id: int | None = None
        self.resolutions = _weighted(RESOLUTIONS)
        self.kinds = _weighted(KINDS)
        self.first_case: tuple[int, str] | None = None
        # Closed history that none of the measured calls opens is sealed from a pool of
        # ciphertexts, each made once with the real functions (see _sealed).
        self.pool_closed = pool_closed
        self.pooled = False
        self.pool: dict[tuple, str] = {}
        self.pool_key = self.crypto.data_key_new()
        self.pool_wrapped = {
            table: [
                self.crypto.data_key_wrap(self.pool_key, aad=f"{table}:pool-{n}") for n in range(16)
            ]
            for table in TABLES
        }

    # Set by begin_stage, from the database.
    ids: dict[str, int]
    seq: int
    hash: str
    now: float
    claimed_left: int

    def begin_stage(self, *, ids: dict[str, int], seq: int, head_hash: str, claimed: int):
        self.ids, self.seq, self.hash = dict(ids), seq, head_hash
        self.now = time.time()
        self.claimed_left = min(claimed, len(self.holders))
        self.first_case = None

    def _id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _sealed(self, table: str, uid: str, **fields: str) -> list[str]:
        """The row's wrapped data key, then each field sealed under it (real functions).

        For pooled rows (closed history nobody opens in the measured calls): a wrapped key
        and ciphertexts sealed once per distinct value (per length and one of 64 variants
        for numbers and contacts, which are unique), with the real functions but for a
        pool row: the same sizes in the database, but they do not open for this row.
        """
        crypto = self.crypto
        if self.pooled:
            rng, pool = self.rng, self.pool
            out = [rng.choice(self.pool_wrapped[table])]
            for column, text in fields.items():
                if column in ("recipient_phone", "contact", "address"):
                    slot = (table, column, len(text), rng.randrange(64))
                else:
                    slot = (table, column, text)
                sealed = pool.get(slot)
                if sealed is None:
                    aad = f"{table}:{column}:pool"
                    sealed = pool[slot] = crypto.seal_text(self.pool_key, text, aad=aad)
                out.append(sealed)
            return out
        key = crypto.data_key_new()
        out = [crypto.data_key_wrap(key, aad=f"{table}:{uid}")]
        out.extend(
            crypto.seal_text(key, text, aad=f"{table}:{column}:{uid}")
            for column, text in fields.items()
        )
        return out

    def _operator(self, phone: str) -> str:
        prefix = phone[:5]
        if prefix not in self.operators:
            self.operators[prefix] = self.phones.operator(phone)
        return self.operators[prefix]

    def _audit(self, out, at: float, actor: str, action: str, otype: str, oid, detail=""):
        self.seq += 1
        when = _ts(at)
        source = "127.0.0.0/24" if action == "case.read" else "local"
        entry = SimpleNamespace(
            seq=self.seq,
            at=when,
            actor=actor,
            action=action,
            object_type=otype,
            object_id=str(oid),
            source=source,
            detail=detail,
            prev_hash=self.hash,
        )
        digest = self.digest(entry)
        out["privacy_auditentry"].append(
            f"{self._id('privacy_auditentry')}\t{self.seq}\t{when.isoformat()}\t{actor}\t"
            f"{action}\t{otype}\t{oid}\t{source}\t{detail}\t{self.hash}\t{digest}\n"
        )
        self.hash = digest

    def chunk(self, start: int, stop: int) -> dict[str, bytes]:
        out: dict[str, list[str]] = {table: [] for table in TABLES}
        for i in range(start, stop):
            self._case(i, out)
        return {table: "".join(lines).encode() for table, lines in out.items()}

    def _case(self, i: int, out: dict[str, list[str]]) -> None:
        rng, now, crypto = self.rng, self.now, self.crypto
        r = rng.random()
        if self.claimed_left:
            self.claimed_left -= 1
            state, code = "claimed", CODE_CLAIMED
        elif r < QUEUED_SHARE:
            state, code = "queued", CODE_QUEUED
        elif r < QUEUED_SHARE + ESCALATED_SHARE:
            state, code = "escalated", CODE_ESCALATED
        else:
            state, code = "closed", CODE_CLOSED
        resolution = ""
        number_index = i
        if state == "closed":
            resolution = _pick(rng, self.resolutions)
            if resolution == "merged" and self.prev_case_id is None:
                resolution = "coordinator"
            if resolution != "merged" and i and rng.random() < REUSED_NUMBER_SHARE:
                number_index, code = i - 1, CODE_CLOSED_REUSED
            created = now - rng.uniform(DAY, 90 * DAY)
        else:
            created = now - rng.uniform(600, 3 * DAY)
        self.codes.append(code)
        phone = number(number_index)
        case_id = self._id("relay_case")
        self.pooled = state == "closed" and resolution != "merged" and self.pool_closed
        if self.first_case is None and state != "closed":
            self.first_case = (case_id, phone)

        # The requests: one, sometimes two requesters asking for the same person.
        requests = []
        for j in range(2 if rng.random() < 0.14 else 1):
            kind = _pick(rng, self.kinds)
            at = created + (rng.uniform(60, 1800) if j else 0)
            requests.append((kind, rng.random() < 0.05, at))
        priority = int(any(urgent or kind == "medical" for kind, urgent, _at in requests))
        hard = any(kind == "medical" for kind, _u, _at in requests) or rng.random() < 0.05

        # The calls made so far, each a claim and an attempt (an SMS check-in has no claim).
        if state == "closed":
            if resolution in FINAL:
                outcomes = ["no_answer"] * rng.choice((0, 0, 0, 0, 1, 1, 2)) + [resolution]
            elif resolution == "unreachable":
                outcomes = ["no_answer"] * self.max_attempts
            elif resolution == "self_reported":
                outcomes = ["no_answer"] * rng.choice((0, 0, 1)) + ["sms_checkin"]
            elif resolution in ("withdrawn", "coordinator"):
                outcomes = ["no_answer"] * rng.choice((0, 0, 1))
            else:  # merged
                outcomes = []
        elif state == "queued":
            outcomes = ["no_answer"] * rng.choice((0, 0, 0, 0, 0, 0, 0, 1, 1, 2))
        elif state == "escalated":
            outcomes = ["no_answer"] * rng.choice((0, 1)) + ["escalate"]
        else:
            outcomes = ["no_answer"] * rng.choice((0, 0, 1))
        failed = 0
        t = created + rng.uniform(60, 3600)
        last_attempt, last_end = None, created
        attempt_lines = []
        for outcome in outcomes:
            attempt_id = self._id("relay_attempt")
            uid = str(uuid.uuid4())
            end = t + rng.uniform(60, 600)
            if outcome == "sms_checkin":
                key, reply, note = self._sealed("relay_attempt", uid, reply="SAFE", note="")
                attempt_lines.append(
                    f"{attempt_id}\t{uid}\t{key}\treached\t{reply}\t{note}\t"
                    f"{_ts(end).isoformat()}\t{NULL}\t{case_id}\t{NULL}\tsms_checkin\t{NULL}\n"
                )
            else:
                claim_id = self._id("relay_claim")
                volunteer = rng.choice(self.volunteers)
                out["relay_claim"].append(
                    f"{claim_id}\t{_ts(t).isoformat()}\t{_ts(t + self.lease).isoformat()}\t"
                    f"{_ts(end).isoformat()}\toutcome\t{case_id}\t{volunteer}\n"
                )
                key, reply, note = self._sealed(
                    "relay_attempt",
                    uid,
                    reply=rng.choice(REPLIES) if outcome in FINAL else "",
                    note=rng.choice(NOTES),
                )
                attempt_lines.append(
                    f"{attempt_id}\t{uid}\t{key}\t{outcome}\t{reply}\t{note}\t"
                    f"{_ts(end).isoformat()}\t{volunteer}\t{case_id}\t{claim_id}\tcall\t"
                    f"{rng.randint(1, 9)}\n"
                )
                actor = f"user:{volunteer}"
                self._audit(out, t, actor, "case.claim", "case", case_id)
                self._audit(out, t + 1, actor, "case.read", "case", case_id)
                self._audit(out, end, actor, "case.outcome", "case", case_id, outcome)
            last_attempt, last_end = attempt_id, end
            if outcome == "no_answer":
                t = end + self.delays[min(failed, len(self.delays) - 1)]
                failed += 1
            else:
                t = end

        available = created if not failed else t
        closed_at = lease = current_claim = merged_into = NULL
        if state == "closed":
            closed_at = _ts(last_end if outcomes else created + rng.uniform(600, DAY)).isoformat()
            if resolution == "merged":
                merged_into = str(self.prev_case_id)
        elif state == "claimed":
            claim_id = self._id("relay_claim")
            holder = self.holders.pop()
            started, expires = now - rng.uniform(0, 600), now + 6 * 3600
            out["relay_claim"].append(
                f"{claim_id}\t{_ts(started).isoformat()}\t{_ts(expires).isoformat()}\t{NULL}\t"
                f"\t{case_id}\t{holder}\n"
            )
            lease, current_claim = _ts(expires).isoformat(), str(claim_id)
            self._audit(out, started, f"user:{holder}", "case.claim", "case", case_id)

        name = f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}"
        city = rng.choice(CITIES)
        uid = str(uuid.uuid4())
        close_reason = "Дубликат, уточнили по телефону." if resolution == "coordinator" else ""
        key, s_phone, s_name, s_city, s_retain, s_close = self._sealed(
            "relay_case",
            uid,
            recipient_phone=phone,
            recipient_name=name,
            recipient_city=city,
            retain_reason="",
            close_reason=close_reason,
        )
        out["relay_case"].append(
            f"{case_id}\t{uid}\t{key}\t{s_phone}\t{crypto.blind_index(phone)}\t{s_name}\t"
            f"{s_city}\t{rng.choice(('ru', 'ru', 'kk'))}\t{state}\t{resolution}\t{priority}\t"
            f"{_ts(created).isoformat()}\t{_ts(available).isoformat()}\t{failed}\t{lease}\t"
            f"{closed_at}\t\t{NULL}\t{s_retain}\t{current_claim}\t{'t' if hard else 'f'}\t"
            f"{s_close}\t{merged_into}\t{self._operator(phone)}\n"
        )
        out["relay_attempt"].extend(attempt_lines)

        withdrawn = closed_at if resolution == "withdrawn" else NULL
        for kind, urgent, at in requests:
            requester_id, request_id = self._id("relay_requester"), self._id("relay_request")
            telegram = rng.random() < 0.4
            channel = "telegram" if telegram else "web"
            contact = str(700_000_000 + rng.randrange(10**8)) if telegram else ""
            contact_key = crypto.blind_index(f"{channel}:{contact}") if contact else ""
            uid = str(uuid.uuid4())
            key, s_name, s_contact = self._sealed(
                "relay_requester", uid, name=rng.choice(NAMES), contact=contact
            )
            out["relay_requester"].append(
                f"{requester_id}\t{uid}\t{key}\t{s_name}\t{rng.choice(('ru', 'kk', 'en'))}\t"
                f"{channel}\t{s_contact}\t{_ts(at).isoformat()}\t{contact_key}\n"
            )
            uid = str(uuid.uuid4())
            key, s_name, s_city, s_message = self._sealed(
                "relay_request",
                uid,
                recipient_name=name,
                recipient_city=city,
                message=rng.choice(MESSAGES) or "Проверьте, пожалуйста.",
            )
            out["relay_request"].append(
                f"{request_id}\t{uid}\t{key}\t{s_name}\t{s_city}\t{s_message}\t{kind}\t"
                f"{'t' if urgent else 'f'}\t\t{secrets.token_hex(32)}\t{NULL}\t"
                f"{crypto.blind_index(f'bench-payload:{request_id}')}\t{_ts(at).isoformat()}\t"
                f"{case_id}\t{requester_id}\t{withdrawn}\t\t{NULL}\t{NULL}\n"
            )
            self._audit(out, at, f"requester:{channel}", "request.create", "request", request_id)
            if state == "closed" and resolution != "withdrawn":
                uid = str(uuid.uuid4())
                occasion = f"outcome:{last_attempt}" if last_attempt else f"close:{case_id}"
                key, s_address, s_body = self._sealed(
                    "channels_outboxmessage",
                    uid,
                    address=contact,
                    body=f"Волонтёр связался с {name} и передал ваше сообщение.\n"  # noqa: RUF001
                    "Волонтёры Bailanys никогда не просят денег.",
                )
                sent = closed_at
                out["channels_outboxmessage"].append(
                    f"{self._id('channels_outboxmessage')}\t{uid}\t{key}\t{channel}\t"
                    f"{s_address}\t{s_body}\t{occasion}:request:{request_id}\tsent\t1\t{sent}\t"
                    f"\t\t{sent}\t{sent}\t{request_id}\t{{}}\n"
                )
        self.prev_case_id = case_id


class Loader:
    """Grows the database to a number of stored cases, by COPY, a chunk at a time."""

    def __init__(self, url: str, fixture: Fixture, chunk: int):
        self.url, self.fixture, self.chunk = url, fixture, chunk
        self.loaded = 0  # case indexes given out so far

    def grow(self, count: int, *, claimed: int) -> dict:
        import psycopg

        started = time.perf_counter()
        rows = dict.fromkeys(TABLES, 0)
        with psycopg.connect(self.url) as conn:
            ids = {}
            for table in TABLES:
                query = f"SELECT coalesce(max(id), 0) + 1 FROM {table}"  # noqa: S608
                ids[table] = conn.execute(query).fetchone()[0]
            head = conn.execute("SELECT seq, hash FROM privacy_audithead WHERE id = 1").fetchone()
            if head is None:
                conn.execute(
                    "INSERT INTO privacy_audithead (id, seq, hash) VALUES (1, 0, %s)", ["0" * 64]
                )
                head = (0, "0" * 64)
            conn.commit()
            self.fixture.begin_stage(ids=ids, seq=head[0], head_hash=head[1], claimed=claimed)
            # Foreign keys are checked by construction (the test run counts orphans); the
            # triggers that check them row by row would double the load time.
            conn.execute("SET session_replication_role = replica")
            conn.execute("SET synchronous_commit = off")
            chunks: queue.Queue = queue.Queue(maxsize=2)
            stop = threading.Event()
            first, last = self.loaded, self.loaded + count

            def produce() -> None:
                try:
                    for start in range(first, last, self.chunk):
                        if stop.is_set():
                            return
                        end = min(start + self.chunk, last)
                        chunks.put((end - start, self.fixture.chunk(start, end)))
                    chunks.put(None)
                except BaseException as exc:  # handed to the consumer, which raises it
                    chunks.put(exc)

            producer = threading.Thread(target=produce, daemon=True)
            producer.start()
            done, reported = 0, time.perf_counter()
            try:
                while (item := chunks.get()) is not None:
                    if isinstance(item, BaseException):
                        raise RuntimeError(f"making rows failed: {item!r}") from item
                    n, data = item
                    with conn.cursor() as cur:
                        for table, columns in TABLES.items():
                            if data[table]:
                                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                                    copy.write(data[table])
                                rows[table] += data[table].count(b"\n")
                    conn.commit()
                    done += n
                    if time.perf_counter() - reported > 15 or done == count:
                        reported = time.perf_counter()
                        rate = done / (reported - started)
                        _say(f"  loaded {done:,} of {count:,} cases ({rate:,.0f} cases/s)")
            finally:
                stop.set()
                with contextlib.suppress(queue.Empty):
                    while True:
                        chunks.get_nowait()
                producer.join(timeout=30)
            self.loaded = last
            conn.execute("SET session_replication_role = DEFAULT")
            for table in TABLES:
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                query = f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"  # noqa: S608
                conn.execute(query)
            conn.execute(
                "UPDATE privacy_audithead SET seq = %s, hash = %s WHERE id = 1",
                [self.fixture.seq, self.fixture.hash],
            )
            conn.commit()
        copied = time.perf_counter()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        return {
            "cases": count,
            "rows": rows,
            "copy_seconds": round(copied - started, 1),
            "vacuum_analyze_seconds": round(time.perf_counter() - copied, 1),
            "cases_per_second": round(count / max(copied - started, 1e-9)),
        }


# --- Measuring through HTTP ------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to the server; one request at a time."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes = b"", token: str = "") -> tuple[int, bytes, float]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.perf_counter()
        try:
            self.conn.request("POST", path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise SystemExit(f"POST {path} failed: {exc!r}") from None
        elapsed = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.close()
        return response.status, data, elapsed

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def intake_body(phone: str, rng: random.Random) -> bytes:
    """A request as the form sends it (made-up people); the phone as people type it."""
    digits = phone[2:]
    typed = f"+7 {digits[:3]} {digits[3:6]} {digits[6:8]} {digits[8:]}"
    return json.dumps(
        {
            "requester": {"name": rng.choice(NAMES), "language": "ru", "contact": ""},
            "recipient": {"name": rng.choice(NAMES), "phone": typed, "city": rng.choice(CITIES)},
            "message": MESSAGES[0],
            "kind": "deliver_message",
        },
        ensure_ascii=False,
    ).encode()


def recipients(url: str, fixture: Fixture, rng: random.Random, want: int) -> dict:
    """Numbers with an open case now (and its id), and numbers with closed cases only."""
    import psycopg

    from bailanys.privacy.crypto import blind_index

    codes = fixture.codes
    open_indexes = [i for i, c in enumerate(codes) if c in OPEN_CODES]
    closed_indexes = [i for i, c in enumerate(codes) if c == CODE_CLOSED]
    found: dict[str, list] = {"join": [], "returning": []}
    with psycopg.connect(url) as conn:
        for kind, pool in (("join", open_indexes), ("returning", closed_indexes)):
            picked = rng.sample(pool, min(len(pool), want * 2))
            keys = {blind_index(number(i)): number(i) for i in picked}
            open_now = dict(
                conn.execute(
                    "SELECT recipient_key, id FROM relay_case "
                    "WHERE recipient_key = ANY(%s) AND state <> 'closed'",
                    [list(keys)],
                ).fetchall()
            )
            for key, phone in keys.items():
                if (key in open_now) == (kind == "join"):
                    found[kind].append((phone, open_now.get(key)))
            found[kind] = found[kind][:want]
    return found


def measure(
    *,
    port: int,
    tokens: list[str],
    known: dict,
    fresh: list[str],
    samples: int,
    warmup: int,
    rng: random.Random,
) -> dict:
    """Intake requests and claim cycles, shuffled, one at a time; latency in ms."""
    client = Client(port)
    latency: dict[str, list[float]] = {
        "intake": [],
        "intake_new": [],
        "intake_join": [],
        "intake_returning": [],
        "claim": [],
        "outcome": [],
        "release": [],
    }
    statuses: dict[str, int] = {}
    unexpected: list[str] = []
    queue_empty = 0
    turn = 0
    pools = {k: list(v) for k, v in known.items()}
    fresh = list(fresh)

    def count(label: str, status: int, expected: int) -> None:
        statuses[f"{label} {status}"] = statuses.get(f"{label} {status}", 0) + 1
        if status != expected and len(unexpected) < 5:
            unexpected.append(f"{label}: {status}")

    def intake(record: bool) -> None:
        roll = rng.random()
        if roll < 0.35 and pools["join"]:
            phone, expected_case = pools["join"].pop()
        elif roll < 0.5 and pools["returning"]:
            phone, expected_case = pools["returning"].pop()[0], None
        else:
            phone, expected_case = fresh.pop(), None
        status, data, ms = client.post("/api/v1/requests", intake_body(phone, rng))
        count("intake", status, 201)
        if status != 201 or not record:
            return
        case_id = json.loads(data)["case_id"]
        if expected_case is not None and case_id == expected_case:
            kind = "join"
        elif phone.startswith(f"+7{FRESH_PREFIX}"):
            kind = "new"
        else:
            kind = "returning"  # earlier cases, all closed (or closed since it was picked)
        latency["intake"].append(ms)
        latency[f"intake_{kind}"].append(ms)

    def claim_cycle(record: bool) -> None:
        nonlocal turn, queue_empty
        token = tokens[turn % len(tokens)]
        turn += 1
        status, data, ms = client.post("/api/v1/claims", token=token)
        if status == 204:
            queue_empty += 1
            return
        count("claim", status, 200)
        if status != 200:
            return
        if record:
            latency["claim"].append(ms)
        claim_id = json.loads(data)["claim_id"]
        roll = rng.random()
        if roll < 0.25:
            status, _data, ms = client.post(f"/api/v1/claims/{claim_id}/release", token=token)
            count("release", status, 204)
            kind = "release"
        else:
            outcome = "reached" if roll < 0.75 else "no_answer"
            body = json.dumps({"outcome": outcome, "minutes": rng.randint(1, 9)}).encode()
            status, _data, ms = client.post(f"/api/v1/claims/{claim_id}/outcome", body, token=token)
            count("outcome", status, 200)
            kind = "outcome"
        if record:
            latency[kind].append(ms)

    steps = ["intake", "claim"] * warmup
    rng.shuffle(steps)
    for step in steps:
        (intake if step == "intake" else claim_cycle)(False)
    steps = ["intake", "claim"] * samples
    rng.shuffle(steps)
    started = time.perf_counter()
    for step in steps:
        (intake if step == "intake" else claim_cycle)(True)
    seconds = time.perf_counter() - started
    client.close()
    return {
        "latency_ms": {k: percentiles(v) for k, v in latency.items()},
        "statuses": dict(sorted(statuses.items())),
        "unexpected": unexpected,
        "queue_empty": queue_empty,
        "measured_seconds": round(seconds, 1),
    }


# --- Query plans ---------------------------------------------------------------------


def capture_hot_queries(*, volunteer_id: int, token: str, fresh: str, join: str) -> list:
    """The statements each call runs, captured in-process with the services the API calls."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bailanys.accounts.models import User
    from bailanys.accounts.selectors import user_from_api_token
    from bailanys.privacy.ratelimit import intake_throttle
    from bailanys.relay import selectors, services

    rng = random.Random(0)
    volunteer = User.objects.get(pk=volunteer_id)
    captured: list[tuple[str, str]] = []

    def run(label: str, fn) -> None:
        with CaptureQueriesContext(connection) as ctx:
            fn()
        captured.extend((label, q["sql"]) for q in ctx.captured_queries)

    def intake(phone: str) -> None:
        intake_throttle(request=None, contact="")
        data = services.request_check(json.loads(intake_body(phone, rng)))
        services.request_create(data=data, channel="web")

    def claim() -> int:
        held = services.case_claim_next(volunteer=volunteer)
        if held is None:
            raise SystemExit("the queue is empty: no claim to explain")
        selectors.case_get_for_volunteer(claim_id=held.pk, volunteer=volunteer)
        return held.pk

    run("auth", lambda: user_from_api_token(token=token))
    run("intake_new", lambda: intake(fresh))
    run("intake_join", lambda: intake(join))
    claim_ids: list[int] = []
    run("claim", lambda: claim_ids.append(claim()))
    run(
        "outcome",
        lambda: services.claim_record_outcome(
            claim_id=claim_ids[-1], volunteer=volunteer, outcome="reached", minutes=3
        ),
    )
    run("claim", lambda: claim_ids.append(claim()))
    run("release", lambda: services.claim_release(claim_id=claim_ids[-1], volunteer=volunteer))
    connection.close()
    return captured


LITERALS = re.compile(r"('(?:[^']|'')*'|\b\d+(?:\.\d+)?\b)")
COLUMNS = re.compile(r"^SELECT (?!COUNT\b)(.{40,}?) FROM ")
IN_LIST = re.compile(r"\(\?(?:, \?)+\)")


def _statement(sql: str) -> str:
    """A statement without its values (so without personal data or blind indexes) and
    without its long column list: what identifies it and where its cost lies."""
    text = LITERALS.sub("?", " ".join(sql.split()))
    text = COLUMNS.sub("SELECT … FROM ", text)
    return IN_LIST.sub("(?, …)", text)


def _label(statement: str) -> str:
    """What a hot statement is for, by its text."""
    s = statement
    verb = s.split()[0]
    where = s.split(" WHERE ", 1)[1] if " WHERE " in s else ""
    table = re.search(r'(?:FROM|UPDATE|INTO) "(\w+)"', s)
    table = table.group(1) if table else "?"
    if "FOR UPDATE SKIP LOCKED" in s:
        return "next case to claim (dispatch order)"
    if table == "relay_case" and verb == "SELECT" and '"recipient_key" =' in where:
        if '"resolution" =' in where:
            return "merged case for the recipient (blind index)"
        if '"state" IN' in where:
            return "open case for the recipient (blind index)"
        return "cases of the recipient (blind index)"
    if table == "relay_claim" and '"volunteer_id" =' in where and '"ended_at" IS NULL' in where:
        return "the volunteer's active claim"
    if table == "relay_case" and '"lease_expires_at" <' in where and verb == "SELECT":
        return "leases to expire"
    if table.startswith("privacy_audit"):
        return "audit chain head"
    if table == "accounts_apitoken":
        return "API token"
    if table == "bailanys_cache":
        return "flood-limit counter (cache table)"
    return f"{verb.lower()} {table}"


def _walk(node: dict, out: list[dict]) -> list[dict]:
    out.append(node)
    for child in node.get("Plans", []):
        _walk(child, out)
    return out


SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan")


def explain(url: str, captured: list) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) each distinct SELECT/UPDATE/DELETE three times, rolled
    back; the plan of the last run, the median execution time."""
    import psycopg

    seen: set[str] = set()
    found = []
    with psycopg.connect(url, autocommit=True) as conn:
        for label, sql in captured:
            verb = sql.lstrip().split(None, 1)[0].upper()
            shape = _statement(sql)
            if verb not in ("SELECT", "UPDATE", "DELETE") or shape in seen:
                continue
            seen.add(shape)
            times, plan = [], None
            for _run in range(3):
                with conn.transaction(force_rollback=True):
                    doc = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql).fetchone()[
                        0
                    ]
                plan = doc[0] if isinstance(doc, list) else json.loads(doc)[0]
                times.append(plan["Execution Time"])
            nodes = _walk(plan["Plan"], [])
            examined = 0
            seq_scans, sorts = [], []
            for node in nodes:
                loops = node.get("Actual Loops", 1)
                if node["Node Type"] in SCANS:
                    rows = (
                        node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                    ) * loops
                    examined += rows
                    if node["Node Type"] == "Seq Scan":
                        seq_scans.append({"table": node.get("Relation Name"), "rows": rows})
                if node["Node Type"] in ("Sort", "Incremental Sort"):
                    sorts.append(
                        {
                            "rows": node.get("Actual Rows", 0) * loops,
                            "method": node.get("Sort Method"),
                        }
                    )
            top = plan["Plan"]
            found.append(
                {
                    "call": label,
                    "what": _label(shape),
                    "statement": shape[:400],
                    "nodes": list(dict.fromkeys(n["Node Type"] for n in nodes)),
                    "indexes": list(
                        dict.fromkeys(n["Index Name"] for n in nodes if "Index Name" in n)
                    ),
                    "seq_scans": seq_scans,
                    "sorts": sorts,
                    "rows_examined": examined,
                    "execution_ms": round(sorted(times)[1], 3),
                    "planning_ms": round(plan.get("Planning Time", 0), 3),
                    "buffers_hit": top.get("Shared Hit Blocks", 0),
                    "buffers_read": top.get("Shared Read Blocks", 0),
                    "_shape": shape,
                }
            )
    return found


def findings(plans: list[dict], before: dict[str, dict], small: str) -> list[str]:
    """Statements whose work is large at the largest size, or grew from the smallest:
    a Seq Scan or a Sort over more than 1,000 rows, more than 1,000 rows examined, or
    more than twice (and over 100) the rows examined at the smallest size."""
    out = []
    for p in plans:
        big_seq = [s for s in p["seq_scans"] if s["rows"] > 1000]
        big_sort = [s for s in p["sorts"] if s["rows"] > 1000]
        earlier = before.get(p["_shape"], {}).get("rows_examined")
        grew = earlier is not None and p["rows_examined"] > max(100, 2 * earlier)
        if big_seq or big_sort or p["rows_examined"] > 1000 or grew:
            out.append(
                f"{p['call']}: {p['what']}: {p['rows_examined']:,} rows examined"
                + (f" ({earlier:,} at {small})" if earlier is not None else "")
                + (f", Seq Scan on {', '.join(s['table'] for s in big_seq)}" if big_seq else "")
                + (f", Sort of {big_sort[0]['rows']:,} rows" if big_sort else "")
                + f", {p['execution_ms']} ms"
            )
    return out


# --- Orchestration -----------------------------------------------------------------


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _on_signal(signum, _frame):
    raise SystemExit(f"stopped by signal {signum}")


def _count(url: str) -> dict:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cases = conn.execute("SELECT count(*) FROM relay_case").fetchone()[0]
        by_state = dict(
            conn.execute("SELECT state, count(*) FROM relay_case GROUP BY state").fetchall()
        )
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        estimates = dict(
            conn.execute(
                "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                [list(TABLES)],
            ).fetchall()
        )
    return {
        "cases": cases,
        "cases_by_state": dict(sorted(by_state.items())),
        "rows_estimated": {t: estimates.get(t) for t in TABLES},
        "database_mb": round(size / 2**20),
    }


def _check_sealed(fixture: Fixture) -> None:
    """The loaded rows open with the keys the server uses (the first open case of the stage)."""
    from bailanys.relay.models import Case

    if fixture.first_case is None:
        return
    case_id, phone = fixture.first_case
    case = Case.objects.get(pk=case_id)
    request = case.requests.select_related("requester").first()
    # Reading a sealed field decrypts it: a wrong key or binding raises DecryptionError.
    opened = [case.recipient_name, request.message, request.requester.name]
    opened += [a.note for a in case.attempts.all()]
    if case.recipient_phone != phone or not all(isinstance(x, str) for x in opened):
        raise SystemExit("loaded rows do not open with the server's keys")


def setup_accounts(volunteers: int, measuring: int) -> tuple[list[int], list[str]]:
    from django.db import connections, transaction

    from bailanys.accounts.models import Role
    from bailanys.accounts.services import api_token_create, user_create

    ids, tokens = [], []
    with transaction.atomic():
        # `up` makes a coordinator (and prints a password) when there is none.
        user_create(username="coordinator", role=Role.ADMIN)
        for n in range(volunteers):
            user = user_create(username=f"scale{n}")
            ids.append(user.pk)
            if n < measuring:
                tokens.append(api_token_create(user=user))
    connections.close_all()
    return ids, tokens


def run_size(
    *,
    size: int,
    url: str,
    env: dict,
    args: argparse.Namespace,
    loader: Loader,
    tokens: list[str],
    volunteer_ids: list[int],
    fresh_start: int,
    workdir: Path,
    rng: random.Random,
) -> dict:
    from django.db import connections

    stored = _count(url)["cases"]
    loaded = None
    if size > stored:
        _say(f"loading {size - stored:,} cases (to {size:,})…")
        first = loader.loaded == 0
        loaded = loader.grow(size - stored, claimed=min(CLAIMED_MAX, size // 100) if first else 0)
        _say(
            f"  copied in {loaded['copy_seconds']} s, VACUUM ANALYZE "
            f"{loaded['vacuum_analyze_seconds']} s"
        )
        _check_sealed(loader.fixture)
        connections.close_all()
    counts = _count(url)
    need = args.samples + args.warmup + 1
    known = recipients(url, loader.fixture, rng, need)
    fresh = [f"+7{FRESH_PREFIX}{fresh_start + k:07d}" for k in range(2 * need + 2)]

    port = free_port()
    log = workdir / f"web-{size}.log"
    server = subprocess.Popen(
        [
            bailanys_command(),
            "up",
            "--no-worker",
            "--port",
            str(port),
            "--threads",
            str(args.threads),
        ],
        env=dict(env, DATABASE_URL=url),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(port, server, log)
        quiet = wait_quiet(args.quiet_wait)
        loadavg = [round(x, 2) for x in os.getloadavg()]
        _say(f"measuring at {counts['cases']:,} cases ({args.samples} samples of each call)…")
        meter = CpuMeter([server.pid])
        meter.start()
        client_cpu = time.process_time()
        result = measure(
            port=port,
            tokens=tokens,
            known={"join": known["join"], "returning": [(p, None) for p, _ in known["returning"]]},
            fresh=fresh[: need * 2],
            samples=args.samples,
            warmup=args.warmup,
            rng=rng,
        )
        cpu = meter.stop()
        cpu["client_cpu_s"] = round(time.process_time() - client_cpu, 1)
        cpu["other_processes_cpu_s"] = round(
            cpu["machine_busy_cpu_s"]
            - cpu["web_processes_cpu_s"]
            - cpu["postgres_cpu_s"]
            - cpu["client_cpu_s"],
            1,
        )
    finally:
        _stop(server)
    if result["unexpected"]:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"unexpected answers at {size:,} cases: {result['unexpected']}\n{tail}")
    lat = result["latency_ms"]
    _say(
        f"  intake median {lat['intake'].get('median')} ms, p99 {lat['intake'].get('p99')} ms; "
        f"claim median {lat['claim'].get('median')} ms, p99 {lat['claim'].get('p99')} ms"
    )
    spare_join = known["join"][-1][0] if known["join"] else number(0)
    captured = capture_hot_queries(
        volunteer_id=volunteer_ids[0], token=tokens[0], fresh=fresh[-1], join=spare_join
    )
    plans = explain(url, captured)
    return {
        "size": size,
        "stored_when_measured": counts,
        "load": loaded,
        "before_run": {"quiet_wait": quiet, "loadavg": loadavg},
        **result,
        # While measuring: a busy machine slows every call alike, whatever the size.
        "cpu": cpu,
        "query_plans": plans,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--samples", type=int, default=400, help="measured intakes, and claims")
    ap.add_argument("--warmup", type=int, default=50, help="unmeasured intakes, and claims")
    ap.add_argument("--volunteers", type=int, default=500, help="accounts the history spreads over")
    ap.add_argument("--measuring", type=int, default=20, help="of them, claiming in the bench")
    ap.add_argument("--threads", type=int, default=4, help="waitress threads")
    ap.add_argument("--chunk", type=int, default=5000, help="cases per COPY transaction")
    ap.add_argument(
        "--quiet-wait", type=float, default=120, help="wait up to this long for an idle machine"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the database and the logs")
    ap.add_argument(
        "--pooled-sealing",
        action="store_true",
        help="closed history that no measured call opens reuses a pool of ciphertexts "
        "(faster to load; those rows do not open)",
    )
    args = ap.parse_args(argv)
    sizes = sorted(set(args.sizes))
    if sizes[0] < 1000:
        ap.error("sizes start at 1000")
    if args.measuring > args.volunteers:
        ap.error("--measuring must not exceed --volunteers")

    import psycopg

    signal.signal(signal.SIGTERM, _on_signal)
    started = time.monotonic()
    name = f"bailanys_scale_{os.getpid()}"
    url = with_db(args.database_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="bailanys-scale-bench-"))
    env = {
        **os.environ,
        # The loader and the server share their keys, from the environment as on several
        # machines (docs/scaling.md); from files, each use would stat them.
        "BAILANYS_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "BAILANYS_INDEX_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "BAILANYS_SECRET_KEY": secrets.token_urlsafe(50),
        "BAILANYS_DATA_DIR": str(workdir / "data"),
        "BAILANYS_LOG_LEVEL": "WARNING",
        "BAILANYS_INTAKE_LIMIT_PER_SOURCE": "100000000/60",
        "BAILANYS_INTAKE_LIMIT_PER_CONTACT": "100000000/60",
        "DATABASE_URL": url,
    }
    env.pop("REDIS_URL", None)
    rng = random.Random(args.seed)
    results = []
    try:
        admin = psycopg.connect(args.database_url, autocommit=True)
    except psycopg.Error as exc:
        raise SystemExit(f"cannot connect to {args.database_url}: {exc}") from None
    with admin:
        pg_version = admin.execute("SHOW server_version").fetchone()[0]
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
            _setup_django(env)
            from django.core.management import call_command

            _say(f"database {name}: migrating…")
            call_command("migrate", verbosity=0)
            volunteer_ids, tokens = setup_accounts(args.volunteers, args.measuring)
            fixture = Fixture(
                seed=args.seed,
                volunteers=volunteer_ids,
                holders=volunteer_ids[args.measuring :],
                pool_closed=args.pooled_sealing,
            )
            loader = Loader(url, fixture, args.chunk)
            for n, size in enumerate(sizes):
                results.append(
                    run_size(
                        size=size,
                        url=url,
                        env=env,
                        args=args,
                        loader=loader,
                        tokens=tokens,
                        volunteer_ids=volunteer_ids,
                        fresh_start=n * 1_000_000,
                        workdir=workdir,
                        rng=rng,
                    )
                )
        finally:
            from django.db import connections

            with contextlib.suppress(Exception):
                connections.close_all()
            if args.keep:
                keys = workdir / "keys.env"
                keys.touch(mode=0o600)
                keys.write_text(
                    "".join(
                        f"{k}={env[k]}\n"
                        for k in (
                            "BAILANYS_MASTER_KEY",
                            "BAILANYS_INDEX_KEY",
                            "BAILANYS_SECRET_KEY",
                        )
                    )
                )
                _say(f"kept: database {name}; logs and its keys (keys.env) in {workdir}")
            else:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                shutil.rmtree(workdir, ignore_errors=True)

    small, big = results[0], results[-1]
    ratios, goals = {}, []
    if len(results) > 1:
        tag = f"{_short(big['size'])}_to_{_short(small['size'])}"
        for call, title in (("intake", "Intake"), ("claim", "Claim")):
            for stat, word in (("median", "median"), ("p99", "p99")):
                a = small["latency_ms"][call].get(stat)
                b = big["latency_ms"][call].get(stat)
                if not a or b is None:
                    continue
                ratio = round(b / a, 2)
                key = f"{call}_{stat}_ratio_{tag}"
                ratios[key] = ratio
                goals.append(
                    at_most(
                        key,
                        ratio,
                        GOAL_RATIO,
                        "×",  # noqa: RUF001
                        f"{title} {word} latency with {big['size']:,} cases against "
                        f"{small['size']:,}",
                    )
                )
    small_plans = {p["_shape"]: p for p in small["query_plans"]}
    hot = []
    for p in big["query_plans"]:
        before = small_plans.get(p["_shape"])
        hot.append(
            {
                **{k: v for k, v in p.items() if k != "_shape"},
                f"rows_examined_at_{_short(small['size'])}": before and before["rows_examined"],
                f"execution_ms_at_{_short(small['size'])}": before and before["execution_ms"],
            }
        )
    plan_findings = findings(big["query_plans"], small_plans, _short(small["size"]))
    for r in results:
        r["query_plans"] = [
            {k: p[k] for k in ("call", "what", "indexes", "rows_examined", "execution_ms")}
            for p in r["query_plans"]
        ]

    from django.conf import settings

    result = {
        "benchmark": "scale",
        "database": "postgresql",
        "postgresql": pg_version,
        "server": f"bailanys up --no-worker --threads {args.threads} (waitress), one process",
        "client": "one, on loopback, one request at a time over a keep-alive connection",
        "sizes": {_short(r["size"]): {k: v for k, v in r.items() if k != "size"} for r in results},
        "ratios": ratios,
        "hot_queries": hot,
        "plan_findings": plan_findings,
        "parameters": {
            "samples": args.samples,
            "warmup": args.warmup,
            "volunteers": args.volunteers,
            "measuring_volunteers": args.measuring,
            "chunk": args.chunk,
            "seed": args.seed,
            "lease_seconds": settings.BAILANYS_LEASE_SECONDS,
            "retry_delays_minutes": settings.BAILANYS_RETRY_DELAYS_MINUTES,
        },
        "assumptions": [
            "Stored cases: about 95 % closed (reached 58 %, delivered 10 %, unreachable 8 %, "
            "withdrawn 6 %, self-reported 6 %, wrong number 4 %, coordinator 4 %, refused 2 %, "
            "merged 2 %), 4 % queued (30 % of them after one or two failed calls, waiting for "
            "their retry), 1 % escalated, 100 claimed (leases running beyond the run); one "
            "closed case in ten has a recipient seen before; 14 % of cases have two requests.",
            "Every stored case has its rows as the real code writes them: requests and "
            "requesters, one claim and one attempt per call, an outbox notification per "
            "request of a closed case, audit entries (request.create; case.claim, case.read "
            "and case.outcome per call) in a valid hash chain. Blind indexes (recipient, "
            "requester contact) are computed for every row with the real key; the first "
            "open case of each load is opened with the server's keys.",
            "Sealing: "
            + (
                "open cases, merged cases and all their rows are sealed for themselves "
                "with the real functions; the rest of the closed history (about 93 % of "
                "cases) reuses a pool of ciphertexts sealed once per distinct value with the "
                "real functions (same sizes in the database, but they do not open for the "
                "row they are in: no measured call opens them)."
                if args.pooled_sealing
                else "every personal field of every row is sealed for that row with the real "
                "functions (a data key per row, AES-GCM bound to table, column and row)."
            ),
            "Keys (master, index, secret) come from the environment, made for the run and "
            "shared by the loader and the server, as on several machines (docs/scaling.md).",
            f"The history's calls are spread over {args.volunteers} volunteers; the "
            f"{args.measuring} measured volunteers are among them, so their past claims grow "
            "with the database.",
            "Loaded by COPY with session_replication_role = replica (foreign keys not "
            "re-checked row by row; the rows are consistent by construction), then VACUUM "
            "ANALYZE, as autovacuum would have left a database that grew over months.",
            "The database grows in place from the smaller size to the larger; the rows the "
            "first measurement wrote stay in it.",
            "Measured one request at a time (latency, not throughput): intake is half new "
            "recipients, about 35 % joining an open case, 15 % recipients with closed cases "
            "only; each claim is followed by an outcome (reached or no_answer) or a release, "
            "measured apart. The flood limit is raised (as in bench/intake_load.py); the "
            "cache is the database table, not Redis.",
            "PostgreSQL runs on the same 2-core machine as the server and the client, with "
            "its defaults (shared_buffers 128 MB); the database at the largest size does not "
            "fit in shared_buffers but fits in the OS page cache.",
        ],
        "seconds_total": round(time.monotonic() - started, 1),
        "machine": machine(),
        "goals": goals,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
