"""Reads of the relay. Every read of personal data for a person goes through here."""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count
from django.http import Http404, HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.accounts.models import User
from bailanys.outages.models import Channel as NetChannel
from bailanys.outages.models import Entity
from bailanys.outages.services import operator_failing, region_cut_since
from bailanys.outbox.models import OutboxMessage
from bailanys.privacy.audit import actor_label, audit_record, audit_view_count
from bailanys.relay.models import Attempt, Case, CaseState, Claim, Kind, Request, VolunteerProfile
from bailanys.relay.services import NotYourClaim, require_coordinator
from bailanys.relay.services.intake import status_key, status_token_of
from bailanys.relay.services.posts import UNNAMED

# What secrets.token_urlsafe makes; anything else cannot be a status token.
STATUS_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,64}")


class Status:
    """What a requester sees: one word for the whole state of their request."""

    WAITING = "waiting"
    CALLING = "calling"
    RETRYING = "retrying"
    ESCALATED = "escalated"


def status_label(status: str) -> str:
    labels = {
        Status.WAITING: _("Waiting for a volunteer to call"),
        Status.CALLING: _("A volunteer is calling now"),
        Status.RETRYING: _("Nobody answered yet; a volunteer will try again"),
        Status.ESCALATED: _("A coordinator is looking into this"),
        "reached": _("Reached"),
        "delivered": _("Message passed on"),
        "wrong_number": _("Wrong number"),
        "refused": _("Did not want to talk"),
        "unreachable": _("Could not be reached"),
        "withdrawn": _("Withdrawn"),
        "self_reported": _("Said by SMS they are safe (unverified)"),
        "self_reported_pin": _("Said by SMS they are safe (PIN-verified)"),
        "merged": _("Joined with another request for the same person"),
        "coordinator": _("Closed by a coordinator"),
    }
    return labels[status]


@dataclass(frozen=True)
class RequestStatus:
    status: str
    closed: bool
    recipient_name: str
    recipient_phone_masked: str
    message: str
    kind: str
    created_at: datetime
    attempts: int
    next_try_at: datetime | None
    reply: str
    notifications: list[str]
    language: str
    # The internet of the recipient's region is down (the shutdown's state): its name and
    # since when; "" and None otherwise.
    cut_region: str = ""
    cut_since: datetime | None = None

    @property
    def status_label(self) -> str:
        """In the language active when it is read, so one read serves any language."""
        return status_label(self.status)


def status_of(request: Request, case: Case) -> str:
    """Where a request stands, as its requester is shown it (status_label words it)."""
    if request.withdrawn_at is not None:
        return "withdrawn"
    if case.state == CaseState.CLOSED:
        if case.resolution == "self_reported" and request.pin_verified_at is not None:
            return "self_reported_pin"
        return case.resolution
    if case.state == CaseState.CLAIMED:
        return Status.CALLING
    if case.state == CaseState.ESCALATED:
        return Status.ESCALATED
    return Status.RETRYING if case.failed_calls else Status.WAITING


def request_status(*, token: str, http_request: HttpRequest | None = None) -> RequestStatus:
    """The status behind a status link. Only this request's own data, nothing of others.

    The recipient's reply only once they showed they know this requester (known_at); the
    notices were written for this request alone (requesters_tell_outcome).
    """
    if not STATUS_TOKEN.fullmatch(token or ""):
        raise Http404
    request = (
        Request.objects.select_related("case", "requester")
        .filter(status_key=status_key(token))
        .first()
    )
    if request is None:
        raise Http404
    audit_view_count(request_id=request.pk)  # counted, not chained: it refreshes itself
    case = request.case
    attempts = case.attempts.exclude(outcome="escalate").count()
    reply = ""
    status = status_of(request, case)
    # The reply only for a requester the recipient knows: knowing the number is not enough.
    if request.withdrawn_at is None and case.state == CaseState.CLOSED and request.known:
        last = case.attempts.order_by("-created_at").first()
        reply = last.reply if last is not None and case.resolution != "unreachable" else ""
    notifications = [
        message.body
        for message in OutboxMessage.objects.filter(
            request=request, channel="web", state=OutboxMessage.State.SENT
        ).order_by("created_at")
    ]
    return RequestStatus(
        status=status,
        closed=case.state == CaseState.CLOSED or request.withdrawn_at is not None,
        recipient_name=request.recipient_name,
        recipient_phone_masked=phones.masked(case.recipient_phone),
        message=request.message,
        kind=request.kind,
        created_at=request.created_at,
        attempts=attempts,
        next_try_at=case.available_at if status == Status.RETRYING else None,
        reply=reply,
        notifications=notifications,
        language=request.requester.language,
        **_region_cut(case, requests=[request]),
    )


