#!/usr/bin/env python
"""Intake throughput under concurrent load, as a ratio to a bare insert; print JSON.

python bench/intake_load.py [--seconds 10] [--rounds 3] [--concurrency 16] [--threads 8]
                            [--database-url postgres://postgres@127.0.0.1:5432/postgres]

Starts the production server (`bailanys up --no-worker`: waitress, --threads) on a
fresh database: a temporary SQLite data directory, or with --database-url a new
PostgreSQL database made next to the one named (and dropped after). With
BAILANYS_BENCH_ENDPOINTS=1 the same server also answers /bench/bare, which inserts one
row with no validation (bailanys/benchbare.py). A second process, on loopback, keeps
--concurrency keep-alive connections busy for --seconds against one endpoint, then
the next, in turn for --rounds rounds: each ratio is the median of the per-round
ratios, so both sides see the same machine at the same moment.

Three paths, each against the bare insert of its own server (issue 22):
- `without_contact`: a request with no contact (the first version of this bench);
- `with_contact`: the requester leaves a phone number (as most do), so both flood
  counters count: goal >= 0.5;
- `with_sms_gateway`: the same, on a second server with an SMS gateway configured, so
  each new case of a bridged kind queues the SMS bridge's start: goal >= 0.4. The worker
  is not running: the bridge's own transaction and its SMS are the worker's work, after
  the answer, and not in this figure (`bridge_tasks_queued` says how many were queued).

Where the time goes: run the intake in-process under cProfile with django.test.Client
and CaptureQueriesContext; tests/test_intake_statements.py holds the statement counts.
"""

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import at_least, bailanys_command, free_port, with_db  # noqa: E402
from bench._common import machine as machine_now  # noqa: E402

GOAL = 0.5


GOAL_GATEWAY = 0.4
PATHS = {"bare": "/bench/bare", "without_contact": "/api/v1/requests"}
PATHS["with_contact"] = PATHS["with_sms_gateway"] = PATHS["without_contact"]


def body_for(rng: random.Random, mode: str) -> bytes:
    """A request like the form's: a pool of 5,000 recipients, so some join open cases;
    with a contact, one of 2,000 requesters' numbers abroad."""
    n = rng.randrange(5000)
    contact = "" if mode == "without_contact" else f"+49 151 {rng.randrange(2000):08d}"
    return json.dumps(
        {
            "requester": {"name": "Марат", "language": "ru", "contact": contact},
            "recipient": {
                "name": "Гульнара",
                "phone": f"+7 701 5{n // 100:02d} {n % 100:02d} {rng.randrange(100):02d}",
                "city": "Алматы",
            },
            "message": "Мама, я в Германии, рейсов нет, но со мной всё хорошо.",  # noqa: RUF001
            "kind": "deliver_message",
        },
        ensure_ascii=False,
    ).encode()


