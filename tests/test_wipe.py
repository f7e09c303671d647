"""After `bailanys wipe --confirm` the app starts empty and every page works (issue 16,
item 3).

The wipe destroys the keys; a row left sealed under them could never be read again, and
every page that met one answered 500. Here a row of every sealed model is made through
the app as people make them, the wipe runs, no sealed row is left, and every route
answers without a server error to an outsider, a volunteer and a coordinator; the signed
SMS webhook, a deliver_message request and the demo scenario work again.
"""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from bailanys.bulletins.models import BulletinDelivery, Subscriber
from bailanys.bulletins.services import bulletin_approve, bulletin_draft, subscribe
from bailanys.privacy.fields import sealed_models
from bailanys.proxies.models import ProxyRequester
from bailanys.proxies.services import Outcome, key_for_number, proxies_ask
from tests.conftest import (
    Api,
    Browser,
    login_coordinator,
    make_account,
    outbox_drain,
    request_body,
    submit,
)
from tests.helpers import all_routes

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "wipe-webhook-secret"
MUM = "+77012345678"
VALUES = {
    "token": "A" * 32,
    "claim_id": "1",
    "case_id": "1",
    "invitation_id": "1",
    "user_id": "1",
    "action": "approve",
    "post_id": "1",
    "name": "env",
    "pk": "1",
    "bulletin_id": "1",
    "code": "BZZZ",
}


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.BAILANYS_TELEGRAM_WEBHOOK_SECRET = SECRET
    settings.BAILANYS_SMS_JOIN_SECONDS = 0


def sms_webhook(built) -> int:
    body, headers = built
    return (
        Client()
        .post(
            "/channels/smsgate/webhook", data=body, content_type="application/json", headers=headers
        )
        .status_code
    )


def seal_a_row_of_every_kind(fake_smsgate) -> None:
    """Requests, cases, calls, notices, a broadcast, an SMS, a gateway, a Telegram chat,
    a volunteer's SMS phone, a post, proxies and a bulletin subscriber with an issued
    bulletin, each made the way people make them."""
    name, password, token = make_account("coordinator")
    boss = Browser()
    login_coordinator(boss, name, password)
    boss.post("/console/broadcast/", {"text": "Shift change at 18:00."})
    boss.post("/console/sms/", {"phone": "+77015550000"})
    created = submit(Api(), kind="welfare_check", message="")
    volunteer = Api(token)
    claim = volunteer.post("/claims").json()
    assert claim["case_id"] == created["case_id"]
    volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached", "reply": "ok"})
    assert sms_webhook(fake_smsgate.build_received(MUM, "Позвоните маме 8 701 999 88 77")) == 200
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": 5001, "type": "private"},
            "from": {"id": 5001, "is_bot": False, "first_name": "A"},
            "text": "/start",
        },
    }
    answer = Client().post(
        "/channels/telegram/webhook",
        update,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert answer.status_code == 200
    # Proxies (sealed links) and one who asked for them (a keyed hash of a number).
    for n in (1, 2):
        link = f"tg://proxy?server=p{n}.wipe.example&port=443&secret={n:032x}"
        call_command("proxy", "add", link, stdout=io.StringIO())
    assert proxies_ask(key_for_number(MUM), channel="sms").outcome == Outcome.LINKS
    # A subscriber (sealed) and a bulletin issued by two coordinators: a delivery each.
    subscribe(channel="sms", address="+77015550001", language="ru", region="Алматы")
    users = get_user_model().objects
    second = users.get(username=make_account("coordinator")[0])
    draft = bulletin_draft(
        texts={"ru": "Банкоматы работают."}, source="Kaspi", author=users.get(username=name)
    )
    bulletin_approve(draft.pk, by=second)
    outbox_drain()
    assert BulletinDelivery.objects.exists()


def fill(route: str) -> str:
    path = route
    for name, value in VALUES.items():
        for converter in (f"<{name}>", f"<str:{name}>", f"<int:{name}>"):
            path = path.replace(converter, value)
    assert not re.search(r"[<(^]", path), f"teach the walk a value for {route!r}"
    return "/" + path


def walk(client: Client) -> dict[str, int]:
    """Every route, GET: the ones that answered with a server error."""
    failed = {}
    for route in all_routes():
        path = fill(route)
        status = client.get(path).status_code
        if status >= 500:
            failed[path] = status
    return failed


def test_after_a_wipe_no_sealed_row_is_left_and_every_page_works(fake_smsgate, fake_telegram):
    seal_a_row_of_every_kind(fake_smsgate)
    empty_before = [m._meta.label for m in sealed_models() if not m.objects.exists()]
    assert empty_before == [], "the scene must seal a row of every sealed model"

    call_command("wipe", "--confirm", stdout=io.StringIO())

    left = {m._meta.label: m.objects.count() for m in sealed_models() if m.objects.exists()}
    assert left == {}
    assert not ProxyRequester.objects.exists(), "who asked for proxies goes too"
    assert not Subscriber.objects.exists() and not BulletinDelivery.objects.exists()
    # The app starts empty: an outsider, a volunteer and a new coordinator see no error.
    assert walk(Client()) == {}
    plain, password, _token = make_account()
    volunteer = Browser()
    volunteer.login(plain, password)
    assert walk(volunteer) == {}
    name, password, _token = make_account("coordinator")
    boss = Browser()
    login_coordinator(boss, name, password)
    assert walk(boss) == {}
    # What answered 500 before: the signed SMS webhook, a request the bridge would text.
    assert sms_webhook(fake_smsgate.build_received(MUM, "help")) == 200
    made = Api().post("/requests", request_body(phone=MUM))
    assert made.status_code == 201, made.content
    outbox_drain()
    assert [m for m in fake_smsgate.outbox if MUM in m["phoneNumbers"]], "the bridge texted"
    call_command("demo", stdout=io.StringIO())
