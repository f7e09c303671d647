"""Outcomes: a call recorded, an SMS answer or check-in closing a case, a HELP reopening one."""

import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from bailanys.accounts.models import User
from bailanys.outages.services import call_recorded
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay.models import (
    FINAL_OUTCOMES,
    RETRY_OUTCOMES,
    Attempt,
    Case,
    CaseState,
    Claim,
    Outcome,
    Request,
    Resolution,
)
from bailanys.relay.services.claims import case_back_state, claim_held
from bailanys.relay.services.inputs import (
    MAX_CALL_MINUTES,
    MAX_NOTE,
    MAX_REPLY,
    ClaimEnded,
    InputError,
    NotYourClaim,
    clean_text,
    pin_hash,
    require_coordinator,
    too_long,
)
from bailanys.relay.services.intake import recipient_key, scam_flag
from bailanys.relay.services.notify import (
    recipient_label,
    requesters_tell,
    requesters_tell_outcome,
)


def claim_record_outcome(
    *,
    claim_id: int,
    volunteer: User,
    outcome: str,
    reply: str = "",
    note: str = "",
    mark_hard: bool = False,
    via: str = Attempt.Via.CALL,
    minutes: int | str | None = None,
    known_requests: list[int] | None = None,
) -> Attempt:
    """Record the call's outcome, move the case on and tell every requester when it ends.

    `via` is "call" or "sms" (the volunteer texted instead of calling); `minutes`, for a
    call only, is how long it took (0 to MAX_CALL_MINUTES, from the console's timer or the
    volunteer's entry): what their phone credit paid for. Minutes are ignored for an SMS.

    reached, delivered, wrong_number, refused: the case closes.
    no_answer, busy, switched_off: retry after the next delay, or close as
    unreachable after the last allowed attempt. escalate: to the coordinators.

    `known_requests`: the ids of the case's requests whose requesters the recipient said
    they know (reached or delivered only): those, and only those, are told the reply.
    None (Telegram, SMS-only volunteers): the case's one open request, when it has just one.
    """
    errors = {}
    if outcome not in Outcome.values:
        errors["outcome"] = _("Choose one of: %(choices)s.") % {
            "choices": ", ".join(Outcome.values)
        }
    reply = clean_text(reply, multiline=True)
    note = clean_text(note, multiline=True)
    if len(reply) > MAX_REPLY:
        errors["reply"] = too_long(MAX_REPLY, reply)
    if len(note) > MAX_NOTE:
        errors["note"] = too_long(MAX_NOTE, note)
    via, minutes = _via_and_minutes(via, minutes, errors)
    if errors:
        raise InputError(errors)
    claim = claim_held(claim_id, volunteer)
    case = claim.case
    known = _known_requests(case, outcome, known_requests)
    now = timezone.now()
    changes: dict = {"current_claim": None, "lease_expires_at": None}
    if mark_hard:
        changes["hard"] = True  # from now on only for volunteers who take hard cases
    resolution = ""
    reply_flag = scam_flag("scam-reply", reply)
    outcome_for_case = outcome
    if volunteer.is_coordinator:
        changes["flag"] = ""  # a coordinator has looked: their outcome stands
    elif reply_flag:
        # A reply asking for money is not relayed until a coordinator has seen it.
        outcome_for_case = Outcome.ESCALATE
        changes["flag"] = reply_flag
    if outcome_for_case in FINAL_OUTCOMES:
        resolution = outcome
    elif outcome_for_case in RETRY_OUTCOMES:
        failed = case.failed_calls + 1
        changes["failed_calls"] = F("failed_calls") + 1
        if failed >= settings.BAILANYS_MAX_ATTEMPTS:
            resolution = Resolution.UNREACHABLE
        else:
            delays = settings.BAILANYS_RETRY_DELAYS_MINUTES
            delay = delays[min(failed, len(delays)) - 1]
            # A coordinator's retry clears the flag (above); a volunteer's keeps it.
            state = CaseState.QUEUED if "flag" in changes else case_back_state(untouched=False)
            changes.update(state=state, available_at=now + timedelta(minutes=delay))
    else:  # escalate
        changes["state"] = CaseState.ESCALATED
    if resolution:
        changes.update(state=CaseState.CLOSED, resolution=resolution, closed_at=now)
    with transaction.atomic():
        if not Case.objects.filter(pk=case.pk, current_claim_id=claim.pk).update(**changes):
            raise ClaimEnded(claim_id)
        Claim.objects.filter(pk=claim.pk).update(ended_at=now, end_reason=Claim.EndReason.OUTCOME)
        attempt = Attempt.objects.create(
            case=case,
            claim=claim,
            volunteer=volunteer,
            via=via,
            minutes=minutes,
            outcome=outcome,
            reply=reply,
            note=note,
            created_at=now,
        )
        if known:
            Request.objects.filter(pk__in=known, known_at__isnull=True).update(known_at=now)
        _sense_call(case, via=via, outcome=outcome)
        audit_record(
            actor=actor_label(volunteer),
            action="case.outcome",
            object_type="case",
            object_id=case.pk,
            detail=outcome,
        )
        if resolution:
            requesters_tell_outcome(case_id=case.pk, resolution=resolution, attempt=attempt)
    return attempt


