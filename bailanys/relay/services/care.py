"""Volunteer care: hard cases by choice, "I need to talk", cheap operators, suspension.

What the relay keeps about a volunteer lives in relay.VolunteerProfile, written only
here; an account without a profile row has the defaults.
"""

from django.utils import timezone

from bailanys.accounts.models import User
from bailanys.accounts.services import account_suspend
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay.models import VolunteerProfile
from bailanys.relay.services.claims import claim_active_for, claim_release
from bailanys.relay.services.inputs import ClaimEnded, NotYourClaim, require_coordinator
from bailanys.relay.services.profiles import profile_set


def volunteer_hard_cases_set(*, volunteer: User, take: bool) -> None:
    """An experienced volunteer says yes or no to hard cases; their choice, audited."""
    profile_set(volunteer, hard_cases_opt_out=not take)
    audit_record(
        actor=actor_label(volunteer),
        action="volunteer.hard_cases",
        object_type="user",
        object_id=volunteer.pk,
        detail="take" if take else "opt out",
    )


def volunteer_needs_talk(*, volunteer: User) -> None:
    """ "I need to talk": coordinators see it at once; the volunteer gets no new case.

    A case they hold stays theirs to finish or give back: nothing is taken from them.
    """
    profile_set(volunteer, needs_talk_at=timezone.now())
    audit_record(
        actor=actor_label(volunteer),
        action="volunteer.needs_talk",
        object_type="user",
        object_id=volunteer.pk,
    )


def volunteer_talked(*, coordinator: User, user_id: int) -> None:
    """A coordinator has talked with the volunteer: they may take cases again."""
    require_coordinator(coordinator, user_id)
    VolunteerProfile.objects.filter(user_id=user_id).update(needs_talk_at=None)
    audit_record(
        actor=actor_label(coordinator),
        action="volunteer.talked",
        object_type="user",
        object_id=user_id,
    )


def volunteer_suspend(*, coordinator: User | None, user: User, request=None) -> int:
    """Lock an account out (accounts.account_suspend) and, in the same transaction, give
    back every case it holds. Returns how many cases went back to the queue."""
    released = 0

    def give_back(user: User) -> str:
        nonlocal released
        while (claim := claim_active_for(user)) is not None:
            try:
                claim_release(claim_id=claim.pk, volunteer=user)
            except (ClaimEnded, NotYourClaim):
                # The lease ran out at this very moment: the case is back already.
                break
            released += 1
        return f"returned {released} case(s)"

    account_suspend(coordinator=coordinator, user=user, request=request, then=give_back)
    return released
