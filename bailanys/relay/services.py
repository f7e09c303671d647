"""Writes of the relay: intake, claims, outcomes. Views, API, CLI and tasks call these."""

import json
import re
import secrets
import unicodedata
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Case as SqlCase
from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.lookups import Exact
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.accounts.models import User
from bailanys.channels.services import outbox_add
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.privacy.crypto import blind_index
from bailanys.privacy.scam import scam_signals
from bailanys.relay.models import (
    FINAL_OUTCOMES,
    LANGUAGE_CHOICES,
    OPEN_STATES,
    RETRY_OUTCOMES,
    Attempt,
    Case,
    CaseState,
    Claim,
    Kind,
    Outcome,
    Request,
    Requester,
    Resolution,
)
from bailanys.relay.signals import case_opened

LANGUAGES = [code for code, _name in LANGUAGE_CHOICES]
MAX_NAME = 200
MAX_CITY = 100
MAX_CONTACT = 200
MAX_MESSAGE = 2000
MAX_REPLY = 2000
MAX_NOTE = 1000
# A longer call is a typo (or a timer left running): the volunteer can type the real figure.
MAX_CALL_MINUTES = 600
PRIORITY_KINDS = (Kind.MEDICAL,)


class InputError(Exception):
    """Input that cannot be accepted; `errors` maps a dotted field name to a reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class IdempotencyConflict(Exception):
    """The same Idempotency-Key came with a different request body."""


class NotYourClaim(Exception):
    """The claim belongs to somebody else (or does not exist): nothing was changed."""


class ClaimEnded(Exception):
    """The claim is no longer active (outcome recorded, released or lease lost)."""


@dataclass(frozen=True)
class RequestInput:
    requester_name: str
    requester_language: str
    requester_contact: str
    recipient_name: str
    recipient_phone: str
    recipient_city: str
    recipient_language: str
    message: str
    kind: str
    urgent: bool
    checkin_pin: str = ""


PIN_RE = re.compile(r"\d{4,8}")


def pin_hash(phone_e164: str, pin: str) -> str:
    """Keyed, like the blind index: a 4-digit PIN is guessed at once from a plain hash."""
    return blind_index(f"checkin-pin:{phone_e164}:{pin}")


def too_long(limit: int, text: str) -> str:
    return _("Too long: at most %(limit)d characters (this has %(n)d).") % {
        "limit": limit,
        "n": len(text),
    }


def clean_text(value: object, *, multiline: bool = False) -> str:
    """Text as a person typed it, minus what no person types.

    Control characters (NUL, escape sequences…) and lone surrogates carry no
    meaning, break databases and terminals, and are dropped; line breaks are
    kept in multi-line fields.
    """
    if value is None:
        return ""
    keep = "\n\t"  # in one-line fields they become spaces below
    text = "".join(
        ch
        for ch in str(value).replace("\r\n", "\n")
        if ch in keep or unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn")
    )
    # Normalise after dropping: a control character may have split a letter
    # from its accent.
    text = unicodedata.normalize("NFC", text)
    if not multiline:
        text = " ".join(text.split())
    return text.strip()


def request_check(data: dict) -> RequestInput:
    """Validate a request as the API and the form both submit it.

    `data` has the API's shape: {requester: {name, language, contact},
    recipient: {name, phone, city, language}, message, kind, urgent}. Raises
    InputError naming every bad field at once.
    """
    errors: dict[str, str] = {}
    requester = data.get("requester") or {}
    recipient = data.get("recipient") or {}
    if not isinstance(requester, dict):
        errors["requester"] = _("Must be an object.")
        requester = {}
    if not isinstance(recipient, dict):
        errors["recipient"] = _("Must be an object.")
        recipient = {}

    def text(field: str, raw: object, limit: int, *, required: bool, multiline=False) -> str:
        value = clean_text(raw, multiline=multiline)
        if required and not value:
            errors[field] = _("This field is required.")
        elif len(value) > limit:
            errors[field] = too_long(limit, value)
        return value

    def language(field: str, raw: object, default: str) -> str:
        value = clean_text(raw).lower() or default
        if value not in LANGUAGES:
            errors[field] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(LANGUAGES)}
        return value

    requester_name = text("requester.name", requester.get("name"), MAX_NAME, required=True)
    requester_language = language("requester.language", requester.get("language"), "en")
    requester_contact = text(
        "requester.contact", requester.get("contact"), MAX_CONTACT, required=False
    )
    recipient_name = text("recipient.name", recipient.get("name"), MAX_NAME, required=True)
    recipient_city = text("recipient.city", recipient.get("city"), MAX_CITY, required=False)
    recipient_language = language(
        "recipient.language",
        recipient.get("language"),
        requester_language if requester_language != "en" else "ru",
    )
    phone = ""
    try:
        phone = phones.normalize(clean_text(recipient.get("phone")))
    except phones.InvalidPhone as exc:
        errors["recipient.phone"] = str(exc)
    message = text("message", data.get("message"), MAX_MESSAGE, required=False, multiline=True)
    kind = clean_text(data.get("kind")) or Kind.WELFARE_CHECK
    if kind not in Kind.values:
        errors["kind"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(Kind.values)}
    urgent = data.get("urgent", False)
    if urgent in (None, ""):
        urgent = False
    if not isinstance(urgent, bool):
        errors["urgent"] = _("Must be true or false.")
    pin = clean_text(data.get("checkin_pin"))
    if pin and not PIN_RE.fullmatch(pin):
        errors["checkin_pin"] = _("A PIN is 4 to 8 digits.")
    if kind == Kind.DELIVER_MESSAGE and not message and "message" not in errors:
        errors["message"] = _("Write the message to pass on.")
    if errors:
        raise InputError(errors)
    return RequestInput(
        requester_name=requester_name,
        requester_language=requester_language,
        requester_contact=requester_contact,
        recipient_name=recipient_name,
        recipient_phone=phone,
        recipient_city=recipient_city,
        recipient_language=recipient_language,
        message=message,
        kind=kind,
        urgent=urgent,
        checkin_pin=pin,
    )


def recipient_key(phone_e164: str) -> str:
    """The deduplication key of a recipient phone number: its blind index."""
    return blind_index(phone_e164)


HARD_RE = re.compile(
    r"(?:умер|умерл|скончал|погиб|смерт|морг|похорон|задержа|арест|полици|изолятор|"
    r"пропал|пропаж|не\s+вернул|ребен|ребён|дет[иейям]|младен|сын\s+\d|дочь\s+\d|"
    r"қайтыс|қаза|жерлеу|ұсталды|қамау|хабарсыз|жоғалып|нәресте|"
    r"(?<!\w)бала(?:лар\w*|м|мыз|сы|ым|ға|ны)?(?!\w)|"
    r"\bdied\b|\bdead\b|\bdeath|funeral|morgue|detain|arrest|police|custody|missing|"
    r"\bchild|\bkid\b|\bbaby|\d+\s*(?:лет|жаста|years?\s+old))",
    re.IGNORECASE,
)


def is_hard(data: RequestInput) -> bool:
    """Hard for a volunteer to carry: medical, a death, a detention, a missing person, a child."""
    if data.kind == Kind.MEDICAL:
        return True
    return bool(HARD_RE.search(f"{data.message} {data.recipient_name}"))


def _priority(data: RequestInput) -> int:
    return 1 if data.urgent or data.kind in PRIORITY_KINDS else 0


def _open_case_for(data: RequestInput, now) -> Case:
    """The open case for this recipient, made if there is none. Caller holds a transaction."""
    key = recipient_key(data.recipient_phone)
    for _try in range(3):
        # Locked: an outcome recorded at this moment closes the case and tells the requests
        # it sees. Without the lock a request could join after that read and before the
        # close, and never be told (the crash test found it on PostgreSQL). Behind a lock
        # that closed it, the row no longer matches and a new case is made.
        case = (
            Case.objects.select_for_update()
            .filter(recipient_key=key, state__in=OPEN_STATES)
            .order_by("pk")
            .first()
        )
        if case is None and (joined := _merged_case(key)) is not None:
            case = joined[1]  # a coordinator merged this number into another person's case
        if case is not None:
            if _priority(data) > case.priority:
                Case.objects.filter(pk=case.pk).update(priority=_priority(data))
            if not case.hard and is_hard(data):
                Case.objects.filter(pk=case.pk).update(hard=True)
            return case
        try:
            with transaction.atomic():
                return Case.objects.create(
                    recipient_phone=data.recipient_phone,
                    recipient_key=key,
                    recipient_name=data.recipient_name,
                    recipient_city=data.recipient_city,
                    recipient_language=data.recipient_language,
                    recipient_operator=phones.operator(data.recipient_phone),
                    priority=_priority(data),
                    hard=is_hard(data),
                    available_at=now,
                )
        except IntegrityError:
            # Another request for the same number made the case a moment ago.
            continue
    raise RuntimeError("could not find or create the open case")


def _merged_case(key: str) -> tuple[Case, Case] | None:
    """The newest case for this number that a coordinator merged into another, and the
    open case the merge led to (following merges of merges); None if that one closed."""
    merged = (
        Case.objects.filter(recipient_key=key, resolution=Resolution.MERGED)
        .exclude(merged_into=None)
        .order_by("-closed_at")
        .first()
    )
    target, seen = merged, set()
    while target is not None and target.merged_into_id and target.pk not in seen:
        seen.add(target.pk)
        target = target.merged_into
    if merged is None or target is None or not target.is_open:
        return None
    return merged, target


def _origin_for(case: Case, phone_e164: str) -> Case | None:
    """For a request that joined a case through a merge: its own number's case, so that
    a split moves it back there."""
    key = recipient_key(phone_e164)
    joined = _merged_case(key) if case.recipient_key != key else None
    return joined[0] if joined is not None else None


def _digest(data: RequestInput, channel: str) -> str:
    """Keyed, like the blind index: an unkeyed hash would confirm a guessed number."""
    raw = json.dumps({**asdict(data), "channel": channel}, sort_keys=True, ensure_ascii=False)
    return blind_index(raw)


def request_create(
    *, data: RequestInput, channel: str = "web", idempotency_key: str | None = None
) -> tuple[Request, bool]:
    """Record a request and join it to the open case for its recipient.

    Returns (request, created). With an idempotency key seen before, returns
    the first request and creates nothing; a different body under the same key
    raises IdempotencyConflict.
    """
    digest = _digest(data, channel)
    if idempotency_key:
        earlier = Request.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            if earlier.payload_digest != digest:
                raise IdempotencyConflict(idempotency_key)
            return earlier, False
    now = timezone.now()
    try:
        with transaction.atomic():
            case = _open_case_for(data, now)
            requester = Requester.objects.create(
                name=data.requester_name,
                language=data.requester_language,
                channel=channel,
                contact=data.requester_contact,
                contact_key=contact_key(channel, data.requester_contact),
            )
            request = Request.objects.create(
                case=case,
                origin_case=_origin_for(case, data.recipient_phone),
                requester=requester,
                recipient_name=data.recipient_name,
                recipient_city=data.recipient_city,
                message=data.message,
                kind=data.kind,
                urgent=data.urgent,
                status_token=secrets.token_urlsafe(24),
                idempotency_key=idempotency_key or None,
                payload_digest=digest,
                flag=_scam_flag("scam", data.message),
                checkin_pin_hash=pin_hash(data.recipient_phone, data.checkin_pin)
                if data.checkin_pin
                else "",
            )
            audit_record(
                actor=f"requester:{channel}",
                action="request.create",
                object_type="request",
                object_id=request.pk,
            )
            if request.flag:
                _flag_for_coordinator(case.pk, request.flag)
            elif not Request.objects.filter(case=case).exclude(pk=request.pk).exists():
                case_id, kind = case.pk, data.kind
                transaction.on_commit(
                    lambda: case_opened.send(sender=Case, case_id=case_id, kind=kind)
                )
    except IntegrityError:
        if not idempotency_key:
            raise
        # The same key raced us; the winner's request is the answer.
        return request_create(data=data, channel=channel, idempotency_key=idempotency_key)
    return request, True


def contact_key(channel: str, contact: str) -> str:
    """The keyed index of a requester's contact on a channel; "" without a contact."""
    return blind_index(f"{channel}:{contact}") if contact else ""


