"""In a real browser, on a phone: a volunteer takes a case; a coordinator's dashboard follows.

Playwright drives Debian's Chromium (never a browser of Playwright's own download)
against pytest-django's live server. Without Chromium these tests skip, so the
README's test command runs on a fresh machine; with BAILANYS_BROWSER_TESTS=required
(CI) a missing browser fails them instead. Screenshots go to BAILANYS_ARTEFACTS, or
artefacts/screenshots/ in the repository.
"""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connections

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the `chromium` fixture skips, or fails where the tests are required
    expect = sync_playwright = None

from bailanys.relay.models import Request
from tests.conftest import Api, make_account, submit, totp_code_from_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Without the background-networking flags this machine's closed network refuses
# Chromium's own connections (updates, sync, Google's hosts) many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "en-US",
}
# Milliseconds: how long a page may take to show what a step expects.
STEP = 10_000
# The dashboard refreshes every second here; allow for a slow shared machine.
DASHBOARD_FOLLOWS = 15_000
COUNTS = ("queued", "claimed", "escalated", "closed", "waiting")


def chromium_path() -> str | None:
    """BAILANYS_CHROMIUM, else Debian's /usr/bin/chromium, else `chromium` on the PATH."""
    chosen = os.environ.get("BAILANYS_CHROMIUM")
    if chosen:
        if not os.access(chosen, os.X_OK):
            # A browser asked for by name and missing is a mistake, not a machine without one.
            pytest.fail(f"BAILANYS_CHROMIUM={chosen} is not an executable file")
        return chosen
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def artefacts_dir() -> Path:
    default = Path(__file__).resolve().parents[1] / "artefacts" / "screenshots"
    path = Path(os.environ.get("BAILANYS_ARTEFACTS") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(page, name: str) -> None:
    page.screenshot(path=artefacts_dir() / name, full_page=True)


def unavailable(reason: str):
    if os.environ.get("BAILANYS_BROWSER_TESTS") == "required":
        pytest.fail(f"{reason} (BAILANYS_BROWSER_TESTS=required)")
    pytest.skip(reason)


@pytest.fixture
def chromium(live_server, monkeypatch) -> Iterator:
    """Debian's Chromium under Playwright, headless; skips (or fails in CI) without it."""
    executable = chromium_path()
    if not executable:
        unavailable("no Chromium found (set BAILANYS_CHROMIUM or apt-get install chromium)")
    if sync_playwright is None:
        unavailable("the playwright package is not installed (pip install -e '.[test]')")
    # Playwright's sync API keeps its asyncio loop marked as running on this thread
    # between calls, so Django refuses every ORM call the test makes meanwhile (its
    # accounts and requests) with SynchronousOnlyOperation. Nothing runs concurrently:
    # each Playwright call returns before the next ORM call, and the live server
    # answers in threads of its own with no loop. Allowing it for these tests keeps
    # them plain top-to-bottom code; running Playwright in a second thread would mean
    # handing every step across.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # While a loop runs, Django gives this thread a separate set of connections,
            # which pytest-django never sees: close them while that set is still the
            # current one, or PostgreSQL refuses to drop the test database at the end.
            connections.close_all()


class Phone:
    """One person's phone: a fresh browser context that records every URL it loads."""

    def __init__(self, chromium, live_server):
        self.base = live_server.url
        self.context = chromium.new_context(**PHONE, base_url=self.base)
        self.context.set_default_timeout(STEP)
        self.loaded: list[str] = []
        self.context.on("request", lambda request: self.loaded.append(request.url))
        self.page = self.context.new_page()

    def at(self, path: str) -> re.Pattern:
        """The page's URL is this path on the live server, whatever its query string."""
        return re.compile(rf"{re.escape(self.base + path)}(\?.*)?$")

    def log_in(self, username: str, password: str, *, lands_on: str = "/console/") -> None:
        page = self.page
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.locator("main form button.primary").tap()
        expect(page).to_have_url(self.at(lands_on))

    def pass_two_factor_setup(self) -> None:
        """The coordinator's first login: read the key off the page, type the app's code."""
        page = self.page
        expect(page.locator("#totp-secret")).to_have_text(re.compile(r"[A-Z2-7 ]{16,}"))
        page.fill("input[name=code]", totp_code_from_page(page.content()))
        page.locator("main form button.primary").tap()
        expect(page).to_have_url(self.at("/console/"))

    def take_case_and_record(self, recipient: str, *, shot: str = "") -> None:
        """Take the next case, write the reply, tap "Reached"; screenshot if `shot` names one."""
        page = self.page
        expect(page).to_have_url(self.at("/console/"))
        page.locator('form[action$="/console/take/"] button').tap()
        case = page.locator("article.case")
        expect(case.locator("h1")).to_have_text(recipient)
        expect(case.locator("a.call")).to_be_visible()
        page.fill("textarea[name=reply]", "She is well and sends her love to Marat.")
        if shot:
            screenshot(page, f"{shot}-case.png")
        case.locator("button.outcome-reached").tap()
        expect(page.locator("ul.messages li.success")).to_have_text("Saved. Thank you.")
        expect(page.locator("article.case")).to_have_count(0)
        if shot:
            screenshot(page, f"{shot}-saved.png")

    def ask_for_a_call(self, recipient: str, phone: str, requester: str, *, urgent=False) -> str:
        """Fill the public form on the page shown and send it; the status page's path."""
        page = self.page
        page.fill("input[name=recipient_name]", recipient)
        page.fill("input[name=recipient_phone]", phone)
        page.fill("input[name=requester_name]", requester)
        if urgent:
            page.check("input[name=urgent]")
        page.locator("main form button.primary").tap()
        expect(page).to_have_url(re.compile(r"/s/[^/?]+/$"))
        return page.url.removeprefix(self.base)

    def assert_nothing_from_elsewhere(self) -> None:
        assert self.loaded, "the browser recorded no requests"
        own = urlsplit(self.base).netloc
        # data: URLs (the empty favicon) carry no host and load nothing from anywhere.
        hosts = {urlsplit(url).netloc for url in self.loaded if not url.startswith("data:")}
        assert hosts == {own}, f"loaded from another host: {sorted(hosts - {own})}"


def small_phone_coordinator(chromium, live_server, language: str) -> "Phone":
    """A new coordinator logged in (both steps) on a 360-px phone in `language`."""
    name, password, _ = make_account("coordinator")
    phone = Phone(chromium, live_server)
    phone.page.set_viewport_size({"width": 360, "height": 740})
    phone.page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": phone.base}]
    )
    phone.log_in(name, password, lands_on="/accounts/2fa/setup/")
    phone.pass_two_factor_setup()
    return phone


