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
the other, alternating for --rounds rounds: the ratio intake/bare is the median of the
per-round ratios, so both sides see the same machine at the same moment. Goal ≥ 0.5.

Where the time goes: run the intake in-process under cProfile with django.test.Client
and CaptureQueriesContext (28 statements per request on 2026-11-23, docs/benchmark-notes.md).
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


def body_for(rng: random.Random) -> bytes:
    """A request like the form's: a pool of 5,000 recipients, so some join open cases."""
    n = rng.randrange(5000)
    return json.dumps(
        {
            "requester": {"name": "Марат", "language": "ru", "contact": ""},
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


def generate(port: int, path: str, seconds: float, concurrency: int, seed: int) -> dict:
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
            body = body_for(rng)
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
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
        "path": path,
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
    ap.add_argument("--generate", nargs=2, metavar=("PORT", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.generate:
        port, path = int(args.generate[0]), args.generate[1]
        print(json.dumps(generate(port, path, args.seconds, args.concurrency, args.seed)))
        return 0

    env = dict(os.environ)
    env.update(
        BAILANYS_DATA_DIR=tempfile.mkdtemp(prefix="bailanys-intake-bench-"),
        BAILANYS_BENCH_ENDPOINTS="1",
        BAILANYS_INTAKE_LIMIT_PER_SOURCE="100000000/60",
        BAILANYS_INTAKE_LIMIT_PER_CONTACT="100000000/60",
        BAILANYS_LOG_LEVEL="WARNING",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    drop = None
    if args.database_url:
        env["DATABASE_URL"], drop = postgres_database(args.database_url)
    port = free_port()
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
        start_new_session=True,
    )
    rounds = []
    try:
        wait_healthy(port, server)
        for n in range(args.rounds):
            result = {}
            for name, path in (("bare", "/bench/bare"), ("intake", "/api/v1/requests")):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--generate",
                        str(port),
                        path,
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
                result[name] = json.loads(out.stdout)
            result["ratio"] = round(
                result["intake"]["per_second"] / max(result["bare"]["per_second"], 0.1), 3
            )
            rounds.append(result)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if drop is not None:
            drop()
    ratio = statistics.median(r["ratio"] for r in rounds)
    database = "postgresql" if args.database_url else "sqlite"
    print(
        json.dumps(
            {
                "bench": "intake_load",
                "database": database,
                "counters": "redis" if args.redis_url else "database cache",
                "server": f"bailanys up (waitress, {args.threads} threads), one process",
                "load": f"{args.concurrency} keep-alive connections from a second process, "
                f"{args.seconds:g} s per endpoint per round, {args.rounds} rounds",
                "intake_per_second_median": statistics.median(
                    r["intake"]["per_second"] for r in rounds
                ),
                "bare_per_second_median": statistics.median(
                    r["bare"]["per_second"] for r in rounds
                ),
                "ratio_intake_to_bare": ratio,
                "goal": f">= {GOAL}",
                "meets_goal": ratio >= GOAL,
                "rounds": rounds,
                "goals": [
                    at_least(
                        f"intake_to_bare_ratio_{database}",
                        ratio,
                        GOAL,
                        "",
                        f"Intake throughput on {database} against a bare insert in the same "
                        "server (median of the rounds' ratios)",
                    )
                ],
                "machine": machine_now(),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
