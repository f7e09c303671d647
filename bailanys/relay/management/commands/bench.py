"""bailanys bench: run the benchmarks in bench/ and write docs/benchmarks.md from their JSON.

Each script prints one JSON object; this command keeps it in bench/results/NAME.json
(with the command, the wall time and the exit status) and then writes
docs/benchmarks.md from every result there: the goals with their figures, a plain
sentence for each goal missed, the machine and the date of each run, and the JSON.
`--only` runs some of them and keeps the others' last results, so one slow benchmark
can be re-run alone; `--render` writes the page again without running anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

ROOT = Path(__file__).resolve().parents[4]
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Bench:
    name: str
    title: str
    script: str
    args: str = ""  # the script's arguments, split on spaces
    quick_args: str = ""
    postgres: bool = False  # needs --database-url; the URL is added as "--database-url URL"
    timeout: int = 3600
    needs: str = ""  # a path (from the repository root) that must exist, else skipped


# In the order the page lists them. Sizes are the issue's; --quick makes each a smoke run.
BENCHES = (
    Bench(
        "intake_sqlite",
        "Intake throughput against a bare insert, SQLite (issue 9, point 1)",
        "intake_load.py",
        "--seconds 10 --rounds 3",
        "--seconds 2 --rounds 1",
    ),
    Bench(
        "intake_postgresql",
        "Intake throughput against a bare insert, PostgreSQL (issue 9, point 1)",
        "intake_load.py",
        "--seconds 10 --rounds 3",
        "--seconds 2 --rounds 1",
        postgres=True,
    ),
    Bench(
        "scale",
        "Intake and claim latency with 10,000 and 1,000,000 cases (issue 9, point 2)",
        "scale.py",
        "--sizes 10000 1000000 --quiet-wait 30",
        "--sizes 2000 20000 --samples 100",
        postgres=True,
        timeout=3 * 3600,
    ),
    Bench(
        "claims_concurrent",
        "Concurrent claims, one and two web processes (issue 9, points 3 and 7)",
        "claims_concurrent.py",
        "--volunteers 100 500 --processes 1 2 --think-ms 0 15000 --seconds 30 --quiet-wait 30",
        "--volunteers 20 --processes 1 2 --think-ms 0 2000 --seconds 3 --cases 500",
        postgres=True,
    ),
    Bench(
        "fanout",
        "Fan-out to 10,000 requesters against the rate limits (issue 9, point 4)",
        "fanout.py",
        "--requesters 10000 --latency-ms 100",
        "--requesters 300 --latency-ms 100",
    ),
    Bench(
        "simulate",
        "7 January 2022, simulated (issue 9, point 5)",
        "simulate.py",
        "",
        "--small",
    ),
    Bench(
        "crash_test",
        "Crash test: kill -9 under 10,000 requests (issue 9, point 6)",
        "crash_test.py",
        "--requests 10000 --allow-kill-duplicates",
        "--requests 400 --kills 2 --allow-kill-duplicates",
        timeout=1800,
    ),
    Bench(
        "parse_eval",
        "Parser accuracy and speed",
        "parse_eval.py",
        "../shared/corpus/requests-dev.jsonl",
        "../shared/corpus/requests-dev.jsonl",
        needs="../shared/corpus/requests-dev.jsonl",
    ),
    Bench(
        "telegram_send",
        "Telegram send rate against Telegram's limits",
        "telegram_send.py",
        "",
        "--messages 60 --chats 20",
    ),
    Bench(
        "sms_send",
        "SMS send rate per SIM against its limit",
        "sms_send.py",
        "",
        "--messages 30",
    ),
    Bench(
        "import_scale",
        "Importing a Telegram export at scale",
        "import_scale.py",
        "--sizes 1000 20000",
        "--sizes 200 1000",
    ),
)
BY_NAME = {b.name: b for b in BENCHES}

# What the runs showed about a goal when it is missed: printed after its sentence.
# Measures are matched by prefix. The longer reading is in docs/benchmark-notes.md.
WHY = {
    "intake_to_bare_ratio": "An intake is now 8 SQL statements with a contact (9 with an "
    "SMS gateway configured; 30 before issue 22) against one for the bare insert; what "
    "is left is the web process's CPU, about 7 ms an intake under cProfile, a third of it "
    "Django compiling the statements, the rest the form, the phone number, sealing and "
    "the answer (docs/benchmark-notes.md).",
    "claim_p99_ms": "No session waits on an audit lock any more (entries are appended "
    "with no lock and sealed later, issue 22). The slowest claims wait for the web "
    "process's CPU (about half a core at 500 volunteers, on a 2-core machine shared with "
    "PostgreSQL, the worker and the load generator) and, with two processes, behind the "
    "outage state rows that an outcome's sensor reading re-evaluates after it commits "
    "(docs/benchmark-notes.md).",
    "claim_throughput_more_processes": "Two web processes share the 2 cores with "
    "PostgreSQL, the worker and the load generator: a second process adds threads, not "
    "cores.",
    "minutes_ratio": "A third of recipients answer the first call and the retries wait "
    "(20, 60, 180 minutes), so most delivered requests take two or more calls; the saving "
    "over 2022 is the calls not made twice and the shorter handling, not fewer calls to "
    "reach someone.",
    "median_minutes_to_reached": "Cases that get an SMS first wait for its 30-minute "
    "window before anyone calls, and a recipient who misses the first call is called "
    "again 20 minutes later; with 10/30/90-minute retries and a 15-minute window the "
    "median was 19.9 minutes and the minutes ratio 0.515 (docs/benchmark-notes.md).",
    "fanout_": "With 100 ms answers. Sends are spaced exactly at each limit, from the "
    "slot each waited for (no margin), and each worker's outbox pump keeps a channel's "
    "rate x round trip in flight with no task per message; what is left is the two "
    "workers' CPU on a 2-core machine shared with the fakes (about 20 ms a message: the "
    "Bot API client, sealing, the SMS pool's queries), which makes some sends miss their "
    "slot (docs/benchmark-notes.md).",
    "notifications_sent_twice": "A worker killed after Telegram accepted a message and "
    "before the outbox row was marked sent leaves it 'sending'; after the 2-minute lease "
    "it is sent again, and the Bot API has no idempotency key to stop it. SMS through "
    "sms-gate carries our message id, so the phone refuses the second copy.",
}


def why(measure: str) -> str:
    return next((text for prefix, text in WHY.items() if measure.startswith(prefix)), "")


class Command(BaseCommand):
    help = "Run the benchmarks in bench/ and write docs/benchmarks.md (see docs/benchmarks.md)."

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(BY_NAME))
        parser.add_argument("--skip", nargs="+", metavar="NAME", choices=sorted(BY_NAME))
        parser.add_argument(
            "--database-url",
            default=os.environ.get("BAILANYS_BENCH_DATABASE_URL", DEFAULT_PG),
            help="a PostgreSQL server to make (and drop) benchmark databases on; its own "
            "data is never touched (default %(default)s)",
        )
        parser.add_argument(
            "--quick", action="store_true", help="small sizes: checks that each one runs"
        )
        parser.add_argument("--render", action="store_true", help="only write the page again")
        parser.add_argument("--list", action="store_true", help="list the benchmarks")
        parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
        parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))

    def handle(self, *args, **options):
        if not (ROOT / "bench").is_dir():
            raise CommandError(
                f"no bench/ directory next to the package ({ROOT}): run this from a clone "
                "of the repository (pip install -e '.[test]')"
            )
        if options["list"]:
            for b in BENCHES:
                self.stdout.write(f"{b.name}\t{b.title}")
            return
        results = Path(options["results"])
        results.mkdir(parents=True, exist_ok=True)
        failed = []
        if not options["render"]:
            chosen = [b for b in BENCHES if not options["only"] or b.name in options["only"]]
            chosen = [b for b in chosen if b.name not in (options["skip"] or ())]
            for bench in chosen:
                if not self._run(bench, results, options):
                    failed.append(bench.name)
        page = render(results)
        Path(options["output"]).write_text(page)
        self.stdout.write(f"wrote {options['output']}")
        if failed:
            raise CommandError(f"these did not finish: {', '.join(failed)} (see bench/results/)")

    def _run(self, bench: Bench, results: Path, options) -> bool:
        if bench.needs and not (ROOT / bench.needs).exists():
            self.stdout.write(f"{bench.name}: skipped, {bench.needs} is not here")
            return True
        argv = [sys.executable, str(ROOT / "bench" / bench.script)]
        argv += (bench.quick_args if options["quick"] else bench.args).split()
        if bench.postgres:
            argv += ["--database-url", options["database_url"]]
        self.stdout.write(f"{bench.name}: {' '.join(argv[1:])}")
        log = results / f"{bench.name}.log"
        started = time.monotonic()
        with log.open("w") as err:
            try:
                done = subprocess.run(
                    argv,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    timeout=bench.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{bench.name}: gave up after {bench.timeout} s; log: {log}")
                return False
        seconds = round(time.monotonic() - started, 1)
        try:
            result = json.loads(done.stdout)
        except ValueError:
            self.stderr.write(f"{bench.name}: exit {done.returncode}, no JSON; log: {log}")
            return False
        record = {
            "name": bench.name,
            "title": bench.title,
            "command": "python " + " ".join(["bench/" + bench.script, *argv[2:]]),
            "quick": bool(options["quick"]),
            "exit_status": done.returncode,
            "seconds_wall": seconds,
            "date": date.today().isoformat(),
            "result": result,
        }
        (results / f"{bench.name}.json").write_text(
            json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        )
        missed = [g["measure"] for g in result.get("goals", []) if not g.get("met")]
        self.stdout.write(
            f"{bench.name}: exit {done.returncode} in {seconds} s"
            + (f"; goals missed: {', '.join(missed)}" if missed else "")
        )
        return done.returncode == 0


def _machine_line(machine: dict) -> str:
    if not machine:
        return "machine not recorded"
    parts = [
        machine.get("cpu") or machine.get("processor") or machine.get("machine", ""),
        f"{machine.get('cpu_count') or machine.get('cpus')} CPUs",
    ]
    if machine.get("memory_gib"):
        parts.append(f"{machine['memory_gib']} GiB")
    parts.append(machine.get("platform", ""))
    if machine.get("python"):
        parts.append(f"Python {machine['python']}")
    load = machine.get("load_average") or machine.get("load_average_at_start")
    if load:
        parts.append(f"load average {load[0]} at the end of the run")
    return ", ".join(p for p in parts if p)


def render(results: Path) -> str:
    """The page, from every bench/results/NAME.json, in the order of BENCHES."""
    records = []
    for bench in BENCHES:
        path = results / f"{bench.name}.json"
        if path.exists():
            records.append(json.loads(path.read_text()))
    lines = [
        "# Benchmarks",
        "",
        "Written by `bailanys bench` from `bench/results/*.json`; do not edit by hand. Each",
        "section says the command, the date and the machine of its run. Figures are medians",
        "and ratios measured within one run; absolute times depend on the machine and on what",
        "else it was doing (the load average is given). Why the figures are what they are,",
        "and what was tried: [benchmark-notes.md](benchmark-notes.md).",
        "",
        "Run again: `bailanys bench` (all; PostgreSQL from `--database-url`, default",
        f"`{DEFAULT_PG}`), `bailanys bench --only NAME`, `bailanys bench --list`.",
        "",
        "## Goals",
        "",
        "| benchmark | measure | goal | figure | met |",
        "|---|---|---|---|---|",
    ]
    for record in records:
        for g in record["result"].get("goals", []):
            lines.append(
                f"| {record['name']} | {g['measure']} | {g['goal']} | {g['value']} | "
                f"{'yes' if g['met'] else '**no**'} |"
            )
    missed = [
        (record["name"], g)
        for record in records
        for g in record["result"].get("goals", [])
        if not g["met"]
    ]
    if missed:
        lines += ["", "Goals missed:", ""]
        lines += [f"- {name}: {g['sentence']} {why(g['measure'])}".rstrip() for name, g in missed]
    for record in records:
        result = record["result"]
        lines += [
            "",
            f"## {record['title']}",
            "",
            f"`{record['command']}`" + (" (a quick run, small sizes)" if record["quick"] else ""),
            f"on {record['date']}, {record['seconds_wall']} s, exit status "
            f"{record['exit_status']}.",
            f"Machine: {_machine_line(result.get('machine', {}))}.",
            "",
        ]
        for g in result.get("goals", []):
            if g["met"]:
                lines.append(f"- Met: {g['sentence']}")
            else:
                lines.append(f"- **Missed**: {g['sentence']} {why(g['measure'])}".rstrip())
        lines += [
            "",
            "```json",
            json.dumps(result, indent=2, ensure_ascii=False),
            "```",
        ]
    return "\n".join(lines) + "\n"
