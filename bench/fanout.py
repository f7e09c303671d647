#!/usr/bin/env python
"""Fan-out: notify N requesters through Telegram and SMS at once; print JSON (issue 9, point 4).

python bench/fanout.py [--requesters 10000] [--telegram-share 0.7] [--sims 4]
                       [--sms-per-minute 200] [--workers 2] [--senders 8] [--latency-ms 0]

A fresh SQLite data directory; the fake Telegram Bot API server and S fake sms-gate.app
phones of the test suite on loopback (real sockets); one outbox notification for each of
N distinct requesters, written in one transaction through `outbox_add` (as the relay
writes them; no task per message, the workers' pumps take the rows): a share of them to
distinct Telegram chats, the rest as one-part SMS to distinct numbers. The phones are
SMS gateways with their per-minute limits set (the first from the environment, the
others with `bailanys sms add`); then W `bailanys worker` processes send everything,
both channels at once, and are stopped when the outbox is empty. Each worker's outbox
pump takes due rows in batches and keeps each channel's rate x round trip in flight, at
most --senders (BAILANYS_WORKER_SENDERS), each send on a thread with its own database
connection. --latency-ms makes every fake answer that late (100: a Bot API round trip
from Central Asia), so that senders waiting on answers show.

The bound is the shortest time the rate limits allow, each limit taken as a steady
rate: Telegram `telegram_count / BAILANYS_TELEGRAM_PER_SECOND`; SMS `sms_parts / (sum
of the SIMs' per-minute limits / 60)`, the pool's best split (every SIM may send every
SMS here: no operator prefixes, caps out of reach); overall the longer of the two. The
time taken is the first-to-last receive time at the fakes (their own timestamps), per
channel and overall, and `time_to_bound` is time taken / bound (goal <= 1.05). The wall
time runs from starting the workers to the last message received, startup included.

How to read it: `time_to_bound` near 1 means the senders kept every limit busy. The
limits are judged where the provider counts, at the fakes' receive times, which carry
the spread of each send's trip (thread wake-ups, a loaded machine): the sender spaces
sends exactly at the limit, with no margin, so at each of a window's two edges a send
whose trip was shorter than its neighbour's may fall in. TRIP_SPREAD (50 ms: the GIL,
the Bot API client's event loop, two workers on 2 cores) is the spread allowed, so each
edge may gain ceil(rate x TRIP_SPREAD) sends: `telegram.busiest_10_seconds` must not
exceed 10 x the per-second limit + 4 at 30 a second, nor any SIM's `busiest_minute` its
per-minute limit + 2;
`telegram.busiest_second` (most in any one second) must stay within 20 % of the limit,
which bunched sends break (a limiter that let 30 go at once did: 41);
`http_429` must be 0; `duplicates`, `missing` and `unsent` must be 0 (counted from the
fakes' logs and the outbox). The script exits 1 and says why when any of these breaks,
keeping the data directory (with the workers' logs); otherwise it removes it. Progress
goes to stderr.
"""

import argparse
import bisect
import collections
import itertools
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import at_most, machine  # noqa: E402


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def busiest(times: list[float], window: float) -> int:
    """The most of `times` (sorted) in any half-open stretch of `window` seconds."""
    return max((bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)), default=0)


# The spread of send trips (slot taken to received) a limit is judged with at the fakes.
TRIP_SPREAD = 0.05


