"""What conversations keep: SMS bridges waiting for an answer, SMS-only volunteers'
phones, Telegram link codes, and the coordinators' choices for them.

These tables were made when the code lived in the channels app; they keep their names
(db_table) so that moving the models copied no row.
"""

from django.conf import settings
from django.db import models

from bailanys.privacy.fields import SealedModel, SealedTextField


class SmsBridge(models.Model):
    """A case's message sent to the recipient by SMS, waiting for their SMS answer."""

    class State(models.TextChoices):
        WAITING = "waiting", "waiting"
        DELIVERED = "delivered", "delivered, no answer yet"
        REPLIED = "replied", "answered"
        FAILED = "failed", "not delivered"
        EXPIRED = "expired", "no answer in time"

    case = models.ForeignKey("relay.Case", on_delete=models.CASCADE, related_name="sms_bridges")
    # The request the SMS was written for (it names its requester): an answer shows the
    # recipient knows them. Empty for bridges made before it was kept: the case's first.
    request = models.ForeignKey(
        "relay.Request", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ref = models.CharField(max_length=12, db_index=True)
    to_key = models.CharField(max_length=64, db_index=True)
    outbox = models.ForeignKey(
        "outbox.OutboxMessage", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "channels_smsbridge"

    def __str__(self) -> str:
        return f"sms bridge {self.pk} ({self.state})"


class SmsVolunteer(SealedModel):
    """A volunteer's phone, registered in the console: they can work by SMS alone."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="sms_phone")
    number = SealedTextField()
    number_key = models.CharField(max_length=64, unique=True)
    # What their SMS are written in: the last command word's language (ДАЛЕЕ, КЕЛЕСІ,
    # NEXT), at first the console's language when they registered the phone.
    language = models.CharField(max_length=5, blank=True, default="")
    registered_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "channels_smsvolunteer"

    def __str__(self) -> str:
        return f"sms volunteer {self.pk}"


class TelegramLinkCode(models.Model):
    """A one-time code from the web console that links a Telegram chat to a volunteer."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_codes"
    )
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "channels_telegramlinkcode"

    def __str__(self) -> str:
        return f"telegram link code {self.pk}"


class ChannelSetting(models.Model):
    """A coordinator's choice that overrides an environment default (e.g. which kinds
    the SMS bridge tries first)."""

    key = models.CharField(max_length=60, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "channels_channelsetting"

    def __str__(self) -> str:
        return f"setting {self.key}"