def generate(port: int, mode: str, seconds: float, concurrency: int, seed: int) -> dict:
    """The load generator (its own process): POST as fast as answers come back."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def one_connection(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, codes = [], {}
        while time.monotonic() < deadline:
            body = body_for(rng, mode)
            started = time.perf_counter()
            try:
                conn.request(
                    "POST", PATHS[mode], body=body, headers={"Content-Type": "application/json"}
                )
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
            codes[status] = codes.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    started = time.perf_counter()
    threads = [threading.Thread(target=one_connection, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ok = statuses.get(201, 0)
    latencies.sort()
    return {
        "mode": mode,
        "path": PATHS[mode],
        "seconds": round(elapsed, 2),
        "answered_201": ok,
        "per_second": round(ok / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "latency_ms_median": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1)
        if latencies
        else None,
    }


def postgres_database(base_url: str) -> tuple[str, callable]:
    """A fresh database next to the one `base_url` names; returns (url, drop)."""
    import psycopg

    name = f"bailanys_bench_{os.getpid()}"
    admin = psycopg.connect(base_url, autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()

    return with_db(base_url, name), drop


def wait_healthy(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not answer /healthz in time")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--threads", type=int, default=8, help="server threads")
    ap.add_argument("--database-url", default="", help="a PostgreSQL URL; default SQLite")
    ap.add_argument(
        "--redis-url", default="", help="flood-limit counters in Redis (as in production)"
    )
    ap.add_argument("--generate", nargs=2, metavar=("PORT", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.generate:
        port, mode = int(args.generate[0]), args.generate[1]
        print(json.dumps(generate(port, mode, args.seconds, args.concurrency, args.seed)))
        return 0

    env = dict(os.environ)
    env.update(
        BAILANYS_BENCH_ENDPOINTS="1",
        BAILANYS_INTAKE_LIMIT_PER_SOURCE="100000000/60",
        BAILANYS_INTAKE_LIMIT_PER_CONTACT="100000000/60",
        BAILANYS_LOG_LEVEL="WARNING",
    )
    for name in ("DATABASE_URL", "REDIS_URL", "BAILANYS_SMSGATE_URL"):
        env.pop(name, None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    gateway = {  # nothing listens there: the worker, which would send, is not running
        "BAILANYS_SMSGATE_URL": "http://127.0.0.1:9/3rdparty/v1",
        "BAILANYS_SMSGATE_USERNAME": "bench",
        "BAILANYS_SMSGATE_PASSWORD": "bench",
    }
    servers = [
        ("no gateway", {}, ("without_contact", "with_contact")),
        ("sms gateway", gateway, ("with_sms_gateway",)),
    ]
    rounds: dict[str, list[dict]] = {}
    queued = 0
    for _label, extra, modes in servers:
        server_rounds, bridges = one_server(args, {**env, **extra}, modes)
        queued += bridges
        for mode in modes:
            rounds[mode] = [{mode: r[mode], "bare": r["bare"]} for r in server_rounds]
    ratios = {mode: statistics.median(r[mode]["ratio"] for r in rounds[mode]) for mode in rounds}
    database = "postgresql" if args.database_url else "sqlite"
    print(
        json.dumps(
            {
                "bench": "intake_load",
                "database": database,
                "counters": "redis" if args.redis_url else "database cache",
                "server": f"bailanys up --no-worker (waitress, {args.threads} threads), one "
                "process; a second server like it with an SMS gateway configured",
                "load": f"{args.concurrency} keep-alive connections from a second process, "
                f"{args.seconds:g} s per endpoint per round, {args.rounds} rounds",
                "ratio_intake_to_bare": ratios["with_contact"],
                "ratio_intake_without_contact_to_bare": ratios["without_contact"],
                "ratio_intake_with_sms_gateway_to_bare": ratios["with_sms_gateway"],
                "intake_per_second_median": {
                    mode: statistics.median(r[mode]["per_second"] for r in rounds[mode])
                    for mode in rounds
                },
                "bare_per_second_median": {
                    mode: statistics.median(r["bare"]["per_second"] for r in rounds[mode])
                    for mode in rounds
                },
                "bridge_tasks_queued": queued,
                "bridge_note": "with a gateway, each new bridged case queues the bridge's "
                "start for the worker (not running here): its transaction and SMS are not "
                "in the figure",
                "goal": f"with a contact >= {GOAL}, with an SMS gateway >= {GOAL_GATEWAY}",
                "meets_goal": ratios["with_contact"] >= GOAL
                and ratios["with_sms_gateway"] >= GOAL_GATEWAY,
                "rounds": rounds,
                "goals": [
                    at_least(
                        f"intake_to_bare_ratio_{database}",
                        ratios["with_contact"],
                        GOAL,
                        "",
                        f"Intake with a contact on {database} against a bare insert in the "
                        "same server (median of the rounds' ratios)",
                    ),
                    at_least(
                        f"intake_with_sms_gateway_to_bare_ratio_{database}",
                        ratios["with_sms_gateway"],
                        GOAL_GATEWAY,
                        "",
                        f"The same with an SMS gateway configured, on {database}",
                    ),
                ],
                "machine": machine_now(),
            },
            indent=2,
        )
    )
    return 0


def one_server(args, env: dict, modes: tuple[str, ...]) -> tuple[list[dict], int]:
    """Start a server on a fresh database, run the rounds (bare, then each mode), stop it:
    the rounds, and how many bridge starts were queued (tasks for the worker)."""
    env = {**env, "BAILANYS_DATA_DIR": tempfile.mkdtemp(prefix="bailanys-intake-bench-")}
    drop = None
    if args.database_url:
        env["DATABASE_URL"], drop = postgres_database(args.database_url)
    port = free_port()
    log = open(Path(env["BAILANYS_DATA_DIR"]) / "server.log", "wb")  # noqa: SIM115
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
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,  # waitress warns of its queue depth by the thousand under this load
        start_new_session=True,
    )
    rounds = []
    try:
        wait_healthy(port, server)
        for n in range(args.rounds):
            result = {}
            for mode in ("bare", *modes):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--generate",
                        str(port),
                        mode,
                        "--seconds",
                        str(args.seconds),
                        "--concurrency",
                        str(args.concurrency),
                        "--seed",
                        str(args.seed + n),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result[mode] = json.loads(out.stdout)
            for mode in modes:
                result[mode]["ratio"] = round(
                    result[mode]["per_second"] / max(result["bare"]["per_second"], 0.1), 3
                )
            rounds.append(result)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        queued = bridge_tasks(env)
        if drop is not None:
            drop()
    return rounds, queued


def bridge_tasks(env: dict) -> int:
    """The bridge starts the server queued (the worker's work, not done in this bench)."""
    out = subprocess.run(
        [bailanys_command(), "shell", "-v", "0", "-c", BRIDGE_TASKS],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    last = out.stdout.strip().splitlines()[-1:] if out.returncode == 0 else []
    return int(last[0]) if last and last[0].isdigit() else -1


BRIDGE_TASKS = (
    "from django_tasks_db.models import DBTaskResult; "
    "print(DBTaskResult.objects.filter(task_path__endswith='bridge_start_task').count())"
)


if __name__ == "__main__":
    sys.exit(main())
