from django.db import models
from django.utils.translation import gettext_lazy as _

from bailanys.privacy.fields import SealedModel, SealedTextField


class Lane(models.IntegerChoices):
    """How urgent an outbound message is: a lower number goes first.

    Workers take URGENT rows before BULK ones when both are due, and an SMS in any lane
    behind URGENT may use only BAILANYS_SMS_BULK_SHARE percent of a SIM's daily cap, so a
    long bulk run cannot spend the budget that answers to people need (docs/sms.md).
    """

    # Relay notifications, check-in replies, answers to what someone just sent.
    URGENT = 0
    # Proxy answers: what may wait behind the urgent lane.
    BULK = 5
    # Bulletins to every subscriber: behind proxy answers too, what is left of the budget.
    SLOW = 9


class OutboxMessage(SealedModel):
    """One outbound message, written in the same transaction as its cause.

    A worker sends it through the sender registered for its channel;
    `idempotency_key` makes writing it twice a no-op and is passed to the provider.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # The request a message answers, when it answers one: its status page shows the
    # message, and deleting the request deletes it. A string reference, not an import:
    # the outbox knows no domain app's code.
    request = models.ForeignKey(
        "relay.Request", null=True, blank=True, on_delete=models.CASCADE, related_name="outbox"
    )
    channel = models.CharField(max_length=30)
    address = SealedTextField(blank=True)
    body = SealedTextField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    tries = models.PositiveSmallIntegerField(default=0)
    # Taken again after a send's lease ran out (its worker died, maybe after the provider
    # took it): what goes out now may be a second copy, and says so. Kept when a rate
    # limit puts the message back in line before that send.
    maybe_sent = models.BooleanField(default=False)
    # Its lane (Lane): 0 is the most urgent, higher numbers wait behind it.
    priority = models.PositiveSmallIntegerField(default=Lane.URGENT)
    # When a pending message is due, or when a send in progress is given up on.
    next_try_at = models.DateTimeField()
    # Channel-specific and never personal: buttons to show, the post to answer.
    options = models.JSONField(default=dict, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    # Never personal data: an error class and the provider's status, no more.
    last_error = models.CharField(max_length=300, blank=True)
    # About made-up demo data: sent only to the status page or the log, never through a
    # gateway or a bot (outbox_send enforces it, whichever path wrote the row).
    demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table it had when it lived in the channels app: moved without copying rows.
        db_table = "channels_outboxmessage"
        # The sweep's query: due rows of a state, urgent lanes first, oldest first.
        indexes = [
            models.Index(fields=["state", "priority", "next_try_at"], name="outbox_due"),
        ]

    def __str__(self) -> str:
        return f"outbox {self.pk} ({self.channel}, {self.state})"
