"""The `bailanys` command: accounts from the CLI, and `bailanys up` as a newcomer runs it."""

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import Api, Browser, bailanys_executable, free_port, run_cli
from tests.helpers import child_env

# --- bailanys volunteer add ----------------------------------------------------


@pytest.mark.django_db
def test_volunteer_add_prints_a_working_api_token_last():
    output = run_cli("volunteer", "add", "dana")
    lines = output.strip().splitlines()
    assert lines[0] == "Created volunteer dana."
    token = lines[-1]
    assert " " not in token
    assert token not in "\n".join(lines[:-1])
    assert Api(token).post("/claims").status_code == 204
    assert Api(token + "x").post("/claims").status_code == 401


@pytest.mark.django_db
def test_volunteer_add_prints_a_password_that_logs_in():
    output = run_cli("volunteer", "add", "dana")
    password = re.search(r"^Password for the web console: (\S+)$", output, re.M)
    assert password
    browser = Browser()
    browser.login("dana", password.group(1))
    # Refused with 404, so that the page does not admit it exists.
    assert browser.get("/console/coordinator/").status_code == 404


@pytest.mark.django_db
def test_adding_the_same_name_twice_is_a_clear_error():
    run_cli("volunteer", "add", "dana")
    with pytest.raises(CommandError, match="An account named 'dana' already exists"):
        call_command("volunteer", "add", "dana")


@pytest.mark.django_db
def test_a_name_that_is_not_a_username_is_a_clear_error():
    with pytest.raises(CommandError, match="Cannot create 'dana k!'"):
        call_command("volunteer", "add", "dana k!")


@pytest.mark.django_db
def test_coordinator_flag_gives_the_coordinator_page():
    output = run_cli("volunteer", "add", "boss", "--coordinator")
    assert output.startswith("Created coordinator boss.")
    password = re.search(r"^Password for the web console: (\S+)$", output, re.M)
    assert password
    browser = Browser()
    browser.login("boss", password.group(1))
    assert browser.get("/console/coordinator/").status_code == 200


# --- bailanys up, in a child process ---------------------------------------------


def processes_with_env(marker: str) -> dict[int, str]:
    """{pid: command line} of our processes whose environment contains `marker`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found[int(entry.name)] = cmdline
        except OSError:  # gone, or not ours
            continue
    return found


class Up:
    """`bailanys up` running in its own session, as from a terminal."""

    def __init__(self, tmp_path: Path, *args: str, sigint_ignored: bool = False):
        self.data_dir = tmp_path / "data"
        self.log = tmp_path / "up.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = child_env(
            self.data_dir,
            BAILANYS_COORDINATOR_USERNAME="boss",
            BAILANYS_COORDINATOR_PASSWORD="a long enough coordinator password",
        )
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [bailanys_executable(), "up", "--port", str(self.port), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # As from a non-interactive shell (`cmd &`, nohup, some CI runners): the
                # process starts with SIGINT ignored, and Python then installs no handler.
                preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
                if sigint_ignored
                else None,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"bailanys up exited with {self.proc.returncode}:\n{self.output()}")
            try:
                health = f"{self.base}/healthz"  # always http://127.0.0.1:<port>
                with urllib.request.urlopen(health, timeout=2) as r:  # noqa: S310
                    if json.loads(r.read()) == {"status": "ok"}:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)  # polling for readiness, not timing anything
        pytest.fail(f"/healthz did not answer within {timeout} s:\n{self.output()}")

    def ctrl_c(self, timeout: float = 20) -> int:
        """Send SIGINT to the terminal's process group, as Ctrl-C does; return the exit code."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"bailanys up did not stop within {timeout} s:\n{self.output()}")

    def our_processes(self) -> dict[int, str]:
        return processes_with_env(f"BAILANYS_DATA_DIR={self.data_dir}\0")

    def kill(self) -> None:
        for pid in self.our_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=5)


def eventually(predicate, timeout: float = 2.0) -> bool:
    """Whether `predicate()` comes true within `timeout` seconds (processes take a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def web_login(base: str, username: str, password: str) -> tuple[str, str]:
    """Log in over real HTTP like a browser; return (final URL, page)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/accounts/login/", timeout=10) as r:
        form = r.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, form
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password}
    ).encode()
    with opener.open(f"{base}/accounts/login/", data=data, timeout=10) as r:
        return r.geturl(), r.read().decode()


@pytest.fixture
def up_process(tmp_path):
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc to find the worker process")
    started = []

    def start(*args: str, sigint_ignored: bool = False) -> Up:
        up = Up(tmp_path, *args, sigint_ignored=sigint_ignored)
        started.append(up)
        return up

    yield start
    for up in started:  # a failed test must not leave servers behind
        if up.proc.poll() is None or up.our_processes():
            up.kill()