def request_withdraw(*, request_id: int, channel: str, contact: str) -> Request:
    """The requester takes a request back; only the contact that made it may.

    The case closes as withdrawn when no other request keeps it open and
    nobody is calling; a call in progress finishes, and nobody is told.
    Raises Request.DoesNotExist for someone else's or an unknown request.
    """
    key = contact_key(channel, contact)
    with transaction.atomic():
        request = (
            Request.objects.select_for_update()
            .filter(pk=request_id, requester__contact_key=key, withdrawn_at__isnull=True)
            .exclude(requester__contact_key="")
            .first()
        )
        if request is None:
            raise Request.DoesNotExist
        now = timezone.now()
        request.withdrawn_at = now
        request.save(update_fields=["withdrawn_at"])
        if not Request.objects.filter(case_id=request.case_id, withdrawn_at__isnull=True).exists():
            Case.objects.filter(
                pk=request.case_id, state__in=(CaseState.QUEUED, CaseState.ESCALATED)
            ).update(state=CaseState.CLOSED, resolution=Resolution.WITHDRAWN, closed_at=now)
        audit_record(
            actor=f"requester:{channel}",
            action="request.withdraw",
            object_type="request",
            object_id=request.pk,
        )
    return request


def _scam_flag(prefix: str, text: str) -> str:
    signals = scam_signals(text)
    return f"{prefix}:{','.join(signals)}" if signals else ""


