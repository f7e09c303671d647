"""Volunteer care in numbers: phone credit, shifts and the operators a volunteer calls cheaply.

Phone credit is counted in call minutes. A volunteer's balance is what was topped up
(marked by them or a coordinator) less the minutes of their calls and
BAILANYS_SMS_CREDIT_MINUTES for each SMS they sent instead of calling. The minutes are
estimates (the console's call timer or the volunteer's entry), so the balance is a guide
for a coordinator deciding whom to top up, never a reason to refuse a call.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.accounts.models import CreditTopUp, User
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay.models import Attempt
from bailanys.relay.services import InputError, NotYourClaim, clean_text, require_coordinator
from bailanys.relay.services.profiles import profile_of, profile_set

MAX_TOPUP_MINUTES = 10_000
TOPUP_RE = re.compile(r"\d{1,6}")


# --- Phone credit -------------------------------------------------------------


@dataclass(frozen=True)
class CreditSummary:
    calls: int
    # Calls recorded without a minute count: they cost credit nobody counted.
    calls_without_minutes: int
    call_minutes: int
    sms_count: int
    sms_credit_minutes: int
    topups: int
    topped_up_minutes: int
    balance_minutes: int
    low: bool

    @property
    def unknown(self) -> bool:
        """No top-up was ever recorded: the balance says nothing about the phone."""
        return self.topups == 0


def credit_summary(volunteer: User) -> CreditSummary:
    """The volunteer's own spend and balance (no personal data: nothing is audited)."""
    via = Attempt.Via
    spent = Attempt.objects.filter(volunteer=volunteer).aggregate(
        calls=Count("pk", filter=Q(via=via.CALL)),
        unmeasured=Count("pk", filter=Q(via=via.CALL, minutes__isnull=True)),
        minutes=Coalesce(Sum("minutes", filter=Q(via=via.CALL)), 0),
        sms=Count("pk", filter=Q(via=via.SMS)),
    )
    topped = CreditTopUp.objects.filter(volunteer=volunteer).aggregate(
        n=Count("pk"), minutes=Coalesce(Sum("minutes"), 0)
    )
    rate = settings.BAILANYS_SMS_CREDIT_MINUTES
    balance = topped["minutes"] - spent["minutes"] - spent["sms"] * rate
    return CreditSummary(
        calls=spent["calls"],
        calls_without_minutes=spent["unmeasured"],
        call_minutes=spent["minutes"],
        sms_count=spent["sms"],
        sms_credit_minutes=rate,
        topups=topped["n"],
        topped_up_minutes=topped["minutes"],
        balance_minutes=balance,
        low=topped["n"] > 0 and balance < settings.BAILANYS_CREDIT_LOW_MINUTES,
    )


def credit_topups_recent(volunteer: User, *, limit: int = 20) -> list[dict]:
    """The volunteer's latest top-ups, newest first, and whether they marked each one."""
    return [
        {"at": at, "minutes": minutes, "by_self": by == volunteer.pk}
        for at, minutes, by in CreditTopUp.objects.filter(volunteer=volunteer)
        .order_by("-created_at", "-pk")
        .values_list("created_at", "minutes", "marked_by_id")[:limit]
    ]


def _topup_minutes(raw: int | str) -> int:
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    else:
        text = clean_text(raw)
        value = int(text) if TOPUP_RE.fullmatch(text) else None
    if value is None or not 1 <= value <= MAX_TOPUP_MINUTES:
        raise InputError(
            {
                "minutes": _("Top-up: a whole number of minutes from 1 to %(max)d.")
                % {"max": MAX_TOPUP_MINUTES}
            }
        )
    return value


def credit_topup(*, volunteer_id: int, minutes: int | str, marked_by: User) -> CreditTopUp:
    """Record credit put on a volunteer's phone, in call minutes (audited).

    A coordinator marks it for anyone, a volunteer for themselves only; anyone else, or
    an account that does not exist, raises NotYourClaim (views answer 404).
    """
    if not (marked_by.is_coordinator or marked_by.pk == volunteer_id):
        raise NotYourClaim(volunteer_id)
    value = _topup_minutes(minutes)
    if not User.objects.filter(pk=volunteer_id).exists():
        raise NotYourClaim(volunteer_id)
    with transaction.atomic():
        topup = CreditTopUp.objects.create(
            volunteer_id=volunteer_id, minutes=value, marked_by=marked_by
        )
        audit_record(
            actor=actor_label(marked_by),
            action="credit.topup",
            object_type="user",
            object_id=volunteer_id,
            detail=f"{value} min",
        )
    return topup


