from django.db import models
from django.utils.translation import gettext_lazy as _

from bailanys.privacy.fields import SealedModel, SealedTextField


class OutboxMessage(SealedModel):
    """One outbound message, written in the same transaction as its cause.

    A worker sends it through the adapter of its channel; `idempotency_key`
    makes writing it twice a no-op and is passed to the provider.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    request = models.ForeignKey(
        "relay.Request", null=True, blank=True, on_delete=models.CASCADE, related_name="outbox"
    )
    channel = models.CharField(max_length=30)
    address = SealedTextField(blank=True)
    body = SealedTextField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    tries = models.PositiveSmallIntegerField(default=0)
    # When a pending message is due, or when a send in progress is given up on.
    next_try_at = models.DateTimeField()
    # Channel-specific and never personal: buttons to show, the post to answer.
    options = models.JSONField(default=dict, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    # Never personal data: an error class and the provider's status, no more.
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_try_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"outbox {self.pk} ({self.channel}, {self.state})"


class RateBucket(models.Model):
    """When the next message may go through one rate limit, shared by every worker.

    `key` names the limit ("telegram", "telegram:chat:<blind index>"); the
    sender reserves a moment in every bucket a message passes through.
    """

    key = models.CharField(max_length=100, unique=True)
    next_at = models.FloatField(default=0.0)  # seconds since the epoch

    def __str__(self) -> str:
        return f"rate bucket {self.key}"


from bailanys.channels.sms.models import (  # noqa: E402  each channel's own tables
    SmsBridge,
    SmsContact,
    SmsDelivery,
    SmsEvent,
    SmsGateway,
    SmsInbound,
    SmsVolunteer,
)
from bailanys.channels.telegram.models import (  # noqa: E402
    TelegramChat,
    TelegramLinkCode,
    TelegramUpdate,
)

__all__ = [
    "ChannelSetting",
    "OutboxMessage",
    "RateBucket",
    "SmsBridge",
    "SmsContact",
    "SmsDelivery",
    "SmsEvent",
    "SmsGateway",
    "SmsInbound",
    "SmsVolunteer",
    "TelegramChat",
    "TelegramLinkCode",
    "TelegramUpdate",
]


class ChannelSetting(models.Model):
    """A coordinator's choice that overrides an environment default (e.g. which kinds
    the SMS bridge tries first)."""

    key = models.CharField(max_length=60, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"setting {self.key}"