def _region_cut(case: Case, *, requests) -> dict:
    """{"cut_region", "cut_since"} when the internet of the region the recipient lives in
    is down now; {} otherwise (or when we do not know the region)."""
    city = case.recipient_city or next((r.recipient_city for r in requests if r.recipient_city), "")
    cut = region_cut_since(city) if city else None
    if cut is None:
        return {}
    name = Entity.objects.filter(key=cut.entity).values_list("name", flat=True).first()
    return {"cut_region": name or city, "cut_since": cut.since}


@dataclass(frozen=True)
class NetworkWarning:
    """The recipient's operator has SMS or calls failing now (the shutdown's state)."""

    operator: str
    sms_since: datetime | None = None
    calls_since: datetime | None = None
    sms: bool = False
    calls: bool = False

    @property
    def text(self) -> str:
        """One line, in the language active when it is read (the console's, the chat's)."""
        values = {"operator": self.operator}
        if self.sms and self.calls:
            values["since"] = _clock(
                min(filter(None, (self.sms_since, self.calls_since)), default=None)
            )
            return (
                _("SMS and calls to %(operator)s numbers are failing since %(since)s: try later.")
                % values
            )
        if self.sms:
            values["since"] = _clock(self.sms_since)
            line = _("SMS to %(operator)s numbers are failing since %(since)s: call instead.")
            return line % values
        values["since"] = _clock(self.calls_since)
        return _("Calls to %(operator)s numbers are failing since %(since)s: try an SMS.") % values


def _clock(since: datetime | None) -> str:
    return timezone.localtime(since).strftime("%H:%M") if since else "?"


def network_warning(phone: str) -> NetworkWarning | None:
    carrier = phones.operator(phone)
    failing = operator_failing(carrier) if carrier else {}
    if not failing:
        return None
    sms, calls = failing.get(NetChannel.SMS), failing.get(NetChannel.VOICE)
    return NetworkWarning(
        operator=carrier,
        sms=sms is not None,
        calls=calls is not None,
        sms_since=sms.since if sms else None,
        calls_since=calls.since if calls else None,
    )


@dataclass(frozen=True)
class CaseMessage:
    requester_name: str
    message: str
    kind: str
    urgent: bool
    flag: str = ""
    request_id: int = 0
    # The recipient has shown they know this requester (a PIN, a tick, a bridge answer).
    confirmed: bool = False
    pin_verified: bool = False
    withdrawn: bool = False


@dataclass(frozen=True)
class CaseView:
    claim_id: int
    case_id: int
    expires_at: datetime
    recipient_name: str
    recipient_names: list[str]
    recipient_phone: str
    recipient_phone_display: str
    recipient_city: str
    recipient_language: str
    urgent: bool
    kinds: list[str]
    failed_calls: int
    messages: list[CaseMessage]
    previous_notes: list[str]
    call_script: str
    flag: str = ""
    # The numbers of cases a coordinator merged into this one: the same person, more to try.
    other_phones: list[str] = field(default_factory=list)
    # One open request only: its requester, named in the call, counts as known unless the
    # volunteer unticks them. With several, the recipient says whom they know.
    known_by_default: bool = False
    # SMS or calls to the recipient's operator are failing now: the console's banner.
    network: NetworkWarning | None = None


def call_script(*, language: str, recipient_name: str, requester_names: list[str]) -> str:
    """A short opening for the call, in the recipient's language."""
    requester_names = [n for n in requester_names if n and n != UNNAMED]
    with translation.override(language):
        if requester_names:
            script = _(
                "Hello, is this %(recipient)s? My name is … and I am a volunteer with Bailanys. "
                "%(requesters)s could not reach you and asked me to call. I will never ask you "
                "for money. May I pass on their message?"
            ) % {"recipient": recipient_name, "requesters": ", ".join(requester_names)}
        else:  # a post signed with no name: no stand-in that reads like one
            script = _(
                "Hello, is this %(recipient)s? My name is … and I am a volunteer with Bailanys. "
                "Someone close to you could not reach you and asked me to call. I will never "
                "ask you for money. May I pass on their message?"
            ) % {"recipient": recipient_name}
        if len(requester_names) > 1:
            script += " " + _(
                "Which of them do you know? I will pass your words only to those you know."
            )
        return script