@pytest.mark.subprocess
def test_up_serves_until_ctrl_c_and_leaves_no_worker_behind(up_process):
    up = up_process()
    up.wait_healthy()
    out = up.output()
    assert f"Bailanys is running at http://127.0.0.1:{up.port}/" in out
    assert "Coordinator account 'boss' created from the environment." in out
    assert (up.data_dir / "bailanys.sqlite3").exists(), "SQLite in the data directory"

    def workers() -> list[int]:
        return [pid for pid, cmd in up.our_processes().items() if " worker" in cmd]

    assert eventually(workers, timeout=10), "up started no worker"
    url, _page = web_login(up.base, "boss", "a long enough coordinator password")
    # The password is right; a coordinator's first login goes on to set up 2FA.
    assert url.startswith(f"{up.base}/accounts/2fa/setup/"), url

    assert up.ctrl_c() == 0
    assert "Stopped." in up.output()
    assert eventually(lambda: not group_exists(up.proc.pid)), "up's process group lives on"
    assert eventually(lambda: not up.our_processes()), f"left behind: {up.our_processes()}"


@pytest.mark.subprocess
def test_up_started_with_sigint_ignored_still_stops_on_ctrl_c(up_process):
    """Started from a non-interactive shell, `bailanys up` inherited an ignored SIGINT and
    neither Ctrl-C nor `kill -INT` stopped it (issue 21, item 10)."""
    up = up_process(sigint_ignored=True)
    up.wait_healthy()
    assert up.ctrl_c() == 0
    assert "Stopped." in up.output()
    assert eventually(lambda: not up.our_processes()), f"left behind: {up.our_processes()}"


@pytest.mark.subprocess
def test_up_demo_prints_volunteer_logins_that_work(up_process):
    up = up_process("--demo")
    up.wait_healthy()
    logins = re.findall(r"^  volunteer login: (\S+) / (\S+)$", up.output(), re.M)
    assert logins, up.output()
    username, password = logins[0]
    url, page = web_login(up.base, username, password)
    assert url == f"{up.base}/console/"
    assert "Take next case" in page
    url, page = web_login(up.base, username, "wrong password")
    assert url == f"{up.base}/accounts/login/"
    assert up.ctrl_c() == 0
    assert eventually(lambda: not up.our_processes()), f"left behind: {up.our_processes()}"


@pytest.mark.subprocess
def test_up_on_all_interfaces_prints_the_address_to_give_volunteers(up_process):
    """The offline kit: a laptop on a Wi-Fi with no internet tells volunteers where to go."""
    up = up_process("--host", "0.0.0.0", "--no-worker")  # noqa: S104  the point of the test
    up.wait_healthy()
    found = re.search(r"Volunteers on this network open: (http://[\d.]+:\d+/)", up.output())
    if found is None:
        pytest.skip("this machine has no network interface besides loopback")
    assert not found.group(1).startswith("http://127.")
    with urllib.request.urlopen(found.group(1) + "healthz", timeout=10) as response:  # noqa: S310
        assert response.status == 200


@pytest.mark.subprocess
def test_a_killed_up_takes_its_worker_with_it(up_process):
    """kill -9 of `bailanys up` left its worker running, and the next start added a second."""
    up = up_process()
    up.wait_healthy()

    def workers() -> list[int]:
        return [pid for pid, cmd in up.our_processes().items() if " worker" in cmd]

    assert eventually(workers, timeout=10), "up started no worker"
    os.kill(up.proc.pid, signal.SIGKILL)
    up.proc.wait(timeout=5)
    assert eventually(lambda: not workers(), timeout=30), f"left behind: {up.our_processes()}"


@pytest.mark.subprocess
def test_a_body_over_the_limit_is_refused_from_its_headers(up_process):
    """A 300 MB upload is refused when its Content-Length arrives, before any of it is read."""
    up = up_process()
    up.wait_healthy()
    with socket.create_connection(("127.0.0.1", up.port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
        )
        first_line = conn.recv(200).split(b"\r\n")[0]
    assert first_line.startswith(b"HTTP/1.1 413"), first_line


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.iterdir()]}


@pytest.mark.subprocess
def test_a_new_data_directory_is_for_its_owner_only(up_process):
    up = up_process()
    up.wait_healthy()
    found = modes(up.data_dir)
    assert {"bailanys.sqlite3", "secret_key"} <= set(found), found
    assert {name: mode for name, mode in found.items() if mode & 0o077} == {}
    assert "tightened" not in up.output()


@pytest.mark.subprocess
def test_a_data_directory_others_can_read_is_tightened_with_a_warning(up_process, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    (data / "bailanys.sqlite3").touch()  # an empty file is an empty SQLite database
    (data / "bailanys.sqlite3").chmod(0o644)
    up = up_process()
    up.wait_healthy()
    assert {name: mode for name, mode in modes(data).items() if mode & 0o077} == {}
    assert "WARNING: tightened permissions of" in up.output()
    assert "bailanys.sqlite3: 0o644 -> 0o600" in up.output()
