# ruff: noqa: RUF001  (Russian texts: Cyrillic letters are intended)
"""Bulletins on the web and in the API (issue 19, items 1, 2, 4 and 6).

Coordinators draft on /coordinate/bulletins/ (with a live SMS parts count), a second one
approves on the bulletin's page, and the page shows the sending's progress; the API does
the same with tokens, and anyone checks a code. Sending goes through `bailanys worker
--batch` to the fake sms-gate phone, whose delivery report the page then counts.
"""

import itertools
import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext

from bailanys.bulletins.models import Bulletin
from bailanys.bulletins.services import subscribe
from bailanys.outbox.models import Lane, OutboxMessage
from bailanys.privacy.models import AuditEntry
from tests.conftest import Api, Browser, html, login_coordinator, make_account
from tests.conftest import outbox_drain as deliver

pytestmark = pytest.mark.django_db(transaction=True)

RU = "Комендантский час в Алматы с 23:00 до 06:00 до отмены."
_numbers = itertools.count(3_000_000)


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 60_000
    settings.BAILANYS_SMS_DAILY_CAP = 100_000


def text(response) -> str:
    return unescape(html(response))


def coordinator() -> tuple[Browser, str]:
    name, password, token = make_account("coordinator")
    boss = Browser()
    login_coordinator(boss, name, password)
    boss.token = token
    return boss, name


def subscribers(n: int, language: str = "ru", region: str = "") -> list[str]:
    numbers = [f"+7701{next(_numbers)}" for _ in range(n)]
    for number in numbers:
        subscribe(channel="sms", address=number, language=language, region=region)
    return numbers


