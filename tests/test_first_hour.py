"""The first hour of a real user (issue 21) where no browser is needed: what the pages say."""

import re
import subprocess

import pytest
from django.test import Client

from tests.conftest import (
    Api,
    Browser,
    bailanys_executable,
    make_account,
    make_volunteer,
    pass_two_factor,
    status_token,
    submit,
)

pytestmark = pytest.mark.django_db(transaction=True)


def page_of(created: dict) -> str:
    page = Client().get(f"/s/{status_token(created)}/", headers={"accept-language": "en"})
    assert page.status_code == 200
    return page.content.decode()


def test_a_closed_requests_page_no_longer_says_it_refreshes():
    created = submit(Api())
    assert "This page refreshes by itself." in page_of(created)
    volunteer = Api(make_volunteer()[1])
    claim = volunteer.post("/claims").json()
    done = volunteer.post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": "Всё хорошо"}
    )
    assert done.status_code == 200
    page = page_of(created)
    assert "Всё хорошо" in page  # closed, with the reply
    assert "refreshes" not in page
    assert "Keep this page's address private: anyone with it can see this request." in page


def test_up_help_says_the_default_port():
    shown = subprocess.run(
        [bailanys_executable(), "up", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"--port PORT\s+Port to listen on \(default: 8000\)", shown), shown


def test_the_two_step_setup_shows_the_key_as_a_qr_code_drawn_here():
    """The README says the app scans the key: the page draws it as an inline SVG QR code of
    the very otpauth:// link it offers (no third-party QR service ever sees the key)."""
    import html

    import segno

    name, password, _token = make_account("coordinator")
    browser = Browser()
    browser.get("/accounts/login/")
    landed = browser.post("/accounts/login/", {"username": name, "password": password}, follow=True)
    page = landed.content.decode()
    assert landed.redirect_chain[-1][0].startswith("/accounts/2fa/setup/")
    uri = html.unescape(re.search(r'href="(otpauth://[^"]+)" id="totp-uri"', page).group(1))
    assert uri.startswith("otpauth://totp/") and "secret=" in uri
    drawn = re.search(r'<figure id="totp-qr">(<svg.*?</svg>)</figure>', page, re.S)
    assert drawn, "no QR code on the page"
    modules = re.findall(r' d="([^"]+)"', drawn.group(1))
    expected = segno.make(uri, error="m").svg_inline(scale=5, border=4, light="#fff")
    assert modules == re.findall(r' d="([^"]+)"', expected)  # the same modules, dark ones too
    assert len(modules[-1]) > 200  # the dark modules, not just the white square
    assert "<script" not in drawn.group(1) and "http" not in drawn.group(1)
    # The coordinators' menu waits for the second step.
    audit = 'href="/console/audit/"'
    assert audit not in page
    done = pass_two_factor(browser, landed, name)
    assert done.redirect_chain[-1][0] == "/console/"
    assert audit in done.content.decode()


def test_static_files_go_out_gzipped_under_hashed_names_cached_for_a_year():
    """htmx is 52 KB as written and 17 KB gzipped: a first visit on 2G pays the second."""
    form = Client().get("/").content.decode()
    [htmx] = re.findall(r'src="(/static/bailanys/htmx-[^"]+)"', form)
    assert re.search(r"\.[0-9a-f]{12}\.js$", htmx), htmx  # hashed: it can be kept for good
    plain = Client().get(htmx)
    gzipped = Client().get(htmx, headers={"accept-encoding": "gzip, deflate"})
    assert plain.status_code == gzipped.status_code == 200
    assert gzipped["Content-Encoding"] == "gzip"
    size = int(gzipped["Content-Length"])
    assert size * 2 < int(plain["Content-Length"]), (size, plain["Content-Length"])
    assert "immutable" in gzipped["Cache-Control"]
    assert "max-age=315360000" in gzipped["Cache-Control"]
    # Pages are never compressed: each one carries a CSRF token or a person's details
    # next to what a visitor typed (BREACH), and they are small anyway.
    page = Client().get("/", headers={"accept-encoding": "gzip, deflate"})
    assert "Content-Encoding" not in page


def test_a_server_started_without_collecting_still_serves_its_pages(tmp_path):
    """`gunicorn bailanys.wsgi` with no `collectstatic`: plain names, every page works."""
    from tests.helpers import child_env

    fetch = (
        "from django.test import Client; c = Client(); page = c.get('/');"
        'import re; [css] = re.findall(r\'href="(/static/[^"]+css)"\', page.content.decode());'
        "print(page.status_code, css, c.get(css).status_code)"
    )
    env = child_env(tmp_path)
    subprocess.run([bailanys_executable(), "migrate", "-v0"], env=env, check=True)
    shown = subprocess.run(
        [bailanys_executable(), "shell", "-c", fetch], env=env, capture_output=True, text=True
    )
    assert shown.stdout.splitlines()[-1].split() == ["200", "/static/bailanys/site.css", "200"], (
        shown
    )
