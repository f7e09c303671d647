"""`bailanys import-telegram`: a Telegram Desktop chat export in, requests and review items out."""

import io
import json
import re
import sys
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bailanys.parsing import telegram_export
from bailanys.parsing.models import ParsedPost
from bailanys.parsing.telegram_export import read_messages
from bailanys.relay.models import Case, Request
from tests.conftest import Api, Browser, html, login_coordinator, make_account, make_volunteer

pytestmark = pytest.mark.django_db

EXPORT = Path(__file__).parent / "fixtures" / "telegram" / "result.json"
LABELS = {
    "Messages in the export": "total",
    "Imported, new requests": "created",
    "Joined existing cases": "joined",
    "Sent to review": "review",
    "Not requests": "not_request",
    "Skipped, already imported": "skipped",
    "Skipped, service or empty": "service",
    "Errors": "errors",
}


def load() -> dict:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def import_telegram(path: Path, *, progress: bool = False) -> dict:
    """Run the command; return its summary as {"created": n, …} (and the stderr under "_err")."""
    out, err = io.StringIO(), io.StringIO()
    args = [] if progress else ["--no-progress"]
    call_command("import_telegram", str(path), *args, stdout=out, stderr=err)
    summary = {}
    for line in out.getvalue().splitlines():
        label, _, number = line.rpartition(":")
        summary[LABELS[label.strip()]] = int(number)
    assert set(summary) == set(LABELS.values()), out.getvalue()
    summary["_err"] = err.getvalue()
    return summary


def outcomes(summary: dict) -> int:
    return sum(v for k, v in summary.items() if k not in ("total", "_err"))


def test_importing_the_export_creates_cases_and_review_items():
    messages = load()["messages"]
    summary = import_telegram(EXPORT)

    assert summary["total"] == len(messages)
    assert outcomes(summary) == len(messages)  # every message is counted once
    assert summary["errors"] == summary["skipped"] == 0
    assert summary["service"] == sum(
        m["type"] == "service" or not telegram_export.message_text(m["text"]).strip()
        for m in messages
    )
    # The mix in the fixture shows up in every bucket.
    for key in ("created", "joined", "review", "not_request"):
        assert summary[key] > 0, (key, summary)
    assert ParsedPost.objects.count() == len(messages) - summary["service"]
    assert ParsedPost.objects.filter(state="review").count() == summary["review"]
    # Some people asked about the same number in other formats: fewer cases than requests.
    assert Case.objects.count() < Request.objects.count()

    post = ParsedPost.objects.filter(state="created").first()
    chat_id, message_id = post.external_id.split(":")
    original = next(m for m in messages if m["id"] == int(message_id))
    assert (post.source, int(chat_id)) == ("telegram", load()["id"])
    assert post.author_contact == f"tg:{original['from_id']}"

    # A volunteer gets a case through the API.
    _name, token = make_volunteer()
    claimed = Api(token).post("/claims")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["recipient_phone"].startswith("+77")

    # The review queue lists what waits for a coordinator.
    name, password, _token = make_account("coordinator")
    browser = Browser()
    login_coordinator(browser, name, password)
    page = html(browser.get("/console/review/"))
    listed = set(map(int, re.findall(r'href="/console/review/(\d+)/"', page)))
    waiting = set(ParsedPost.objects.filter(state="review").values_list("pk", flat=True))
    assert listed == waiting and len(listed) == summary["review"]


def test_importing_twice_adds_nothing():
    first = import_telegram(EXPORT)
    cases, requests, posts = (
        Case.objects.count(),
        Request.objects.count(),
        ParsedPost.objects.count(),
    )

    again = import_telegram(EXPORT)
    assert again["skipped"] == first["total"] - first["service"]
    assert again["service"] == first["service"]
    assert again["created"] == again["joined"] == again["review"] == again["not_request"] == 0
    assert outcomes(again) == first["total"]
    assert (Case.objects.count(), Request.objects.count(), ParsedPost.objects.count()) == (
        cases,
        requests,
        posts,
    )


def _state() -> tuple:
    return (
        Case.objects.count(),
        Request.objects.count(),
        sorted(ParsedPost.objects.values_list("external_id", "state")),
    )


# flush between the two imports needs a real transaction, not the test's own.
@pytest.mark.django_db(transaction=True)
def test_an_interrupted_import_resumes_to_the_same_result(tmp_path):
    data = load()
    cut = 170
    partial = write(tmp_path / "partial.json", {**data, "messages": data["messages"][:cut]})

    first = import_telegram(partial)
    assert first["total"] == cut
    resumed = import_telegram(EXPORT)
    assert resumed["skipped"] == cut - first["service"]
    after_resume = _state()

    call_command("flush", interactive=False, verbosity=0)
    full = import_telegram(EXPORT)
    assert _state() == after_resume
    for key in ("created", "joined", "review", "not_request"):
        assert first[key] + resumed[key] == full[key], key


