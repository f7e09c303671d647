"""The shutdown's state, used (issue 20, items 2, 4 and 5): our own sensors (SMS delivery
reports, call outcomes) and what the relay does with the state.

States are set through public surfaces only: delivery reports through the fake SMS
phone's webhook, call outcomes through the API, internet states by `bailanys outages
replay` of a small timeline this test writes. What is asserted is what people see: GET
/api/v1/status, the SMS the fake phone was given, the pages.
"""

import io
import json
import re
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation

from bailanys.outbox.models import OutboxMessage
from bailanys.privacy.models import AuditEntry
from tests.conftest import Api, Browser, make_account, request_body, run_cli, status_token
from tests.conftest import outbox_drain as deliver
from tests.helpers import answer_to, said

pytestmark = pytest.mark.django_db(transaction=True)

BEELINE = "+7705{:07d}"  # phonenumbers: "Beeline"
KCELL = "+7701{:07d}"  # "Kcell/Activ"
BEELINE_ASN, KCELL_ASN = "asn/21299", "asn/29355"
ALMATY = "region/1507"
_numbers = iter(range(4_000_000, 5_000_000))


def number(pattern: str) -> str:
    return pattern.format(next(_numbers))


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_SMS_JOIN_SECONDS = 0
    settings.BAILANYS_SMS_PER_MINUTE = 60_000
    settings.BAILANYS_SMS_DAILY_CAP = 100_000
    settings.BAILANYS_OUTAGE_FEEDS = []  # nothing is polled: states come from this test


def grid() -> dict[str, dict[str, dict]]:
    response = Api().get("/status")
    assert response.status_code == 200, response.content
    return {e["entity"]: e["channels"] for e in response.json()["entities"]}


def submit(phone: str, **overrides) -> dict:
    body = request_body(phone=phone, **overrides)
    response = Api().post("/requests", body)
    assert response.status_code == 201, response.content
    return response.json()


