"""A database made by the previous release migrates forward with every row kept.

The one-way-house release moved models between apps (the outbox; the SMS bridge, SMS-only
volunteers, Telegram link codes and the bridge setting into conversations) and moved the
relay's volunteer state off accounts.User. Here the test database is taken back to the
previous release's migrations, filled through the models as that release had them
(sealed columns encrypted as that release encrypted them), and migrated forward; every
row must still be there and read back, decrypted, through today's models, and a status
link made before the upgrade (when tokens were stored as they are) must still open.
"""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from bailanys.channels.models import SmsDelivery, SmsGateway
from bailanys.conversations.models import ChannelSetting, SmsBridge, SmsVolunteer, TelegramLinkCode
from bailanys.outbox.models import OutboxMessage
from bailanys.privacy.fields import SealedModel
from bailanys.relay.models import Case, Request, Requester, VolunteerProfile
from tests.conftest import Api

pytestmark = pytest.mark.django_db(transaction=True)

# The leaf migrations of the release before the one-way house (commit 99edd92).
PREVIOUS_RELEASE = [
    ("accounts", "0005_care_credit_coordination"),
    ("channels", "0007_channel_setting"),
    ("parsing", "0001_initial"),
    ("privacy", "0001_initial"),
    ("relay", "0008_case_dispatch_light"),
    ("outbox", None),
    ("conversations", None),
]
TALK_AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def old_model(apps, label: str, name: str):
    """A model as the previous release had it; sealed ones encrypt as that release did."""
    model = apps.get_model(label, name)
    if any(field.name == "data_key" for field in model._meta.fields):
        # Historical models keep fields, not methods: lend them the ones that seal.
        model.plain_data_key = SealedModel.plain_data_key
        model.key_aad = SealedModel.key_aad
    return model


def fill_previous_release(apps) -> dict:
    User = old_model(apps, "accounts", "User")
    volunteer = User.objects.create(
        username="aigerim",
        role="experienced",
        hard_cases_opt_out=True,
        needs_talk_at=TALK_AT,
        cheap_operators="Beeline,Kcell",
    )
    plain = User.objects.create(username="daniyar")
    requester = old_model(apps, "relay", "Requester").objects.create(
        name="Marat", language="en", channel="web", contact="+44 7911 123456"
    )
    case = old_model(apps, "relay", "Case").objects.create(
        recipient_phone="+77012345678",
        recipient_key="k" * 64,
        recipient_name="Gulnara",
        available_at=TALK_AT,
    )
    request = old_model(apps, "relay", "Request").objects.create(
        case=case, requester=requester, recipient_name="Gulnara", status_token="t" * 32
    )
    outbox = old_model(apps, "channels", "OutboxMessage").objects.create(
        request=request,
        channel="sms",
        address="+77012345678",
        body="Marat is fine",
        idempotency_key="bridge:1",
        next_try_at=TALK_AT,
        state="sent",
    )
    gateway = old_model(apps, "channels", "SmsGateway").objects.create(
        name="phone-1", url="http://127.0.0.1:9", password="secret", signing_key="key"
    )
    old_model(apps, "channels", "SmsDelivery").objects.create(
        outbox=outbox, gateway=gateway, provider_id="p-1", to_key="n" * 64
    )
    old_model(apps, "channels", "SmsBridge").objects.create(
        case=case, ref="B1", to_key="n" * 64, outbox=outbox, expires_at=TALK_AT
    )
    old_model(apps, "channels", "SmsVolunteer").objects.create(
        user=volunteer, number="+77015550000", number_key="v" * 64
    )
    old_model(apps, "channels", "TelegramLinkCode").objects.create(
        user=volunteer, code_hash="c" * 64, expires_at=TALK_AT
    )
    old_model(apps, "channels", "ChannelSetting").objects.create(
        key="sms.bridge_kinds", value=["deliver_message", "welfare_check"]
    )
    return {
        "volunteer": volunteer.pk,
        "plain": plain.pk,
        "case": case.pk,
        "request": request.pk,
        "outbox": outbox.pk,
    }


def migrate_to(targets):
    """Apply or unapply migrations to reach `targets`; returns the models' state there."""
    executor = MigrationExecutor(connection)
    return executor.migrate(targets)


def latest() -> list:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_the_previous_releases_rows_survive_the_move_between_apps():
    try:
        previous = [node for node in PREVIOUS_RELEASE if node[1]]
        migrate_to(PREVIOUS_RELEASE)
        old_apps = MigrationExecutor(connection).loader.project_state(previous).apps
        ids = fill_previous_release(old_apps)
        counts = {
            table: _count(table)
            for table in (
                "channels_outboxmessage",
                "channels_smsbridge",
                "channels_smsvolunteer",
                "channels_telegramlinkcode",
                "channels_channelsetting",
                "channels_smsdelivery",
            )
        }
        migrate_to(latest())
    finally:
        call_command("migrate", verbosity=0)  # never leave the test database half-way

    assert {table: _count(table) for table in counts} == counts
    outbox = OutboxMessage.objects.get(pk=ids["outbox"])
    assert (outbox.body, outbox.address, outbox.request_id) == (
        "Marat is fine",
        "+77012345678",
        ids["request"],
    )
    assert Request.objects.get(pk=ids["request"]).outbox.get() == outbox
    assert SmsDelivery.objects.get().outbox == outbox
    assert SmsGateway.objects.get().password == "secret"
    bridge = SmsBridge.objects.get()
    assert (bridge.case_id, bridge.outbox_id, bridge.ref) == (ids["case"], outbox.pk, "B1")
    assert Case.objects.get(pk=ids["case"]).recipient_name == "Gulnara"
    assert Requester.objects.get().contact == "+44 7911 123456"
    phone = SmsVolunteer.objects.get()
    assert (phone.user_id, phone.number) == (ids["volunteer"], "+77015550000")
    assert TelegramLinkCode.objects.get().user_id == ids["volunteer"]
    assert ChannelSetting.objects.get().value == ["deliver_message", "welfare_check"]
    profile = VolunteerProfile.objects.get(user_id=ids["volunteer"])
    assert (profile.hard_cases_opt_out, profile.needs_talk_at, profile.cheap_operators) == (
        True,
        TALK_AT,
        "Beeline,Kcell",
    )
    # The status link the requester holds still opens their page; the token is not stored.
    assert Api().get(f"/requests/{'t' * 32}").json()["recipient_name"] == "Gulnara"
    assert Request.objects.get().status_key != "t" * 32
    # An account with nothing to keep gets no profile: the defaults stand for it.
    assert not VolunteerProfile.objects.filter(user_id=ids["plain"]).exists()


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0]
