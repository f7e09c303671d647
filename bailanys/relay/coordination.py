"""Coordinator tools: who holds what, take a case back, reassign, close, merge, split, broadcast.

Every function here is for coordinators only (anyone else gets NotYourClaim, which
the views answer with 404) and every write is audited without personal data: the
audit log names cases, claims and accounts by number, never a name or a phone.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.accounts.models import User
from bailanys.parsing.spelling import city_key, name_key
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay import services
from bailanys.relay.models import (
    OPEN_STATES,
    Broadcast,
    Case,
    CaseState,
    Claim,
    Request,
    Resolution,
)
from bailanys.relay.services import InputError, require_coordinator

MAX_BROADCAST = 500
# Resolutions a coordinator may close a case with: "merged" only comes from a merge.
CLOSE_RESOLUTIONS = [value for value in Resolution.values if value != Resolution.MERGED]
# Suggestions look at the newest open cases only: each name is decrypted to compare it.
SUGGEST_SCAN = 5000
SUGGEST_MAX = 50


def _no_case() -> InputError:
    return InputError({"case_id": _("There is no case with that number.")})


def _end_claim(claim_id: int | None, now, reason: str = Claim.EndReason.BROKEN) -> None:
    if claim_id:
        Claim.objects.filter(pk=claim_id, ended_at__isnull=True).update(
            ended_at=now, end_reason=reason
        )


def _open_requests(**filters):
    return Request.objects.filter(withdrawn_at__isnull=True, **filters).select_related("requester")


# --- Holders and leases -------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    case_id: int
    state: str
    username: str
    since: datetime
    expires_at: datetime | None


def holders(*, coordinator: User) -> list[Holder]:
    """Open cases somebody holds now: who, since when, until when. No recipient data."""
    require_coordinator(coordinator)
    rows = (
        Case.objects.filter(state__in=OPEN_STATES, current_claim__isnull=False)
        .select_related("current_claim__volunteer")
        .order_by("current_claim__started_at")
    )
    return [
        Holder(
            case_id=case.pk,
            state=case.state,
            username=case.current_claim.volunteer.username,
            since=case.current_claim.started_at,
            expires_at=case.lease_expires_at,
        )
        for case in rows[:500]
    ]


def escalated_ids(*, coordinator: User, limit: int = 100) -> list[int]:
    """Cases waiting for a coordinator, oldest first: numbers only."""
    require_coordinator(coordinator)
    return list(
        Case.objects.filter(state=CaseState.ESCALATED, current_claim__isnull=True)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def _back_to_queue(case: Case, now) -> int:
    """Compare-and-set: the case leaves the claim we saw, or nothing happens. Returns 0 or 1.

    A case flagged for a coordinator, or escalated and not yet answered by one, goes back
    to them, not to the volunteers' queue (services.case_back_state).
    """
    return Case.objects.filter(pk=case.pk, current_claim_id=case.current_claim_id).update(
        state=services.case_back_state(),
        current_claim=None,
        lease_expires_at=None,
        available_at=now,
    )


def lease_break(*, coordinator: User, case_id: int) -> int:
    """Take a case back from whoever holds it: the claim ends (broken), the case waits again.

    The volunteer's outcome, renewal or release then fails as for an expired lease.
    Returns the id of the claim that was ended.
    """
    require_coordinator(coordinator, case_id)
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.filter(pk=case_id).first()
        if case is None:
            raise _no_case()
        if case.state != CaseState.CLAIMED or not case.current_claim_id:
            raise InputError({"case_id": _("Nobody holds this case now.")})
        if not _back_to_queue(case, now):
            raise InputError({"case_id": _("The case changed just now. Look again.")})
        _end_claim(case.current_claim_id, now)
        audit_record(
            actor=actor_label(coordinator),
            action="case.break",
            object_type="case",
            object_id=case.pk,
            detail=f"claim {case.current_claim_id}",
        )
    return case.current_claim_id


def case_reassign(*, coordinator: User, case_id: int, username: str) -> Claim:
    """Give a case to a named volunteer, taking it back from its holder if anyone holds it.

    The volunteer must be active, hold no case, not have asked to talk, and take hard
    cases when the case is hard. Raises InputError saying which is not so.
    """
    require_coordinator(coordinator, case_id)
    username = services.clean_text(username)
    volunteer = User.objects.filter(username=username, is_active=True).first() if username else None
    if volunteer is None:
        raise InputError({"username": _("There is no active volunteer with that username.")})
    if services.needs_talk(volunteer):
        raise InputError(
            {"username": _("%(user)s asked to talk to a coordinator first.") % {"user": username}}
        )
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise _no_case()
        if not case.is_open:
            raise InputError({"case_id": _("This case is closed.")})
        if case.hard and not services.takes_hard_cases(volunteer):
            raise InputError(
                {"username": _("%(user)s does not take hard cases.") % {"user": username}}
            )
        held = services.claim_active_for(volunteer)
        if held is not None:
            reason = (
                _("%(user)s holds this case already.")
                if held.case_id == case.pk
                else _("%(user)s is holding another case.")
            )
            raise InputError({"username": reason % {"user": username}})
        previous = case.current_claim_id
        if previous:
            if not _back_to_queue(case, now):
                raise InputError({"case_id": _("The case changed just now. Look again.")})
            _end_claim(previous, now)
            case.refresh_from_db(fields=["state"])
        claim = services.case_take(case.pk, volunteer, now, case.state)
        if claim is None:
            # Rolls the take-back above back too: nothing changed.
            raise InputError({"case_id": _("The case changed just now. Look again.")})
        audit_record(
            actor=actor_label(coordinator),
            action="case.reassign",
            object_type="case",
            object_id=case.pk,
            detail=f"to user:{volunteer.pk}" + (f", broke claim {previous}" if previous else ""),
        )
    return claim


# --- Closing ------------------------------------------------------------------


def case_close(
    *,
    coordinator: User,
    case_id: int,
    reason: str,
    resolution: str = Resolution.BY_COORDINATOR,
) -> Case:
    """Close an open case by hand, with a reason kept for the team.

    Whoever holds it loses the claim; every requester is told the case closed (the
    reason itself is not sent to them: it may say what they must not read).
    """
    require_coordinator(coordinator, case_id)
    reason = services.clean_text(reason, multiline=True)
    errors = {}
    if resolution not in CLOSE_RESOLUTIONS:
        errors["resolution"] = _("Choose one of: %(choices)s.") % {
            "choices": ", ".join(CLOSE_RESOLUTIONS)
        }
    if not reason:
        errors["reason"] = _("Say why the case is closed.")
    elif len(reason) > services.MAX_NOTE:
        errors["reason"] = services.too_long(services.MAX_NOTE, reason)
    if errors:
        raise InputError(errors)
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise _no_case()
        if not case.is_open:
            raise InputError({"case_id": _("This case is closed already.")})
        _end_claim(case.current_claim_id, now)
        case.state = CaseState.CLOSED
        case.resolution = resolution
        case.closed_at = now
        case.current_claim = None
        case.lease_expires_at = None
        case.close_reason = reason
        case.save(
            update_fields=[
                "state",
                "resolution",
                "closed_at",
                "current_claim",
                "lease_expires_at",
                "close_reason",
            ]
        )
        audit_record(
            actor=actor_label(coordinator),
            action="case.close",
            object_type="case",
            object_id=case.pk,
            detail=resolution,
        )
        services.requesters_tell_outcome(
            case_id=case.pk,
            resolution=resolution,
            attempt=None,
            event=f"close:{case.pk}:{now.timestamp()}",
        )
    return case


# --- Merge and split ----------------------------------------------------------


@dataclass(frozen=True)
class CaseBrief:
    case_id: int
    state: str
    recipient_name: str
    recipient_city: str


@dataclass(frozen=True)
class MergeSuggestion:
    first: CaseBrief
    second: CaseBrief


def _city_of(case: Case) -> str:
    if case.recipient_city:
        return case.recipient_city
    first = case.requests.exclude(recipient_city="").order_by("created_at").first()
    return first.recipient_city if first is not None else ""


def merge_suggestions(
    *, coordinator: User, http_request: HttpRequest | None = None
) -> list[MergeSuggestion]:
    """Pairs of open cases that may be one person under two numbers.

    The recipient's name must agree by `name_key` and the city by `city_key`; a case
    without a city is never suggested. Reading names and cities is audited.
    """
    require_coordinator(coordinator)
    audit_record(
        actor=actor_label(coordinator),
        action="cases.read",
        object_type="case",
        detail="merge suggestions",
        request=http_request,
    )
    groups: dict[tuple[str, str], list[CaseBrief]] = {}
    newest = Case.objects.filter(state__in=OPEN_STATES).order_by("-created_at")[:SUGGEST_SCAN]
    for case in newest:
        city = _city_of(case)
        key = (name_key(case.recipient_name), city_key(city))
        if not key[0] or not key[1]:
            continue
        groups.setdefault(key, []).append(
            CaseBrief(case.pk, case.get_state_display(), case.recipient_name, city)
        )
    found = []
    for briefs in groups.values():
        for first, second in combinations(sorted(briefs, key=lambda b: b.case_id), 2):
            found.append(MergeSuggestion(first, second))
    found.sort(key=lambda s: (s.first.case_id, s.second.case_id))
    return found[:SUGGEST_MAX]


def _merged_text(request: Request) -> str:
    return (
        _(
            "Someone else asked us to call %(name)s too, at another number. We have joined "
            "the two requests into one: volunteers will try both numbers, and you will hear "
            "from us when there is news."
        )
        % {"name": services.recipient_label(request)}
        + "\n"
        + services.never_money_line()
    )


def case_merge(*, coordinator: User, keep_id: int, merge_id: int) -> Case:
    """Join two open cases that are one person under two numbers.

    Every request of `merge_id` moves to `keep_id`, remembering where it came from
    (`origin_case`), so a split can move it back. The merged case closes as
    "merged" and points at the kept one; whoever held it loses the claim. The kept
    case takes the higher priority and the hard and scam flags of either. Every
    requester of both is told. Later requests for the merged number join the kept
    case while it is open (see services._open_case_for).
    """
    require_coordinator(coordinator, keep_id)
    if keep_id == merge_id:
        raise InputError({"merge_id": _("Choose two different cases.")})
    now = timezone.now()
    with transaction.atomic():
        cases = {
            c.pk: c for c in Case.objects.select_for_update().filter(pk__in=[keep_id, merge_id])
        }
        keep, merge = cases.get(keep_id), cases.get(merge_id)
        if keep is None or merge is None:
            raise InputError(
                {"keep_id" if keep is None else "merge_id": _("There is no case with that number.")}
            )
        for field, case in (("keep_id", keep), ("merge_id", merge)):
            if not case.is_open:
                raise InputError({field: _("Case %(id)d is closed.") % {"id": case.pk}})
        _end_claim(merge.current_claim_id, now)
        Request.objects.filter(case=merge, origin_case__isnull=True).update(origin_case=merge)
        moved = Request.objects.filter(case=merge).update(case=keep)
        # Cases merged into this one before now belong to the kept case: one hop, always.
        Case.objects.filter(merged_into=merge).update(merged_into=keep)
        merge.state = CaseState.CLOSED
        merge.resolution = Resolution.MERGED
        merge.closed_at = now
        merge.merged_into = keep
        merge.current_claim = None
        merge.lease_expires_at = None
        merge.save(
            update_fields=[
                "state",
                "resolution",
                "closed_at",
                "merged_into",
                "current_claim",
                "lease_expires_at",
            ]
        )
        changes: dict = {}
        if merge.priority > keep.priority:
            changes["priority"] = merge.priority
        if merge.hard and not keep.hard:
            changes["hard"] = True
        if keep.state == CaseState.QUEUED and merge.available_at < keep.available_at:
            changes["available_at"] = merge.available_at
        if changes:
            Case.objects.filter(pk=keep.pk).update(**changes)
        if merge.flag and not keep.flag:
            # A request that may be a scam stays held for a coordinator after the merge.
            services.case_flag_for_coordinator(keep.pk, merge.flag)
        audit_record(
            actor=actor_label(coordinator),
            action="case.merge",
            object_type="case",
            object_id=keep.pk,
            detail=f"merged case {merge.pk}, {moved} request(s)",
        )
        services.requesters_tell(
            _merged_text, key=f"merge:{merge.pk}:{now.timestamp()}", case_id=keep.pk
        )
    keep.refresh_from_db()
    return keep


def _split_text(request: Request) -> str:
    text = _(
        "We had joined your request for %(name)s with another one by mistake. They are "
        "separate again."
    ) % {"name": services.recipient_label(request)}
    if request.case.is_open:
        text += " " + _("Volunteers will call the number you gave.")
    return text + "\n" + services.never_money_line()


def case_split(*, coordinator: User, case_id: int) -> Case:
    """Undo a merge: the case's own requests go back to it and it waits for a call again.

    Requesters on both sides are told. If the number has another open case by now
    (a request came after the kept case closed), merge or close that one first.
    """
    require_coordinator(coordinator, case_id)
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise _no_case()
        if case.merged_into_id is None:
            raise InputError({"case_id": _("This case was not merged into another.")})
        kept_id = case.merged_into_id
        other = (
            Case.objects.filter(recipient_key=case.recipient_key, state__in=OPEN_STATES)
            .exclude(pk=case.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if other is not None:
            raise InputError(
                {
                    "case_id": _(
                        "Case %(other)d is open for the same number: merge or close it first."
                    )
                    % {"other": other}
                }
            )
        try:
            with transaction.atomic():
                Case.objects.filter(pk=case.pk).update(
                    state=CaseState.QUEUED,
                    resolution="",
                    closed_at=None,
                    merged_into=None,
                    available_at=now,
                )
        except IntegrityError:
            raise InputError(
                {"case_id": _("Another case is open for the same number: merge or close it first.")}
            ) from None
        moved_ids = list(Request.objects.filter(origin_case=case).values_list("pk", flat=True))
        Request.objects.filter(pk__in=moved_ids).update(case=case, origin_case=None)
        audit_record(
            actor=actor_label(coordinator),
            action="case.split",
            object_type="case",
            object_id=case.pk,
            detail=f"from case {kept_id}, {len(moved_ids)} request(s)",
        )
        services.requesters_tell(
            _split_text,
            key=f"split:{case.pk}:{now.timestamp()}",
            requests=_open_requests(case_id__in=[case.pk, kept_id]).select_related("case"),
        )
    case.refresh_from_db()
    return case


# --- Broadcasts ---------------------------------------------------------------


def broadcast_send(*, coordinator: User, text: str) -> Broadcast:
    """A short note to every volunteer, shown at the top of the console for a day."""
    require_coordinator(coordinator)
    text = services.clean_text(text, multiline=True)
    if not text:
        raise InputError({"text": _("Write the note to send.")})
    if len(text) > MAX_BROADCAST:
        raise InputError({"text": services.too_long(MAX_BROADCAST, text)})
    with transaction.atomic():
        broadcast = Broadcast.objects.create(text=text, author=coordinator)
        audit_record(
            actor=actor_label(coordinator),
            action="broadcast.send",
            object_type="broadcast",
            object_id=broadcast.pk,
            detail=f"{len(text)} characters",
        )
    return broadcast


@dataclass(frozen=True)
class BroadcastView:
    text: str
    created_at: datetime


def broadcasts_recent(*, hours: int = 24, limit: int = 5) -> list[BroadcastView]:
    """The newest notes from coordinators, for every volunteer's console."""
    since = timezone.now() - timedelta(hours=hours)
    return [
        BroadcastView(b.text, b.created_at)
        for b in Broadcast.objects.filter(created_at__gte=since).order_by("-created_at")[:limit]
    ]