def report(fake, message_id: str, state: str) -> None:
    body, headers = fake.build_report(message_id, state)
    response = Client().post(
        "/channels/smsgate/webhook", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, response.content


def sent_to(fake, phone: str) -> list[dict]:
    return [m for m in fake.outbox if phone in m["phoneNumbers"]]


# --- A recorded timeline: IODA's answers, as `bailanys outages replay` reads them -----

STEP = 3600


def envelope(data) -> dict:
    return {
        "type": "signals",
        "metadata": {},
        "requestParameters": {},
        "error": None,
        "perf": None,
        "data": data,
        "copyright": "test timeline",
    }


def series(kind: str, code: str, now: datetime, *, drop: bool) -> dict:
    """A week of hourly BGP figures at 100, the last two at 10 when `drop`."""
    count = 7 * 24 + 2
    start = int(now.timestamp()) - (count - 1) * STEP
    values = [100] * (count - 2) + ([10, 10] if drop else [100, 100])
    return {
        "entityType": kind,
        "entityCode": code,
        "entityName": code,
        "datasource": "bgp",
        "from": start,
        "until": start + count * STEP,
        "step": STEP,
        "nativeStep": STEP,
        "values": values,
    }


def replay(tmp_path, now: datetime, *, country_down=False, almaty_down=False) -> None:
    """IODA lists the regions (Almaty among them), then the country's and the regions'
    signals: down where asked, up elsewhere."""
    at = now.isoformat()
    span = {"from": int(now.timestamp()) - 7 * 86400 - 3600, "until": int(now.timestamp())}
    regions = [
        {"code": "1507", "name": "Almaty", "type": "region", "attrs": {}},
        {"code": "1515", "name": "Astana", "type": "region", "attrs": {}},
    ]
    lines = [
        {
            "at": at,
            "feed": "ioda",
            "path": "entities/query",
            "query": {"entityType": "region", "relatedTo": "country/KZ"},
            "status": 200,
            "body": envelope(regions),
        },
        {
            "at": at,
            "feed": "ioda",
            "path": "signals/raw/country/KZ",
            "query": {**span, "datasource": "bgp"},
            "status": 200,
            "body": envelope([[series("country", "KZ", now, drop=country_down)]]),
        },
        {
            "at": at,
            "feed": "ioda",
            "path": "signals/raw/region/1507,1515",
            "query": {**span, "datasource": "bgp"},
            "status": 200,
            "body": envelope(
                [
                    [series("region", "1507", now, drop=almaty_down)],
                    [series("region", "1515", now, drop=False)],
                ]
            ),
        },
    ]
    path = tmp_path / f"timeline-{now.timestamp():.0f}.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    call_command("outages", "replay", str(path), stdout=io.StringIO())


# --- SMS delivery reports → sms by operator → the bridge ------------------------------


def test_sms_failures_to_one_operator_mark_it_and_the_bridge_routes_around_it(fake_smsgate):
    beeline = [number(BEELINE) for _ in range(4)]
    for phone in beeline:
        submit(phone)  # deliver_message: bridged by SMS first
    deliver()
    ids = [sent_to(fake_smsgate, phone)[0]["id"] for phone in beeline]
    for message_id in ids[:3]:
        report(fake_smsgate, message_id, "delivered")
    assert grid()[BEELINE_ASN]["sms"]["state"] == "up"  # 3 of 3 went through
    report(fake_smsgate, ids[3], "failed")

    states = grid()
    sms = states[BEELINE_ASN]["sms"]
    assert sms["state"] == "degraded"  # 1 of 4 failed: 25%
    assert sms["since"] is not None
    [evidence] = sms["evidence"]
    assert evidence["source"] == "bailanys" and (evidence["figure"], evidence["baseline"]) == (1, 4)
    assert states[KCELL_ASN]["sms"]["state"] == "unknown"  # nothing was sent there
    assert states["country/KZ"]["sms"]["state"] == "degraded"

    # The next case to a Beeline number is not bridged: it waits for a call at once.
    skipped, kcell = number(BEELINE), number(KCELL)
    submit(skipped)
    submit(kcell)
    deliver()
    assert not sent_to(fake_smsgate, skipped)
    assert len(sent_to(fake_smsgate, kcell)) == 1  # another operator's SMS still go
    offered = set()
    for _ in range(3):
        claim = Api(make_account()[2]).post("/claims")
        if claim.status_code == 200:
            offered.add(claim.json()["recipient_phone"])
    # In the call queue: the failed bridge's case and the skipped one; never the Kcell
    # case, which waits for its SMS answer, nor the delivered ones.
    assert offered == {beeline[3], skipped}
    [entry] = AuditEntry.objects.filter(action="case.bridge.skipped")
    assert entry.actor == "sms:bridge" and "degraded" in entry.detail
    assert not re.search(r"\d{4}", entry.detail)  # no number in the audit
    # The public page says when our own SMS were last heard of (kind and time only).
    page = Client().get("/status/", headers={"accept-language": "en"}).content.decode()
    assert re.search(r'<ul id="sensors">\s*<li>SMS: last heard \d', page)


def test_a_failed_sms_that_is_sent_again_still_counts_against_its_operator(fake_smsgate):
    """A requester's SMS reported failed goes again (docs/sms.md): the network still failed
    it once, and the operator's state counts that try."""
    from tests.test_sms_reliable import REQUESTER, fail, outcome_sms

    row = outcome_sms(fake_smsgate)
    assert fail(fake_smsgate, row, "v1") == "failed"
    row.refresh_from_db()
    assert row.state == OutboxMessage.State.PENDING  # sent again, later: not the last word
    [evidence] = grid()[KCELL_ASN]["sms"]["evidence"]
    assert (evidence["figure"], evidence["baseline"]) == (1, 1)
    assert REQUESTER.startswith("+7701")  # a Kcell number


def test_failing_sms_mean_down_then_unknown_when_nothing_is_heard(fake_smsgate, settings):
    phones = [number(BEELINE) for _ in range(3)]
    for phone in phones:
        submit(phone)
    deliver()
    for phone in phones:
        report(fake_smsgate, sent_to(fake_smsgate, phone)[0]["id"], "failed")
    assert grid()[BEELINE_ASN]["sms"]["state"] == "down"
    # No report for longer than the window (and two poll intervals): no longer "down".
    later = timezone.now() + timedelta(minutes=settings.BAILANYS_OUTAGE_SENSOR_MINUTES + 15)
    with time_machine.travel(later):
        assert grid()[BEELINE_ASN]["sms"]["state"] == "unknown"


# --- Call outcomes → voice by operator and region --------------------------------------


def call(volunteer: Api, outcome: str, *, via: str = "call") -> str:
    claim = volunteer.post("/claims")
    assert claim.status_code == 200, claim.content
    body = claim.json()
    recorded = volunteer.post(
        f"/claims/{body['claim_id']}/outcome", {"outcome": outcome, "via": via}
    )
    assert recorded.status_code == 200, recorded.content
    return body["recipient_phone"]


def test_call_outcomes_count_by_operator_and_region_with_no_number_kept(tmp_path):
    replay(tmp_path, timezone.now())  # IODA names the regions: Almaty is region/1507
    volunteer = Api(make_account()[2])
    used = [number(BEELINE) for _ in range(3)] + [number(KCELL) for _ in range(5)]
    for phone in used[:3]:
        submit(phone, kind="welfare_check", message="")
    for _ in range(3):
        call(volunteer, "switched_off")
    states = grid()
    assert states[BEELINE_ASN]["voice"]["state"] == "down"
    assert states[ALMATY]["voice"]["state"] == "down"  # the recipients' city
    assert states["region/1515"]["voice"]["state"] == "unknown"
    assert "3 of 3 calls failed" in states[BEELINE_ASN]["voice"]["evidence"][0]["note"]

    # No answer: the network carried the call. An SMS a volunteer sent, or an
    # escalation, says nothing of calls.
    for phone in used[3:]:
        submit(phone, kind="welfare_check", message="")
    for outcome, via in [("no_answer", "call")] * 3 + [("reached", "sms"), ("escalate", "call")]:
        call(volunteer, outcome, via=via)
    kcell = grid()[KCELL_ASN]["voice"]
    assert kcell["state"] == "up"
    assert "0 of 3 calls failed" in kcell["evidence"][0]["note"]

    from bailanys.outages.models import Sensor

    kept = json.dumps(list(Sensor.objects.values()), default=str)
    assert Sensor.objects.filter(kind="voice").count() == 6
    assert not any(phone[-7:] in kept for phone in used)  # only operators and regions


# --- Proxies: not handed out while mobile internet is down everywhere ------------------


def unasked(listing: str) -> str:
    return re.sub(r"requesters \d+", "", listing)


def test_no_proxy_is_handed_out_while_mobile_internet_is_down(fake_smsgate, tmp_path):
    links = tmp_path / "links.txt"
    domain = b"example.com".hex()
    links.write_text(
        "".join(
            f"tg://proxy?server=203.0.113.{i}&port=443&secret=ee{i:032x}{domain}\n"
            for i in (1, 2, 3)
        ),
        encoding="utf-8",
    )
    run_cli("proxy", "import", str(links))
    stocked = run_cli("proxy", "list")
    now = timezone.now()
    replay(tmp_path, now, country_down=True)
    assert grid()["country/KZ"]["internet"]["state"] == "down"
    phone = number(BEELINE)
    clock = timezone.localtime(now).strftime("%H:%M")
    [answer] = answer_to(fake_smsgate, phone, "PROXY")
    assert answer == said(
        "en", "Mobile internet is down since %(time)s: a proxy cannot help.", time=clock
    )
    [answer] = answer_to(fake_smsgate, phone, "прокси")
    assert answer == said(
        "ru", "Mobile internet is down since %(time)s: a proxy cannot help.", time=clock
    )
    # Nothing left the stock, no bucket was made (who asked is counted, nothing else).
    assert unasked(run_cli("proxy", "list")) == unasked(stocked)

    # The internet is back: the links come at once (no window was used by the refusals).
    replay(tmp_path, timezone.now())
    assert grid()["country/KZ"]["internet"]["state"] == "up"
    answers = answer_to(fake_smsgate, phone, "PROXY")
    assert sum(a.startswith("tg://proxy") for a in answers) >= 2


# --- The requester's page and the volunteer's console ----------------------------------


def test_the_requesters_page_says_since_when_the_region_is_cut_off(tmp_path):
    now = timezone.now()
    replay(tmp_path, now, almaty_down=True)
    assert grid()[ALMATY]["internet"]["state"] == "down"
    in_almaty = submit(number(KCELL))  # request_body: the recipient lives in Almaty
    elsewhere = submit(
        number(KCELL), recipient={"name": "Aigerim", "phone": number(KCELL), "city": "Astana"}
    )
    page = Client().get(f"/s/{status_token(in_almaty)}/").content.decode()
    since = timezone.localtime(now).strftime("%H:%M")
    found = re.search(r'<p class="network-cut"[^>]*>([^<]+)</p>', page)
    assert found, page
    assert found.group(1).startswith("Internet in Almaty has been cut off since ")
    assert since in found.group(1) and found.group(1).endswith("calls and SMS may still work.")
    assert "network-cut" not in Client().get(f"/s/{status_token(elsewhere)}/").content.decode()


def outcome_by_browser(browser: Browser, outcome: str) -> None:
    page = browser.post("/console/take/", follow=True).content.decode()
    claim = re.search(r'action="/console/claims/(\d+)/outcome/"', page)
    assert claim, page
    browser.post(f"/console/claims/{claim.group(1)}/outcome/", {"outcome": outcome})


def test_the_console_warns_when_the_cases_operator_is_failing(fake_smsgate):
    phones = [number(BEELINE) for _ in range(3)]
    for phone in phones:
        submit(phone)
    deliver()
    for phone in phones:
        report(fake_smsgate, sent_to(fake_smsgate, phone)[0]["id"], "failed")
    name, password, _token = make_account()
    browser = Browser()
    browser.login(name, password)
    page = browser.post("/console/take/", follow=True).content.decode()
    banner = re.search(r'<p class="network-warning"[^>]*>([^<]+)</p>', page)
    assert banner, page
    assert re.fullmatch(
        r"SMS to Beeline numbers are failing since \d\d:\d\d: call instead\.", banner.group(1)
    )

    # Calls recorded through the console count too: three switched off on Beeline.
    page = browser.post(
        re.search(r'action="(/console/claims/\d+/outcome/)"', page).group(1),
        {"outcome": "switched_off"},
    )
    for _ in range(2):
        outcome_by_browser(browser, "switched_off")
    assert grid()[BEELINE_ASN]["voice"]["state"] == "down"
    submit(number(BEELINE), kind="welfare_check", message="")
    page = browser.post("/console/take/", follow=True).content.decode()
    assert "SMS and calls to Beeline numbers are failing since" in page

    # A case on another operator: no banner.
    other = Browser()
    name, password, _token = make_account()
    other.login(name, password)
    submit(number(KCELL), kind="welfare_check", message="")
    page = other.post("/console/take/", follow=True).content.decode()
    assert "network-warning" not in page

    # A volunteer working through the API is told the same, in the request's language.
    submit(number(BEELINE), kind="welfare_check", message="")
    submit(number(KCELL), kind="welfare_check", message="")
    api = Api(make_account()[2])
    warnings = {}
    for _ in range(2):
        case = api.post("/claims", headers={"accept-language": "ru"}).json()
        warnings[case["recipient_phone"][:5]] = case["network_warning"]
        assert api.post(f"/claims/{case['claim_id']}/release").status_code == 204
    assert warnings["+7701"] is None  # Kcell: nothing failing
    ru = r"SMS и звонки на номера Beeline не проходят с \d\d:\d\d: .+"  # noqa: RUF001
    assert re.fullmatch(ru, warnings["+7705"])


# --- STATUS by SMS, /status in the bot ------------------------------------------------


def test_status_by_sms_sums_up_the_senders_operator_and_region(fake_smsgate, tmp_path):
    now = timezone.now()
    replay(tmp_path, now, almaty_down=True)  # the country's internet works
    sender = number(BEELINE)
    assert answer_to(fake_smsgate, sender, "SUB ALMATY")
    clock = timezone.localtime(now).strftime("%H:%M")
    [answer] = answer_to(fake_smsgate, sender, "STATUS")
    assert answer.startswith(f"Beeline, Almaty: internet down since {clock}, messengers down,")
    assert answer.endswith("SMS ?, calls ?.")
    assert len(answer) <= 160

    # Without a bulletin city: the country, where the internet works.
    [answer] = answer_to(fake_smsgate, number(KCELL), "status")
    assert answer.startswith("Kcell/Activ: internet works, messengers ?,")

    template = (
        "%(where)s: internet %(internet)s, messengers %(messengers)s, SMS %(sms)s, calls %(calls)s."
    )
    for word, language in [
        ("Статус!", "ru"),
        ("ЖАҒДАЙ", "kk"),
        ("zhagdai", "kk"),
        ("Jagdai.", "kk"),
    ]:
        [answer] = answer_to(fake_smsgate, sender, word)
        with translation.override(language):
            from django.utils.translation import pgettext

            down, unknown = pgettext("network state", "down"), "?"
        expected = said(
            language,
            template,
            where="Beeline, Almaty",
            internet=said(language, "down since %(time)s", time=clock),
            messengers=down,
            sms=unknown,
            calls=unknown,
        )
        assert answer == expected, word
    # A word inside a longer SMS is not the keyword: it is read as a request.
    assert not any("internet" in a for a in answer_to(fake_smsgate, sender, "status of my mother"))


def test_status_by_sms_is_rate_limited_per_number(fake_smsgate, settings):
    settings.BAILANYS_STATUS_LIMIT_PER_NUMBER = "2/3600"
    cache.clear()
    sender, other = number(BEELINE), number(BEELINE)
    unknown = "Beeline: we do not know yet what works."
    for _ in range(2):
        assert answer_to(fake_smsgate, sender, "STATUS") == [unknown]
    assert answer_to(fake_smsgate, sender, "STATUS") == [
        "Too many messages from this number. Try again later."
    ]
    assert answer_to(fake_smsgate, other, "STATUS") == [unknown]


def test_the_bots_status_adds_what_works_in_kazakhstan(fake_telegram, tmp_path, settings):
    settings.BAILANYS_PUBLIC_URL = "https://relay.example.org"
    chat = 5101
    fake_telegram.push_message(chat, "/status", language_code="en", first_name="Alice")
    call_command("bot", "--once", stdout=io.StringIO())
    deliver()
    before = [m["text"] for m in fake_telegram.sent_messages() if m["chat_id"] == chat]
    assert before == ["You have no requests yet. Send /request to make one."]
    replay(tmp_path, timezone.now(), country_down=True)
    fake_telegram.push_message(chat, "/status", language_code="en", first_name="Alice")
    call_command("bot", "--once", stdout=io.StringIO())
    deliver()
    last = [m["text"] for m in fake_telegram.sent_messages() if m["chat_id"] == chat][-1]
    assert last.startswith("You have no requests yet. Send /request to make one.\n\n")
    assert "Kazakhstan: internet down since " in last


def test_a_telegram_volunteer_is_told_to_call_a_failing_operator(fake_telegram, fake_smsgate):
    phones = [number(BEELINE) for _ in range(3)]
    for phone in phones:
        submit(phone)
    deliver()
    for phone in phones:
        report(fake_smsgate, sent_to(fake_smsgate, phone)[0]["id"], "failed")
    name, password, _token = make_account()
    browser = Browser()
    browser.login(name, password)
    code = browser.post("/console/telegram/").content.decode().split("/link ", 1)[1]
    chat = 7101
    for text in (f"/link {code.split('<', 1)[0].strip()}", "/next"):
        fake_telegram.push_message(chat, text, language_code="en", first_name="Vol")
        call_command("bot", "--once", stdout=io.StringIO())
        deliver()
    case = [m["text"] for m in fake_telegram.sent_messages() if m["chat_id"] == chat][-1]
    assert re.search(
        r"\nSMS to Beeline numbers are failing since \d\d:\d\d: call instead\.\n", case
    )
