"""The first hour of a real user (issue 21), in a real browser: what a newcomer meets."""

from pathlib import Path

import pytest

from tests.test_browser import (  # noqa: F401  (chromium: a fixture)
    Phone,
    chromium,
    expect,
    screenshot,
    small_phone_coordinator,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_render_from_our_own_files(chromium, live_server):  # noqa: F811
    phone = Phone(chromium, live_server)
    page = phone.page
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto("/api/v1/docs")
    # Swagger UI drew the schema: the title and an operation of ours.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Bailanys")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/requests").first).to_be_visible()
    screenshot(page, "api-docs.png")
    phone.assert_nothing_from_elsewhere()
    assert not [m for m in refused if "script" in m], refused


def test_the_statistics_link_downloads_a_csv_file(chromium, live_server):  # noqa: F811
    phone = small_phone_coordinator(chromium, live_server, "en")
    page = phone.page
    page.goto("/console/coordinator/")
    link = page.locator('a[href$="/console/stats.csv"]')
    with page.expect_download() as download:
        link.tap()
    saved = download.value
    assert saved.suggested_filename.endswith(".csv")
    first = Path(saved.path()).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("day,"), first
    expect(page).to_have_url(phone.at("/console/coordinator/"))  # the page stays as it was


def test_a_request_made_in_the_browser_is_left_alone_by_the_demo_callers(chromium, live_server):  # noqa: F811
    """Ten minutes of the living demo (a beat every 10 s) with a person's urgent request in
    the queue: the demo's callers work their own made-up cases and leave it to a person."""
    import random

    from bailanys.relay.demo import demo_load, demo_pulse
    from bailanys.relay.models import Attempt, Case, CaseState

    demo_load()
    phone = Phone(chromium, live_server)
    page = phone.page
    page.goto("/")
    phone.ask_for_a_call("Айгуль", "+7 701 555 12 34", "Dana", urgent=True)
    screenshot(page, "demo-own-request.png")
    [case] = Case.objects.filter(demo=False)
    rng = random.Random(7)
    worked = 0
    for _beat in range(60):
        worked += demo_pulse(rng, requests=rng.choice([0, 1, 1, 2]), calls=2)[1]
    assert worked > 0, "the demo callers worked no demo case: nothing was tested"
    case.refresh_from_db()
    assert case.state == CaseState.QUEUED
    assert not Attempt.objects.filter(case=case).exists()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_two_step_setup_shows_a_qr_code_that_fits_a_small_phone(
    chromium,  # noqa: F811
    live_server,
    language,
):
    from tests.conftest import make_account

    name, password, _ = make_account("coordinator")
    phone = Phone(chromium, live_server)
    page = phone.page
    page.set_viewport_size({"width": 360, "height": 740})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": phone.base}])
    phone.log_in(name, password, lands_on="/accounts/2fa/setup/")
    qr = page.locator("#totp-qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert 120 <= box["width"] <= 360 and box["x"] >= 0, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"2fa-setup-{language}.png")
    phone.pass_two_factor_setup()
    phone.assert_nothing_from_elsewhere()
