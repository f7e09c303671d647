"""Commands people run by hand, run as they would run them: in a child process.

- Ctrl-C on `bailanys bot` (polling the fake Bot API) stops it quietly: a short message,
  no traceback, exit status 0.
- The fakes that docs/ tell people to run (`python -m tests.fakes.…`) work after the
  documented `pip install -e .`, which installs no pytest: they are run here with pytest
  made impossible to import.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAILANYS_")}
    env.pop("DATABASE_URL", None)
    env.update(
        BAILANYS_DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@pytest.mark.subprocess
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_bot_quietly(fake_telegram, tmp_path, stop):
    log = tmp_path / "bot.log"
    env = _env(
        tmp_path,
        BAILANYS_TELEGRAM_API_URL=fake_telegram.url,
        BAILANYS_TELEGRAM_BOT_TOKEN=fake_telegram.token,
    )
    with log.open("wb") as out:
        bot = subprocess.Popen(
            [sys.executable, "-m", "bailanys", "bot", "--poll-timeout", "1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        # Up once it has asked the fake for updates (getUpdates), not just printed a line.
        while not fake_telegram.calls_for("getUpdates"):
            assert bot.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the bot never polled"
            time.sleep(0.05)
        bot.send_signal(stop)
        status = bot.wait(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    output = log.read_text()
    assert status in (0, 130), output
    assert "Traceback" not in output
    assert "Polling as @bailanys_test_bot" in output
    assert output.rstrip().endswith("Stopped."), output


def _documented_fakes() -> set[str]:
    """Every `python -m tests.…` module the README and docs/ tell people to run."""
    found = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found.update(re.findall(r"python -m (tests(?:\.\w+)+)", doc.read_text(encoding="utf-8")))
    return found


def test_the_docs_name_the_fakes():
    assert {"tests.fakes.telegram", "tests.fakes.smsgate"} <= _documented_fakes()


# Runs a module as `python -m` does, in a Python where `import pytest` fails.
WITHOUT_PYTEST = (
    "import runpy, sys; sys.modules['pytest'] = None; sys.modules['_pytest'] = None; "
    "sys.argv = [sys.argv[1], *sys.argv[2:]]; runpy.run_module(sys.argv[0], run_name='__main__')"
)


@pytest.mark.subprocess
@pytest.mark.parametrize("module", sorted(_documented_fakes()))
def test_a_documented_fake_runs_without_pytest(module, tmp_path):
    env = _env(tmp_path)
    shown = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST, module, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "--port" in shown.stdout
    # And it really starts, listens and ends on :quit (the terminal is the person).
    port = str(free_port())
    ran = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST, module, "--port", port],
        cwd=ROOT,
        env=env,
        input=":quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert f"127.0.0.1:{port}" in ran.stdout, ran.stdout
    assert "Traceback" not in ran.stderr


def _wait_for(check, proc, log: Path, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text(errors='replace')}"
        time.sleep(0.1)  # polling for an outcome, not timing anything
    return found


@pytest.mark.subprocess
def test_up_demo_with_a_real_gateway_texts_nobody_but_a_real_request(
    fake_smsgate, fake_telegram, tmp_path
):
    """The report: with a phone gateway set up, `bailanys up --demo` texted the demo's
    made-up numbers within 30 seconds. A real request made while it runs is the marker:
    once its bridge SMS is out, the worker has been through the demo's rows before it."""
    import json
    import urllib.request

    from tests.conftest import request_body

    port = free_port()
    env = _env(
        tmp_path,
        BAILANYS_SMSGATE_URL=fake_smsgate.url,
        BAILANYS_SMSGATE_USERNAME=fake_smsgate.username,
        BAILANYS_SMSGATE_PASSWORD=fake_smsgate.password,
        BAILANYS_TELEGRAM_API_URL=fake_telegram.url,
        BAILANYS_TELEGRAM_BOT_TOKEN=fake_telegram.token,
        BAILANYS_DEMO_PULSE_SECONDS="1",
        BAILANYS_COORDINATOR_USERNAME="boss",
        BAILANYS_COORDINATOR_PASSWORD="a long enough coordinator password",
    )
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "bailanys", "up", "--demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(lambda: "Bailanys is running" in log.read_text(), up, log, "up never served")
        # A Beeline number: the demo's made-up shutdown has SMS to Kcell failing, and the
        # bridge rightly sends no SMS to an operator shown failing (docs/status.md).
        real = "+77052345678"
        body = request_body(phone=real, message="Марат в Германии, всё хорошо")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/requests",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            assert answer.status == 201

        def texted() -> set[str]:
            return {n for m in fake_smsgate.outbox for n in m["phoneNumbers"]}

        _wait_for(lambda: real in texted(), up, log, "the real bridge SMS never went out")
        assert texted() == {real}, "an SMS went to a number the demo made up"
        assert not fake_telegram.sent_messages()
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
