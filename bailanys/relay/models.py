"""The relay: requests become cases, volunteers claim cases, attempts record outcomes.

One meaning per word (see design.md): a *request* is what one requester asked;
a *case* is one recipient phone number, shared by every open request for it;
a *claim* is a volunteer's lease on a case; an *attempt* is one call and its
*outcome*, with the recipient's *reply*.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bailanys.privacy.fields import SealedModel, SealedTextField

LANGUAGE_CHOICES = [("en", "English"), ("ru", "Русский"), ("kk", "Қазақша")]


class Kind(models.TextChoices):
    WELFARE_CHECK = "welfare_check", _("Check they are safe")
    DELIVER_MESSAGE = "deliver_message", _("Pass on a message")
    FIND_RELATIVES = "find_relatives", _("Find relatives")
    MEDICAL = "medical", _("Medical")


class CaseState(models.TextChoices):
    QUEUED = "queued", _("Waiting for a volunteer")
    CLAIMED = "claimed", _("A volunteer is calling")
    ESCALATED = "escalated", _("With a coordinator")
    CLOSED = "closed", _("Closed")


OPEN_STATES = (CaseState.QUEUED, CaseState.CLAIMED, CaseState.ESCALATED)


class Outcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    DELIVERED = "delivered", _("Message passed on")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    SWITCHED_OFF = "switched_off", _("Switched off")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    REFUSED = "refused", _("Refused to talk")
    ESCALATE = "escalate", _("Needs a coordinator")


RETRY_OUTCOMES = (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.SWITCHED_OFF)
FINAL_OUTCOMES = (Outcome.REACHED, Outcome.DELIVERED, Outcome.WRONG_NUMBER, Outcome.REFUSED)


class Resolution(models.TextChoices):
    REACHED = "reached", _("Reached")
    DELIVERED = "delivered", _("Message passed on")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    REFUSED = "refused", _("Refused to talk")
    UNREACHABLE = "unreachable", _("Could not be reached")
    WITHDRAWN = "withdrawn", _("Withdrawn by the requester")
    SELF_REPORTED = "self_reported", _("Said by SMS they are safe (unverified)")
    MERGED = "merged", _("Merged into another case: the same person")
    BY_COORDINATOR = "coordinator", _("Closed by a coordinator")


class Requester(SealedModel):
    """Someone looking for a relative. No account: reached back through `channel`."""

    name = SealedTextField()
    language = models.CharField(max_length=5, choices=LANGUAGE_CHOICES, default="en")
    channel = models.CharField(max_length=30, default="web")
    contact = SealedTextField(blank=True)
    # The keyed index of channel + contact: finds a person's requests (Telegram /status).
    contact_key = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"requester {self.pk}"


class Case(SealedModel):
    """One recipient phone number and everything open that is asked of it."""

    recipient_phone = SealedTextField()
    # The blind index of the phone number: what deduplication looks up.
    recipient_key = models.CharField(max_length=64)
    recipient_name = SealedTextField()
    recipient_city = SealedTextField(blank=True)
    recipient_language = models.CharField(max_length=5, choices=LANGUAGE_CHOICES, default="ru")
    # The mobile operator of the number (from phonenumbers' carrier data): dispatch prefers
    # volunteers who can call that operator cheaply.
    recipient_operator = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20, choices=CaseState.choices, default=CaseState.QUEUED)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    # 1 when any request is urgent or medical: those go first.
    priority = models.SmallIntegerField(default=0)
    # Medical, a death, a detention, a missing person, a child, or marked so by a volunteer:
    # offered only to volunteers who take hard cases.
    hard = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # A case waiting for a retry is not offered before this time.
    available_at = models.DateTimeField()
    failed_calls = models.PositiveSmallIntegerField(default=0)
    current_claim = models.OneToOneField(
        "Claim", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Why a coordinator must look before anything is relayed ("scam" signs).
    flag = models.CharField(max_length=40, blank=True)
    # A coordinator may keep a case past the retention limits, with a reason.
    retain_until = models.DateTimeField(null=True, blank=True)
    retain_reason = SealedTextField(blank=True)
    # Set when a coordinator merged this case into another (the same person, another
    # number): its requests moved there and can be split back.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_cases"
    )
    # Why a coordinator closed the case by hand.
    close_reason = SealedTextField(blank=True)
    # Made up by the demo (`bailanys demo`, `bailanys up --demo`): its number may be a
    # stranger's, so nothing about it leaves through a gateway or a bot (see the outbox).
    demo = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_key"],
                condition=~Q(state="closed"),
                name="one_open_case_per_recipient",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "-priority", "created_at"], name="case_dispatch_order"),
            # The queue of volunteers who do not take hard cases (most of them): with the
            # index above, their claim reads past every hard case waiting ahead (all
            # medical cases are urgent too: thousands in a large queue). available_at is
            # checked in the index, so cases waiting for a retry cost no row read either.
            models.Index(
                fields=["-priority", "created_at", "available_at"],
                condition=Q(state="queued", hard=False),
                name="case_dispatch_light",
            ),
            models.Index(fields=["state", "lease_expires_at"], name="case_lease_expiry"),
            # Intake looks a number up among all cases, closed ones too (a merge leads on).
            models.Index(fields=["recipient_key", "state"], name="case_recipient"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state != CaseState.CLOSED


class Request(SealedModel):
    """What one requester asked for one recipient."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="requests")
    # The case the request was made for, kept when a merge moves it: a split moves it back.
    origin_case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester = models.ForeignKey(Requester, on_delete=models.CASCADE, related_name="requests")
    recipient_name = SealedTextField()
    recipient_city = SealedTextField(blank=True)
    message = SealedTextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.WELFARE_CHECK)
    urgent = models.BooleanField(default=False)
    # The secret in the requester's status link.
    # Set when the message shows scam signs: shown to coordinators only.
    flag = models.CharField(max_length=40, blank=True)
    # A keyed hash of the status link's token (relay.services.intake.status_key): the token
    # itself is never stored, so a copy of the database opens no status page.
    status_key = models.CharField(max_length=64, unique=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    payload_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # A PIN the requester agreed with the recipient: texted with SAFE, it verifies the
    # check-in for this request. Only its keyed hash is kept.
    checkin_pin_hash = models.CharField(max_length=64, blank=True)
    pin_verified_at = models.DateTimeField(null=True, blank=True)
    # Set when the recipient showed they know this requester: the volunteer ticked them
    # after the call, the recipient texted this request's PIN, or answered the bridge SMS
    # that named them. Until then the requester learns the state, never the reply.
    known_at = models.DateTimeField(null=True, blank=True)
    # Made up by the demo: what it causes is sent to the log, never to a gateway or a bot.
    demo = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"request {self.pk} (case {self.case_id})"

    @property
    def known(self) -> bool:
        return self.known_at is not None


class Claim(models.Model):
    """A volunteer's lease on a case. At most one claim per case is active."""

    class EndReason(models.TextChoices):
        OUTCOME = "outcome", _("Outcome recorded")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Lease expired")
        BROKEN = "broken", _("Taken back by a coordinator")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="claims")
    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims"
    )
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)

    class Meta:
        constraints = [
            # The database itself refuses a second active claim on a case.
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(ended_at__isnull=True),
                name="one_active_claim_per_case",
            ),
        ]

    def __str__(self) -> str:
        return f"claim {self.pk} (case {self.case_id})"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class Attempt(SealedModel):
    """One call: its outcome and what the recipient answered."""

    class Via(models.TextChoices):
        CALL = "call", _("A volunteer's call")
        SMS_BRIDGE = "sms_bridge", _("An SMS answered by SMS")
        # The answer quoted the bridge SMS's reference from another number (a neighbour's).
        SMS_BRIDGE_OTHER = "sms_bridge_other", _("An SMS answered from another number")
        SMS_CHECKIN = "sms_checkin", _("Safe check-in by SMS")
        SMS = "sms", _("A volunteer's SMS")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attempts")
    # Empty when nobody called: the recipient answered an SMS or checked in by SMS.
    claim = models.OneToOneField(
        Claim, null=True, blank=True, on_delete=models.CASCADE, related_name="attempt"
    )
    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attempts",
    )
    via = models.CharField(max_length=20, choices=Via.choices, default=Via.CALL)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reply = SealedTextField(blank=True)
    note = SealedTextField(blank=True)
    # For a call: the minutes it took, from the console's call timer or the volunteer's entry.
    # What the volunteer's phone credit paid for.
    minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"attempt {self.pk} (case {self.case_id}, {self.outcome})"


class Broadcast(SealedModel):
    """A short note from a coordinator to every active volunteer, shown in the console."""

    text = SealedTextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"broadcast {self.pk}"


class VolunteerProfile(models.Model):
    """What the relay keeps about a volunteer's work, apart from their account.

    Written only by relay services. An account without a row has the defaults: takes
    hard cases (if experienced), has not asked to talk, names no cheap operator.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="relay_profile"
    )
    # An experienced volunteer may say no to hard cases (death, detention, a child…).
    hard_cases_opt_out = models.BooleanField(default=False)
    # "I need to talk": set by the volunteer, seen by coordinators, cleared by one of them.
    # Until then the volunteer gets no case.
    needs_talk_at = models.DateTimeField(null=True, blank=True)
    # Mobile operators this volunteer can call cheaply (phonenumbers' carrier names,
    # comma-separated): dispatch prefers cases on them.
    cheap_operators = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"volunteer profile {self.user_id}"