def _flag_for_coordinator(case_id: int, flag: str) -> None:
    """Hold a case for a coordinator: volunteers no longer get it. Caller holds a transaction."""
    Case.objects.filter(pk=case_id).update(flag=flag[:40])
    Case.objects.filter(pk=case_id, state=CaseState.QUEUED).update(state=CaseState.ESCALATED)


# --- Claims -----------------------------------------------------------------


def _back_state(*, untouched: bool = True):
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
            ).update(state=_back_state(), current_claim=None, lease_expires_at=None)
            if returned:
                Claim.objects.filter(pk=claim_id).update(
                    ended_at=now, end_reason=Claim.EndReason.EXPIRED
                )
                count += 1
    return count


def _take(case_id: int, volunteer: User, now, from_state: str) -> Claim | None:
    """Claim one case if it is still in `from_state` and unheld. Caller holds a transaction."""
    claim = Claim.objects.create(
        case_id=case_id, volunteer=volunteer, started_at=now, expires_at=now + _lease()
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
    return [name for name in volunteer.cheap_operators.split(",") if name]


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


def case_claim_next(*, volunteer: User, light_only: bool = False) -> Claim | None:
    """Give the volunteer the next case: urgent and medical first, then cases on the
    operators they call cheaply (see _dispatch_order), then the oldest.

    A volunteer holds one case at a time: asking again returns the same claim.
    On PostgreSQL candidates are locked with SKIP LOCKED so concurrent
    volunteers pass each other; on SQLite the IMMEDIATE transaction serialises
    them. Either way the take is a compare-and-set and the database refuses a
    second active claim on a case.
    """
    held = claim_active_for(volunteer)
    if held is not None:
        return held
    if volunteer.needs_talk_at is not None:
        raise NeedsTalk(volunteer.pk)
    claims_expire()
    for _try in range(10):
        now = timezone.now()
        with transaction.atomic():
            candidates = _dispatch_order(
                Case.objects.filter(state=CaseState.QUEUED, available_at__lte=now), volunteer, now
            )
            if light_only or not volunteer.takes_hard_cases:
                candidates = candidates.filter(hard=False)  # never offered, never shown
            if connection.features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True)
            case_id = candidates.values_list("pk", flat=True).first()
            if case_id is None:
                return None
            try:
                with transaction.atomic():
                    claim = _take(case_id, volunteer, now, CaseState.QUEUED)
            except IntegrityError:
                claim = None
            if claim is not None:
                return claim
    return None


