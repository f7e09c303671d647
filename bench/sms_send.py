#!/usr/bin/env python
"""Send a burst of SMS through two fake sms-gate.app phones; print JSON.

python bench/sms_send.py [--messages 120] [--per-minute 300] [--workers 2]

A fresh SQLite data directory, two gateways (the environment's and one added with
`bailanys sms add`), N one-part SMS to different numbers, then W worker loops in threads
until the outbox is empty. Each fake phone's receive timestamps give its achieved rate
against its per-minute limit and the smallest gap between two of its messages. The
limit is raised from Android's 30 a minute so that a run takes seconds; the limiter is
the same.
"""

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import machine  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=120)
    ap.add_argument("--per-minute", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    os.environ["BAILANYS_DATA_DIR"] = tempfile.mkdtemp(prefix="bailanys-sms-bench-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bailanys.settings")
    os.environ["BAILANYS_LOG_LEVEL"] = "WARNING"

    import json
    import platform
    import statistics
    from datetime import date

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from bailanys.outbox.models import OutboxMessage
    from bailanys.outbox.services import outbox_add
    from tests.fakes.smsgate import SIGNING_KEY, FakeSmsGate

    call_command("migrate", verbosity=0)
    with FakeSmsGate() as one, FakeSmsGate() as two:
        settings.BAILANYS_SMSGATE_URL = one.url
        settings.BAILANYS_SMSGATE_USERNAME = one.username
        settings.BAILANYS_SMSGATE_PASSWORD = one.password
        settings.BAILANYS_SMSGATE_SIGNING_KEY = SIGNING_KEY
        settings.BAILANYS_SMS_PER_MINUTE = args.per_minute
        call_command("sms", "list", stdout=open(os.devnull, "w"))  # noqa: SIM115
        call_command(
            "sms",
            "add",
            "sim2",
            two.url,
            "--username",
            two.username,
            "--password",
            two.password,
            "--per-minute",
            str(args.per_minute),
            "--daily-cap",
            "100000",
            stdout=open(os.devnull, "w"),  # noqa: SIM115
        )
        settings.BAILANYS_SMS_DAILY_CAP = 100000
        with transaction.atomic():
            for n in range(args.messages):
                outbox_add(
                    channel="sms",
                    address=f"+7701{n:07d}",
                    body=f"Bailanys test {n}",
                    idempotency_key=f"bench:{n}",
                )
        pending = (OutboxMessage.State.PENDING, OutboxMessage.State.SENDING)

        def drain():
            while OutboxMessage.objects.filter(state__in=pending).exists():
                call_command("worker", "--batch", verbosity=0)
                time.sleep(0.02)
            connection.close()

        started = time.monotonic()
        threads = [threading.Thread(target=drain) for _ in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        sims = {}
        for name, fake in (("env", one), ("sim2", two)):
            times = sorted(m["t"] for m in fake.outbox)
            gaps = [b - a for a, b in itertools.pairwise(times)]
            rate = (len(times) - 1) / (times[-1] - times[0]) * 60 if len(times) > 1 else 0
            sims[name] = {
                "messages": len(times),
                "per_minute": round(rate, 1),
                "limit_per_minute": args.per_minute,
                "rate_to_limit": round(rate / args.per_minute, 3),
                "min_gap_s": round(min(gaps), 3) if gaps else None,
                "median_gap_s": round(statistics.median(gaps), 3) if gaps else None,
            }
    result = {
        "benchmark": "sms_send",
        "messages": args.messages,
        "workers": args.workers,
        "database": "sqlite",
        "seconds_wall": round(wall, 2),
        "sims": sims,
        "python": platform.python_version(),
        "machine": machine(),
        "date": date.today().isoformat(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
