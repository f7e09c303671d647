"""State changes posted to a Telegram channel (issue 20, item 4), what GlobalCheck did by
hand in January 2022: a coordinator names the channel on /coordinate/status/ (audited);
an evaluation that turns a channel bad puts one message summing it up in the outbox, and
the worker's real sender hands it to the (fake) Bot API. A replayed timeline (a
rehearsal) is posted only when the coordinator asked for rehearsals too.
"""

from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from bailanys.outbox.models import Lane, OutboxMessage
from tests.conftest import Browser, html, login_coordinator, make_account, outbox_drain
from tests.test_status_page import moment_lines, regions_line, replayed

pytestmark = pytest.mark.django_db(transaction=True)
PAGE = "/coordinate/status/"


def coordinator() -> Browser:
    name, password, _token = make_account("coordinator")
    boss = Browser()
    login_coordinator(boss, name, password)
    return boss


def announce(boss: Browser, **fields):
    boss.get(PAGE)
    data = {"chat": "@kz_status", "language": "en", "on": "on", **fields}
    return boss.post(PAGE, {k: v for k, v in data.items() if v is not None})


def national_drop(tmp_path, now: datetime) -> str:
    """The country's signal falls to a third: works at the first moment, down 20 min on."""
    fell = now - timedelta(minutes=15)
    lines = [regions_line(now - timedelta(minutes=30))]
    lines += moment_lines(now - timedelta(minutes=20), cut={"country/KZ": fell})
    lines += moment_lines(now, cut={"country/KZ": fell})
    return replayed(tmp_path, lines)


def status_posts() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(channel="telegram"))


def test_a_coordinator_names_the_channel_and_a_national_drop_is_posted_once(
    tmp_path, fake_telegram
):
    boss = coordinator()
    answer = announce(boss, rehearsals="on")
    assert answer.status_code == 302
    page = unescape(html(boss.get(PAGE)))
    assert "Posting to @kz_status." in page
    assert "status.announce.on" in unescape(html(boss.get("/console/audit/")))

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    national_drop(tmp_path, now)

    posts = status_posts()
    assert len(posts) == 1, [p.body for p in posts]
    post = posts[0]
    assert post.address == "@kz_status" and post.priority == Lane.SLOW
    lines = post.body.splitlines()
    assert lines[0].startswith("What works in Kazakhstan, ")
    assert "Kazakhstan — Internet: Down (was: Works)" in lines
    # Messengers cannot work where the internet is down; nothing said of what is unknown.
    assert "Kazakhstan — Telegram: Down (was: Unknown)" in lines
    assert not any(line.startswith("Almaty") for line in lines), "its regions still work"

    outbox_drain()
    sent = fake_telegram.sent_messages()
    assert [m["chat_id"] for m in sent] == ["@kz_status"]
    assert sent[0]["text"] == post.body

    # The same state again is not news: no second message.
    national_drop(tmp_path, now + timedelta(minutes=5))
    assert len(status_posts()) == 1


def test_rehearsals_and_switched_off_posting_put_nothing_in_the_outbox(tmp_path):
    boss = coordinator()
    assert announce(boss).status_code == 302  # on, but not for rehearsals
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    national_drop(tmp_path, now)
    assert status_posts() == []

    assert announce(boss, on=None, rehearsals="on").status_code == 302
    assert "Not posting." in html(boss.get(PAGE))
    national_drop(tmp_path, now + timedelta(hours=3))
    assert status_posts() == []
    audit = unescape(html(boss.get("/console/audit/")))
    assert "status.announce.on" in audit and "status.announce.off" in audit


def test_a_bad_channel_is_refused_and_a_volunteer_is_not_told_the_page_exists():
    boss = coordinator()
    for chat, says in (
        ("kz status", "Not a Telegram channel"),
        ("@ab", "Not a Telegram channel"),
        ("", "Name the channel to post to."),
    ):
        answer = announce(boss, chat=chat)
        assert answer.status_code == 422, chat
        assert says in unescape(html(answer))
    assert "Not posting." in html(boss.get(PAGE))

    name, password, _token = make_account()
    person = Browser()
    person.login(name, password)
    assert person.get(PAGE).status_code == 404
    assert Browser().get(PAGE).status_code == 302  # to the login page