@dataclass(frozen=True)
class LowBalance:
    id: int
    username: str
    balance_minutes: int


@dataclass(frozen=True)
class CreditsLow:
    below_minutes: int
    volunteers: list[LowBalance]


def credits_low(*, coordinator: User, limit: int = 200) -> CreditsLow:
    """Active accounts whose balance is under BAILANYS_CREDIT_LOW_MINUTES, lowest first.

    Only accounts with a top-up on record: without one the balance is unknown, not low.
    """
    require_coordinator(coordinator, 0)
    rate = settings.BAILANYS_SMS_CREDIT_MINUTES
    below = settings.BAILANYS_CREDIT_LOW_MINUTES
    topups = CreditTopUp.objects.filter(volunteer=OuterRef("pk"))
    topped = topups.values("volunteer").annotate(s=Sum("minutes")).values("s")
    cost = SqlCase(
        When(via=Attempt.Via.SMS, then=Value(rate)),
        default=Coalesce("minutes", Value(0), output_field=IntegerField()),
        output_field=IntegerField(),
    )
    spent = (
        Attempt.objects.filter(
            volunteer=OuterRef("pk"), via__in=(Attempt.Via.CALL, Attempt.Via.SMS)
        )
        .values("volunteer")
        .annotate(s=Sum(cost))
        .values("s")
    )
    rows = (
        User.objects.filter(Exists(topups), is_active=True)
        .annotate(
            topped=Coalesce(Subquery(topped), 0, output_field=IntegerField()),
            spent=Coalesce(Subquery(spent), 0, output_field=IntegerField()),
        )
        .annotate(balance=F("topped") - F("spent"))
        .filter(balance__lt=below)
        .order_by("balance", "username")
        .values_list("pk", "username", "balance")[:limit]
    )
    return CreditsLow(
        below_minutes=below,
        volunteers=[LowBalance(id=pk, username=name, balance_minutes=b) for pk, name, b in rows],
    )


# --- Cheap operators -----------------------------------------------------------


def operators_choices(volunteer: User) -> list[tuple[str, bool]]:
    """Every operator of the country, and whether the volunteer calls it cheaply."""
    chosen = set(profile_of(volunteer).cheap_operators.split(","))
    return [(name, name in chosen) for name in phones.operators()]


def operators_set(*, volunteer: User, names: list[str]) -> list[str]:
    """The volunteer says which operators they call cheaply: dispatch prefers those cases."""
    known = phones.operators()
    chosen = sorted({clean_text(name) for name in names if clean_text(name)})
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise InputError(
            {"operators": _("Choose from: %(choices)s.") % {"choices": ", ".join(known)}}
        )
    value = ",".join(chosen)
    profile_set(volunteer, cheap_operators=value)
    audit_record(
        actor=actor_label(volunteer),
        action="volunteer.operators",
        object_type="user",
        object_id=volunteer.pk,
    )
    return chosen


# --- Shifts --------------------------------------------------------------------

# A volunteer who never paused for BAILANYS_SHIFT_GAP_MINUTES in this many calls has
# been at it long enough; no need to read further back.
SHIFT_SCAN = 1000


@dataclass(frozen=True)
class Shift:
    calls: int
    started_at: datetime
    span: timedelta
    suggest_stop: bool

    @property
    def duration_text(self) -> str:
        minutes = int(self.span.total_seconds() // 60)
        return _("%(hours)d h %(minutes)02d min") % {
            "hours": minutes // 60,
            "minutes": minutes % 60,
        }


def shift_current(volunteer: User, *, now: datetime | None = None) -> Shift | None:
    """The volunteer's current shift: their calls (and SMS) back to the first gap longer
    than BAILANYS_SHIFT_GAP_MINUTES; None when the last one is older than that gap.

    Its span runs from the first call to now. `suggest_stop` is set after
    BAILANYS_SHIFT_CALLS calls or BAILANYS_SHIFT_HOURS hours: the console suggests
    stopping for the day, and blocks nothing.
    """
    now = now or timezone.now()
    gap = timedelta(minutes=settings.BAILANYS_SHIFT_GAP_MINUTES)
    times = (
        Attempt.objects.filter(volunteer=volunteer, created_at__lte=now)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:SHIFT_SCAN]
    )
    calls, first, previous = 0, None, now
    for at in times:
        if previous - at > gap:
            break
        calls, first, previous = calls + 1, at, at
    if first is None:
        return None
    span = now - first
    return Shift(
        calls=calls,
        started_at=first,
        span=span,
        suggest_stop=calls >= settings.BAILANYS_SHIFT_CALLS
        or span >= timedelta(hours=settings.BAILANYS_SHIFT_HOURS),
    )
