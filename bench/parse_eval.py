#!/usr/bin/env python
"""Score the free-text parser on a labelled JSONL corpus; print JSON.

python bench/parse_eval.py CORPUS [--no-ner]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bailanys.parsing.parser import clear_caches, parse
from bench._common import machine


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _prf(pred: set, gold: set) -> dict:
    tp = len(pred & gold)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(gold) if gold else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(_f1(p, r), 4)}


def score(rows: list[dict], ner: bool) -> dict:
    tp_pred, tp_gold, cb_pred, cb_gold = set(), set(), set(), set()
    kind = lang = msg = 0
    name_ok = name_n = 0
    nar_ok = nar_n = 0
    for row in rows:
        out = parse(row["text"], ner=ner)
        rid = row["id"]
        gold_t = {t["phone"]: t for t in row["targets"]}
        pred_t = {t["phone"]: t for t in out["targets"]}
        tp_pred |= {(rid, p) for p in pred_t}
        tp_gold |= {(rid, p) for p in gold_t}
        cb_pred |= {(rid, p) for p in out["callback"]}
        cb_gold |= {(rid, p) for p in row["callback"]}
        kind += out["kind"] == row["kind"]
        lang += out["lang"] == row["lang"]
        msg += out["message"] == row["message"]
        for phone in gold_t.keys() & pred_t.keys():
            name_n += 1
            name_ok += gold_t[phone]["name"] == pred_t[phone]["name"]
        if row["kind"] == "not_a_request":
            nar_n += 1
            nar_ok += out["kind"] == "not_a_request"
    n = len(rows) or 1
    return {
        "messages": len(rows),
        "target_phone": _prf(tp_pred, tp_gold),
        "callback": _prf(cb_pred, cb_gold),
        "kind_accuracy": round(kind / n, 4),
        "language_accuracy": round(lang / n, 4),
        "name_exact": round(name_ok / name_n, 4) if name_n else None,
        "message_exact": round(msg / n, 4),
        "not_a_request_recall": round(nar_ok / nar_n, 4) if nar_n else None,
    }


def speed(rows: list[dict], passes: int = 25) -> dict:
    """Median messages/second with and without NER over whole passes of the corpus.

    The parser memoises words and phone numbers, as a stream of real posts
    repeats both; every pass starts cold (clear_caches), so a pass sees each
    message once and gains only from repeats between different messages.
    The two modes alternate so that both see the same machine.
    """
    texts = [row["text"] for row in rows]
    rates: dict[str, list[float]] = {"ner": [], "no_ner": []}
    for _ in range(passes):
        for key, ner in (("ner", True), ("no_ner", False)):
            clear_caches()
            t0 = time.perf_counter()
            for text in texts:
                parse(text, ner=ner)
            rates[key].append(len(texts) / (time.perf_counter() - t0))
    return {key: round(statistics.median(r), 1) for key, r in rates.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus")
    ap.add_argument("--no-ner", action="store_true")
    args = ap.parse_args(argv)
    with open(args.corpus, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    result = score(rows, ner=not args.no_ner)
    result["ner"] = not args.no_ner
    result["messages_per_second"] = speed(rows)
    result["python"] = platform.python_version()
    result["machine"] = machine()
    result["date"] = date.today().isoformat()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