# --- One case, looked up by number ---------------------------------------------


@dataclass(frozen=True)
class CaseSummary:
    case_id: int
    state: str
    state_label: str
    resolution_label: str
    recipient_name: str
    recipient_city: str
    recipient_phone_display: str
    requests: int
    holder: str
    merged_into: int | None
    merged_cases: list[int]
    close_reason: str


def case_summary(
    *, coordinator: User, case_id: int, http_request: HttpRequest | None = None
) -> CaseSummary | None:
    """What a coordinator needs to act on one case; None if there is no such case. Audited."""
    require_coordinator(coordinator, case_id)
    case = Case.objects.select_related("current_claim__volunteer").filter(pk=case_id).first()
    if case is None:
        return None
    audit_record(
        actor=actor_label(coordinator),
        action="cases.read",
        object_type="case",
        object_id=case.pk,
        request=http_request,
    )
    return CaseSummary(
        case_id=case.pk,
        state=case.state,
        state_label=case.get_state_display(),
        resolution_label=case.get_resolution_display() if case.resolution else "",
        recipient_name=case.recipient_name,
        recipient_city=_city_of(case),
        recipient_phone_display=phones.display(case.recipient_phone),
        requests=case.requests.count(),
        holder=case.current_claim.volunteer.username if case.current_claim else "",
        merged_into=case.merged_into_id,
        merged_cases=list(case.merged_cases.values_list("pk", flat=True)),
        close_reason=case.close_reason,
    )
