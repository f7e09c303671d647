"""The SMS channel through a Gammu SMSD modem, against a fake SMSD on a temporary spool.

The gateway is added with `bailanys sms add … --kind gammu`; SMS come in as inbox files the
way SMSD writes them, answers leave through the outbox (`bailanys worker --batch`) as files
SMSD would send, and the fake's moves to sent/ and error/ are the delivery reports.
"""

import io
import logging
import shutil
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bailanys.channels.models import SmsDelivery, SmsGateway
from bailanys.channels.sms import gammu
from bailanys.channels.sms.models import SmsInbound
from bailanys.outbox.models import OutboxMessage
from tests.conftest import Api, make_account, run_cli
from tests.fakes.gammu import FakeGammu
from tests.fakes.smsgate import SIGNING_KEY, FakeSmsGate

pytestmark = pytest.mark.django_db(transaction=True)

MUM = "+77012345678"
SENDER = "+77017654321"
REQUEST = "Позвоните маме Гульнаре 8 701 234 56 78, Алматы"


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.BAILANYS_PUBLIC_URL = "https://relay.example.org"
    settings.BAILANYS_SMS_JOIN_SECONDS = 0


def add_modem(fake: FakeGammu, name: str = "modem") -> SmsGateway:
    out = run_cli(
        "sms",
        "add",
        name,
        fake.url,
        "--kind",
        "gammu",
        "--per-minute",
        "600",
        "--daily-cap",
        "1000",
    )
    assert "added" in out
    return SmsGateway.objects.get(name=name)


@pytest.fixture
def modem(fake_gammu) -> SmsGateway:
    return add_modem(fake_gammu)


def cycle(timeout: float = 30) -> None:
    """What the worker does: read the spool, handle what came, send what is due.

    The sweep may poll Gammu gateways itself; polling again here changes nothing.
    """
    deadline = time.monotonic() + timeout
    pending = (OutboxMessage.State.PENDING, OutboxMessage.State.SENDING)
    while True:
        gammu.poll_all()
        run_cli("worker", "--batch")
        if not OutboxMessage.objects.filter(state__in=pending).exists():
            return
        assert time.monotonic() < deadline, "the outbox did not empty"
        time.sleep(0.1)


def russian(text: str) -> str:
    with translation.override("ru"):
        return _(text)


RECEIVED = "Received. A volunteer will call them. We will text you the answer."


