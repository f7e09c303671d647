"""Claims: the next case for a volunteer under a lease, renewed, released or lapsed."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Case as SqlCase
from django.db.models import IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.lookups import Exact
from django.utils import timezone

from bailanys.accounts.models import User
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay.models import (
    Attempt,
    Case,
    CaseState,
    Claim,
    Outcome,
)
from bailanys.relay.services.inputs import ClaimEnded, NotYourClaim, require_coordinator
from bailanys.relay.services.profiles import needs_talk, profile_of, takes_hard_cases


def case_back_state(*, untouched: bool = True):
    """Where a case goes when nobody holds it any more: the volunteers' queue, or the
    coordinators' when it is flagged for one (scam signs): volunteers never get those.

    `untouched`: the holder gave it back without an outcome (a release, a lapsed lease, a
    coordinator's take-back). Then a case whose last outcome was "escalate" goes back to
    the coordinators too: an escalation ends only with a coordinator's outcome.
    """
    whens = [When(~Q(flag=""), then=Value(CaseState.ESCALATED))]
    if untouched:
        last_outcome = Subquery(
            Attempt.objects.filter(case=OuterRef("pk"))
            .order_by("-created_at", "-pk")
            .values("outcome")[:1]
        )
        whens.append(When(Exact(last_outcome, Outcome.ESCALATE), then=Value(CaseState.ESCALATED)))
    return SqlCase(*whens, default=Value(CaseState.QUEUED), output_field=models.CharField())


def _lease() -> timedelta:
    return timedelta(seconds=settings.BAILANYS_LEASE_SECONDS)


def claims_expire(*, now=None, limit: int = 200) -> int:
    """Return cases whose lease ran out to the queue. Returns how many."""
    now = now or timezone.now()
    expired = list(
        Case.objects.filter(state=CaseState.CLAIMED, lease_expires_at__lt=now).values_list(
            "pk", "current_claim_id"
        )[:limit]
    )
    count = 0
    for case_id, claim_id in expired:
        with transaction.atomic():
            # Compare-and-set on the claim we saw: a renewal in between wins.
            returned = Case.objects.filter(
                pk=case_id, current_claim_id=claim_id, lease_expires_at__lt=now
            ).update(state=case_back_state(), current_claim=None, lease_expires_at=None)
            if returned:
                Claim.objects.filter(pk=claim_id).update(
                    ended_at=now, end_reason=Claim.EndReason.EXPIRED
                )
                count += 1
    return count


def case_take(case_id: int, volunteer: User, now, from_state: str) -> Claim | None:
    """Claim one case if it is still in `from_state` and unheld. Caller holds a transaction."""
    # Started when taken, not when the caller began looking: a case released after that
    # (and so found by the look) must not show two claims overlapping in time.
    started = max(now, timezone.now())
    claim = Claim.objects.create(
        case_id=case_id, volunteer=volunteer, started_at=started, expires_at=started + _lease()
    )
    taken = Case.objects.filter(pk=case_id, state=from_state, current_claim__isnull=True).update(
        state=CaseState.CLAIMED, current_claim=claim, lease_expires_at=claim.expires_at
    )
    if not taken:
        claim.delete()
        return None
    audit_record(
        actor=actor_label(volunteer), action="case.claim", object_type="case", object_id=case_id
    )
    return claim


def claim_active_for(volunteer: User) -> Claim | None:
    return (
        Claim.objects.select_related("case")
        .filter(volunteer=volunteer, ended_at__isnull=True)
        .order_by("-started_at")
        .first()
    )


class NeedsTalk(Exception):
    """The volunteer asked to talk to a coordinator: no case until one has."""


def hard_streak(volunteer: User) -> int:
    """How many of the volunteer's latest calls in a row were on hard cases."""
    streak = 0
    for hard in (
        Attempt.objects.filter(volunteer=volunteer)
        .order_by("-created_at")
        .values_list("case__hard", flat=True)[: settings.BAILANYS_HARD_IN_A_ROW]
    ):
        if not hard:
            break
        streak += 1
    return streak


def cheap_operators(volunteer: User) -> list[str]:
    """The operators the volunteer said they call cheaply."""
    return [name for name in profile_of(volunteer).cheap_operators.split(",") if name]


def _dispatch_order(candidates, volunteer: User, now):
    """Urgent and medical first; then, for a volunteer who named cheap operators, cases on
    those operators; then the oldest. A case that has waited longer than
    BAILANYS_OPERATOR_PREFERENCE_MINUTES counts as matching: nobody waits for a volunteer
    on the right tariff."""
    operators = cheap_operators(volunteer)
    if not operators:
        return candidates.order_by("-priority", "created_at")
    waited = now - timedelta(minutes=settings.BAILANYS_OPERATOR_PREFERENCE_MINUTES)
    return candidates.annotate(
        operator_match=SqlCase(
            When(Q(recipient_operator__in=operators) | Q(created_at__lte=waited), then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
    ).order_by("-priority", "-operator_match", "created_at")


def just_released(volunteer: User) -> int | None:
    """The case of the volunteer's latest claim if they gave it back untouched: the next
    case they ask for is another one (asking again must not hand back the same case)."""
    last = (
        Claim.objects.filter(volunteer=volunteer, ended_at__isnull=False)
        .order_by("-ended_at", "-pk")
        .values_list("case_id", "end_reason")
        .first()
    )
    return last[0] if last and last[1] == Claim.EndReason.RELEASED else None


def case_claim_next(
    *, volunteer: User, light_only: bool = False, with_demo: bool = False, only_demo: bool = False
) -> Claim | None:
    """Give the volunteer the next case: urgent and medical first, then cases on the
    operators they call cheaply (see _dispatch_order), then the oldest. Never the case
    they have just released.

    `with_demo`: made-up demo cases may be given too; only the web console and the API (a
    volunteer's own screen) ask for them. A volunteer working by Telegram or SMS never gets
    one: its details would leave through a bot or a gateway. `only_demo`: nothing but demo
    cases, for the demo's own callers: a request a person made is left for a person.

    A volunteer holds one case at a time: asking again returns the same claim.
    On PostgreSQL candidates are locked with SKIP LOCKED so concurrent
    volunteers pass each other; on SQLite the IMMEDIATE transaction serialises
    them. Either way the take is a compare-and-set and the database refuses a
    second active claim on a case.
    """
    held = claim_active_for(volunteer)
    if held is not None:
        return held
    if needs_talk(volunteer):
        raise NeedsTalk(volunteer.pk)
    claims_expire()
    released = just_released(volunteer)
    for _try in range(10):
        now = timezone.now()
        with transaction.atomic():
            queued = Case.objects.filter(state=CaseState.QUEUED, available_at__lte=now)
            if released is not None:
                queued = queued.exclude(pk=released)
            if only_demo:
                queued = queued.filter(demo=True)  # the demo's own callers: never a person's
            elif not with_demo:
                queued = queued.filter(demo=False)
            candidates = _dispatch_order(queued, volunteer, now)
            if light_only or not takes_hard_cases(volunteer):
                candidates = candidates.filter(hard=False)  # never offered, never shown
            if connection.features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True)
            case_id = candidates.values_list("pk", flat=True).first()
            if case_id is None:
                return None
            try:
                with transaction.atomic():
                    claim = case_take(case_id, volunteer, now, CaseState.QUEUED)
            except IntegrityError:
                claim = None
            if claim is not None:
                return claim
    return None


def case_claim(*, volunteer: User, case_id: int) -> Claim | None:
    """A coordinator takes one escalated case. None if it is not waiting for them."""
    require_coordinator(volunteer, case_id)
    now = timezone.now()
    try:
        with transaction.atomic():
            return case_take(case_id, volunteer, now, CaseState.ESCALATED)
    except IntegrityError:
        return None


def claim_held(claim_id: int, volunteer: User) -> Claim:
    claim = Claim.objects.select_related("case").filter(pk=claim_id).first()
    if claim is None or claim.volunteer_id != volunteer.pk:
        raise NotYourClaim(claim_id)
    if claim.ended_at is not None:
        raise ClaimEnded(claim_id)
    return claim


def claim_renew(*, claim_id: int, volunteer: User) -> Claim:
    """Extend the lease by its full length from now."""
    claim = claim_held(claim_id, volunteer)
    expires = timezone.now() + _lease()
    with transaction.atomic():
        if not Case.objects.filter(pk=claim.case_id, current_claim_id=claim.pk).update(
            lease_expires_at=expires
        ):
            raise ClaimEnded(claim_id)
        Claim.objects.filter(pk=claim.pk).update(expires_at=expires)
    claim.expires_at = expires
    return claim


def claim_release(*, claim_id: int, volunteer: User) -> None:
    """Give the case back untouched: to the volunteers' queue, or the coordinators' when
    it is flagged for one."""
    claim = claim_held(claim_id, volunteer)
    now = timezone.now()
    with transaction.atomic():
        if not Case.objects.filter(pk=claim.case_id, current_claim_id=claim.pk).update(
            state=case_back_state(), current_claim=None, lease_expires_at=None
        ):
            raise ClaimEnded(claim_id)
        Claim.objects.filter(pk=claim.pk).update(ended_at=now, end_reason=Claim.EndReason.RELEASED)
        audit_record(
            actor=actor_label(volunteer),
            action="case.release",
            object_type="case",
            object_id=claim.case_id,
        )


def case_lock_waiting(*, case_id: int) -> Case | None:
    """Lock a case that waits in the queue and nobody holds; None if it is not such a case.

    Caller holds the transaction (the SMS bridge decides under this lock whether to write).
    """
    return (
        Case.objects.select_for_update()
        .filter(pk=case_id, state=CaseState.QUEUED, current_claim__isnull=True)
        .first()
    )


def case_hold(*, case_id: int, until) -> None:
    """Keep a queued case out of the call queue until `until` (an SMS bridge waits for an
    answer); `until=None` puts it back in the queue now."""
    Case.objects.filter(pk=case_id, state=CaseState.QUEUED).update(
        available_at=until or timezone.now()
    )