def later(hours: int = 24) -> str:
    return (timezone.localtime() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def draft(browser: Browser, **fields):
    data = {
        "text_ru": RU,
        "text_kk": "",
        "text_en": "",
        "source": "Akimat of Almaty, akimat.almaty.kz",
        "regions": "",
        "expires_at": later(),
    }
    data.update(fields)
    return browser.post("/coordinate/bulletins/", data)


def drafted(browser: Browser, **fields) -> int:
    response = draft(browser, **fields)
    assert response.status_code == 302, text(response)[:2000]
    return int(re.search(r"/coordinate/bulletins/(\d+)/$", response["Location"]).group(1))


def page(browser: Browser, pk: int) -> str:
    response = browser.get(f"/coordinate/bulletins/{pk}/")
    assert response.status_code == 200
    return text(response)


def decide(browser: Browser, pk: int, action: str):
    browser.get(f"/coordinate/bulletins/{pk}/")
    return browser.post(f"/coordinate/bulletins/{pk}/", {"action": action})


def tile(page_text: str, name: str) -> int:
    found = re.search(rf'<dd id="{name}">(\d+)</dd>', page_text)
    assert found, f"no {name} on the page"
    return int(found.group(1))


def field_error(page_text: str, field: str) -> str:
    found = re.search(
        rf'<div class="field invalid" id="field-{field}">.*?'
        r'<p class="error" role="alert">(.*?)</p>',
        page_text,
        re.S,
    )
    assert found, f"no error next to {field}"
    return found.group(1)


def audited(action: str, browser: Browser) -> bool:
    return action in text(browser.get("/console/audit/"))


# --- Drafting -----------------------------------------------------------------------


def test_a_volunteer_is_not_told_the_pages_exist():
    name, password, _token = make_account()
    person = Browser()
    person.login(name, password)
    for path in ("/coordinate/bulletins/", "/coordinate/bulletins/1/"):
        assert person.get(path).status_code == 404
    assert person.post("/coordinate/bulletins/parts/", {"text_ru": RU}).status_code == 404
    assert "/coordinate/bulletins/" not in text(person.get("/console/"))


def test_the_coordinators_navigation_links_the_page():
    boss, _name = coordinator()
    assert 'href="/coordinate/bulletins/"' in text(boss.get("/console/"))
    assert boss.get("/coordinate/bulletins/").status_code == 200


@pytest.mark.parametrize(
    ("fields", "field", "said"),
    [
        ({"text_ru": "  "}, "texts", "Write the bulletin in at least one language."),
        ({"source": ""}, "source", "Say who said it: a link, or where our volunteer saw it."),
        ({"regions": "Алматы, Нарния"}, "regions", "Not a city we know: Нарния."),
        ({"expires_at": later(-1)}, "expires_at", "The expiry must be in the future."),
    ],
)
def test_a_draft_with_a_mistake_is_refused_with_the_reason_by_its_field(fields, field, said):
    boss, _name = coordinator()
    response = draft(boss, **fields)
    assert response.status_code == 422
    page_text = text(response)
    if field == "texts":
        assert f'<p class="error" role="alert">{said}</p>' in page_text
    else:
        assert field_error(page_text, field) == said
    # What was typed is still there.
    assert (fields.get("source") or "Akimat of Almaty") in page_text or field == "source"
    assert 'data-state="draft"' not in page_text  # nothing was saved


def test_the_parts_counter_counts_the_sms_as_sent_and_warns_past_two():
    boss, _name = coordinator()
    boss.get("/coordinate/bulletins/")
    short = "Ж" * 71  # 71 Cyrillic characters: two parts alone
    response = boss.post(
        "/coordinate/bulletins/parts/", {"text_ru": short, "source": "Акимат", "text_en": "Hi"}
    )
    assert response.status_code == 200
    got = text(response)
    ru = re.search(r'<li data-language="ru"[^>]*>(.*?)</li>', got, re.S).group(1)
    assert "2 SMS parts" in ru and "more than 2" not in ru
    en = re.search(r'<li data-language="en"[^>]*>(.*?)</li>', got, re.S).group(1)
    assert "1 SMS part" in en
    assert 'data-language="kk"' not in got

    # A short Latin text is one part; with a Cyrillic source line it becomes UCS-2.
    one = text(boss.post("/coordinate/bulletins/parts/", {"text_en": "Hi", "source": "x"}))
    assert "1 SMS part" in one
    long = text(boss.post("/coordinate/bulletins/parts/", {"text_ru": "Ж" * 200, "source": "x"}))
    assert "4 SMS parts" in long and "more than 2" in long


def test_the_editor_asks_for_the_count_as_the_coordinator_types():
    boss, _name = coordinator()
    page_text = text(boss.get("/coordinate/bulletins/"))
    textarea = re.search(r'<textarea name="text_kk"[^>]*>', page_text).group(0)
    assert 'hx-post="/coordinate/bulletins/parts/"' in textarea
    assert 'hx-trigger="keyup changed delay:300ms"' in textarea
    assert 'id="parts"' in page_text


def test_the_official_flag_shows_in_the_sms(fake_smsgate):
    author, _ = coordinator()
    second, _ = coordinator()
    (number,) = subscribers(1)
    pk = drafted(author, official="on", source="SMS from 1414")
    with translation.override("ru"):  # the bulletin is in Russian: so is its source line
        official = gettext("Official, relayed as received: %(source)s")
    official %= {"source": "SMS from 1414"}
    assert official in page(author, pk)
    decide(second, pk, "approve")
    deliver()
    (sent,) = [m["text"] for m in fake_smsgate.outbox if number in m["phoneNumbers"]]
    assert sent.startswith(RU)
    assert official in sent
    assert re.search(r"Bailanys B[0-9A-Z]{3}$", sent)


# --- Two people ------------------------------------------------------------------------


def test_the_author_cannot_approve_and_a_second_coordinator_can(fake_smsgate):
    author, author_name = coordinator()
    second, second_name = coordinator()
    numbers = subscribers(3)
    pk = drafted(author)

    mine = page(author, pk)
    assert 'value="approve"' not in mine
    assert "Waiting for a second coordinator" in mine
    refused = decide(author, pk, "approve")
    assert refused.status_code == 403
    assert "You wrote this bulletin: a second coordinator must approve it." in text(refused)
    assert 'data-state="draft"' in page(author, pk)
    assert OutboxMessage.objects.count() == 0  # nothing leaves before the second approval

    theirs = page(second, pk)
    assert 'value="approve"' in theirs and author_name in theirs
    response = decide(second, pk, "approve")
    assert response.status_code == 302
    issued = page(second, pk)
    assert 'data-state="issued"' in issued
    assert re.search(rf'id="decided-by">{second_name},', issued)
    assert audited("bulletin.approve", second)
    # Approved once is decided: approving again is refused.
    assert decide(second, pk, "approve").status_code == 403

    deliver()
    rows = OutboxMessage.objects.filter(priority=Lane.SLOW)
    assert rows.count() == len(numbers)  # one per subscriber, in the slow lane
    for number in numbers:
        assert len([m for m in fake_smsgate.outbox if number in m["phoneNumbers"]]) == 1


def test_a_rejected_draft_is_never_sent_and_unknown_to_the_public(fake_smsgate):
    author, _ = coordinator()
    second, _ = coordinator()
    subscribers(2)
    pk = drafted(author)
    assert decide(second, pk, "reject").status_code == 302
    assert 'data-state="rejected"' in page(second, pk)
    assert audited("bulletin.reject", second)
    assert decide(second, pk, "approve").status_code == 403
    deliver()
    assert fake_smsgate.outbox == []
    code = re.search(r"Bulletin (B\w{3})", page(second, pk)).group(1)
    assert Api().get(f"/bulletins/{code}").status_code == 404


def test_withdrawing_stops_what_waits_and_the_check_says_so():
    author, _ = coordinator()
    second, _ = coordinator()
    subscribers(2)
    pk = drafted(author)
    decide(second, pk, "approve")
    assert 'value="withdraw"' in page(author, pk)
    assert decide(author, pk, "withdraw").status_code == 302
    assert 'data-state="withdrawn"' in page(author, pk)
    assert audited("bulletin.withdraw", author)
    code = re.search(r"Bulletin (B\w{3})", page(author, pk)).group(1)
    assert Api().get(f"/bulletins/{code}").json()["state"] == "withdrawn"
    assert decide(author, pk, "withdraw").status_code == 403


def test_a_correction_is_prefilled_and_reaches_exactly_the_earlier_recipients(fake_smsgate):
    author, _ = coordinator()
    second, _ = coordinator()
    first = subscribers(2)
    pk = drafted(author)
    decide(second, pk, "approve")
    deliver()
    late = subscribers(1)  # subscribed after: not among the earlier recipients

    form = text(author.get(f"/coordinate/bulletins/?corrects={pk}"))
    assert RU in form and 'name="corrects"' in form and f'value="{pk}"' in form
    fixed = RU.replace("23:00", "22:00")
    response = draft(author, text_ru=fixed, corrects=str(pk))
    assert response.status_code == 302
    fix = int(re.search(r"/(\d+)/$", response["Location"]).group(1))
    assert audited("bulletin.correct", author)
    decide(second, fix, "approve")
    deliver()
    assert 'data-state="superseded"' in page(author, pk)
    got = [m for m in fake_smsgate.outbox if fixed in m["text"]]
    assert sorted(n for m in got for n in m["phoneNumbers"]) == sorted(first)
    assert late[0] not in {n for m in got for n in m["phoneNumbers"]}
    with translation.override("ru"):
        correction = gettext("Correction of %(code)s:") % {"code": Bulletin.objects.get(pk=pk).code}
    assert got[0]["text"].startswith(correction)


# --- Progress ----------------------------------------------------------------------------


def test_progress_moves_as_the_outbox_drains_and_counts_delivery_reports(fake_smsgate):
    author, _ = coordinator()
    second, _ = coordinator()
    numbers = subscribers(3)
    pk = drafted(author)
    decide(second, pk, "approve")

    before = page(second, pk)
    assert (tile(before, "recipients"), tile(before, "waiting"), tile(before, "sent")) == (3, 3, 0)
    assert 'hx-trigger="every 5s"' in before  # polled while it sends
    assert re.search(r'id="estimate">About \d+ minutes? to finish\.', before)

    deliver()
    after = text(second.get(f"/coordinate/bulletins/{pk}/progress/"))
    assert (tile(after, "waiting"), tile(after, "sent"), tile(after, "delivered")) == (0, 3, 0)
    assert 'hx-trigger="every 5s"' not in after  # done: no more polling

    message = next(m for m in fake_smsgate.outbox if numbers[0] in m["phoneNumbers"])
    report = fake_smsgate.build_report(message["id"], "delivered")
    body, headers = report
    answer = Client().post(
        "/channels/smsgate/webhook", data=body, content_type="application/json", headers=headers
    )
    assert answer.status_code == 200
    final = text(second.get(f"/coordinate/bulletins/{pk}/progress/"))
    assert tile(final, "delivered") == 1 and tile(final, "failed") == 0


# --- The API -------------------------------------------------------------------------------


def body(**overrides) -> dict:
    data = {"texts": {"ru": RU, "kk": "Алматыда коменданттық сағат."}, "source": "Akimat"}
    data.update(overrides)
    return data


def test_the_api_drafts_approves_and_checks(fake_smsgate):
    _a, _pa, author_token = make_account("coordinator")
    _b, _pb, second_token = make_account("coordinator")
    _v, _pv, volunteer_token = make_account()
    author, second, volunteer, anyone = (
        Api(author_token),
        Api(second_token),
        Api(volunteer_token),
        Api(),
    )
    subscribers(1, language="kk")

    assert volunteer.post("/bulletins", body()).status_code == 403
    assert anyone.post("/bulletins", body()).status_code == 401
    bad = author.post(
        "/bulletins",
        body(texts={}, source="", regions=["Нарния"], expires_at="2000-01-01T00:00:00Z"),
    )
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"texts", "source", "regions", "expires_at"}

    created = author.post("/bulletins", body(regions=["алматы"], official=True))
    assert created.status_code == 201, created.content
    got = created.json()
    assert got["state"] == "draft" and re.fullmatch(r"B[0-9A-Z]{3}", got["code"])
    assert anyone.get(f"/bulletins/{got['code']}").status_code == 404  # a draft is unknown

    assert author.post(f"/bulletins/{got['id']}/approve").status_code == 403
    assert volunteer.post(f"/bulletins/{got['id']}/approve").status_code == 403
    assert second.post("/bulletins/999999/approve").status_code == 404
    approved = second.post(f"/bulletins/{got['id']}/approve")
    assert approved.status_code == 200
    assert approved.json() == {"id": got["id"], "code": got["code"], "state": "issued"}
    assert second.post(f"/bulletins/{got['id']}/reject").status_code == 409

    public = anyone.get(f"/bulletins/{got['code'].lower()}").json()
    assert public["state"] == "issued" and public["source"] == "Akimat"
    assert public["texts"]["kk"] == "Алматыда коменданттық сағат." and public["issued_at"]
    assert anyone.get("/bulletins/BZZZ").status_code == 404

    withdrawn = author.post(f"/bulletins/{got['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert anyone.get(f"/bulletins/{got['code']}").json()["state"] == "withdrawn"

    other = author.post("/bulletins", body()).json()
    rejected = second.post(f"/bulletins/{other['id']}/reject")
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert anyone.get(f"/bulletins/{other['code']}").status_code == 404
    assert AuditEntry.objects.filter(action="bulletin.reject").count() == 1


def test_the_api_corrects_by_code():
    _a, _pa, author_token = make_account("coordinator")
    _b, _pb, second_token = make_account("coordinator")
    author, second = Api(author_token), Api(second_token)
    first = author.post("/bulletins", body()).json()
    assert author.post("/bulletins", body(corrects=first["code"])).status_code == 422  # a draft
    second.post(f"/bulletins/{first['id']}/approve")
    fix = author.post("/bulletins", body(corrects=first["code"].lower()))
    assert fix.status_code == 201
    second.post(f"/bulletins/{fix.json()['id']}/approve")
    assert Api().get(f"/bulletins/{first['code']}").json()["state"] == "superseded"
    missing = author.post("/bulletins", body(corrects="BZZZ"))
    assert missing.status_code == 422 and "corrects" in missing.json()["errors"]