def test_an_sms_request_becomes_a_case_and_the_answer_leaves_through_the_modem(
    fake_gammu,
    modem,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    fake_gammu.receive("87017654321", REQUEST)  # as modems often report it: no country code
    cycle()
    assert not list(fake_gammu.path("inbox").glob("IN*"))  # read once, put away
    assert len(list((fake_gammu.path("inbox") / "handled").iterdir())) == 1

    answer = russian(RECEIVED)
    assert answer.startswith("Принято")
    waiting = fake_gammu.waiting()
    assert [(m["to"], m["text"]) for m in waiting] == [(SENDER, answer)]
    raw = (fake_gammu.path("outbox") / waiting[0]["name"]).read_bytes()
    assert raw.startswith(b"\xff\xfe")  # UTF-16 with a BOM: SMSD needs no locale for it

    _u, _p, token = make_account()
    claim = Api(token).post("/claims").json()
    assert claim["recipient_phone"] == MUM

    delivery = SmsDelivery.objects.get()
    assert delivery.state == "queued"
    assert delivery.provider_id == waiting[0]["name"]
    fake_gammu.deliver_outbox()
    counts = gammu.poll(modem)
    assert counts["sent"] == 1
    delivery.refresh_from_db()
    assert delivery.state == "sent"
    assert gammu.poll(modem)["sent"] == 0  # reported once
    assert list((fake_gammu.path("sent") / "reported").iterdir())
    modem.refresh_from_db()
    assert modem.last_seen_at is not None and modem.stale_since is None

    done = Api(token).post(
        f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": "Всё хорошо"}
    )
    assert done.status_code == 200
    cycle()
    told = fake_gammu.deliver_outbox()
    assert len(told) == 1 and told[0]["to"] == SENDER and "Всё хорошо" in told[0]["text"]

    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("7017654321", "7012345678", "Гульнар", "OUTC", "IN2"):
        assert secret not in logged


def test_a_failed_sms_is_reported_failed(fake_gammu, modem):
    fake_gammu.receive(MUM, "HELP", fmt="standard")  # InboxFormat = standard: UTF-8
    cycle()
    assert len(fake_gammu.waiting()) == 1
    fake_gammu.deliver_outbox(fail=True)
    assert gammu.poll(modem)["failed"] == 1
    assert SmsDelivery.objects.get().state == "failed"
    assert list((fake_gammu.path("error") / "reported").iterdir())


def test_a_two_part_sms_is_joined(fake_gammu, modem):
    text = "Позвоните пожалуйста моей маме Гульнаре, 8 701 234 56 78, она в Алматы, узнайте как она"
    names = fake_gammu.receive("+77019998877", text, parts=2)
    assert [n[-7:] for n in names] == ["_00.txt", "_01.txt"]
    halves = [gammu.decode((fake_gammu.path("inbox") / n).read_bytes()) for n in names]
    assert "".join(halves) == text
    assert not any("8 701 234 56 78" in half for half in halves)  # the number is split
    counts = gammu.poll(modem)
    assert counts["received"] == 1
    assert SmsInbound.objects.count() == 1
    cycle()
    _u, _p, token = make_account()
    assert Api(token).post("/claims").json()["recipient_phone"] == MUM


def test_a_file_smsd_is_still_writing_waits_for_the_next_poll(fake_gammu, modem):
    fake_gammu.receive(MUM, "HELP", settled=False)
    assert gammu.poll(modem)["received"] == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        assert gammu.poll(modem)["received"] == 1
        assert gammu.poll(modem)["received"] == 0


def test_the_same_message_sent_again_is_one_file(fake_gammu, modem):
    first = gammu.send(modem, MUM, "Привет", idempotency_key="k-1")
    assert gammu.send(modem, MUM, "Привет", idempotency_key="k-1") == first
    fake_gammu.deliver_outbox()
    assert gammu.send(modem, MUM, "Привет", idempotency_key="k-1") == first  # found in sent/
    other = gammu.send(modem, MUM, "Привет", idempotency_key="k-2")
    assert other != first
    assert [m["name"] for m in fake_gammu.waiting()] == [other]


def test_an_outbox_file_left_too_long_marks_the_modem_stale(fake_gammu, modem, settings):
    fake_gammu.receive(MUM, "HELP")
    cycle()
    assert len(fake_gammu.waiting()) == 1  # SMSD does not take it: the modem hangs
    modem.refresh_from_db()
    assert modem.stale_since is None
    later = timezone.now() + timedelta(minutes=settings.BAILANYS_SMS_STALE_MINUTES + 1)
    with time_machine.travel(later):
        assert gammu.poll(modem)["stuck"] == 1
        modem.refresh_from_db()
        assert modem.stale_since is not None
        with pytest.raises(gammu.GatewayDown):
            gammu.send(modem, "+77015550000", "help", idempotency_key="k-stale")
        assert len(fake_gammu.waiting()) == 1
        fake_gammu.deliver_outbox()  # the modem is back
        assert gammu.poll(modem)["sent"] == 1
    modem.refresh_from_db()
    assert modem.stale_since is None


def test_a_missing_spool_fails_over_to_another_gateway(fake_gammu, modem):
    with FakeSmsGate() as phone:
        out = io.StringIO()
        call_command(
            "sms",
            "add",
            "phone",
            phone.url,
            "--username",
            phone.username,
            "--password",
            phone.password,
            "--signing-key",
            SIGNING_KEY,
            stdout=out,
        )
        fake_gammu.receive(MUM, "HELP")
        assert gammu.poll(modem)["received"] == 1
        shutil.rmtree(fake_gammu.root)  # the USB stick with the spool is gone
        with pytest.raises(gammu.GatewayDown):
            gammu.send(modem, MUM, "help", idempotency_key="k-gone")
        deadline = time.monotonic() + 30
        run_cli("worker", "--batch")  # the modem is tried first, and fails over
        while OutboxMessage.objects.exclude(state=OutboxMessage.State.SENT).exists():
            assert time.monotonic() < deadline, "the outbox did not empty"
            time.sleep(0.1)
            run_cli("worker", "--batch")
        assert [m["phoneNumbers"] for m in phone.outbox] == [[MUM]]
    modem.refresh_from_db()
    assert modem.stale_since is not None
    assert SmsDelivery.objects.get().gateway.name == "phone"


def test_one_broken_modem_does_not_stop_the_others(fake_gammu, tmp_path, caplog):
    gone = FakeGammu(tmp_path / "gone")
    add_modem(gone, "gone")
    shutil.rmtree(gone.path("inbox"))
    gone.path("inbox").write_text("not a folder")
    broken = FakeGammu(tmp_path / "broken")
    add_modem(broken, "broken")
    (broken.path("inbox") / "handled").write_text("not a folder either")
    broken.receive("+77015550000", "HELP")
    add_modem(fake_gammu, "good")
    fake_gammu.receive(MUM, "HELP")
    caplog.set_level(logging.INFO)
    gammu.poll_all()
    assert SmsInbound.objects.count() == 2  # the broken one's, accepted before the move failed
    assert SmsGateway.objects.get(name="gone").stale_since is not None
    assert SmsGateway.objects.get(name="good").last_seen_at is not None
    assert "poll failed (FileExistsError)" in caplog.text
    assert "7012345678" not in caplog.text and "7015550000" not in caplog.text


def test_parts_left_behind_by_a_crash_are_not_read_again(fake_gammu, modem):
    names = fake_gammu.receive(MUM, "Позвоните маме Гульнаре 8 701 234 56 78", parts=2)
    handled = fake_gammu.path("inbox") / "handled"
    handled.mkdir()
    # The process died after accepting the message and moving its first part away.
    (fake_gammu.path("inbox") / names[0]).rename(handled / names[0])
    counts = gammu.poll(modem)
    assert counts["received"] == 0 and counts["skipped"] == 1
    assert sorted(p.name for p in handled.iterdir()) == sorted(names)