def two_requests() -> None:
    """Two families ask through the public API; the older request is the first case."""
    api = Api()
    submit(api)  # Gulnara in Almaty
    submit(api, recipient={"name": "Aigerim", "phone": "8 702 345 67 89", "city": "Astana"})


def test_it_takes_a_case_and_records_the_outcome_on_a_phone(chromium, live_server):
    name, password, _token = make_account()
    two_requests()

    phone = Phone(chromium, live_server)
    phone.log_in(name, password)
    phone.take_case_and_record("Gulnara", shot="console")

    # The next case is still there for the next tap.
    phone.page.locator('form[action$="/console/take/"] button').tap()
    expect(phone.page.locator("article.case h1")).to_have_text("Aigerim")
    phone.assert_nothing_from_elsewhere()


def test_the_dashboard_counts_a_closed_case_without_a_reload(chromium, live_server, settings):
    settings.BAILANYS_DASHBOARD_REFRESH_SECONDS = 1
    coordinator_name, coordinator_password, _ = make_account("coordinator")
    volunteer_name, volunteer_password, _ = make_account()
    two_requests()

    coordinator = Phone(chromium, live_server)
    coordinator.log_in(coordinator_name, coordinator_password, lands_on="/accounts/2fa/setup/")
    coordinator.pass_two_factor_setup()
    page = coordinator.page
    page.goto("/console/dashboard/")
    dashboard = page.locator("#dashboard")
    expect(dashboard).to_be_visible()
    for count in COUNTS:
        expect(dashboard.locator(f'[data-count="{count}"]')).to_have_text(
            re.compile(r"^\s*\d+\s*$")
        )
    expect(dashboard.locator("svg[data-chart]").first).to_be_attached()
    closed = int(dashboard.locator('[data-count="closed"]').inner_text())
    # Survives htmx swaps but not a reload: proves the page updated itself.
    page.evaluate("window.notReloaded = true")
    screenshot(page, "dashboard-before.png")

    volunteer = Phone(chromium, live_server)
    volunteer.log_in(volunteer_name, volunteer_password)
    volunteer.take_case_and_record("Gulnara")

    expect(dashboard.locator('[data-count="closed"]')).to_have_text(
        re.compile(rf"^\s*{closed + 1}\s*$"), timeout=DASHBOARD_FOLLOWS
    )
    assert page.evaluate("window.notReloaded") is True, "the dashboard page was reloaded"
    screenshot(page, "dashboard-after.png")
    coordinator.assert_nothing_from_elsewhere()
    volunteer.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_request_forms_errors_show_with_javascript_on(chromium, live_server, language):
    """htmx boosts the form; its 422 answer must still be shown, next to each field, in
    the page's language (htmx drops a 4xx unless told to swap it)."""
    phone = Phone(chromium, live_server)
    page = phone.page
    page.context.add_cookies([{"name": "django_language", "value": language, "url": phone.base}])
    page.goto("/")
    page.fill("input[name=recipient_name]", "\u200b")  # only a zero-width space: empty
    page.fill("input[name=recipient_phone]", "+7 809 123 45 67")  # premium-rate
    page.fill("input[name=requester_name]", "Марат")
    page.locator("main form button.primary").tap()
    errors = page.locator("main .field.invalid p.error")
    expect(errors.first).to_be_visible()
    required = {"ru": "Это поле обязательно.", "kk": "Бұл өрісті толтыру керек."}[language]
    expect(errors.first).to_have_text(required)
    assert errors.count() == 2
    screenshot(page, f"request-errors-{language}.png")
    assert not Request.objects.exists()
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_coordinator_sees_who_could_not_be_told_on_a_small_phone(
    chromium, live_server, settings, fake_smsgate, language
):
    """A requester's SMS failed for good: the coordinator's page names the case, in the
    page's language, on a 360-px phone, with nothing wider than the screen."""
    from tests.test_sms_reliable import fail, outcome_sms

    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 600
    settings.BAILANYS_SMS_BRIDGE_KINDS = []
    settings.BAILANYS_SMS_RESENDS = 0  # the first failure is the last word
    row = outcome_sms(fake_smsgate)
    assert fail(fake_smsgate, row) == "failed"

    phone = small_phone_coordinator(chromium, live_server, language)
    page = phone.page
    page.goto("/console/coordinator/")
    untold = page.locator("#untold")
    expect(untold).to_be_visible()
    heading = {
        "ru": "Заявители, которым не удалось сообщить по SMS",
        "kk": "SMS арқылы хабарлау мүмкін болмаған өтініш берушілер",
    }[language]
    expect(untold.locator("h2")).to_contain_text(heading)
    expect(untold.locator("tbody tr")).to_have_count(1)
    expect(untold.locator("tbody")).to_contain_text(f"#{row.request.case_id}")
    screenshot(page, f"coordinator-untold-{language}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # The list itself fits: nothing of it is behind a sideways scroll.
    table = untold.locator("table")
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth"), "the list scrolls sideways"
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_a_volunteers_sms_phone_form_shows_its_error_on_a_small_phone(
    chromium, live_server, language
):
    """A number that is not a phone is refused on the page, in its language, at 360 px."""
    name, password, _ = make_account()
    phone = Phone(chromium, live_server)
    page = phone.page
    page.set_viewport_size({"width": 360, "height": 740})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": phone.base}])
    phone.log_in(name, password)
    page.goto("/console/sms/")
    page.fill("input[name=phone]", "12")
    page.locator("main form button").tap()
    error = page.locator("main p.error")
    expect(error).to_be_visible()
    assert re.search(r"[\u0400-\u04ff]{3}", error.inner_text()), "not translated (Cyrillic)"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"sms-phone-error-{language}.png")
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_proxies_page_fits_a_small_phone_and_shows_a_vouch_error(
    chromium, live_server, language
):
    """/coordinate/proxies/ in the page's language at 360 px: the pool's tables scroll by
    themselves, and a number that is not a phone is refused next to its field."""
    phone = small_phone_coordinator(chromium, live_server, language)
    page = phone.page
    page.goto("/coordinate/proxies/")
    expect(page.locator("#pool table")).to_be_visible()
    vouch = page.locator("#vouch")
    vouch.locator("input[name=phone]").fill("12")
    vouch.locator("button").tap()
    error = page.locator("#vouch .field.invalid p.error")
    expect(error).to_be_visible()
    assert re.search(r"[\u0400-\u04ff]{3}", error.inner_text()), "not translated (Cyrillic)"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"proxies-vouch-error-{language}.png")
    # A wave of none: refused next to its own field, the page otherwise as it was.
    release = page.locator("#release")
    release.locator("input[name=count]").fill("0")
    release.locator("button").tap()
    error = page.locator("#release .field.invalid p.error")
    expect(error).to_be_visible()
    assert re.search(r"[\u0400-\u04ff]{3}", error.inner_text()), "not translated (Cyrillic)"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"proxies-release-error-{language}.png")
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_a_volunteer_vouches_on_a_small_phone_and_sees_a_bad_number_refused(
    chromium, live_server, language
):
    """/proxies/vouch/ for any volunteer at 360 px: a bad number is refused next to the
    field in the page's language; a good one is thanked with the number masked."""
    name, password, _ = make_account()
    phone = Phone(chromium, live_server)
    page = phone.page
    page.set_viewport_size({"width": 360, "height": 740})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": phone.base}])
    phone.log_in(name, password)
    page.goto("/proxies/vouch/")
    page.fill("input[name=phone]", "12")
    page.locator("main form button").tap()
    error = page.locator("main .field.invalid p.error")
    expect(error).to_be_visible()
    assert re.search(r"[\u0400-\u04ff]{3}", error.inner_text()), "not translated (Cyrillic)"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"proxies-volunteer-vouch-error-{language}.png")
    page.fill("input[name=phone]", "8 705 111 22 33")
    page.locator("main form button").tap()
    thanked = page.locator("ul.messages li")
    expect(thanked).to_contain_text("+7705")
    assert "111 22 33" not in thanked.inner_text() and "1112233" not in thanked.inner_text()
    assert re.search(r"[\u0400-\u04ff]{3}", thanked.inner_text()), "not translated (Cyrillic)"
    phone.assert_nothing_from_elsewhere()


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_new_bulletin_form_fits_a_small_phone_and_shows_an_error(
    chromium, live_server, language
):
    """/coordinate/bulletins/ at 360 px in the page's language: the parts count appears as
    the coordinator types, and a bulletin without a source is refused next to that field."""
    from django.utils import translation
    from django.utils.translation import gettext

    phone = small_phone_coordinator(chromium, live_server, language)
    page = phone.page
    page.goto("/coordinate/bulletins/")
    form = page.locator("#new form")
    form.locator("textarea[name=text_ru]").fill("Комендантский час с 23:00 до 06:00.")  # noqa: RUF001
    form.locator("textarea[name=text_ru]").press("End")  # a keyup: the count is asked for
    expect(page.locator('#parts li[data-language="ru"]')).to_be_visible()
    form.locator("button.primary").tap()
    error = page.locator("#field-source.invalid p.error")
    expect(error).to_be_visible()
    with translation.override(language):
        said = gettext("Say who said it: a link, or where our volunteer saw it.")
    assert error.inner_text() == said  # in the page's language once the catalogue has it
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, f"bulletin-form-error-{language}.png")
    phone.assert_nothing_from_elsewhere()