def edges(per_second: float) -> int:
    """What a window may gain at its two edges from the spread of trips."""
    return 2 * math.ceil(per_second * TRIP_SPREAD)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a running process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)
    except (OSError, ValueError, IndexError):
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--requesters", type=int, default=10_000)
    ap.add_argument("--telegram-share", type=float, default=0.7)
    ap.add_argument("--sims", type=int, default=4, help="fake sms-gate.app phones, one SIM each")
    ap.add_argument(
        "--sms-per-minute", type=int, default=200, help="each SIM's limit (Android's is 30)"
    )
    ap.add_argument("--workers", type=int, default=2, help="`bailanys worker` processes")
    ap.add_argument(
        "--senders", type=int, default=8, help="most sends in flight per channel and worker"
    )
    ap.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="each fake answers this long after a request arrives (100: a real Bot API "
        "round trip from Central Asia)",
    )
    args = ap.parse_args(argv)
    if args.requesters < 2 or not 0 <= args.telegram_share <= 1 or args.sims < 1:
        ap.error("--requesters >= 2, --telegram-share in [0, 1], --sims >= 1")

    data_dir = tempfile.mkdtemp(prefix="bailanys-fanout-bench-")
    os.environ["BAILANYS_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bailanys.settings")
    os.environ["BAILANYS_LOG_LEVEL"] = "WARNING"
    os.environ["BAILANYS_SMS_PER_MINUTE"] = str(args.sms_per_minute)
    os.environ["BAILANYS_SMS_DAILY_CAP"] = "1000000"
    os.environ["BAILANYS_WORKER_SENDERS"] = str(args.senders)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from bailanys.channels.sms.segments import segments
    from bailanys.outbox.models import OutboxMessage
    from bailanys.outbox.services import outbox_add
    from tests.fakes.smsgate import SIGNING_KEY, FakeSmsGate
    from tests.fakes.telegram import FakeTelegram

    call_command("migrate", verbosity=0)
    devnull = open(os.devnull, "w")  # noqa: SIM115  for the commands' chatter
    telegram = FakeTelegram().start()
    phones = [FakeSmsGate(device_id=f"phone-{n}").start() for n in range(args.sims)]
    for fake in (telegram, *phones):
        fake.delay = args.latency_ms / 1000
    workers: list[subprocess.Popen] = []
    try:
        env = {
            "BAILANYS_TELEGRAM_API_URL": telegram.url,
            "BAILANYS_TELEGRAM_BOT_TOKEN": telegram.token,
            "BAILANYS_SMSGATE_URL": phones[0].url,
            "BAILANYS_SMSGATE_USERNAME": phones[0].username,
            "BAILANYS_SMSGATE_PASSWORD": phones[0].password,
            "BAILANYS_SMSGATE_SIGNING_KEY": SIGNING_KEY,
        }
        os.environ.update(env)
        for name, value in env.items():
            setattr(settings, name, value)
        call_command("sms", "list", stdout=devnull)  # creates "env" from the environment
        for n, phone in enumerate(phones[1:], start=2):
            call_command(
                "sms",
                "add",
                f"sim{n}",
                phone.url,
                "--username",
                phone.username,
                "--password",
                phone.password,
                "--per-minute",
                str(args.sms_per_minute),
                "--daily-cap",
                "1000000",
                stdout=devnull,
            )

        # Who gets what: requester n is on Telegram or SMS, the two mixed evenly.
        share = args.telegram_share
        plan = []
        for n in range(args.requesters):
            on_telegram = int((n + 1) * share) > int(n * share)
            body = f"Bailanys: news about your request {n}. A volunteer reached them."
            address = str(8_000_000 + n) if on_telegram else f"+7701{n:07d}"
            plan.append(("telegram" if on_telegram else "sms", address, body))
        tg_plan = {int(a): b for c, a, b in plan if c == "telegram"}
        sms_plan = {a: b for c, a, b in plan if c == "sms"}
        parts = sum(segments(b) for b in sms_plan.values())
        say(f"writing {len(plan)} notifications ({len(tg_plan)} Telegram, {len(sms_plan)} SMS)")
        started = time.monotonic()
        with transaction.atomic():
            for n, (channel, address, body) in enumerate(plan):
                outbox_add(
                    channel=channel, address=address, body=body, idempotency_key=f"fanout:{n}"
                )
        say(f"written with their tasks in {time.monotonic() - started:.1f} s")

        per_second = settings.BAILANYS_TELEGRAM_PER_SECOND
        limits_per_minute = [args.sms_per_minute] * args.sims
        tg_bound = len(tg_plan) / per_second
        sms_bound = parts / (sum(limits_per_minute) / 60)
        bound = max(tg_bound, sms_bound)
        say(f"bound {bound:.1f} s (Telegram {tg_bound:.1f} s, SMS {sms_bound:.1f} s)")

        logs = []
        started = time.monotonic()
        for n in range(args.workers):
            log = open(Path(data_dir) / f"worker-{n}.log", "w")  # noqa: SIM115
            logs.append(log)
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bailanys", "worker"],
                    cwd=ROOT,
                    env=os.environ.copy(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        waiting = (OutboxMessage.State.PENDING, OutboxMessage.State.SENDING)
        deadline = started + bound * 3 + 120
        shown = started
        while True:
            left = OutboxMessage.objects.filter(state__in=waiting).count()
            now = time.monotonic()
            if not left:
                break
            dead = [w.pid for w in workers if w.poll() is not None]
            if dead or now > deadline:
                break
            if now - shown >= 15:
                shown = now
                tg, sms = len(telegram.sent_messages()), sum(len(p.outbox) for p in phones)
                say(f"{now - started:6.0f} s: {tg} Telegram, {sms} SMS received; {left} to go")
            time.sleep(0.2)
        wall_to_empty = time.monotonic() - started
        worker_cpu = [cpu_seconds(w.pid) for w in workers]
        own_cpu = round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1)
        connection.close()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for log in logs:
            log.close()
        states = dict(collections.Counter(OutboxMessage.objects.values_list("state", flat=True)))
        retried = OutboxMessage.objects.filter(tries__gt=1).count()

        # What the fakes received.
        problems = []
        if left:
            problems.append(
                f"{left} messages still waiting after {wall_to_empty:.0f} s"
                + (f"; worker(s) {dead} died (see {data_dir})" if dead else "")
            )
        tg_sent = telegram.sent_messages()
        tg_times = sorted(m["_t"] for m in tg_sent)
        per_chat = collections.Counter(m["chat_id"] for m in tg_sent)
        tg_calls = telegram.calls_for("sendMessage")
        tg_429 = sum(c["status"] == 429 for c in tg_calls)
        tg_failed = sum(c["status"] not in (200, 429) for c in tg_calls)
        tg_wrong = sum(tg_plan.get(m["chat_id"]) != m["text"] for m in tg_sent)
        tg = {
            "messages": len(tg_plan),
            "received": len(tg_sent),
            "duplicates": sum(c - 1 for c in per_chat.values() if c > 1),
            "missing": len(set(tg_plan) - set(per_chat)),
            "wrong_text": tg_wrong,
            "http_429": tg_429,
            "other_errors": tg_failed,
        }
        sims = {}
        sms_times = []
        numbers = collections.Counter()
        for n, phone in enumerate(phones):
            times = sorted(m["t"] for m in phone.outbox)
            sms_times += times
            numbers.update(m["phoneNumbers"][0] for m in phone.outbox)
            gaps = [b - a for a, b in itertools.pairwise(times)]
            span = times[-1] - times[0] if len(times) > 1 else 0.0
            rate = (len(times) - 1) / span * 60 if span else 0.0
            limit = limits_per_minute[n]
            sims["env" if n == 0 else f"sim{n + 1}"] = {
                "messages": len(times),
                "limit_per_minute": limit,
                "per_minute": round(rate, 1),
                "rate_to_limit": round(rate / limit, 3),
                "busiest_minute": busiest(times, 60.0),
                "min_gap_s": round(min(gaps), 3) if gaps else None,
                "median_gap_s": round(statistics.median(gaps), 3) if gaps else None,
                "seconds_first_to_last": round(span, 2),
                "own_bound_s": round(len(times) / (limit / 60), 2),
                "refused_posts": sum(
                    c["method"] == "POST" and c["status"] != 202 for c in phone.calls
                ),
            }
        sms_times.sort()
        sms_wrong = sum(
            sms_plan.get(m["phoneNumbers"][0]) != m["text"] for p in phones for m in p.outbox
        )
        sms = {
            "messages": len(sms_plan),
            "parts": parts,
            "received": len(sms_times),
            "duplicates": sum(c - 1 for c in numbers.values() if c > 1),
            "missing": len(set(sms_plan) - set(numbers)),
            "wrong_text": sms_wrong,
            "refused_posts": sum(s["refused_posts"] for s in sims.values()),
        }

        def span_of(times):
            return times[-1] - times[0] if len(times) > 1 else 0.0

        all_times = sorted(tg_times + sms_times)
        taken = span_of(all_times)
        tg_span, sms_span = span_of(tg_times), span_of(sms_times)
        tg.update(
            {
                "limit_per_second": per_second,
                "bound_s": round(tg_bound, 2),
                "seconds_first_to_last": round(tg_span, 2),
                "time_to_bound": round(tg_span / tg_bound, 3) if tg_bound else None,
                "per_second": round((len(tg_times) - 1) / tg_span, 2) if tg_span else None,
                "rate_to_limit": round((len(tg_times) - 1) / tg_span / per_second, 3)
                if tg_span
                else None,
                "busiest_second": busiest(tg_times, 1.0),
                "busiest_10_seconds": busiest(tg_times, 10.0),
                "min_gap_s": round(min(b - a for a, b in itertools.pairwise(tg_times)), 4)
                if len(tg_times) > 1
                else None,
                "chats_with_more_than_one": sum(c > 1 for c in per_chat.values()),
            }
        )
        pool_limit = sum(limits_per_minute)
        sms.update(
            {
                "sims": args.sims,
                "limit_per_minute_all_sims": pool_limit,
                "bound_s": round(sms_bound, 2),
                "seconds_first_to_last": round(sms_span, 2),
                "time_to_bound": round(sms_span / sms_bound, 3) if sms_bound else None,
                "per_minute": round((len(sms_times) - 1) / sms_span * 60, 1) if sms_span else None,
                "rate_to_limit": round((len(sms_times) - 1) / sms_span * 60 / pool_limit, 3)
                if sms_span
                else None,
                "per_sim": sims,
            }
        )
        for name, channel in (("Telegram", tg), ("SMS", sms)):
            for what in ("duplicates", "missing", "wrong_text"):
                if channel[what]:
                    problems.append(f"{name}: {channel[what]} {what.replace('_', ' ')}")
        if tg_429:
            problems.append(f"Telegram answered 429 {tg_429} times")
        if tg_failed:
            problems.append(f"Telegram answered an error {tg_failed} times")
        if tg["busiest_10_seconds"] > 10 * per_second + edges(per_second):
            problems.append(
                f"Telegram received {tg['busiest_10_seconds']} messages in ten seconds"
                f" (limit {per_second} a second)"
            )
        if tg["busiest_second"] > per_second * 1.2:
            problems.append(
                f"Telegram received {tg['busiest_second']} messages in one second"
                f" (limit {per_second}): sends bunched"
            )
        for name, sim in sims.items():
            if sim["busiest_minute"] > sim["limit_per_minute"] + edges(
                sim["limit_per_minute"] / 60
            ):
                problems.append(
                    f"SIM {name} received {sim['busiest_minute']} SMS in one minute"
                    f" (limit {sim['limit_per_minute']})"
                )
        if sms["refused_posts"]:
            problems.append(f"the phones refused {sms['refused_posts']} SMS")
        if states.get(OutboxMessage.State.SENT, 0) != len(plan):
            problems.append(f"outbox states at the end: {states}")

        ratio = round(taken / bound, 3) if bound else None
        last = all_times[-1] - started if all_times else None
        result = {
            "benchmark": "fanout",
            "requesters": len(plan),
            "telegram_share": share,
            "workers": args.workers,
            "senders_per_channel_per_worker": args.senders,
            "answer_latency_ms": args.latency_ms,
            "database": "sqlite",
            "bound_s": round(bound, 2),
            "bound_how": (
                "max(telegram messages / per-second limit, SMS parts / (sum of the SIMs'"
                " per-minute limits / 60)); each limit taken as a steady rate"
            ),
            "seconds_first_to_last": round(taken, 2),
            "time_to_bound": ratio,
            "seconds_wall": round(last, 2) if last is not None else None,
            "wall_to_bound": round(last / bound, 3) if last is not None and bound else None,
            "seconds_until_outbox_empty": round(wall_to_empty, 2),
            "cpu_seconds": {
                "workers": worker_cpu,
                "fakes_and_this_script": own_cpu,
            },
            "telegram": tg,
            "sms": sms,
            "outbox_states": states,
            "outbox_retried": retried,
            "problems": problems,
            "assumptions": [
                "The fakes of the test suite on loopback (real sockets, in this process):"
                " no network latency, no provider-side queueing; receive timestamps are"
                " the fakes' time.monotonic().",
                f"Each SIM's limit is raised from Android's 30 a minute to"
                f" {args.sms_per_minute} so that the SMS share takes about as long as the"
                " Telegram share; the limiter is the same code.",
                "The bound takes each limit as a steady rate (count / rate); a first-to-last"
                " time can be up to one message's interval shorter than it.",
                "Every SMS is one part (short Latin text); no operator prefixes and caps out"
                " of reach, so any SIM may send any SMS and the pool's bound is its total"
                " rate.",
                "Every requester has a chat of their own: the per-chat limit (1/s) never"
                " binds, only Telegram's overall limit.",
                "The notifications are written in one transaction (as outbox_add does,"
                " no task per message) before the workers start; each worker's outbox"
                " pump takes due rows in batches and keeps each channel's rate x round"
                " trip in flight.",
                "SQLite in WAL mode, workers as separate processes on the same machine as"
                " the fakes.",
            ],
            "machine": machine(),
            "goals": [
                at_most(
                    "fanout_time_to_bound",
                    ratio if ratio is not None else float("inf"),
                    1.05,
                    "×",  # noqa: RUF001
                    f"Fan-out to {len(plan):,} requesters, time taken against the bound the"
                    " rate limits allow",
                ),
                at_most(
                    "fanout_telegram_time_to_bound",
                    tg["time_to_bound"] if tg["time_to_bound"] is not None else float("inf"),
                    1.05,
                    "×",  # noqa: RUF001
                    "Its Telegram share, time taken against the bound of Telegram's limit",
                ),
                at_most(
                    "fanout_sms_time_to_bound",
                    sms["time_to_bound"] if sms["time_to_bound"] is not None else float("inf"),
                    1.05,
                    "×",  # noqa: RUF001
                    "Its SMS share, time taken against the bound of the SIMs' limits",
                ),
            ],
        }
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        telegram.stop()
        for phone in phones:
            phone.stop()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    for problem in problems:
        say(f"PROBLEM: {problem}")
    if problems:
        say(f"the data directory, with the workers' logs, is kept: {data_dir}")
        return 1
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
