"""Verified bulletins (docs/bulletins.md): short, sourced, approved by a second
coordinator, sent to subscribers in their language, checkable by their code.

A *bulletin* is public once issued (its texts are news, not personal data); a
*subscriber* is personal data: the number or chat is sealed, found by a keyed index.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bailanys.privacy.fields import SealedModel, SealedTextField

LANGUAGES = ("ru", "kk", "en")


class Bulletin(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")  # written, waiting for a second coordinator
        ISSUED = "issued", _("Issued")  # approved: sent, and current until it expires
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        SUPERSEDED = "superseded", _("Corrected")  # a correction replaced it

    # The short id in every SMS ("B7K2"): what CHECK takes.
    code = models.CharField(max_length=8, unique=True)
    # {"ru": "...", "kk": "...", "en": "..."}: each language its own text, one at least.
    texts = models.JSONField(default=dict)
    # Who said it, with a link or "seen by our volunteer at …".
    source = models.CharField(max_length=300)
    # An official message seen elsewhere (a state SMS, an akimat post), relayed as received.
    official = models.BooleanField(default=False)
    # Canonical city names from the gazetteer; empty: the whole country.
    regions = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The bulletin this one corrects: on approval it is superseded, and this goes to
    # everyone who received it.
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Every recipient has its outbox row: the fan-out is done (a sweep resumes one cut short).
    fanout_done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "fanout_done_at"], name="bulletin_fanout")]

    def __str__(self) -> str:
        return f"bulletin {self.code} ({self.state})"


class Subscriber(SealedModel):
    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        TELEGRAM = "telegram", "Telegram"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    # E.164 number (SMS) or chat id (Telegram): sealed.
    address = SealedTextField()
    address_key = models.CharField(max_length=64)
    language = models.CharField(max_length=2, default="ru")
    # Keyed index of the canonical city name; "": the whole country's bulletins only.
    region_key = models.CharField(max_length=64, blank=True, db_index=True)
    # The region's name, sealed: shown back to the subscriber, never searched.
    region = SealedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Subscribed again, or wrote to us: the retention clock starts again.
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "address_key"], name="one_subscription")
        ]

    def __str__(self) -> str:
        return f"subscriber {self.pk} ({self.channel})"


class BulletinDelivery(models.Model):
    """One bulletin to one subscriber: its outbox row says how far it got."""

    bulletin = models.ForeignKey(Bulletin, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="+")
    outbox = models.ForeignKey(
        "outbox.OutboxMessage", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bulletin", "subscriber"], name="one_delivery")
        ]

    def __str__(self) -> str:
        return f"bulletin {self.bulletin_id} to subscriber {self.subscriber_id}"
