"""Restarting the demo keeps the volunteers' passwords (issue 21, item 9).

`bailanys up --demo` gave the demo volunteers new passwords at every start: a volunteer
told "dana / …" yesterday could not log in after the laptop restarted. Passwords are
stored hashed only, so a restart cannot print them again: it says they are unchanged.
"""

import re

import pytest

from tests.conftest import Browser, run_cli
from tests.test_cli import up_process, web_login  # noqa: F401  up_process: a fixture

LOGIN = re.compile(r"^  volunteer login: (\S+) / (\S+)$", re.M)
UNCHANGED = re.compile(r"^  volunteer login: (\S+) \(password unchanged since first start", re.M)


@pytest.mark.subprocess
def test_up_demo_started_again_keeps_the_passwords_it_printed(up_process):  # noqa: F811
    first = up_process("--demo")
    first.wait_healthy()
    logins = LOGIN.findall(first.output())
    assert logins, first.output()
    assert first.ctrl_c() == 0

    again = up_process("--demo")  # the same data directory
    again.wait_healthy()
    out = again.output()
    assert not LOGIN.search(out), out
    assert sorted(UNCHANGED.findall(out)) == sorted(name for name, _ in logins), out
    for username, password in logins:
        url, _page = web_login(again.base, username, password)
        assert url == f"{again.base}/console/", username
    assert again.ctrl_c() == 0


@pytest.mark.django_db
def test_demo_keeps_the_passwords_unless_asked_for_new_ones():
    logins = dict(LOGIN.findall(run_cli("demo")))
    assert len(logins) == 3

    again = run_cli("demo")
    assert not LOGIN.search(again)
    assert sorted(UNCHANGED.findall(again)) == sorted(logins)
    for username, password in logins.items():
        Browser().login(username, password)

    fresh = dict(LOGIN.findall(run_cli("demo", "--new-passwords")))
    assert sorted(fresh) == sorted(logins)
    for username, password in fresh.items():
        assert password != logins[username]
        Browser().login(username, password)
