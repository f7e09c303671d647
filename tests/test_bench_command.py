"""`bailanys bench`: runs the scripts in bench/ and writes the benchmarks page from their JSON."""

import json

import pytest
from django.core.management.base import CommandError

from tests.conftest import run_cli

ISSUE_9 = [
    "intake_sqlite",
    "intake_postgresql",
    "scale",
    "claims_concurrent",
    "fanout",
    "simulate",
    "crash_test",
]


def test_it_lists_a_benchmark_for_every_measure_of_the_issue():
    listed = [line.split("\t")[0] for line in run_cli("bench", "--list").splitlines()]
    assert set(ISSUE_9) <= set(listed)


def record(name: str, goals: list[dict], machine: dict) -> dict:
    return {
        "name": name,
        "title": f"Title of {name}",
        "command": f"python bench/{name}.py",
        "quick": False,
        "exit_status": 0,
        "seconds_wall": 1.0,
        "date": "2026-12-06",
        "result": {"benchmark": name, "goals": goals, "machine": machine},
    }


def test_the_page_puts_each_goal_beside_its_figure_and_says_which_are_missed(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    machine = {"cpu": "Test CPU", "cpu_count": 2, "python": "3.11.7", "load_average": [0.5]}
    met = {"measure": "m_ok", "value": 0.9, "goal": ">= 0.5", "met": True, "sentence": "Fine."}
    missed = {
        "measure": "m_missed",
        "value": 32.0,
        "goal": "<= 15 min",
        "met": False,
        "sentence": "The median was 32 min, which misses the goal of at most 15 min.",
    }
    for name, goals in (("simulate", [missed]), ("intake_sqlite", [met])):
        (results / f"{name}.json").write_text(json.dumps(record(name, goals, machine)))
    page = tmp_path / "benchmarks.md"
    run_cli("bench", "--render", "--results", str(results), "--output", str(page))
    text = page.read_text()
    assert "| intake_sqlite | m_ok | >= 0.5 | 0.9 | yes |" in text
    assert "| simulate | m_missed | <= 15 min | 32.0 | **no** |" in text
    assert "- simulate: The median was 32 min, which misses" in text
    assert "Fine." in text.split("## Title of intake_sqlite", 1)[1]  # the met one, in its section
    assert "Test CPU, 2 CPUs" in text
    # In the order of the benchmarks, not of the files.
    assert text.index("## Title of intake_sqlite") < text.index("## Title of simulate")


def test_an_unknown_benchmark_is_refused_with_the_names_it_knows():
    with pytest.raises(CommandError, match=r"invalid choice.*crash_test"):
        run_cli("bench", "--only", "nope")


def test_a_quick_run_of_one_benchmark_records_its_json_and_writes_the_page(tmp_path):
    results = tmp_path / "results"
    page = tmp_path / "benchmarks.md"
    out = run_cli(
        "bench",
        "--only",
        "intake_sqlite",
        "--quick",
        "--results",
        str(results),
        "--output",
        str(page),
    )
    assert "intake_sqlite: exit 0" in out
    saved = json.loads((results / "intake_sqlite.json").read_text())
    assert saved["exit_status"] == 0 and saved["quick"] is True
    goal = saved["result"]["goals"][0]
    assert goal["measure"] == "intake_to_bare_ratio_sqlite" and goal["goal"] == ">= 0.5"
    assert goal["value"] > 0  # requests were stored under load
    assert f"| intake_sqlite | intake_to_bare_ratio_sqlite | >= 0.5 | {goal['value']} |" in (
        page.read_text()
    )
