"""Regression: the parser over the labelled dev corpus, with command round-trip."""

import io
import json
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "requests-dev.jsonl"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.mark.skipif(not CORPUS.exists(), reason=f"dev corpus not present at {CORPUS}")
def test_dev_corpus_thresholds():
    from bench.parse_eval import score

    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    r = score(rows, ner=False)
    assert r["target_phone"]["f1"] >= 0.99
    assert r["callback"]["f1"] >= 0.95
    assert r["kind_accuracy"] >= 0.90
    assert r["language_accuracy"] >= 0.95
    assert r["name_exact"] >= 0.85
    assert r["message_exact"] >= 0.80
    assert r["not_a_request_recall"] >= 0.95


def test_parse_command_round_trip_with_broken_line():
    lines = [
        json.dumps({"id": "x1", "text": "Позвоните Айдару 8 701 234 56 78, Семей"}),
        "{broken",
        json.dumps({"id": "x3", "text": "Спасибо волонтерам!"}),
        json.dumps({"id": "x4"}),
    ]
    out = io.StringIO()
    call_command("parse", "--no-ner", stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
    got = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [g["id"] for g in got] == ["x1", None, "x3", "x4"]
    assert got[0]["targets"][0]["phone"] == "+77012345678"
    assert "error" in got[1] and "error" in got[3]
    assert got[2]["kind"] == "not_a_request"
