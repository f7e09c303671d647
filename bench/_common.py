"""What every benchmark script prints besides its figures: the machine, and its goals.

`bailanys bench` (bailanys/management/commands/bench.py) runs the scripts, reads the JSON
each one prints and writes docs/benchmarks.md from the `goals` list: every goal with
its figure beside it, and the goal's sentence where it is missed.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def machine() -> dict:
    """The machine a figure was measured on, with how busy it was (load averages)."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if "model name" in line), "")
    except OSError:
        pass
    memory_gib = None
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        memory_gib = round(kib / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": date.today().isoformat(),
    }


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_db(url: str, name: str) -> str:
    """The PostgreSQL URL `url` naming the database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def bailanys_command() -> str:
    """The `bailanys` command of this Python's environment (the one running the bench)."""
    found = shutil.which("bailanys", path=str(Path(sys.executable).parent))
    return found or "bailanys"


def goal(measure: str, value, target: str, met: bool, sentence: str) -> dict:
    """One goal of the issue, measured: `target` as written there ("<= 50 ms", ">= 0.5"),
    `sentence` a plain sentence saying what was measured against it (printed when missed).
    """
    return {
        "measure": measure,
        "value": value,
        "goal": target,
        "met": bool(met),
        "sentence": sentence,
    }


def at_most(measure: str, value: float, limit: float, unit: str, what: str) -> dict:
    """A goal `value <= limit`; `what` names the figure in the sentence."""
    met = value <= limit
    return goal(
        measure,
        value,
        f"<= {limit:g}{unit}",
        met,
        f"{what}: {value:g}{unit}, against a goal of at most {limit:g}{unit} "
        f"({'met' if met else 'missed'}).",
    )


def at_least(measure: str, value: float, limit: float, unit: str, what: str) -> dict:
    """A goal `value >= limit`; `what` names the figure in the sentence."""
    met = value >= limit
    return goal(
        measure,
        value,
        f">= {limit:g}{unit}",
        met,
        f"{what}: {value:g}{unit}, against a goal of at least {limit:g}{unit} "
        f"({'met' if met else 'missed'}).",
    )