def case_get_for_volunteer(
    *, claim_id: int, volunteer: User, http_request: HttpRequest | None = None
) -> CaseView:
    """The case behind a claim the volunteer holds now; anything else is NotYourClaim.

    A volunteer sees a case's personal data only while holding it. Every read
    is audited.
    """
    claim = Claim.objects.select_related("case").filter(pk=claim_id).first()
    if claim is None or claim.volunteer_id != volunteer.pk or claim.ended_at is not None:
        raise NotYourClaim(claim_id)
    case = claim.case
    audit_record(
        actor=actor_label(volunteer),
        action="case.read",
        object_type="case",
        object_id=case.pk,
        request=http_request,
    )
    requests = list(case.requests.select_related("requester").order_by("created_at"))
    open_requests = [r for r in requests if r.withdrawn_at is None]
    requester_names = list(dict.fromkeys(r.requester.name for r in open_requests))
    recipient_names = list(
        dict.fromkeys([case.recipient_name, *(r.recipient_name for r in requests)])
    )
    notes = [a.note for a in Attempt.objects.filter(case=case).order_by("created_at") if a.note]
    return CaseView(
        claim_id=claim.pk,
        case_id=case.pk,
        expires_at=claim.expires_at,
        recipient_name=case.recipient_name,
        recipient_names=recipient_names,
        recipient_phone=case.recipient_phone,
        recipient_phone_display=phones.display(case.recipient_phone),
        recipient_city=case.recipient_city
        or next((r.recipient_city for r in requests if r.recipient_city), ""),
        recipient_language=case.recipient_language,
        urgent=case.priority > 0,
        kinds=list(dict.fromkeys(r.kind for r in requests)),
        failed_calls=case.failed_calls,
        messages=[
            CaseMessage(
                requester_name=r.requester.name,
                message=r.message
                if not r.flag or volunteer.is_coordinator
                else _("(held for a coordinator: it may be a scam)"),
                kind=r.kind,
                urgent=r.urgent,
                flag=r.flag,
                request_id=r.pk,
                confirmed=r.known,
                pin_verified=r.pin_verified_at is not None,
                withdrawn=r.withdrawn_at is not None,
            )
            for r in requests
        ],
        known_by_default=len(open_requests) == 1,
        flag=case.flag,
        other_phones=[
            phones.display(c.recipient_phone) for c in case.merged_cases.order_by("closed_at")
        ],
        previous_notes=notes,
        call_script=call_script(
            language=case.recipient_language,
            recipient_name=case.recipient_name,
            requester_names=requester_names,
        ),
        network=network_warning(case.recipient_phone),
    )


@dataclass(frozen=True)
class Overview:
    by_state: dict[str, int]
    by_resolution: dict[str, int]
    waiting_now: int
    oldest_waiting: datetime | None
    escalated: list[dict]
    needs_talk: list[dict]
    volunteers: list[dict]
    recent_outcomes: list[dict]


