#!/usr/bin/env python
"""Import made-up Telegram exports of growing size; print JSON.

python bench/import_scale.py [--sizes 2000 20000 100000]

For each size: a fresh data directory (SQLite), `bailanys migrate`, then
`bailanys import-telegram --no-progress` in a child process whose wall time
and peak resident memory are measured. "Memory flat" means the peak of the
largest import divided by the peak of the smallest stays near 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import bailanys_command, machine  # noqa: E402

GENERATOR = ROOT / "tests" / "fixtures" / "telegram" / "make_export.py"


def _generator():
    spec = importlib.util.spec_from_file_location("make_export", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def import_once(size: int, workdir: Path) -> dict:
    export = workdir / f"export-{size}.json"
    _generator().main(size, export)
    data = workdir / f"data-{size}"
    env = dict(os.environ, BAILANYS_DATA_DIR=str(data))
    env.pop("DATABASE_URL", None)
    subprocess.run([bailanys_command(), "migrate", "-v0"], env=env, check=True)
    script = (
        "import resource, subprocess, sys, time, json\n"
        "t0 = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "t = time.perf_counter() - t0\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'rc': p.returncode, 'seconds': t, 'rss_kib': rss,"
        " 'out': p.stdout, 'err': p.stderr[-2000:]}))\n"
    )
    args = [bailanys_command(), "import-telegram", "--no-progress", str(export)]
    probe = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(probe.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"import of {size} failed: {result['err']}")
    return {
        "posts": size,
        "export_mib": round(export.stat().st_size / 2**20, 1),
        "seconds": round(result["seconds"], 1),
        "posts_per_second": round(size / result["seconds"], 1),
        "peak_rss_mib": round(result["rss_kib"] / 1024, 1),
        "summary": [line for line in result["out"].splitlines() if line.strip()],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bailanys-import-bench-") as tmp:
        runs = [import_once(size, Path(tmp)) for size in sorted(args.sizes)]
    result = {
        "benchmark": "import_scale",
        "database": "sqlite",
        "runs": runs,
        "peak_rss_ratio_largest_to_smallest": round(
            runs[-1]["peak_rss_mib"] / runs[0]["peak_rss_mib"], 2
        ),
        "python": platform.python_version(),
        "machine": machine(),
        "date": date.today().isoformat(),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
