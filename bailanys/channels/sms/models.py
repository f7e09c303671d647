"""What the SMS channel keeps: gateways (phones, SIMs), sent messages and their honest
delivery state, webhook events already seen, and received messages."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bailanys.privacy.fields import SealedModel, SealedTextField


class SmsGateway(SealedModel):
    """One way out: an Android phone running sms-gate.app (one SIM of it), later a modem."""

    class Kind(models.TextChoices):
        SMSGATE = "smsgate", "sms-gate.app"  # the app's name: the same in every language
        GAMMU = "gammu", _("Gammu SMSD (USB modem)")
        HTTP = "http", _("HTTP provider (Twilio-style)")

    name = models.CharField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SMSGATE)
    # smsgate: the phone's server; http: the provider's API base; gammu: the spool folder.
    url = models.CharField(max_length=300)
    # The number messages come from (an HTTP provider's "From"); empty for phones.
    from_number = models.CharField(max_length=40, blank=True)
    username = models.CharField(max_length=100, blank=True)
    password = SealedTextField(blank=True)
    signing_key = SealedTextField(blank=True)
    # The phone's id in its webhooks, learnt from the first signed event.
    device_id = models.CharField(max_length=100, blank=True)
    # Which SIM of the phone (1, 2); empty: the phone's default.
    sim_number = models.PositiveSmallIntegerField(null=True, blank=True)
    # National prefixes of this SIM's operator ("700,701,702,775,778"): sent to first.
    operator_prefixes = models.CharField(max_length=200, blank=True)
    per_minute = models.PositiveIntegerField(default=30)
    daily_cap = models.PositiveIntegerField(default=400)
    enabled = models.BooleanField(default=True)
    # Set up from BAILANYS_SMSGATE_*; kept in step with the environment at every use.
    from_env = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    battery = models.SmallIntegerField(null=True, blank=True)
    network = models.CharField(max_length=40, blank=True)
    # Set when the gateway went silent or stopped answering; cleared when it is heard again.
    stale_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sms gateway {self.name}"

    def prefixes(self) -> list[str]:
        return [p.strip() for p in self.operator_prefixes.split(",") if p.strip()]


class SmsDelivery(models.Model):
    """One SMS handed to a gateway, and only what the gateway reported about it."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued on the phone")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("No delivery report")

    outbox = models.ForeignKey(
        "outbox.OutboxMessage", null=True, on_delete=models.SET_NULL, related_name="sms"
    )
    gateway = models.ForeignKey(SmsGateway, on_delete=models.PROTECT, related_name="deliveries")
    provider_id = models.CharField(max_length=100, db_index=True)
    # The keyed index of the recipient's number: finds replies and counts without the number.
    to_key = models.CharField(max_length=64, db_index=True)
    segments = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["gateway", "created_at"], name="sms_gateway_day")]

    def __str__(self) -> str:
        return f"sms {self.pk} ({self.state})"


class SmsEvent(models.Model):
    """A webhook event already handled: gateways retry, and report some things twice."""

    event_id = models.CharField(max_length=100, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sms event {self.pk}"


class SmsInbound(SealedModel):
    """An SMS a gateway received, kept until it is handled (and retention ends)."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        HANDLED = "handled", "handled"
        DUPLICATE = "duplicate", "duplicate"
        JOINED = "joined", "joined into the part before"

    gateway = models.ForeignKey(SmsGateway, null=True, on_delete=models.SET_NULL)
    sender = SealedTextField()  # E.164, or the name of an alphanumeric sender
    sender_key = models.CharField(max_length=64, db_index=True)
    is_phone = models.BooleanField(default=True)
    text = SealedTextField(blank=True)
    # Keyed index of gateway + sender + text: the same SMS delivered twice.
    repeat_key = models.CharField(max_length=64, db_index=True)
    received_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)

    def __str__(self) -> str:
        return f"sms in {self.pk} ({self.state})"


class SmsContact(models.Model):
    """A number that texted STOP: nothing more is sent to it by SMS."""

    number_key = models.CharField(max_length=64, unique=True)
    stopped_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"sms contact {self.pk}"