def _sense_call(case: Case, *, via: str, outcome: str) -> None:
    """A call's outcome tells whether the recipient's network carries calls (the
    shutdown's state, docs/status.md): only the operator and region are kept. Not an SMS
    the volunteer sent, not an escalation (it says nothing of the network), not a demo
    case (its outcomes are made up)."""
    if via != Attempt.Via.CALL or outcome == Outcome.ESCALATE or case.demo:
        return
    city = case.recipient_city or next(
        (r.recipient_city for r in case.requests.order_by("created_at") if r.recipient_city), ""
    )
    call_recorded(phone=case.recipient_phone, city=city, outcome=outcome)


KNOWING_OUTCOMES = (Outcome.REACHED, Outcome.DELIVERED)


def _known_requests(case: Case, outcome: str, chosen: list[int] | None) -> list[int]:
    """The requests the recipient knows, by the volunteer's word; bad ids are an InputError."""
    open_ids = list(
        Request.objects.filter(case=case, withdrawn_at__isnull=True).values_list("pk", flat=True)
    )
    if chosen is None:
        return open_ids if len(open_ids) == 1 and outcome in KNOWING_OUTCOMES else []
    if isinstance(chosen, (str, bytes)) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i in open_ids for i in chosen
    ):
        raise InputError(
            {"known_requests": _("Choose only requests of this case that are still open.")}
        )
    return list(chosen) if outcome in KNOWING_OUTCOMES else []


VOLUNTEER_VIAS = (Attempt.Via.CALL, Attempt.Via.SMS)
MINUTES_RE = re.compile(r"\d{1,5}")


def _via_and_minutes(
    via: object, minutes: object, errors: dict[str, str]
) -> tuple[str, int | None]:
    """A volunteer's call or SMS, and a call's minutes; reasons go into `errors`."""
    via = clean_text(via) or Attempt.Via.CALL
    if via not in VOLUNTEER_VIAS:
        errors["via"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(VOLUNTEER_VIAS)}
        return via, None
    if via == Attempt.Via.SMS or minutes is None:
        return via, None
    if isinstance(minutes, bool):
        value = None
    elif isinstance(minutes, int):
        value = minutes
    else:
        text = clean_text(minutes)
        if not text:
            return via, None
        value = int(text) if MINUTES_RE.fullmatch(text) else None
    if value is None or not 0 <= value <= MAX_CALL_MINUTES:
        errors["minutes"] = _("Minutes on the phone: a whole number from 0 to %(max)d.") % {
            "max": MAX_CALL_MINUTES
        }
        return via, None
    return via, value


