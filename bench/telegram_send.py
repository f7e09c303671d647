#!/usr/bin/env python
"""Send a burst through the Telegram channel to the fake Bot API server; print JSON.

python bench/telegram_send.py [--messages 600] [--chats 60] [--workers 2]

A fresh SQLite data directory, N outbox rows spread over C chats, then W
`bailanys worker --batch` loops in threads (each with its own database
connection, as separate processes would have) until the outbox is empty.
The fake's own receive timestamps give the achieved rate, the most messages
it saw in any one second, and the smallest gap between two messages to one
chat; the limits are Telegram's (30/s overall, 1/s per chat).
"""

import argparse
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
    ap.add_argument("--messages", type=int, default=600)
    ap.add_argument("--chats", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="bailanys-tg-bench-")
    os.environ["BAILANYS_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bailanys.settings")
    os.environ["BAILANYS_LOG_LEVEL"] = "WARNING"

    import bisect
    import itertools
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
    from tests.fakes.telegram import FakeTelegram

    call_command("migrate", verbosity=0)
    with FakeTelegram() as fake:
        settings.BAILANYS_TELEGRAM_API_URL = fake.url
        settings.BAILANYS_TELEGRAM_BOT_TOKEN = fake.token
        chats = [7_000_000 + n for n in range(args.chats)]
        with transaction.atomic():
            for n in range(args.messages):
                outbox_add(
                    channel="telegram",
                    address=str(chats[n % len(chats)]),
                    body=f"notification {n}",
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
        sent = fake.sent_messages()
        times = sorted(m["_t"] for m in sent)
        busiest = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
        gaps = []
        for chat in chats:
            mine = sorted(m["_t"] for m in sent if m["chat_id"] == chat)
            gaps += [b - a for a, b in itertools.pairwise(mine)]
        span = times[-1] - times[0]
        limit = settings.BAILANYS_TELEGRAM_PER_SECOND
        bound = max((len(times) - 1) / limit, (args.messages / len(chats) - 1) * 1.0)
        result = {
            "benchmark": "telegram_send",
            "messages": len(sent),
            "chats": len(chats),
            "workers": args.workers,
            "database": "sqlite",
            "seconds_first_to_last": round(span, 2),
            "seconds_wall": round(wall, 2),
            "messages_per_second": round((len(times) - 1) / span, 2),
            "limit_per_second": limit,
            "rate_to_limit": round((len(times) - 1) / span / limit, 3),
            "time_to_bound": round(span / bound, 3),
            "busiest_second": busiest,
            "min_gap_same_chat_s": round(min(gaps), 3),
            "median_gap_same_chat_s": round(statistics.median(gaps), 3),
            "http_429_seen": sum(c["status"] == 429 for c in fake.calls),
            "python": platform.python_version(),
            "machine": machine(),
            "date": date.today().isoformat(),
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