def _cut_in_the_middle(tmp_path: Path) -> tuple[Path, str]:
    raw = EXPORT.read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(raw[: len(raw) // 2])
    return path, r"messages\[\d+\] at character \d+: .*cut short"


def _wrong_top_level(tmp_path: Path) -> tuple[Path, str]:
    path = write(tmp_path / "array.json", load()["messages"])
    return path, r"top level at character 0: expected an object .* found an array"


def _text_is_a_number(tmp_path: Path) -> tuple[Path, str]:
    data = load()
    index = len(data["messages"]) - 3  # late: the posts before it must not be written
    data["messages"][index]["text"] = 42
    path = write(tmp_path / "number.json", data)
    mid = data["messages"][index]["id"]
    return path, rf"messages\[{index}\] \(id {mid}\) at character \d+: 'text' must be .*a number"


def _bad_part(tmp_path: Path) -> tuple[Path, str]:
    data = load()
    data["messages"][4]["type"] = "message"
    data["messages"][4]["text"] = ["Алматы ", {"type": "phone", "text": 87011234567}]
    return write(tmp_path / "part.json", data), r"messages\[4\] .*'text' has a part"


def _trailing_garbage(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "trailing.json"
    path.write_text(EXPORT.read_text(encoding="utf-8") + "\n{}", encoding="utf-8")
    return path, r"after the top-level object at character \d+: unexpected data"


@pytest.mark.parametrize(
    "make", [_cut_in_the_middle, _wrong_top_level, _text_is_a_number, _bad_part, _trailing_garbage]
)
def test_a_malformed_export_names_the_position_and_writes_nothing(tmp_path, make):
    path, reason = make(tmp_path)
    with pytest.raises(CommandError, match=reason):
        import_telegram(path)
    assert ParsedPost.objects.count() == 0
    assert Request.objects.count() == 0


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        import_telegram(tmp_path / "nope.json")


def test_the_hyphenated_command_name_works(tmp_path, monkeypatch, capsys):
    from bailanys import cli

    monkeypatch.setattr(sys, "argv", ["bailanys", "import-telegram", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    assert "No such file" in capsys.readouterr().err


def test_progress_is_drawn_on_stderr_and_summary_on_stdout():
    summary = import_telegram(EXPORT, progress=True)
    total = summary["total"]
    assert f"\r[{'#' * 30}] {total}/{total}" in summary["_err"]
    assert summary["_err"].startswith("\r[")
    assert summary["_err"].endswith("\n")


def _independent(data: dict) -> list[tuple]:
    def text(value):
        if isinstance(value, str):
            return value
        return "".join(p if isinstance(p, str) else p["text"] for p in value)

    return [
        (m["id"], m["type"], text(m.get("text", "")), m.get("from") or "", m.get("from_id", ""))
        for m in data["messages"]
    ]


@pytest.mark.parametrize("chunk", [telegram_export.CHUNK, 7, 1000])
def test_the_streaming_reader_matches_json_load(monkeypatch, chunk):
    monkeypatch.setattr(telegram_export, "CHUNK", chunk)
    streamed = [(m.id, m.type, m.text, m.author, m.from_id) for m in read_messages(EXPORT)]
    assert streamed == _independent(load())
    assert {m.chat_id for m in read_messages(EXPORT)} == {load()["id"]}
    # The fixture has formatted texts (lists of parts), replies, forwards and edits.
    messages = list(read_messages(EXPORT))
    assert any(m.reply_to for m in messages)
    assert any(m.forwarded_from for m in messages)
    assert any(m.edited for m in messages)
    assert any(isinstance(m["text"], list) for m in load()["messages"])


def test_reading_a_large_export_keeps_memory_flat(tmp_path):
    path = tmp_path / "big.json"
    with path.open("w", encoding="utf-8") as out:
        out.write('{"name": "big", "type": "public_supergroup", "id": 7, "messages": [\n')
        for n in range(30_000):
            sep = ",\n" if n else ""
            message = {"id": n, "type": "message", "date": "2022-01-06T10:00:00"}
            message |= {"from": "Асель", "from_id": "user1", "text": f"Алматы 8701{n:07d}"}
            out.write(sep + json.dumps(message, ensure_ascii=False))
        out.write("\n]}\n")
    assert path.stat().st_size > 3_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _m in read_messages(path))
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 30_000
    assert peak < 1_000_000, peak