def case_close_by_sms(
    *,
    case_id: int,
    reply: str,
    resolution: str,
    via: str,
    pin: str = "",
    known_request: int | None = None,
) -> Attempt | None:
    """The recipient answered by SMS (a bridge reply, a safe check-in): close the case.

    A volunteer holding the case loses it (their outcome would come too late); every
    requester is told. Returns None when the case had closed already, except for an
    answer to a bridge SMS: that is passed on to the requesters all the same (a call may
    have closed the case while the recipient was typing), and the case stays as it is.

    Who is told the reply: the request whose PIN came with it, and `known_request` (the
    request a bridge SMS named); every other requester learns only how the case ended.
    The attempt returned carries `requests_told` (not stored): how many requests heard.
    """
    reply = clean_text(reply, multiline=True)[:MAX_REPLY]
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            return None
        if case.state == CaseState.CLOSED:
            if via not in (Attempt.Via.SMS_BRIDGE, Attempt.Via.SMS_BRIDGE_OTHER) or not reply:
                return None
            _mark_known(case, known_request, now)
            late = Attempt.objects.create(
                case=case, outcome=Outcome.REACHED, reply=reply, via=via, created_at=now
            )
            late.requests_told = requesters_tell_outcome(
                case_id=case.pk, resolution=Resolution.REACHED, attempt=late
            )
            return late
        if case.current_claim_id:
            Claim.objects.filter(pk=case.current_claim_id, ended_at__isnull=True).update(
                ended_at=now, end_reason=Claim.EndReason.RELEASED
            )
        Case.objects.filter(pk=case.pk).update(
            state=CaseState.CLOSED,
            resolution=resolution,
            closed_at=now,
            current_claim=None,
            lease_expires_at=None,
        )
        attempt = Attempt.objects.create(
            case=case, outcome=Outcome.REACHED, reply=reply, via=via, created_at=now
        )
        if pin:
            Request.objects.filter(
                case=case, checkin_pin_hash=pin_hash(case.recipient_phone, pin)
            ).update(pin_verified_at=now, known_at=now)
        _mark_known(case, known_request, now)
        audit_record(
            actor=f"sms:{via}",
            action="case.outcome",
            object_type="case",
            object_id=case.pk,
            detail=resolution,
        )
        attempt.requests_told = requesters_tell_outcome(
            case_id=case.pk, resolution=resolution, attempt=attempt
        )
    return attempt


def _mark_known(case: Case, request_id: int | None, now) -> None:
    if request_id is not None:
        Request.objects.filter(case=case, pk=request_id, known_at__isnull=True).update(known_at=now)


def cases_open_for_number(phone_e164: str) -> list[int]:
    """Open cases whose recipient is this number (there is at most one; kept general)."""
    return list(
        Case.objects.filter(recipient_key=recipient_key(phone_e164))
        .exclude(state=CaseState.CLOSED)
        .values_list("pk", flat=True)
    )


def cases_reopen_after_help(phone_e164: str, *, within_hours: int = 72) -> int:
    """A later HELP overrides a safe check-in: its cases go back to the call queue.

    The check-in stays in the history; requesters are told.
    """
    since = timezone.now() - timedelta(hours=within_hours)
    key = recipient_key(phone_e164)
    reopened = 0
    with transaction.atomic():
        if Case.objects.filter(recipient_key=key).exclude(state=CaseState.CLOSED).exists():
            return 0  # an open case exists: it is in the queue already
        case = (
            Case.objects.select_for_update()
            .filter(recipient_key=key, resolution=Resolution.SELF_REPORTED, closed_at__gte=since)
            .order_by("-closed_at")
            .first()
        )
        if case is None:
            return 0
        now = timezone.now()
        Case.objects.filter(pk=case.pk).update(
            state=CaseState.QUEUED, resolution="", closed_at=None, available_at=now, priority=1
        )
        audit_record(actor="sms:help", action="case.reopen", object_type="case", object_id=case.pk)
        requesters_tell(
            lambda request: (
                _("%(name)s has since asked for help by SMS. Volunteers will call them.")
                % {"name": recipient_label(request)}
            ),
            key=f"reopen:{case.pk}:{now.timestamp()}",
            case_id=case.pk,
        )
        reopened = 1
    return reopened


MAX_RETAIN_DAYS = 365


def case_retain(*, coordinator: User, case_id: int, until, reason: str) -> Case:
    """Keep a case past the retention limits, for a stated reason (audited)."""
    require_coordinator(coordinator, case_id)
    reason = clean_text(reason)
    errors = {}
    if not reason:
        errors["reason"] = _("Say why this case must be kept.")
    elif len(reason) > MAX_NOTE:
        errors["reason"] = too_long(MAX_NOTE, reason)
    now = timezone.now()
    if until is None or until <= now or until > now + timedelta(days=MAX_RETAIN_DAYS):
        errors["until"] = _("Choose a date in the next %(n)d days.") % {"n": MAX_RETAIN_DAYS}
    if errors:
        raise InputError(errors)
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise NotYourClaim(case_id)
        case.retain_until = until
        case.retain_reason = reason
        case.save(update_fields=["retain_until", "retain_reason"])
        audit_record(
            actor=actor_label(coordinator),
            action="case.retain",
            object_type="case",
            object_id=case.pk,
            detail=f"until {until.date().isoformat()}",
        )
    return case