def coordinator_overview(*, coordinator: User, http_request: HttpRequest | None = None) -> Overview:
    """The load at a glance. Escalated cases carry what a coordinator needs to act."""
    require_coordinator(coordinator, 0)
    audit_record(actor=actor_label(coordinator), action="overview.read", request=http_request)
    now = timezone.now()
    by_state = dict(Case.objects.values_list("state").annotate(n=Count("pk")).order_by())
    by_resolution = dict(
        Case.objects.filter(state=CaseState.CLOSED)
        .values_list("resolution")
        .annotate(n=Count("pk"))
        .order_by()
    )
    waiting = Case.objects.filter(state=CaseState.QUEUED, available_at__lte=now)
    oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
    escalated = []
    for case in Case.objects.filter(state=CaseState.ESCALATED).order_by("created_at")[:50]:
        last = case.attempts.order_by("-created_at").first()
        escalated.append(
            {
                "id": case.pk,
                "flag": case.flag,
                "recipient_name": case.recipient_name,
                "recipient_city": case.recipient_city,
                "note": last.note if last else "",
                "volunteer": _who(last),
                "since": last.created_at if last else case.created_at,
            }
        )
    active = {
        row["volunteer_id"]: row["case_id"]
        for row in Claim.objects.filter(ended_at__isnull=True).values("volunteer_id", "case_id")
    }
    today = now - timezone.timedelta(hours=24)
    calls = dict(
        Attempt.objects.filter(created_at__gte=today)
        .values_list("volunteer_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    volunteers = [
        {
            "username": user.username,
            "role": user.get_role_display(),
            "holding": active.get(user.pk),
            "calls_24h": calls.get(user.pk, 0),
            "last_login": user.last_login,
        }
        for user in User.objects.filter(is_active=True).order_by("username")[:200]
    ]
    recent = [
        {
            "case_id": a.case_id,
            "outcome": a.get_outcome_display(),
            "volunteer": _who(a),
            "at": a.created_at,
        }
        for a in Attempt.objects.select_related("volunteer").order_by("-created_at")[:20]
    ]
    needs_talk = [
        {"id": p.user_id, "username": p.user.username, "since": p.needs_talk_at}
        for p in VolunteerProfile.objects.filter(needs_talk_at__isnull=False)
        .select_related("user")
        .order_by("needs_talk_at")
    ]
    return Overview(
        by_state={state.label: by_state.get(state.value, 0) for state in CaseState},
        by_resolution=by_resolution,
        waiting_now=waiting.count(),
        oldest_waiting=oldest,
        escalated=escalated,
        needs_talk=needs_talk,
        volunteers=volunteers,
        recent_outcomes=recent,
    )


def requesters_untold(*, coordinator: User, limit: int = 50) -> list[dict]:
    """SMS to requesters that finally failed (every resend too): who could not be told.

    Newest first, with the case and request to look at and the number masked; a
    coordinator calls them, or finds another way. Read as part of the coordinator's page,
    whose reading is audited.
    """
    require_coordinator(coordinator, 0)
    failed = (
        OutboxMessage.objects.filter(
            channel="sms", state=OutboxMessage.State.FAILED, request__isnull=False
        )
        .select_related("request")
        .order_by("-created_at")[:limit]
    )
    rows = []
    for message in failed:
        try:
            number = phones.masked(phones.normalize(message.address, any_type=True))
        except phones.InvalidPhone:
            number = "•••"
        rows.append(
            {
                "case_id": message.request.case_id,
                "request_id": message.request_id,
                "number": number,
                "at": message.created_at,
                "tries": message.tries,
            }
        )
    return rows


def kind_label(kind: str) -> str:
    return Kind(kind).label


@dataclass(frozen=True)
class OwnRequest:
    request_id: int
    recipient_name: str
    recipient_phone_masked: str
    status: str
    closed: bool
    token: str | None  # None: the link cannot be made again (see status_token_of)

    @property
    def status_label(self) -> str:
        return status_label(self.status)


def requests_for_contact(*, channel: str, contact: str, limit: int = 10) -> list[OwnRequest]:
    """The newest requests made from one contact (a Telegram chat), for /status and /cancel."""
    from bailanys.relay.services import contact_key

    key = contact_key(channel, contact)
    if not key:
        return []
    found = (
        Request.objects.select_related("case")
        .filter(requester__contact_key=key)
        .order_by("-created_at")[:limit]
    )
    out = []
    for request in found:
        case = request.case
        status = status_of(request, case)
        out.append(
            OwnRequest(
                request_id=request.pk,
                recipient_name=request.recipient_name,
                recipient_phone_masked=phones.masked(case.recipient_phone),
                status=status,
                closed=case.state == CaseState.CLOSED or request.withdrawn_at is not None,
                token=status_token_of(request),
            )
        )
    return out


def _who(attempt: Attempt | None) -> str:
    """Who recorded an attempt: a volunteer's name, or how it came in (SMS)."""
    if attempt is None:
        return ""
    return attempt.volunteer.username if attempt.volunteer else attempt.get_via_display()


def _region(city: str) -> str:
    """A recipient's city as a region for reports: the gazetteer's name, else "other".

    Free text never reaches a report: only the canonical names of known places do.
    """
    from bailanys.parsing.cities import find_places

    if not city:
        return ""
    found = find_places(city if city[:1].isupper() else city[:1].upper() + city[1:])
    if not found:
        return "other"
    place = found[0].place
    return place.parent or place.canonical


def statistics_rows(*, coordinator: User) -> list[dict]:
    """Counts per day, region, kind and outcome, with no personal data (coordinators only).

    Cases past retention are counted from their tallies (region unknown then).
    """
    from collections import Counter

    from bailanys.privacy.models import RetentionTally

    require_coordinator(coordinator, 0)
    counts: Counter = Counter()
    first_kind = {}
    for request in Request.objects.order_by("created_at").values("case_id", "kind"):
        first_kind.setdefault(request["case_id"], request["kind"])
    for case in Case.objects.all().iterator(chunk_size=500):
        day = timezone.localtime(case.created_at).date().isoformat()
        outcome = case.resolution if case.state == CaseState.CLOSED else case.state
        key = (day, _region(case.recipient_city), first_kind.get(case.pk, ""), outcome)
        counts[key] += 1
    for tally in RetentionTally.objects.all():
        key = (tally.day.isoformat(), "purged", tally.kind, tally.resolution)
        counts[key] += tally.cases
    return [
        {"day": d, "region": r, "kind": k, "outcome": o, "cases": n}
        for (d, r, k, o), n in sorted(counts.items())
    ]
