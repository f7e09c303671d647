"""Issue 21, item 6: every page a coordinator or a volunteer can open fits a 360-px phone,
in English, Russian and Kazakh: nothing wider than the screen, so the page never scrolls
sideways (a wide table scrolls inside its own box). Item 9: the audit log names people and
comes in pages."""

import random

import pytest

from tests.conftest import Api, Browser, html, login_coordinator, make_account, status_token, submit
from tests.test_browser import (  # noqa: F401  (chromium: a fixture)
    chromium,
    expect,
    screenshot,
    small_phone_coordinator,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 360
# What sticks out past the right edge, outside any box that scrolls by itself: named in
# the assertion's message, so a failure says what to fix.
STICKING_OUT = """(width) => {
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    const right = Math.max(r.right, r.left + el.scrollWidth);
    if (right > width + 0.5 && !scrolls(el)) {
      const id = el.id ? '#' + el.id : '';
      const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
      out.push(`${el.tagName.toLowerCase()}${id}${cls} (${Math.round(right)}px)`);
    }
  }
  return out.slice(0, 8);
}"""


def some_of_everything(coordinator_name: str) -> dict:
    """The demo's requests, a day of calls, a shutdown, an SMS gateway, a bulletin and a
    post waiting for review: the pages show what makes them wide."""
    from bailanys.accounts.models import User
    from bailanys.bulletins.services import bulletin_draft
    from bailanys.channels.sms.gateways import gateway_add
    from bailanys.outages.demo import demo_outages_load
    from bailanys.relay.demo import demo_history, demo_load
    from bailanys.relay.services.posts import post_ingest

    demo_load()
    demo_history(random.Random(21), hours=24)
    demo_outages_load()
    coordinator = User.objects.get(username=coordinator_name)
    gateway_add(
        name="kcell-sim-in-the-office-drawer",
        kind="smsgate",
        url="https://192.168.100.200:8080/sms-gateway-for-android/api",
        username="gateway-user",
        password="gateway-password",
        prefixes="701,702,775,778",
        by=coordinator,
    )
    bulletin = bulletin_draft(
        texts={
            "ru": "Комендантский час в Алматы с 23:00 до 06:00. Мобильный интернет не работает.",  # noqa: RUF001
            "kk": "Алматыда коменданттық сағат 23:00-ден 06:00-ге дейін.",  # noqa: RUF001
            "en": "Curfew in Almaty from 23:00 to 06:00. Mobile internet is down.",
        },
        source="https://www.gov.kz/memleket/entities/almaty/press/news/details/123456789",
        author=coordinator,
    )
    ingested = post_ingest(
        source="telegram-group-kazakhstan-relatives",
        external_id="chat:1",
        text="Алматы, мама Гульнара Сейтова, скажите что я в Анталье, всё хорошо. Номер потеряла",
        author="Ерлан",
    )
    created = submit(Api())
    return {"bulletin": bulletin.pk, "post": ingested.post.pk, "status": status_token(created)}


def too_wide(page, name: str, shot: str) -> list[str]:
    """Screenshot the page; name it with what sticks out if it is wider than the phone."""
    screenshot(page, shot)
    wide = page.evaluate("document.documentElement.scrollWidth")
    if wide <= WIDTH:
        return []
    return [f"{name} is {wide} px wide: {page.evaluate(STICKING_OUT, WIDTH)}"]


MENU = [
    "/console/dashboard/",
    "/console/coordinator/",
    "/console/review/",
    "/console/cases/",
    "/console/audit/",
    "/accounts/volunteers/",
    "/console/sms/gateways/",
    "/coordinate/proxies/",
    "/coordinate/bulletins/",
    "/coordinate/status/",
]


def newest_coordinator() -> str:
    from bailanys.accounts.models import Role, User

    return User.objects.filter(role=Role.COORDINATOR).latest("pk").username


def menu_fits(page, language: str) -> list[str]:
    """The coordinator's menu on a phone: one "Menu" line, the header's links in at most
    two lines; opened, every coordinator page is a tap away and nothing is wider."""
    page.goto("/console/")
    nav = page.locator("header nav")
    menu = nav.locator("details.menu")
    expect(menu.locator("summary")).to_be_visible()
    expect(menu.locator(f'a[href="{MENU[0]}"]')).to_be_hidden()
    lines = nav.evaluate(
        "n => n.getBoundingClientRect().height / parseFloat(getComputedStyle(n).lineHeight)"
    )
    assert lines < 2.5, f"the header's links take {lines:.1f} lines at {WIDTH} px"
    menu.locator("summary").tap()
    for path in MENU:
        expect(menu.locator(f'a[href="{path}"]')).to_be_visible()
    return too_wide(page, "the open menu", f"phone-{language}-menu.png")


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_every_page_fits_a_360_px_phone(chromium, live_server, language):  # noqa: F811
    """A verified coordinator on a 360-px phone opens every page a coordinator or a
    volunteer can: none is wider than the screen. One browser context for all of them."""
    phone = small_phone_coordinator(chromium, live_server, language)
    page = phone.page
    objects = some_of_everything(newest_coordinator())
    pages = [
        ("console", "/console/"),
        ("Telegram link", "/console/telegram/"),
        ("SMS link", "/console/sms/"),
        ("phone credit", "/console/credit/"),
        ("dashboard", "/console/dashboard/"),
        ("coordinator", "/console/coordinator/"),
        ("review queue", "/console/review/"),
        ("review post", f"/console/review/{objects['post']}/"),
        ("case tools", "/console/cases/"),
        ("audit log", "/console/audit/"),
        ("audit log page 2", "/console/audit/?page=2"),
        ("accounts", "/accounts/volunteers/"),
        ("SMS gateways", "/console/sms/gateways/"),
        ("proxies", "/coordinate/proxies/"),
        ("vouch", "/proxies/vouch/"),
        ("bulletins", "/coordinate/bulletins/"),
        ("bulletin", f"/coordinate/bulletins/{objects['bulletin']}/"),
        ("status posts", "/coordinate/status/"),
        ("status", "/status/"),
        ("request form", "/"),
        ("request status", f"/s/{objects['status']}/"),
    ]
    wide = []
    for name, path in pages:
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        wide += too_wide(page, name, f"phone-{language}-{name.replace(' ', '-')}.png")
    # The dashboard's charts: each legend a list under its chart, every label whole.
    page.goto("/console/dashboard/")
    legend = page.locator('ul.chart-legend[data-legend="outcomes"] li')
    expect(legend).to_have_count(4)
    for item in legend.all():
        assert item.evaluate("li => li.scrollWidth <= li.clientWidth + 1"), item.inner_text()
    wide += menu_fits(page, language)
    # An invitation: its one-time link shows, and wraps.
    page.goto("/accounts/invitations/")
    page.locator("main form button.primary").tap()
    expect(page.locator("#invitation-link")).to_be_visible()
    wide += too_wide(page, "invitation", f"phone-{language}-invitation.png")
    # A case in hand, as a volunteer sees it; then the case tools with a case held.
    page.goto("/console/")
    page.locator('form[action$="/console/take/"] button').tap()
    expect(page.locator("article.case")).to_be_visible()
    wide += too_wide(page, "a case", f"phone-{language}-case.png")
    page.goto("/console/cases/")
    wide += too_wide(page, "case tools with a holder", f"phone-{language}-case-tools-held.png")
    assert not wide, "\n".join(wide)
    if language == "en":  # a wide screen: the menu's links in the header line, no "Menu"
        page.set_viewport_size({"width": 1024, "height": 768})
        page.goto("/console/")
        expect(page.locator("header details.menu summary")).to_be_hidden()
        for path in MENU:
            expect(page.locator(f'header a[href="{path}"]')).to_be_visible()
        screenshot(page, "wide-en-menu.png")
    phone.assert_nothing_from_elsewhere()


# --- The audit log: names and pages (issue 21, item 9) -----------------------------


def test_the_audit_log_names_people_and_comes_in_pages():
    from bailanys.accounts.models import User
    from bailanys.privacy.audit import actor_label, audit_record
    from bailanys.relay.views import AUDIT_PAGE

    name, password, _ = make_account("coordinator")
    boss = Browser()
    login_coordinator(boss, name, password)
    user = User.objects.get(username=name)
    audit_record(actor="user:999999", action="case.read", object_type="case", object_id=7)
    for number in range(AUDIT_PAGE + 5):
        audit_record(
            actor=actor_label(user), action="case.read", object_type="case", object_id=number
        )

    first = html(boss.get("/console/audit/"))
    assert f">{name}</td>" in first
    assert f">user:{user.pk}<" not in first  # the stored id is no longer what people read
    assert first.count("<tr><td") == AUDIT_PAGE
    assert 'href="?page=2"' in first

    older = boss.get("/console/audit/?page=2")
    assert older.status_code == 200
    second = html(older)
    assert ">user:999999</td>" in second  # no such account: shown as stored
    assert 'href="?page=1"' in second
    # Any other query parameter (a filter) stays in the page links.
    filtered = html(boss.get("/console/audit/?action=case.read"))
    assert 'href="?action=case.read&amp;page=2"' in filtered