def case_claim(*, volunteer: User, case_id: int) -> Claim | None:
    """A coordinator takes one escalated case. None if it is not waiting for them."""
    if not volunteer.is_coordinator:
        raise NotYourClaim(case_id)
    now = timezone.now()
    try:
        with transaction.atomic():
            return _take(case_id, volunteer, now, CaseState.ESCALATED)
    except IntegrityError:
        return None


def _held(claim_id: int, volunteer: User) -> Claim:
    claim = Claim.objects.select_related("case").filter(pk=claim_id).first()
    if claim is None or claim.volunteer_id != volunteer.pk:
        raise NotYourClaim(claim_id)
    if claim.ended_at is not None:
        raise ClaimEnded(claim_id)
    return claim


def claim_renew(*, claim_id: int, volunteer: User) -> Claim:
    """Extend the lease by its full length from now."""
    claim = _held(claim_id, volunteer)
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
    claim = _held(claim_id, volunteer)
    now = timezone.now()
    with transaction.atomic():
        if not Case.objects.filter(pk=claim.case_id, current_claim_id=claim.pk).update(
            state=_back_state(), current_claim=None, lease_expires_at=None
        ):
            raise ClaimEnded(claim_id)
        Claim.objects.filter(pk=claim.pk).update(ended_at=now, end_reason=Claim.EndReason.RELEASED)
        audit_record(
            actor=actor_label(volunteer),
            action="case.release",
            object_type="case",
            object_id=claim.case_id,
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
) -> Attempt:
    """Record the call's outcome, move the case on and tell every requester when it ends.

    `via` is "call" or "sms" (the volunteer texted instead of calling); `minutes`, for a
    call only, is how long it took (0 to MAX_CALL_MINUTES, from the console's timer or the
    volunteer's entry): what their phone credit paid for. Minutes are ignored for an SMS.

    reached, delivered, wrong_number, refused: the case closes.
    no_answer, busy, switched_off: retry after the next delay, or close as
    unreachable after the last allowed attempt. escalate: to the coordinators.
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
    claim = _held(claim_id, volunteer)
    case = claim.case
    now = timezone.now()
    changes: dict = {"current_claim": None, "lease_expires_at": None}
    if mark_hard:
        changes["hard"] = True  # from now on only for volunteers who take hard cases
    resolution = ""
    reply_flag = _scam_flag("scam-reply", reply)
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
            state = CaseState.QUEUED if "flag" in changes else _back_state(untouched=False)
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
        audit_record(
            actor=actor_label(volunteer),
            action="case.outcome",
            object_type="case",
            object_id=case.pk,
            detail=outcome,
        )
        if resolution:
            _notify_requesters(case_id=case.pk, resolution=resolution, attempt=attempt)
    return attempt


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


def never_money_line() -> str:
    return _("Bailanys volunteers never ask for money.")


def notification_text(
    *,
    resolution: str,
    recipient_name: str,
    reply: str,
    via: str = Attempt.Via.CALL,
    pin_verified: bool = False,
) -> str:
    """What a requester is told when their case ends, in the active language."""
    texts = {
        Resolution.REACHED: _("A volunteer reached %(name)s and passed on your message."),
        Resolution.DELIVERED: _(
            "A volunteer could not speak to %(name)s but passed your message to someone who will."
        ),
        Resolution.WRONG_NUMBER: _(
            "The number you gave for %(name)s is not theirs. Please check it and send a "
            "new request."
        ),
        Resolution.REFUSED: _("The person who answered for %(name)s did not want to talk."),
        Resolution.UNREACHABLE: _(
            "We called %(name)s several times and nobody answered. We have stopped trying; "
            "send a new request if you have another number."
        ),
        Resolution.SELF_REPORTED: _(
            "%(name)s said by SMS that they are safe. This is self-reported by SMS and "
            "unverified: nobody spoke to them."
        ),
        Resolution.WITHDRAWN: _("The request for %(name)s was withdrawn. Nobody will call."),
        Resolution.MERGED: _(
            "Your request for %(name)s was joined with another request for the same person."
        ),
        Resolution.BY_COORDINATOR: _(
            "A coordinator has closed the request for %(name)s. Nobody will call now; send a "
            "new request if you still need us."
        ),
    }
    if via == Attempt.Via.SMS_BRIDGE:
        texts[Resolution.REACHED] = _("%(name)s got your message by SMS and answered.")
    if pin_verified:
        texts[Resolution.SELF_REPORTED] = _(
            "%(name)s said by SMS that they are safe, with the PIN you set: PIN-verified."
        )
    text = texts[resolution] % {"name": recipient_name}
    if reply:
        text += "\n" + _("Their reply: %(reply)s") % {"reply": reply}
    return text + "\n" + never_money_line()


def _notify_requesters(
    *, case_id: int, resolution: str, attempt: Attempt | None, event: str = ""
) -> None:
    """One outbox row per request of the case. Caller holds the transaction.

    Without an attempt (a coordinator closed the case), `event` names the occasion in
    the messages' idempotency keys.
    """
    requests = Request.objects.filter(case_id=case_id, withdrawn_at__isnull=True)
    for request in requests.select_related("requester"):
        tell_requester(
            request,
            lambda request: notification_text(
                resolution=resolution,
                recipient_name=request.recipient_name,
                reply=attempt.reply if attempt else "",
                via=attempt.via if attempt else Attempt.Via.CALL,
                pin_verified=request.pin_verified_at is not None,
            ),
            key=f"outcome:{attempt.pk}" if attempt else event,
        )


def tell_requester(request: Request, body_for, *, key: str) -> None:
    """One outbox row to a request's requester. Caller holds the transaction.

    `body_for(request)` is called with the requester's language active; `key` names the
    occasion, so writing the same message twice is a no-op.
    """
    requester = request.requester
    with translation.override(requester.language):
        body = body_for(request)
    outbox_add(
        channel=requester.channel,
        address=requester.contact,
        body=body,
        idempotency_key=f"{key}:request:{request.pk}",
        request_id=request.pk,
    )


def case_close_by_sms(
    *, case_id: int, reply: str, resolution: str, via: str, pin: str = ""
) -> Attempt | None:
    """The recipient answered by SMS (a bridge reply, a safe check-in): close the case.

    A volunteer holding the case loses it (their outcome would come too late); every
    requester is told. Returns None when the case had closed already, except for an
    answer to a bridge SMS: that is passed on to the requesters all the same (a call may
    have closed the case while the recipient was typing), and the case stays as it is.
    """
    reply = clean_text(reply, multiline=True)[:MAX_REPLY]
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            return None
        if case.state == CaseState.CLOSED:
            if via != Attempt.Via.SMS_BRIDGE or not reply:
                return None
            late = Attempt.objects.create(
                case=case, outcome=Outcome.REACHED, reply=reply, via=via, created_at=now
            )
            _notify_requesters(case_id=case.pk, resolution=Resolution.REACHED, attempt=late)
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
            ).update(pin_verified_at=now)
        audit_record(
            actor=f"sms:{via}",
            action="case.outcome",
            object_type="case",
            object_id=case.pk,
            detail=resolution,
        )
        _notify_requesters(case_id=case.pk, resolution=resolution, attempt=attempt)
    return attempt


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
        for request in Request.objects.filter(case=case, withdrawn_at__isnull=True).select_related(
            "requester"
        ):
            with translation.override(request.requester.language):
                body = _("%(name)s has since asked for help by SMS. Volunteers will call them.") % {
                    "name": request.recipient_name
                }
            outbox_add(
                channel=request.requester.channel,
                address=request.requester.contact,
                body=body,
                idempotency_key=f"reopen:{case.pk}:{now.timestamp()}:{request.pk}",
                request_id=request.pk,
            )
        reopened = 1
    return reopened


MAX_RETAIN_DAYS = 365


def case_retain(*, coordinator: User, case_id: int, until, reason: str) -> Case:
    """Keep a case past the retention limits, for a stated reason (audited)."""
    if not coordinator.is_coordinator:
        raise NotYourClaim(case_id)
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


def volunteer_hard_cases_set(*, volunteer: User, take: bool) -> None:
    """An experienced volunteer says yes or no to hard cases; their choice, audited."""
    User.objects.filter(pk=volunteer.pk).update(hard_cases_opt_out=not take)
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
    User.objects.filter(pk=volunteer.pk).update(needs_talk_at=timezone.now())
    audit_record(
        actor=actor_label(volunteer),
        action="volunteer.needs_talk",
        object_type="user",
        object_id=volunteer.pk,
    )


def volunteer_talked(*, coordinator: User, user_id: int) -> None:
    """A coordinator has talked with the volunteer: they may take cases again."""
    if not coordinator.is_coordinator:
        raise NotYourClaim(user_id)
    User.objects.filter(pk=user_id).update(needs_talk_at=None)
    audit_record(
        actor=actor_label(coordinator),
        action="volunteer.talked",
        object_type="user",
        object_id=user_id,
    )
